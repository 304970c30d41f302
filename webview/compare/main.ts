/**
 * A/B comparison: both batches side by side (total and terms), tables sorted by change (stacks,
 * images, classes, the planes and objects that changed most, the pixels when the targets are the
 * same), and one plane at a time as heatmaps: A's and B's probabilities and per-pixel losses, and
 * their difference in a diverging colormap. Click a plane row to show it.
 */
import './compare.css';
import { parseToCompare, type CompareSide, type ComparePlane, type FromCompare, type PlaneRequest, type ToCompare } from '../../src/protocol/compare';
import type { AbDiff, Change } from '../../src/cornernet/model/abDiff';
import { clear, el, fmt, metric } from '../shared/dom';
import { canvasDigest, drawColorbar, drawHeatmap } from '../shared/heatmap';
import { drawDiverging, drawDivergingBar } from '../shared/diverging';

declare function acquireVsCodeApi(): { postMessage(m: FromCompare): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
const post = (m: FromCompare) => vscode.postMessage(m);
const root = document.getElementById('root')!;

let result: Extract<ToCompare, { type: 'result' }> | undefined;
let plane: ComparePlane | undefined;
let planeError: string | undefined;

window.addEventListener('message', (e: MessageEvent) => {
  const msg = parseToCompare(e.data);
  if (!msg) return console.warn('CornerNet Inspector: dropped a malformed message');
  if (msg.type === 'result') {
    result = msg;
    plane = undefined;
    planeError = undefined;
    render();
    const first = msg.diff.planes[0];
    if (first) requestPlane({ corner: first.corner === 'br' ? 'br' : 'tl', stack: first.stack, image: first.image, class: first.class });
  } else if (msg.type === 'plane') {
    plane = msg.plane;
    planeError = undefined;
    renderPlane();
  } else {
    if (!result) {
      clear(root);
      root.append(el('h2', {}, 'Comparison'), el('p', { class: 'error', id: 'compare-error' }, msg.message));
    } else {
      planeError = msg.message;
      renderPlane();
    }
  }
});

function requestPlane(p: PlaneRequest): void {
  post({ type: 'plane', plane: p });
}

const absDiff = (c: { diff: number | null; a: number | null; b: number | null }) => (c.diff === null ? (c.a === c.b ? 0 : Infinity) : Math.abs(c.diff));

function signed(name: string, v: number | null): HTMLElement {
  const m = metric(name, v, 4);
  if (v !== null && v !== 0) {
    m.textContent = `${v > 0 ? '+' : ''}${fmt(v, 4)}`;
    m.classList.add(v > 0 ? 'up' : 'down');
  }
  return m;
}

function changeTable(id: string, head: string[], rows: { key: string[]; c: Change; attrs?: Record<string, string> }[], onClick?: (i: number) => void): HTMLElement {
  const body = rows.map((r, i) => {
    const tr = el('tr', { ...(r.attrs ?? {}) }, ...r.key.map((k) => el('td', {}, k)), el('td', {}, metric(`${id}.${i}.a`, r.c.a)), el('td', {}, metric(`${id}.${i}.b`, r.c.b)), el('td', {}, signed(`${id}.${i}.diff`, r.c.diff)));
    if (onClick) {
      tr.classList.add('clickable');
      tr.addEventListener('click', () => onClick(i));
    }
    return tr;
  });
  return el('table', { class: 'grid', id }, el('thead', {}, el('tr', {}, ...[...head, 'A', 'B', 'B − A'].map((h) => el('th', {}, h)))), el('tbody', {}, ...body));
}

function sideHeader(which: 'A' | 'B', s: CompareSide): HTMLElement {
  return el(
    'div',
    { class: 'side', id: `side-${which.toLowerCase()}` },
    el('h3', {}, which),
    el('p', { class: 'inputs', title: s.label }, s.label),
    el('div', { class: 'total' }, el('span', { class: 'label' }, 'total'), metric(`${which.toLowerCase()}.total`, s.total)),
    el('table', { class: 'grid' }, el('tbody', {}, ...Object.entries(s.terms).map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, metric(`${which.toLowerCase()}.${k}`, v)))))),
    el('p', { class: 'note' }, s.warnings.length ? `warnings: ${s.warnings.join(', ')}` : 'no warnings'),
  );
}

function render(): void {
  if (!result) return;
  const { a, b, diff } = result;
  clear(root);
  const centers = a.heads === 'centers';
  root.append(
    el('h2', {}, 'Loss comparison'),
    el('p', { class: 'sizes' }, `${a.convention} · ${a.nstack} stack(s) · batch ${a.sizes.batch} · ${a.sizes.classes} classes · ${a.sizes.height}×${a.sizes.width}`),
    el(
      'div',
      { class: 'sides' },
      sideHeader('A', a),
      el(
        'div',
        { class: 'side diff', id: 'side-diff' },
        el('h3', {}, 'B − A'),
        el('p', { class: 'inputs' }, ' '),
        el('div', { class: 'total' }, el('span', { class: 'label' }, 'total'), signed('diff.total', diff.total)),
        el('table', { class: 'grid' }, el('tbody', {}, ...Object.entries(diff.terms).map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, signed(`diff.${k}`, v)))))),
      ),
      sideHeader('B', b),
    ),
    el('section', { id: 'plane-view' }),
    el('h3', {}, `Planes whose loss changed most (${diff.planes.length} shown; click one)`),
    changeTable(
      'planes',
      ['stack', centers ? 'heat' : 'corner', 'image', 'class'],
      diff.planes.map((p) => ({ key: [String(p.stack), p.corner, String(p.image), String(p.class)], c: p, attrs: { 'data-plane': `${p.stack}:${p.corner}:${p.image}:${p.class}` } })),
      (i) => {
        const p = diff.planes[i]!;
        requestPlane({ corner: p.corner === 'br' ? 'br' : 'tl', stack: p.stack, image: p.image, class: p.class });
      },
    ),
    el('h3', {}, 'Per stack'),
    changeTable('stacks', ['stack'], [...diff.perStack].sort((x, y) => absDiff(y.total) - absDiff(x.total)).map((s) => ({ key: [String(s.stack)], c: s.total }))),
    el('h3', {}, 'Per image (share of the total), largest change first'),
    changeTable('images', ['image'], [...diff.perImage].sort((x, y) => absDiff(y.total) - absDiff(x.total)).map((i) => ({ key: [String(i.image)], c: i.total }))),
    el('h3', {}, 'Per class (focal loss), largest change first'),
    changeTable('classes', ['class'], [...diff.perClass].sort((x, y) => absDiff(y.focal) - absDiff(x.focal)).slice(0, 30).map((c) => ({ key: [String(c.class)], c: c.focal }))),
    el('h3', {}, 'Objects whose embeddings or offsets changed most'),
    objectsTable(diff),
    el('h3', {}, 'Per-pixel differences'),
    pixelsSection(diff),
  );
  renderPlane();
  report();
}

function objectsTable(diff: AbDiff): HTMLElement {
  if (!diff.objects.length) return el('p', { class: 'note' }, 'No objects in both batches.');
  const pair = (x: [number | null, number | null]) => `${fmt(x[0], 3)}, ${fmt(x[1], 3)}`;
  return el(
    'table',
    { class: 'grid', id: 'objects' },
    el('thead', {}, el('tr', {}, ...['stack', 'image', 'slot', 'class', '|Δ tag|', '|Δ offset|', 'tags A', 'tags B', 'tl offset A', 'tl offset B'].map((h) => el('th', {}, h)))),
    el(
      'tbody',
      {},
      ...diff.objects.slice(0, 30).map((o, i) =>
        el(
          'tr',
          {},
          el('td', {}, String(o.stack)),
          el('td', {}, String(o.image)),
          el('td', {}, String(o.slot)),
          el('td', {}, o.class === undefined ? '–' : String(o.class)),
          el('td', {}, metric(`objects.${i}.embedding`, o.embedding, 4)),
          el('td', {}, metric(`objects.${i}.offset`, o.offset, 4)),
          el('td', {}, `${fmt(o.a.tlTag, 3)} / ${fmt(o.a.brTag, 3)}`),
          el('td', {}, `${fmt(o.b.tlTag, 3)} / ${fmt(o.b.brTag, 3)}`),
          el('td', {}, pair(o.a.tlOffset)),
          el('td', {}, pair(o.b.tlOffset)),
        ),
      ),
    ),
  );
}

function pixelsSection(diff: AbDiff): HTMLElement {
  const px = diff.pixels;
  if (!px.targetsIdentical) return el('p', { class: 'note', id: 'pixels' }, `Not computed: ${px.reason ?? 'the targets differ'}.`);
  return el(
    'div',
    { id: 'pixels' },
    el('p', {}, `The targets are identical: ${px.changed} of ${px.pixels} pixels have a different loss; Σ|B − A| = `, metric('pixels.sumAbs', px.sumAbs ?? null)),
    changeTable(
      'pixel-table',
      ['stack', 'heat', 'image', 'class', 'x', 'y'],
      (px.top ?? []).map((p) => ({ key: [String(p.stack), p.corner, String(p.image), String(p.class), String(p.x), String(p.y)], c: p })),
      (i) => {
        const p = px.top![i]!;
        requestPlane({ corner: p.corner === 'br' ? 'br' : 'tl', stack: p.stack, image: p.image, class: p.class });
      },
    ),
  );
}

function renderPlane(): void {
  const host = document.getElementById('plane-view');
  if (!host || !result) return;
  clear(host);
  if (planeError) {
    host.append(el('p', { class: 'error' }, planeError));
    return;
  }
  if (!plane) {
    host.append(el('p', { class: 'note' }, 'Loading the plane…'));
    return;
  }
  const p = plane;
  const W = p.width;
  const H = p.height;
  const f = (buf: ArrayBuffer) => new Float32Array(buf);
  const aProb = f(p.aProb);
  const bProb = f(p.bProb);
  const aLoss = f(p.aLoss);
  const bLoss = f(p.bLoss);
  const d = f(p.diff);
  const scale = Math.max(1, Math.floor(200 / Math.max(W, H)));
  let lossMax = 0;
  let maxAbs = 0;
  for (let i = 0; i < W * H; i++) {
    if (aLoss[i]! > lossMax) lossMax = aLoss[i]!;
    if (bLoss[i]! > lossMax) lossMax = bLoss[i]!;
    const x = Math.abs(d[i]!);
    if (x > maxAbs && Number.isFinite(x)) maxAbs = x;
  }
  const target = f(p.target);
  const positives = [] as { x: number; y: number; kind: 'positive' }[];
  for (let i = 0; i < W * H; i++) if (target[i] === 1) positives.push({ x: i % W, y: Math.floor(i / W), kind: 'positive' });
  const colors = { positive: getComputedStyle(document.body).getPropertyValue('--vscode-charts-green').trim() || '#89d185', peak: '#ffffff' };
  const canvas = (id: string) => el('canvas', { id, class: 'heatmap' }) as HTMLCanvasElement;
  const figure = (c: HTMLCanvasElement, caption: string) => el('figure', {}, c, el('figcaption', {}, caption));
  const cells = {
    aProb: canvas('a-prob'),
    bProb: canvas('b-prob'),
    aLoss: canvas('a-loss'),
    bLoss: canvas('b-loss'),
    diff: canvas('diff-loss'),
  };
  drawHeatmap(cells.aProb, { data: aProb, width: W, height: H, min: 0, max: 1, colormap: 'viridis', scale, markers: positives, colors });
  drawHeatmap(cells.bProb, { data: bProb, width: W, height: H, min: 0, max: 1, colormap: 'viridis', scale, markers: positives, colors });
  drawHeatmap(cells.aLoss, { data: aLoss, width: W, height: H, min: 0, max: lossMax, colormap: 'magma', scale, colors });
  drawHeatmap(cells.bLoss, { data: bLoss, width: W, height: H, min: 0, max: lossMax, colormap: 'magma', scale, colors });
  drawDiverging(cells.diff, d, W, H, maxAbs, scale);
  const bars = { prob: el('canvas', { class: 'cbar' }) as HTMLCanvasElement, loss: el('canvas', { class: 'cbar' }) as HTMLCanvasElement, diff: el('canvas', { class: 'cbar', id: 'diff-bar' }) as HTMLCanvasElement };
  drawColorbar(bars.prob, 'viridis');
  drawColorbar(bars.loss, 'magma');
  drawDivergingBar(bars.diff);
  const heat = result.a.heads === 'centers' ? 'center heatmap' : `${p.corner} corners`;
  host.append(
    el('h3', { id: 'plane-title', 'data-plane': `${p.stack}:${p.corner}:${p.image}:${p.class}` }, `Stack ${p.stack}, ${heat}, image ${p.image}, class ${p.class}: plane loss A `, metric('plane.a', p.aPlaneLoss), ', B ', metric('plane.b', p.bPlaneLoss)),
    el(
      'div',
      { class: 'plane-grid' },
      figure(cells.aProb, 'A: probability (green circles: target corners)'),
      figure(cells.bProb, 'B: probability'),
      el('div', { class: 'bar-cell' }, bars.prob, el('span', { class: 'note' }, '0 … 1')),
      figure(cells.aLoss, 'A: per-pixel focal loss'),
      figure(cells.bLoss, 'B: per-pixel focal loss'),
      el('div', { class: 'bar-cell' }, bars.loss, el('span', { class: 'note' }, `0 … ${fmt(lossMax, 3)}`)),
      figure(cells.diff, 'B − A: per-pixel loss (blue: B lower, red: B higher)'),
      el('div', { class: 'bar-cell' }, bars.diff, el('span', { class: 'note', id: 'diff-range', 'data-value': String(maxAbs) }, `−${fmt(maxAbs, 3)} … 0 … +${fmt(maxAbs, 3)}`)),
    ),
  );
  report({ ...p, maxAbsDiff: maxAbs, nonBlank: canvasDigest(cells.diff).nonBlank || maxAbs === 0 });
}

function report(planeInfo?: PlaneRequest & { maxAbsDiff: number; nonBlank: boolean }): void {
  if (!result) return;
  const { a, b, diff } = result;
  post({
    type: 'rendered',
    rendered: {
      total: { a: a.total, b: b.total, diff: diff.total },
      ...(planeInfo ? { plane: { corner: planeInfo.corner, stack: planeInfo.stack, image: planeInfo.image, class: planeInfo.class, maxAbsDiff: planeInfo.maxAbsDiff, nonBlank: planeInfo.nonBlank } } : {}),
      rows: { planes: diff.planes.length, objects: diff.objects.length, classes: diff.perClass.length, images: diff.perImage.length },
    },
  });
}

post({ type: 'ready' });
