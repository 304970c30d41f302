/**
 * The tensor viewer's page: header, statistics, archive members, and a heatmap of any 2-D slice
 * (two axes chosen, sliders for the others) with colormap, clip range, hover value and histogram.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import { COLORMAPS, type Colormap } from '../../src/protocol/panel';
import { parseToViewer, type FromViewer, type ToViewer, type ViewerArrayInfo } from '../../src/protocol/viewer';
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
}

function requestPlane(): void {
  if (!array || !stats) return;
  planeRequest = nextId++;
  post({ type: 'requestPlane', requestId: planeRequest, rowAxis, colAxis, index, ...(clip ? { clip } : {}) });
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
  root.append(renderStats(stats), renderSliceControls(), el('div', { id: 'plane' }));
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
    const o = el('vscode-option', { value: String(a) }, `axis ${a} (${d})`);
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
      axisSelect('axis-row', 'Rows (y)', rowAxis, (v) => {
        if (v === colAxis) colAxis = rowAxis;
        rowAxis = v;
        renderAll();
        requestPlane();
      }),
      axisSelect('axis-col', 'Columns (x)', colAxis, (v) => {
        if (v === rowAxis) rowAxis = colAxis;
        colAxis = v;
        renderAll();
        requestPlane();
      }),
    );
  }
  array!.shape.forEach((d, a) => {
    if (nd >= 2 && (a === rowAxis || a === colAxis)) return;
    if (nd < 2) return;
    const slider = el('input', { type: 'range', id: `index-${a}`, min: '0', max: String(Math.max(0, d - 1)), value: String(index[a] ?? 0), 'aria-label': `index on axis ${a}` }) as HTMLInputElement;
    const shown = el('span', { class: 'num' }, `${index[a] ?? 0}`);
    slider.addEventListener('input', () => {
      index[a] = Number(slider.value);
      shown.textContent = slider.value;
      requestPlane();
    });
    box.append(el('label', { class: 'control' }, el('span', {}, `axis ${a} index`), el('span', { class: 'row' }, slider, shown)));
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
  const { rows, cols, data, lo, hi } = plane;
  const scale = Math.max(1, Math.ceil(384 / Math.max(rows, cols)));
  const canvas = el('canvas', { id: 'viewer-canvas', class: 'heatmap viewer', role: 'img', 'aria-label': `slice of ${rows} × ${cols} values, ${fmt(lo)} to ${fmt(hi)}` }) as HTMLCanvasElement;
  drawHeatmap(canvas, { data, width: cols, height: rows, min: lo, max: hi, colormap, scale, colors: { positive: '#f00', peak: '#ff0' } });
  const cbar = el('canvas', { class: 'cbar', id: 'viewer-cbar' }) as HTMLCanvasElement;
  drawColorbar(cbar, colormap, 200, 10);
  const readout = el('div', { id: 'viewer-readout', class: 'readout', 'aria-live': 'polite' }, 'Hover a pixel to read its value.');
  canvas.onmousemove = (e) => {
    const x = Math.floor((e.offsetX / canvas.clientWidth) * cols);
    const y = Math.floor((e.offsetY / canvas.clientHeight) * rows);
    if (x < 0 || y < 0 || x >= cols || y >= rows) return;
    clear(readout);
    readout.append('x ', metric('hover.x', x), ' · y ', metric('hover.y', y), ' · value ', metric('hover.value', data[y * cols + x]!));
  };
  const hist = el('canvas', { id: 'viewer-hist', class: 'figure', role: 'img', 'aria-label': 'histogram of the slice' }) as HTMLCanvasElement;
  drawHistogram(hist, plane.histogram);
  host.append(
    canvas,
    el('div', { class: 'colorbar' }, el('span', {}, fmt(lo, 4)), cbar, el('span', {}, fmt(hi, 4))),
    readout,
    el('h3', {}, 'Histogram of the slice'),
    hist,
    el('p', { class: 'sizes' }, 'slice range ', metric('plane.lo', lo), ' … ', metric('plane.hi', hi)),
  );
  requestAnimationFrame(() => {
    const metrics: Record<string, number | null> = {};
    document.querySelectorAll('[data-metric]').forEach((n) => {
      const v = n.getAttribute('data-value');
      metrics[n.getAttribute('data-metric')!] = v === null || v === 'null' ? null : Number(v);
    });
    post({ type: 'rendered', metrics, canvases: [canvas, hist].map((c) => ({ id: c.id, width: c.width, height: c.height, ...canvasDigest(c) })) });
  });
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
