/**
 * The loss timeline: a run's batches over steps in a uPlot chart (total and terms, or per stack,
 * per class, per image), spikes and the first non-finite step marked, failed and waiting steps
 * shown; a click on the chart (or a row of the table) opens that batch in the results panel.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './timeline.css';
import { parseToTimeline, SERIES_VIEWS, type FromTimeline, type Num, type SeriesView, type TimelineBatchView, type TimelineState } from '../../src/protocol/timeline';
import { findSpikes, firstNonFinite } from '../../src/cornernet/model/series';
import { clear, el, metric } from '../shared/dom';

declare function acquireVsCodeApi(): { postMessage(m: FromTimeline): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
const post = (m: FromTimeline) => vscode.postMessage(m);
const root = document.getElementById('root')!;

interface ViewState {
  view: SeriesView;
  log: boolean;
}
const saved = vscode.getState() as Partial<ViewState> | undefined;
const ui: ViewState = { view: SERIES_VIEWS.includes(saved?.view as SeriesView) ? (saved!.view as SeriesView) : 'terms', log: saved?.log === true };
let state: TimelineState | undefined;
let plot: uPlot | undefined;

window.addEventListener('message', (e: MessageEvent) => {
  const msg = parseToTimeline(e.data);
  if (!msg) return console.warn('CornerNet Inspector: dropped a malformed message');
  state = msg.state;
  render();
});

const css = (name: string, fallback: string) => getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
/** The theme's chart colours, then d3's category10 for the rest. */
function palette(): string[] {
  const theme = ['--vscode-charts-foreground', '--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'].map((v, i) =>
    css(v, ['#cccccc', '#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'][i]!),
  );
  return [...theme, '#17becf', '#bcbd22', '#e377c2', '#8c564b', '#7f7f7f', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
}

/** The series of a view: names and values per batch (null: not finite, failed or waiting). */
function seriesOf(batches: TimelineBatchView[], view: SeriesView): { name: string; values: Num[] }[] {
  const ok = batches.filter((b) => b.status === 'ok');
  const col = (f: (b: TimelineBatchView) => Num | undefined) => batches.map((b) => (b.status === 'ok' ? (f(b) ?? null) : null));
  const total = { name: 'total', values: col((b) => b.total) };
  switch (view) {
    case 'terms': {
      const names = [...new Set(ok.flatMap((b) => Object.keys(b.terms ?? {})))].filter((n) => n !== 'loss' && n !== 'total');
      return [total, ...names.map((n) => ({ name: n, values: col((b) => b.terms?.[n]) }))];
    }
    case 'stacks': {
      const n = Math.max(0, ...ok.map((b) => b.perStack?.length ?? 0));
      return [total, ...Array.from({ length: n }, (_, s) => ({ name: `stack ${s}`, values: col((b) => b.perStack?.[s]) }))];
    }
    case 'images': {
      const n = Math.max(0, ...ok.map((b) => b.perImage?.length ?? 0));
      return Array.from({ length: n }, (_, i) => ({ name: `image ${i}`, values: col((b) => b.perImage?.[i]) }));
    }
    case 'classes': {
      // The 10 classes with the largest focal loss at the last computed step.
      const last = [...ok].reverse().find((b) => b.perClass?.length);
      const n = last?.perClass?.length ?? 0;
      const order = Array.from({ length: n }, (_, c) => c).sort((x, y) => (last!.perClass![y] ?? Infinity) - (last!.perClass![x] ?? Infinity));
      return order.slice(0, 10).map((c) => ({ name: `class ${c}`, values: col((b) => b.perClass?.[c]) }));
    }
  }
}

/** x of a batch: its step, else its position. */
const xOf = (b: TimelineBatchView, i: number) => b.step ?? i;

function render(): void {
  if (!state) return;
  clear(root);
  const s = state;
  const ok = s.batches.filter((b) => b.status === 'ok').length;
  const errors = s.batches.filter((b) => b.status === 'error');
  const waiting = s.batches.filter((b) => b.status === 'waiting');
  const conventions = [...new Set(s.batches.map((b) => b.convention).filter(Boolean))];
  const viewSelect = el('select', { id: 'series-view', 'aria-label': 'Series' }, ...SERIES_VIEWS.map((v) => el('option', { value: v, ...(v === ui.view ? { selected: true } : {}) }, { terms: 'total and terms', stacks: 'per stack', classes: 'per class (10 largest)', images: 'per image' }[v])));
  viewSelect.addEventListener('change', () => {
    ui.view = (viewSelect as HTMLSelectElement).value as SeriesView;
    vscode.setState(ui);
    render();
  });
  const logBox = el('input', { type: 'checkbox', id: 'log-scale', ...(ui.log ? { checked: true } : {}) });
  logBox.addEventListener('change', () => {
    ui.log = (logBox as HTMLInputElement).checked;
    vscode.setState(ui);
    render();
  });
  root.append(
    el('h2', {}, 'Loss timeline'),
    el('p', { class: 'inputs', title: s.folder }, s.folder),
    el(
      'p',
      { class: 'sizes', id: 'timeline-summary' },
      `${s.batches.length} batch(es): ${ok} computed, ${errors.length} failed, ${waiting.length} being written${conventions.length ? ` · ${conventions.join(', ')}` : ''}${s.watching ? ' · watching for new steps' : ''}${s.scanning ? ` · reading ${s.scanning.done}/${s.scanning.count}` : ''}`,
    ),
    ...(s.error ? [el('p', { class: 'error', id: 'timeline-error' }, s.error)] : []),
    el('div', { class: 'controls' }, el('label', {}, 'Series ', viewSelect), el('label', {}, logBox, ' log scale')),
  );
  const chart = el('div', { id: 'timeline-chart' });
  root.append(chart);
  const series = seriesOf(s.batches, ui.view);
  const xs = s.batches.map(xOf);
  const totals = s.batches.map((b) => (b.status === 'ok' ? (b.total ?? null) : null));
  const spikeIdx = findSpikes(totals);
  const nonFiniteIdx = firstNonFinite(s.batches.map((b) => ({ total: b.status === 'ok' ? (b.total ?? null) : 0, nonFinite: b.status === 'ok' && b.nonFinite === true })));
  drawChart(chart, xs, series, spikeIdx, nonFiniteIdx);
  const legend = el(
    'p',
    { class: 'legend-notes' },
    el('span', { class: 'mark spike' }, '▲'),
    ' spike of the total',
    el('span', { class: 'mark nonfinite' }, '■'),
    ' first non-finite step',
    el('span', { class: 'mark failed' }, '✕'),
    ' failed',
    el('span', { class: 'mark waiting' }, '…'),
    ' being written · click a step to open it in the results panel',
  );
  root.append(legend);
  if (nonFiniteIdx >= 0) root.append(el('p', { class: 'error', id: 'first-nonfinite', 'data-step': String(xs[nonFiniteIdx]) }, `First non-finite loss at step ${xs[nonFiniteIdx]} (${s.batches[nonFiniteIdx]!.label}).`));
  root.append(stepsTable(s.batches, series, spikeIdx, nonFiniteIdx));
  const rendered = {
    view: ui.view,
    series: series.map((x) => x.name),
    steps: s.batches.length,
    spikes: spikeIdx.map((i) => xs[i]!),
    firstNonFinite: nonFiniteIdx >= 0 ? xs[nonFiniteIdx]! : null,
    errors: errors.length,
    waiting: waiting.length,
  };
  chart.setAttribute('data-rendered', JSON.stringify(rendered));
  post({ type: 'rendered', rendered });
}

function drawChart(host: HTMLElement, xs: number[], series: { name: string; values: Num[] }[], spikes: number[], nonFinite: number): void {
  plot?.destroy();
  plot = undefined;
  if (!xs.length) {
    host.append(el('p', { class: 'note' }, 'No batch yet: the chart appears as steps are written.'));
    return;
  }
  const colors = palette();
  const batches = state!.batches;
  const width = Math.max(320, Math.min(root.clientWidth - 8, 1100));
  const opts: uPlot.Options = {
    width,
    height: 320,
    scales: { x: { time: false }, y: ui.log ? { distr: 3 } : {} },
    axes: [
      { label: 'step', stroke: css('--vscode-foreground', '#ccc'), grid: { stroke: css('--vscode-panel-border', '#444') } },
      { label: 'loss', stroke: css('--vscode-foreground', '#ccc'), grid: { stroke: css('--vscode-panel-border', '#444') }, size: 60 },
    ],
    series: [
      { label: 'step' },
      ...series.map((sr, i) => ({ label: sr.name, stroke: colors[i % colors.length], width: sr.name === 'total' ? 2.5 : 1.5, spanGaps: false, points: { show: xs.length < 200 } })),
    ],
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    hooks: {
      draw: [
        (u) => drawMarks(u, spikes, nonFinite, batches),
        // Where each step is on the plot (CSS pixels in .u-over), once laid out: tests click there.
        (u) => u.over.setAttribute('data-step-x', JSON.stringify(xs.map((x) => Math.round(u.valToPos(x, 'x'))))),
      ],
    },
  };
  // A log scale cannot show zero or negative values: those become gaps.
  const data: uPlot.AlignedData = [xs, ...series.map((sr) => sr.values.map((v) => (v === null || (ui.log && v <= 0) ? null : v)))];
  plot = new uPlot(opts, data, host);
  // Click (not a drag-zoom): open the step under the cursor.
  let down: { x: number; y: number } | undefined;
  plot.over.addEventListener('mousedown', (e) => (down = { x: e.clientX, y: e.clientY }));
  plot.over.addEventListener('mouseup', (e) => {
    if (!down || Math.abs(e.clientX - down.x) > 3 || Math.abs(e.clientY - down.y) > 3) return;
    const idx = plot!.cursor.idx;
    if (idx !== null && idx !== undefined) post({ type: 'open', index: idx });
  });
  plot.over.setAttribute('data-steps', JSON.stringify(xs));
}

/** Spikes (triangles above the total), the first non-finite step (a band), failed and waiting steps. */
function drawMarks(u: uPlot, spikes: number[], nonFinite: number, batches: TimelineBatchView[]): void {
  const ctx = u.ctx;
  const dpr = devicePixelRatio || 1;
  const top = u.bbox.top;
  const bottom = u.bbox.top + u.bbox.height;
  const xAt = (i: number) => u.valToPos(u.data[0][i]!, 'x', true);
  ctx.save();
  if (nonFinite >= 0) {
    ctx.fillStyle = 'rgba(241, 76, 76, 0.25)';
    const x = xAt(nonFinite);
    ctx.fillRect(x - 4 * dpr, top, 8 * dpr, bottom - top);
  }
  const total = u.data[1];
  ctx.fillStyle = css('--vscode-charts-red', '#f14c4c');
  for (const i of spikes) {
    const v = total?.[i];
    if (v === null || v === undefined) continue;
    const x = xAt(i);
    const y = u.valToPos(v, 'y', true) - 8 * dpr;
    ctx.beginPath();
    ctx.moveTo(x, y - 8 * dpr);
    ctx.lineTo(x - 6 * dpr, y + 2 * dpr);
    ctx.lineTo(x + 6 * dpr, y + 2 * dpr);
    ctx.closePath();
    ctx.fill();
  }
  ctx.font = `${12 * dpr}px sans-serif`;
  ctx.textAlign = 'center';
  batches.forEach((b, i) => {
    if (b.status === 'ok') return;
    ctx.fillStyle = b.status === 'error' ? css('--vscode-charts-red', '#f14c4c') : css('--vscode-charts-yellow', '#cca700');
    ctx.fillText(b.status === 'error' ? '✕' : '…', xAt(i), bottom - 4 * dpr);
  });
  ctx.restore();
}

function stepsTable(batches: TimelineBatchView[], series: { name: string; values: Num[] }[], spikes: number[], nonFinite: number): HTMLElement {
  const shown = series.slice(0, 8);
  const head = el('tr', {}, el('th', {}, 'step'), el('th', {}, 'batch'), ...shown.map((s) => el('th', {}, s.name)), el('th', {}, ''));
  const rows = batches.map((b, i) => {
    const marks = [spikes.includes(i) ? 'spike' : '', i === nonFinite ? 'non-finite' : ''].filter(Boolean).join(' ');
    const tr = el(
      'tr',
      { class: `step ${b.status}${marks ? ` ${marks}` : ''}`, 'data-index': String(i), 'data-step': String(b.step ?? ''), 'data-status': b.status, title: b.message ?? 'Open in the results panel' },
      el('td', {}, b.step === null ? '–' : String(b.step)),
      el('td', { class: 'label' }, b.label),
      ...(b.status === 'ok'
        ? shown.map((s, k) => el('td', {}, metric(`step.${i}.${k}`, s.values[i] ?? null)))
        : [el('td', { colspan: String(Math.max(1, shown.length)), class: b.status === 'error' ? 'error' : 'note' }, b.status === 'error' ? `error: ${b.message ?? ''}` : `being written: ${b.message ?? ''}`)]),
      el('td', { class: 'note' }, marks),
    );
    if (b.status !== 'waiting') tr.addEventListener('click', () => post({ type: 'open', index: i }));
    return tr;
  });
  return el('table', { class: 'grid steps', id: 'timeline-steps' }, el('thead', {}, head), el('tbody', {}, ...rows));
}

window.addEventListener('resize', () => plot && plot.setSize({ width: Math.max(320, Math.min(root.clientWidth - 8, 1100)), height: 320 }));
post({ type: 'ready' });
