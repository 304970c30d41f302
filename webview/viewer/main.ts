/**
 * The tensor viewer's page: header, statistics, archive members, and a heatmap of any 2-D slice
 * (two axes chosen, sliders for the others) with colormap, clip range, hover value and histogram.
 * Axes are named by role when the array's name gives one (batch, class, y, x); logits can be shown
 * through a sigmoid; a plane can be the max over one more axis (e.g. over the classes); "Next
 * non-empty plane" jumps to the next plane holding a value above a threshold (searched in the
 * document's worker); an element asked for (a Problems entry) is shown, outlined and read out.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import { COLORMAPS, type Colormap } from '../../src/protocol/panel';
import { parseToViewer, type FromViewer, type ToViewer, type ViewerArrayInfo, type ViewerElement } from '../../src/protocol/viewer';
import { offersSigmoid } from '../../src/cornernet/views/sigmoidOffer';
import type { TensorStats } from '../../src/tensor/stats';
import { canvasDigest, drawColorbar, drawHeatmap } from '../shared/heatmap';
import { clear, el, fmt, metric } from '../shared/dom';

declare function acquireVsCodeApi(): { postMessage(m: FromViewer): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
const post = (m: FromViewer) => vscode.postMessage(m);
const root = document.getElementById('root')!;

let info: Extract<ToViewer, { type: 'info' }> | undefined;
let array: ViewerArrayInfo | undefined;
let stats: TensorStats | undefined;
let colormap: Colormap = 'viridis';
let rowAxis = 0;
let colAxis = 1;
let index: number[] = [];
let clip: [number, number] | undefined;
let planeRequest = 0;
let nextId = 1;
let plane: { rows: number; cols: number; data: Float32Array; histogram: Uint32Array; lo: number; hi: number } | undefined;
/** Show sigmoid(x) (probabilities, colour scale [0, 1]) instead of the values. */
let sigmoidOn = false;
/** Axis reduced with max (undefined: a plain slice). */
let maxAxis: number | undefined;
/** "Next non-empty plane": a plane holds something when its max is above this (shown units). */
let threshold: number | undefined;
let findRequest = 0;
let findStatus = '';
/** The element asked for (a Problems entry), outlined while its plane is shown. */
let focus: ViewerElement | undefined;

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const axisName = (a: number) => array?.axes[a] ?? `axis ${a}`;

window.addEventListener('message', (e: MessageEvent) => {
  const msg = parseToViewer(e.data);
  if (!msg) return console.warn('CornerNet Inspector: dropped a malformed message');
  switch (msg.type) {
    case 'info':
      info = msg;
      colormap = msg.colormap;
      array = msg.arrays.find((a) => a.key === msg.selected) ?? msg.arrays[0];
      stats = undefined;
      plane = undefined;
      renderAll();
      break;
    case 'array':
      array = info?.arrays.find((a) => a.key === msg.key) ?? array;
      stats = msg.stats;
      resetAxes();
      renderAll();
      requestPlane();
      break;
    case 'plane':
      if (msg.requestId !== planeRequest) return;
      plane = { rows: msg.rows, cols: msg.cols, data: new Float32Array(msg.data), histogram: new Uint32Array(msg.histogram), lo: msg.lo, hi: msg.hi };
      drawPlane();
      break;
    case 'nextPlane': {
      if (msg.requestId !== findRequest) return;
      if (!msg.found) {
        findStatus = `No other plane has a value above ${fmt(currentThreshold())}.`;
        renderAll();
        post({ type: 'rendered', metrics: { 'next.found': 0 }, canvases: [] });
        return;
      }
      const nd = array?.shape.length ?? 0;
      for (let a = 0; a < nd; a++) if (a !== rowAxis && a !== colAxis && a !== maxAxis) index[a] = msg.found.index[a] ?? 0;
      findStatus = `${planeLabel()}: max ${fmt(msg.found.max, 4)}${msg.found.wrapped ? ' (from the start again)' : ''}`;
      renderAll();
      requestPlane();
      break;
    }
    case 'reveal': {
      if (!array || msg.element.key !== array.key || msg.element.index.length !== array.shape.length) return;
      const nd = array.shape.length;
      focus = msg.element;
      maxAxis = undefined;
      if (nd >= 2) {
        rowAxis = nd - 2;
        colAxis = nd - 1;
      }
      index = [...msg.element.index];
      findStatus = '';
      renderAll();
      requestPlane();
      break;
    }
    case 'failed': {
      const b = document.getElementById('status');
      if (b) b.textContent = msg.message;
      break;
    }
  }
});

function resetAxes(): void {
  const nd = array?.shape.length ?? 0;
  rowAxis = Math.max(0, nd - 2);
  colAxis = Math.max(0, nd - 1);
  index = new Array(nd).fill(0);
  maxAxis = undefined;
  focus = undefined;
  findStatus = '';
  threshold = undefined;
  // Logits by role are shown as probabilities at first.
  sigmoidOn = !!array && !!stats && array.logits && sigmoidOffered();
}

function sigmoidOffered(): boolean {
  return !!array && offersSigmoid(array.dtype, array.logits, stats ?? undefined);
}

/** The threshold in the units shown: 0 for values (a target's zeros are empty), 0.5 for probabilities. */
function currentThreshold(): number {
  return threshold ?? (sigmoidOn ? 0.5 : 0);
}

/** "class 3 · batch 1": the fixed axes and their indices. */
function planeLabel(): string {
  const nd = array?.shape.length ?? 0;
  const parts: string[] = [];
  for (let a = 0; a < nd; a++) if (a !== rowAxis && a !== colAxis && a !== maxAxis) parts.push(`${axisName(a)} ${index[a] ?? 0}`);
  return parts.join(' · ') || 'the plane';
}

function requestPlane(): void {
  if (!array || !stats) return;
  planeRequest = nextId++;
  // Raw values (max-projected in the worker): the sigmoid is applied here for the display, so that
  // the readout gives both the value and its probability. A clip then applies to what is shown.
  const workerClip = clip && !sigmoidOn ? clip : undefined;
  post({ type: 'requestPlane', requestId: planeRequest, rowAxis, colAxis, index, ...(workerClip ? { clip: workerClip } : {}), ...(maxAxis !== undefined ? { maxAxis } : {}) });
}

function findNext(direction: 1 | -1): void {
  if (!array || !stats) return;
  findRequest = nextId++;
  findStatus = 'Searching…';
  const st = document.getElementById('next-status');
  if (st) st.textContent = findStatus;
  post({ type: 'findNext', requestId: findRequest, rowAxis, colAxis, index, ...(maxAxis !== undefined ? { maxAxis } : {}), sigmoid: sigmoidOn, threshold: currentThreshold(), direction });
}

function renderAll(): void {
  if (!info) return;
  clear(root);
  root.append(el('h1', {}, info.file), el('p', { id: 'status', class: 'busy' }, info.error ?? ''));
  if (info.error) return;
  const members = info.arrays.length > 1 || info.arrays[0]?.key !== undefined;
  root.append(
    el(
      'table',
      { class: 'grid', id: 'header' },
      el('thead', {}, el('tr', {}, ...[members ? 'array' : '', 'dtype', 'shape', 'order', 'bytes'].map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        ...info.arrays.map((a) => {
          const row = el(
            'tr',
            { class: a === array ? 'selected' : '' },
            el('td', {}, members ? (a.key ?? '') : ''),
            el('td', {}, a.dtype),
            el('td', {}, `[${a.shape.join(', ')}]`),
            el('td', {}, a.fortranOrder ? 'Fortran' : 'C'),
            el('td', {}, String(a.dataBytes)),
          );
          if (members && a.key !== undefined) {
            row.classList.add('clickable');
            row.title = 'Show this array';
            row.addEventListener('click', () => post({ type: 'selectArray', key: a.key! }));
          }
          return row;
        }),
      ),
    ),
    el('p', { class: 'sizes' }, `file ${fmt(info.size)} bytes${members ? ` · ${info.arrays.length} arrays (click one to show it)` : ''}`),
  );
  if (info.tooLarge && !stats) {
    const open = el('vscode-button', { id: 'open-anyway' }, 'Open anyway');
    open.addEventListener('click', () => {
      (document.getElementById('status') as HTMLElement).textContent = 'Reading…';
      post({ type: 'openAnyway' });
    });
    root.append(el('p', { class: 'note', id: 'too-large' }, `This file is larger than cornernet.maxFileSizeMB (${info.capMB} MB): only its header was read. `), open);
    post({ type: 'rendered', metrics: { tooLarge: 1, size: info.size }, canvases: [] });
    return;
  }
  if (!stats) {
    root.append(el('p', { class: 'note' }, 'Reading…'));
    return;
  }
  root.append(renderStats(stats));
  if (sigmoidOn) root.append(el('p', { class: 'note', id: 'sigmoid-note' }, 'The slice shows sigmoid(x): probabilities, colour scale 0 to 1 (the statistics above are of the values).'));
  if (focus) {
    root.append(el('p', { class: 'note', id: 'focus-note' }, `${focus.label ? `${focus.label}. ` : ''}Element [${focus.index.join(', ')}] outlined below (white frame).`));
  }
  root.append(renderSliceControls(), renderPlaneTools(), el('div', { id: 'plane' }));
}

function renderPlaneTools(): HTMLElement {
  const box = el('div', { class: 'controls', id: 'plane-tools' });
  const nd = array!.shape.length;
  if (sigmoidOffered()) {
    const cb = el('input', { type: 'checkbox', id: 'sigmoid', ...(sigmoidOn ? { checked: true } : {}) }) as HTMLInputElement;
    cb.addEventListener('change', () => {
      sigmoidOn = cb.checked;
      threshold = undefined;
      findStatus = '';
      renderAll();
      requestPlane();
    });
    box.append(el('label', { class: 'control', title: 'Show sigmoid(x): the probabilities of heatmap logits' }, el('span', {}, 'Sigmoid'), el('span', { class: 'row' }, cb, array!.logits ? ' logits → probabilities' : ' values → sigmoid')));
  }
  if (nd >= 3) {
    const proj = el('vscode-single-select', { id: 'project', 'aria-label': 'Max over' }) as HTMLElement & { value: string };
    const none = el('vscode-option', { value: '' }, 'none (a slice)');
    if (maxAxis === undefined) none.setAttribute('selected', '');
    proj.append(none);
    array!.shape.forEach((d, a) => {
      if (a === rowAxis || a === colAxis) return;
      const o = el('vscode-option', { value: String(a) }, `max over ${axisName(a)} (${d})`);
      if (a === maxAxis) o.setAttribute('selected', '');
      proj.append(o);
    });
    proj.addEventListener('change', () => {
      maxAxis = proj.value === '' ? undefined : Number(proj.value);
      focus = undefined;
      findStatus = '';
      renderAll();
      requestPlane();
    });
    box.append(el('label', { class: 'control' }, el('span', {}, 'Project'), proj));
    const th = el('input', { type: 'number', id: 'next-threshold', step: 'any', value: String(currentThreshold()), 'aria-label': 'Non-empty above' }) as HTMLInputElement;
    th.addEventListener('change', () => {
      const v = Number(th.value);
      threshold = th.value !== '' && Number.isFinite(v) ? v : undefined;
    });
    const prev = el('vscode-button', { id: 'prev-plane', secondary: true, title: 'The previous plane with a value above the threshold' }, 'Previous');
    prev.addEventListener('click', () => findNext(-1));
    const next = el('vscode-button', { id: 'next-plane', title: 'The next plane (over the sliders’ axes) with a value above the threshold' }, 'Next non-empty plane');
    next.addEventListener('click', () => findNext(1));
    box.append(el('label', { class: 'control' }, el('span', {}, sigmoidOn ? 'Non-empty: probability above' : 'Non-empty: value above'), th), el('span', { class: 'row' }, prev, next));
  }
  box.append(el('span', { id: 'next-status', class: 'note', 'aria-live': 'polite' }, findStatus));
  return box;
}

function renderStats(s: TensorStats): HTMLElement {
  const cell = (name: string, v: number | null) => el('td', {}, metric(`stats.${name}`, v));
  return el(
    'table',
    { class: 'grid', id: 'stats' },
    el('thead', {}, el('tr', {}, ...['values', 'min', 'max', 'mean', 'std', 'NaN', '+Inf', '−Inf', 'outside [0, 1]'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, el('tr', {}, cell('count', s.count), cell('min', s.min), cell('max', s.max), cell('mean', s.mean), cell('std', s.std), cell('nan', s.nan), cell('posInf', s.posInf), cell('negInf', s.negInf), cell('outside01', s.outside01))),
  );
}

function axisSelect(id: string, label: string, value: number, onChange: (v: number) => void): HTMLElement {
  const s = el('vscode-single-select', { id, 'aria-label': label }) as HTMLElement & { value: string };
  array!.shape.forEach((d, a) => {
    const o = el('vscode-option', { value: String(a) }, `${axisName(a)} (${d})`);
    if (a === value) o.setAttribute('selected', '');
    s.append(o);
  });
  s.addEventListener('change', () => onChange(Number(s.value)));
  return el('label', { class: 'control' }, el('span', {}, label), s);
}

function renderSliceControls(): HTMLElement {
  const nd = array!.shape.length;
  const box = el('div', { class: 'controls', id: 'slice-controls' });
  if (nd >= 2) {
    box.append(
      axisSelect('axis-row', 'Rows', rowAxis, (v) => {
        if (v === colAxis) colAxis = rowAxis;
        rowAxis = v;
        if (maxAxis === rowAxis || maxAxis === colAxis) maxAxis = undefined;
        renderAll();
        requestPlane();
      }),
      axisSelect('axis-col', 'Columns', colAxis, (v) => {
        if (v === rowAxis) rowAxis = colAxis;
        colAxis = v;
        if (maxAxis === rowAxis || maxAxis === colAxis) maxAxis = undefined;
        renderAll();
        requestPlane();
      }),
    );
  }
  array!.shape.forEach((d, a) => {
    if (nd >= 2 && (a === rowAxis || a === colAxis || a === maxAxis)) return;
    if (nd < 2) return;
    const slider = el('input', { type: 'range', id: `index-${a}`, min: '0', max: String(Math.max(0, d - 1)), value: String(index[a] ?? 0), 'aria-label': `index on ${axisName(a)}` }) as HTMLInputElement;
    const shown = el('span', { class: 'num', 'data-metric': `index.${a}`, 'data-value': String(index[a] ?? 0) }, `${index[a] ?? 0}`);
    slider.addEventListener('input', () => {
      index[a] = Number(slider.value);
      shown.textContent = slider.value;
      shown.setAttribute('data-value', slider.value);
      findStatus = '';
      const st = document.getElementById('next-status');
      if (st) st.textContent = '';
      requestPlane();
    });
    box.append(el('label', { class: 'control' }, el('span', { class: 'axis-label' }, axisName(a)), el('span', { class: 'row' }, slider, shown)));
  });
  const cm = el('vscode-single-select', { id: 'viewer-colormap', 'aria-label': 'Colormap' }) as HTMLElement & { value: string };
  for (const c of COLORMAPS) {
    const o = el('vscode-option', { value: c }, c);
    if (c === colormap) o.setAttribute('selected', '');
    cm.append(o);
  }
  cm.addEventListener('change', () => {
    colormap = cm.value as Colormap;
    drawPlane();
  });
  const lo = el('input', { type: 'number', id: 'clip-lo', placeholder: 'auto', step: 'any', value: clip ? String(clip[0]) : '' }) as HTMLInputElement;
  const hi = el('input', { type: 'number', id: 'clip-hi', placeholder: 'auto', step: 'any', value: clip ? String(clip[1]) : '' }) as HTMLInputElement;
  const apply = () => {
    const a = lo.value === '' ? NaN : Number(lo.value);
    const b = hi.value === '' ? NaN : Number(hi.value);
    clip = Number.isFinite(a) && Number.isFinite(b) && a < b ? [a, b] : undefined;
    requestPlane();
  };
  lo.addEventListener('change', apply);
  hi.addEventListener('change', apply);
  box.append(el('label', { class: 'control' }, el('span', {}, 'Colormap'), cm), el('label', { class: 'control' }, el('span', {}, 'Clip min'), lo), el('label', { class: 'control' }, el('span', {}, 'Clip max'), hi));
  return box;
}

function drawPlane(): void {
  const host = document.getElementById('plane');
  if (!host || !plane) return;
  clear(host);
  const { rows, cols, data: raw } = plane;
  let { lo, hi, histogram: hgram } = plane;
  // The sigmoid is applied here (the worker sends values): probabilities on a [0, 1] scale.
  const data = sigmoidOn ? raw.map(sig) : raw;
  if (sigmoidOn) {
    [lo, hi] = clip ?? [0, 1];
    hgram = histogramOf(data, 64, lo, hi);
  }
  const scale = Math.max(1, Math.ceil(384 / Math.max(rows, cols)));
  const what = `${maxAxis !== undefined ? `max over ${axisName(maxAxis)} of ` : ''}${sigmoidOn ? 'sigmoid of ' : ''}`;
  const canvas = el('canvas', { id: 'viewer-canvas', class: 'heatmap viewer', role: 'img', 'aria-label': `${what}slice of ${rows} × ${cols} values, ${fmt(lo)} to ${fmt(hi)}` }) as HTMLCanvasElement;
  // The element asked for, when its plane is the one shown.
  const nd = array?.shape.length ?? 0;
  const focusHere =
    focus && nd >= 2 && maxAxis === undefined && focus.index.every((v, a) => a === rowAxis || a === colAxis || v === (index[a] ?? 0)) ? { x: focus.index[colAxis]!, y: focus.index[rowAxis]! } : undefined;
  drawHeatmap(canvas, { data, width: cols, height: rows, min: lo, max: hi, colormap, scale, colors: { positive: '#f00', peak: '#ff0' } });
  if (focusHere) outlineCell(canvas, focusHere.x, focusHere.y, scale);
  const cbar = el('canvas', { class: 'cbar', id: 'viewer-cbar' }) as HTMLCanvasElement;
  drawColorbar(cbar, colormap, 200, 10);
  const readout = el('div', { id: 'viewer-readout', class: 'readout', 'aria-live': 'polite' }, 'Hover a pixel to read its value.');
  const show = (x: number, y: number) => {
    clear(readout);
    const v = raw[y * cols + x]!;
    readout.append(`${axisName(colAxis)} = `, metric('hover.x', x), ` · ${axisName(rowAxis)} = `, metric('hover.y', y), maxAxis !== undefined ? ` · max over ${axisName(maxAxis)}` : '', ' · value ', metric('hover.value', v));
    if (sigmoidOn) readout.append(' · sigmoid ', metric('hover.sigmoid', sig(v)));
  };
  canvas.onmousemove = (e) => {
    const x = Math.floor((e.offsetX / canvas.clientWidth) * cols);
    const y = Math.floor((e.offsetY / canvas.clientHeight) * rows);
    if (x < 0 || y < 0 || x >= cols || y >= rows) return;
    show(x, y);
  };
  if (focusHere) show(focusHere.x, focusHere.y);
  const hist = el('canvas', { id: 'viewer-hist', class: 'figure', role: 'img', 'aria-label': 'histogram of the slice' }) as HTMLCanvasElement;
  drawHistogram(hist, hgram);
  host.append(
    canvas,
    el('div', { class: 'colorbar' }, el('span', {}, fmt(lo, 4)), cbar, el('span', {}, fmt(hi, 4))),
    readout,
    el('h3', {}, 'Histogram of the slice'),
    hist,
    el('p', { class: 'sizes' }, sigmoidOn ? 'colour scale (probabilities) ' : 'slice range ', metric('plane.lo', lo), ' … ', metric('plane.hi', hi), ` · ${planeLabel()}`, maxAxis !== undefined ? ` · max over ${axisName(maxAxis)}` : ''),
  );
  requestAnimationFrame(() => {
    const metrics: Record<string, number | null> = {};
    document.querySelectorAll('[data-metric]').forEach((n) => {
      const v = n.getAttribute('data-value');
      metrics[n.getAttribute('data-metric')!] = v === null || v === 'null' ? null : Number(v);
    });
    metrics['view.sigmoid'] = sigmoidOn ? 1 : 0;
    metrics['view.maxAxis'] = maxAxis ?? -1;
    metrics['view.focus'] = focusHere ? 1 : 0;
    post({ type: 'rendered', metrics, canvases: [canvas, hist].map((c) => ({ id: c.id, width: c.width, height: c.height, ...canvasDigest(c) })) });
  });
}

/**
 * Outlines one data pixel: a white frame inside a black one just around the cell, so that it shows
 * on any colormap and next to NaN's magenta (at least a few display pixels for a large plane).
 */
function outlineCell(canvas: HTMLCanvasElement, x: number, y: number, scale: number): void {
  const ctx = canvas.getContext('2d')!;
  const pad = Math.max(2, Math.round(scale * 0.08));
  ctx.lineWidth = pad;
  if (scale >= 16) {
    // Inside the cell (a cell at the edge keeps its whole frame): black, then white within.
    const x0 = x * scale;
    const y0 = y * scale;
    ctx.strokeStyle = '#000';
    ctx.strokeRect(x0 + pad / 2, y0 + pad / 2, scale - pad, scale - pad);
    ctx.strokeStyle = '#fff';
    ctx.strokeRect(x0 + pad * 1.5, y0 + pad * 1.5, scale - 3 * pad, scale - 3 * pad);
    return;
  }
  // Small cells: around it, white then black outside.
  const size = Math.max(scale, 6);
  const x0 = x * scale + (scale - size) / 2;
  const y0 = y * scale + (scale - size) / 2;
  ctx.strokeStyle = '#000';
  ctx.strokeRect(x0 - pad * 1.5, y0 - pad * 1.5, size + 3 * pad, size + 3 * pad);
  ctx.strokeStyle = '#fff';
  ctx.strokeRect(x0 - pad / 2, y0 - pad / 2, size + pad, size + pad);
}

function histogramOf(data: ArrayLike<number>, bins: number, lo: number, hi: number): Uint32Array {
  const out = new Uint32Array(bins);
  const span = hi > lo ? bins / (hi - lo) : 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) continue;
    out[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) * span)))]!++;
  }
  return out;
}

function drawHistogram(canvas: HTMLCanvasElement, h: Uint32Array): void {
  canvas.width = 384;
  canvas.height = 80;
  const ctx = canvas.getContext('2d')!;
  const max = Math.max(1, ...h);
  const w = canvas.width / h.length;
  ctx.fillStyle = getComputedStyle(document.body).getPropertyValue('--vscode-charts-blue').trim() || '#3794ff';
  h.forEach((n, i) => {
    const bh = (Math.log1p(n) / Math.log1p(max)) * (canvas.height - 2);
    ctx.fillRect(i * w, canvas.height - bh, Math.max(1, w - 1), bh);
  });
}

new MutationObserver(() => drawPlane()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
post({ type: 'ready' });
