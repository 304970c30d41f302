/**
 * The panel's diagnostic sections: embeddings (pull/push per object, margins, push matrix, tag
 * maps), offsets (predicted vs target, worst first) and decode (boxes against targets, what failed
 * to pair and why). Each renders into its own section element; data comes from the report or
 * from the host on request.
 */
import type { LossReport, ObjectReport } from '../../src/cornernet/model/report';
import { classLabel } from '../../src/cornernet/model/classNames';
import type { DecodeView } from '../../src/cornernet/views/matching';
import type { Colormap, FromPanel, Selection } from '../../src/protocol/panel';
import { colormapTable } from '../shared/colormap';
import { drawHeatmap, type Marker } from '../shared/heatmap';
import { clear, el, fmt, metric } from '../shared/dom';

export interface SectionContext {
  report: LossReport;
  runId: number;
  selection: Selection;
  colormap: Colormap;
  post(m: FromPanel): void;
  requestId(): number;
  colors(): { positive: string; peak: string; good: string; bad: string; text: string; grid: string };
  /** Re-posts the render report after something was drawn. */
  drawn(): void;
  /** Follows an object across the panel (maps, tables, card); undefined lets it go. */
  selectObject(slot: number | undefined): void;
  selectedObject(): number | undefined;
}

/**
 * What redraws when the followed object changes, one per figure: a figure drawn again replaces its
 * own (a listener per render would pile up over switches).
 */
const objectHooks = new Map<'embed-line' | 'embed-matrix' | 'decode', () => void>();

/** The followed object changed: the figures that mark it draw again. */
export function objectChanged(): void {
  for (const redraw of objectHooks.values()) redraw();
}

/** A table row that selects its object when clicked (or Enter). */
function objectRow(ctx: SectionContext, slot: number, ...cells: HTMLElement[]): HTMLElement {
  const row = el('tr', { 'data-object': String(slot), class: `clickable${ctx.selectedObject() === slot ? ' selected-object' : ''}`, tabindex: '0', title: `Follow object ${slot} on the maps` }, ...cells);
  row.addEventListener('click', () => ctx.selectObject(slot));
  row.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') ctx.selectObject(slot);
  });
  return row;
}

const objectName = (o: ObjectReport, names?: readonly string[]) =>
  `object ${o.slot}${o.class !== undefined ? `, class ${classLabel(names, o.class)}` : ''}${o.box ? `, box (${o.box.map((v) => fmt(v, 4)).join(', ')})` : ''}`;

// ------------------------------------------------------------------------------------ embeddings

export function renderEmbeddings(host: HTMLElement, ctx: SectionContext): void {
  clear(host);
  // Center conventions (CenterNet, mmdet CenterNetHead) have no embeddings: the section shows sizes.
  if (ctx.report.heads === 'centers') {
    renderSizes(host, ctx);
    return;
  }
  const { stack, image } = ctx.selection;
  const objs = ctx.report.objects.filter((o) => o.stack === stack && o.image === image).sort((a, b) => a.slot - b.slot);
  const img = ctx.report.perStack[stack]!.images[image]!;
  host.append(
    el('h2', {}, 'Embeddings'),
    el(
      'p',
      { class: 'note' },
      `Stack ${stack}, image ${image}: ${objs.length} object(s); pull `,
      metric(`embed.pull`, img.pull),
      ', push ',
      metric(`embed.push`, img.push),
      '. Pull draws each object\'s two corner embeddings to their mean; push wants the means of different objects at least 1 apart (the diagonal j = k is included, as in the original).',
    ),
  );
  if (!objs.length) {
    host.append(el('p', { class: 'none' }, 'No objects in this image.'));
    return;
  }
  const violations: [ObjectReport, ObjectReport, number][] = [];
  for (let i = 0; i < objs.length; i++) {
    for (let j = i + 1; j < objs.length; j++) {
      const d = Math.abs((objs[i]!.mean ?? NaN) - (objs[j]!.mean ?? NaN));
      if (d < 1) violations.push([objs[i]!, objs[j]!, d]);
    }
  }
  host.append(
    el(
      'table',
      { class: 'grid', id: 'embed-table' },
      el('thead', {}, el('tr', {}, ...['object', 'class', 'box (x1, y1, x2, y2)', 'tl tag', 'br tag', 'mean', 'pull', 'push row'].map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        ...objs.map((o) =>
          objectRow(
            ctx,
            o.slot,
            el('th', { scope: 'row' }, String(o.slot)),
            el('td', {}, o.class === undefined ? '–' : classLabel(ctx.report.classNames, o.class)),
            el('td', { class: 'path' }, o.box ? o.box.map((v) => fmt(v, 4)).join(', ') : '–'),
            el('td', {}, metric(`embed.${o.slot}.tl`, o.tlTag)),
            el('td', {}, metric(`embed.${o.slot}.br`, o.brTag)),
            el('td', {}, metric(`embed.${o.slot}.mean`, o.mean)),
            el('td', {}, metric(`embed.${o.slot}.pull`, o.pull)),
            el('td', {}, metric(`embed.${o.slot}.push`, o.push)),
          ),
        ),
      ),
    ),
  );

  // Number line: one row per object (sorted by mean), its two tags joined through the mean, the
  // band mean +- 0.5; two bands that overlap are a push violation (|e_j - e_k| < 1).
  const sorted = [...objs].sort((a, b) => (a.mean ?? 0) - (b.mean ?? 0));
  const values = objs.flatMap((o) => [o.tlTag, o.brTag, o.mean]).filter((v): v is number => v !== null);
  const lo = Math.min(...values) - 0.8;
  const hi = Math.max(...values) + 0.8;
  const width = 640;
  const rowH = 16;
  const top = 24;
  const canvas = el('canvas', { id: 'embed-line', class: 'figure', role: 'img', 'aria-label': `embedding means of ${objs.length} objects, ${violations.length} pair(s) closer than the margin 1` }) as HTMLCanvasElement;
  canvas.width = width;
  canvas.height = top + sorted.length * rowH + 20;
  const X = (v: number) => 40 + ((v - lo) / (hi - lo)) * (width - 60);
  const drawLine = () => {
    const c2 = canvas.getContext('2d')!;
    c2.clearRect(0, 0, canvas.width, canvas.height);
    const colors = ctx.colors();
    const violating = new Set(violations.flatMap(([a, b]) => [a.slot, b.slot]));
    c2.font = '11px sans-serif';
    c2.fillStyle = colors.text;
    c2.strokeStyle = colors.grid;
    for (let t = Math.ceil(lo); t <= Math.floor(hi); t++) {
      c2.beginPath();
      c2.moveTo(X(t), top - 6);
      c2.lineTo(X(t), canvas.height - 16);
      c2.stroke();
      c2.fillText(String(t), X(t) - 3, canvas.height - 4);
    }
    sorted.forEach((o, i) => {
      const y = top + i * rowH + rowH / 2;
      const e = o.mean ?? NaN;
      c2.fillStyle = violating.has(o.slot) ? withAlpha(colors.bad, 0.25) : withAlpha(colors.good, 0.18);
      c2.fillRect(X(e - 0.5), y - 6, X(e + 0.5) - X(e - 0.5), 12);
      c2.strokeStyle = colors.text;
      c2.beginPath();
      c2.moveTo(X(o.tlTag ?? e), y);
      c2.lineTo(X(o.brTag ?? e), y);
      c2.stroke();
      c2.fillStyle = colors.text;
      c2.fillRect(X(o.tlTag ?? e) - 1, y - 5, 2, 10);
      c2.fillRect(X(o.brTag ?? e) - 1, y - 5, 2, 10);
      c2.beginPath();
      c2.arc(X(e), y, 3.5, 0, 2 * Math.PI);
      c2.fillStyle = violating.has(o.slot) ? colors.bad : colors.text;
      c2.fill();
      c2.fillStyle = colors.text;
      c2.fillText(String(o.slot), 4, y + 4);
    });
    c2.fillText('embedding value (rows: objects by mean; bar: tl and br tags; band: mean ± 0.5)', 40, 12);
    const sel = sorted.findIndex((o) => o.slot === ctx.selectedObject());
    if (sel >= 0) {
      c2.strokeStyle = '#00e5ff';
      c2.lineWidth = 2;
      c2.strokeRect(1, top + sel * rowH, width - 2, rowH);
      c2.lineWidth = 1;
    }
  };
  drawLine();
  objectHooks.set('embed-line', drawLine);
  const tip = el('div', { class: 'tooltip', id: 'embed-tip', 'aria-live': 'polite' }, '');
  canvas.onmousemove = (ev) => {
    const i = Math.floor((ev.offsetY * (canvas.height / canvas.clientHeight) - top) / rowH);
    const o = sorted[i];
    tip.textContent = o ? `${objectName(o, ctx.report.classNames)}: tl ${fmt(o.tlTag)}, br ${fmt(o.brTag)}, mean ${fmt(o.mean)}, pull ${fmt(o.pull)}` : '';
  };
  canvas.onclick = (ev) => {
    const o = sorted[Math.floor((ev.offsetY * (canvas.height / canvas.clientHeight) - top) / rowH)];
    if (o) ctx.selectObject(o.slot);
  };
  host.append(canvas, tip);
  host.append(renderViolations(ctx, violations));

  // Push matrix relu(1 - |e_j - e_k|), with the objects on both axes and a colorbar.
  const n = objs.length;
  const m = new Float32Array(n * n);
  for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) m[j * n + k] = Math.max(0, 1 - Math.abs((objs[j]!.mean ?? NaN) - (objs[k]!.mean ?? NaN)));
  const scale = Math.max(4, Math.min(32, Math.floor(384 / n)));
  const plot = el('canvas') as HTMLCanvasElement;
  drawHeatmap(plot, { data: m, width: n, height: n, min: 0, max: 1, colormap: ctx.colormap, scale, colors: ctx.colors() });
  const left = 36;
  const topM = 28;
  const barW = 130;
  const matrix = el('canvas', { id: 'embed-matrix', class: 'figure', role: 'img', 'aria-label': `push matrix relu(1 - |e_j - e_k|) of ${n} objects, rows and columns by object slot` }) as HTMLCanvasElement;
  const drawMatrix = () => {
    matrix.width = left + plot.width + 24 + barW;
    matrix.height = topM + plot.height + 8;
    const c = matrix.getContext('2d')!;
    const colors = ctx.colors();
    c.clearRect(0, 0, matrix.width, matrix.height);
    c.drawImage(plot, left, topM);
    c.font = '10px sans-serif';
    c.fillStyle = colors.text;
    const every = Math.max(1, Math.ceil(n / Math.floor(plot.width / 22)));
    for (let i = 0; i < n; i += every) {
      const label = String(objs[i]!.slot);
      c.fillText(label, left + (i + 0.5) * scale - c.measureText(label).width / 2, topM - 4);
      c.fillText(label, left - 4 - c.measureText(label).width, topM + (i + 0.5) * scale + 3);
    }
    c.fillText('object k →', left, 10);
    c.save();
    c.translate(10, topM + plot.height);
    c.rotate(-Math.PI / 2);
    c.fillText('object j →', 0, 0);
    c.restore();
    // Colorbar 0..1.
    const lut = colormapTable(ctx.colormap);
    const bx = left + plot.width + 24;
    const bh = Math.min(plot.height, 160);
    for (let y = 0; y < bh; y++) {
      const k = Math.round((1 - y / (bh - 1)) * 255);
      c.fillStyle = `rgb(${lut[k * 4]}, ${lut[k * 4 + 1]}, ${lut[k * 4 + 2]})`;
      c.fillRect(bx, topM + y, 12, 1);
    }
    c.fillStyle = colors.text;
    c.fillText('1 (means equal)', bx + 16, topM + 8);
    c.fillText('0 (≥ 1 apart)', bx + 16, topM + bh);
    // The followed object's row and column.
    const sel = objs.findIndex((o) => o.slot === ctx.selectedObject());
    if (sel >= 0) {
      c.strokeStyle = '#00e5ff';
      c.lineWidth = 2;
      c.strokeRect(left, topM + sel * scale, plot.width, scale);
      c.strokeRect(left + sel * scale, topM, scale, plot.height);
    }
  };
  drawMatrix();
  const mtip = el('div', { class: 'tooltip', id: 'matrix-tip' }, '');
  const cellAt = (ev: MouseEvent) => {
    const sx = matrix.width / (matrix.clientWidth || matrix.width);
    const k = Math.floor((ev.offsetX * sx - left) / scale);
    const j = Math.floor((ev.offsetY * sx - topM) / scale);
    return j >= 0 && j < n && k >= 0 && k < n ? { j, k } : undefined;
  };
  matrix.onmousemove = (ev) => {
    const at = cellAt(ev);
    const a = at && objs[at.j];
    const b = at && objs[at.k];
    mtip.textContent = at && a && b ? `${objectName(a, ctx.report.classNames)} × ${objectName(b, ctx.report.classNames)}: relu(1 − |Δ|) = ${fmt(m[at.j * n + at.k]!)}` : '';
  };
  matrix.onclick = (ev) => {
    const at = cellAt(ev);
    if (at) ctx.selectObject(objs[at.j]!.slot);
  };
  objectHooks.set('embed-matrix', drawMatrix);
  host.append(el('h3', {}, 'Push matrix relu(1 − |e_j − e_k|)'), matrix, mtip);

  // Tag maps with the corners marked, when the inputs had maps.
  const maps = el('div', { id: 'tagmaps' });
  host.append(maps);
  if (ctx.report.inputs.roles.some((u) => (u.role === 'tl_tag' || u.role === 'br_tag') && u.form === 'map')) {
    ctx.post({ type: 'requestTagMaps', requestId: ctx.requestId(), runId: ctx.runId, stack, image });
  } else {
    maps.append(el('p', { class: 'note' }, 'The embeddings were given gathered at the corners (no maps to show).'));
  }
}

/**
 * Push violations (pairs of means closer than the margin 1) as a list: worst first, sortable by
 * any column, filtered by object or class, each object a link that follows it.
 */
function renderViolations(ctx: SectionContext, violations: [ObjectReport, ObjectReport, number][]): HTMLElement {
  const box = el('div', { id: 'push-violations' });
  const head = el('p', { class: 'note' }, 'Push violations (pairs of means closer than 1): ', metric('embed.violations', violations.length));
  box.append(head);
  if (!violations.length) {
    head.append(' — every pair of means is at least 1 apart');
    return box;
  }
  type Key = 'pair' | 'gap' | 'cost' | 'class';
  let key: Key = 'gap';
  let asc = true;
  const filter = el('input', { id: 'violations-filter', type: 'search', placeholder: 'object number, class 3, or a class name', 'aria-label': 'filter the push violations' }) as HTMLInputElement;
  const body = el('tbody', {});
  const more = el('p', { class: 'hint', id: 'violations-more' });
  const names = ctx.report.classNames;
  const cls = (o: ObjectReport) => (o.class === undefined ? '–' : classLabel(names, o.class));
  const value = (v: [ObjectReport, ObjectReport, number], k: Key): number | string =>
    k === 'pair' ? v[0].slot * 1e6 + v[1].slot : k === 'gap' ? v[2] : k === 'cost' ? -(1 - v[2]) : `${cls(v[0])} ${cls(v[1])}`;
  const link = (o: ObjectReport) => {
    const b = el('button', { class: 'link', 'data-object': String(o.slot), title: `Follow object ${o.slot}` }, String(o.slot));
    b.addEventListener('click', (e) => {
      e.stopPropagation();
      ctx.selectObject(o.slot);
    });
    return b;
  };
  const fill = () => {
    // A number is an object; "class 3" a class by id; other text a class name.
    const q = filter.value.trim().toLowerCase();
    const classId = /^class\s*(\d+)$/.exec(q)?.[1];
    const keep = ([a, b]: [ObjectReport, ObjectReport, number]) =>
      !q ||
      (/^\d+$/.test(q)
        ? a.slot === Number(q) || b.slot === Number(q)
        : classId !== undefined
          ? a.class === Number(classId) || b.class === Number(classId)
          : [cls(a), cls(b)].some((t) => t.toLowerCase().includes(q)));
    const rows = violations
      .filter(keep)
      .sort((x, y) => {
        const u = value(x, key);
        const v = value(y, key);
        const c = typeof u === 'number' && typeof v === 'number' ? u - v : String(u).localeCompare(String(v));
        return asc ? c : -c;
      });
    clear(body);
    for (const [a, b, d] of rows.slice(0, 200)) {
      body.append(el('tr', { 'data-pair': `${a.slot}-${b.slot}` }, el('td', {}, link(a), ' – ', link(b)), el('td', {}, `${cls(a)} / ${cls(b)}`), el('td', {}, fmt(d, 4)), el('td', {}, fmt(1 - d, 4))));
    }
    more.textContent = rows.length > 200 ? `${rows.length - 200} more: filter to narrow.` : `${rows.length} of ${violations.length} shown.`;
  };
  const th = (k: Key, label: string) => {
    const h = el('th', { scope: 'col', class: 'sortable', 'data-sort': k, tabindex: '0', 'aria-sort': k === key ? (asc ? 'ascending' : 'descending') : 'none' }, label);
    const go = () => {
      asc = key === k ? !asc : k !== 'cost';
      key = k;
      h.parentElement?.querySelectorAll('th').forEach((t) => t.setAttribute('aria-sort', t === h ? (asc ? 'ascending' : 'descending') : 'none'));
      fill();
    };
    h.addEventListener('click', go);
    h.addEventListener('keydown', (e) => e.key === 'Enter' && go());
    return h;
  };
  filter.addEventListener('input', fill);
  box.append(
    el('div', { class: 'controls' }, filter),
    el('table', { class: 'grid', id: 'violations-table' }, el('thead', {}, el('tr', {}, th('pair', 'objects'), th('class', 'classes'), th('gap', '|Δ mean| (worst first)'), th('cost', 'relu(1 − |Δ|)'))), body),
    more,
  );
  fill();
  return box;
}

export function drawTagMaps(ctx: SectionContext, width: number, height: number, tl: Float32Array, br: Float32Array): void {
  const host = document.getElementById('tagmaps');
  if (!host) return;
  clear(host);
  const { stack, image } = ctx.selection;
  const objs = ctx.report.objects.filter((o) => o.stack === stack && o.image === image);
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of [tl, br]) for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]!)) ((lo = Math.min(lo, a[i]!)), (hi = Math.max(hi, a[i]!)));
  const scale = Math.max(1, Math.ceil(200 / Math.max(width, height)));
  const row = el('div', { class: 'row' });
  for (const [corner, data] of [['tl', tl], ['br', br]] as const) {
    const markers: Marker[] = objs
      .map((o) => (corner === 'tl' ? o.tlCorner : o.brCorner))
      .filter((q): q is { x: number; y: number } => !!q)
      .map((q) => ({ ...q, kind: 'positive' as const }));
    const canvas = el('canvas', { id: `tagmap-${corner}`, class: 'heatmap', role: 'img', 'aria-label': `${corner} embedding map of image ${image}, objects' corners circled` }) as HTMLCanvasElement;
    drawHeatmap(canvas, { data, width, height, min: lo, max: hi, colormap: ctx.colormap, scale, markers, colors: ctx.colors() });
    const tip = el('div', { class: 'tooltip' }, '');
    canvas.onmousemove = (ev) => {
      const x = Math.floor((ev.offsetX / canvas.clientWidth) * width);
      const y = Math.floor((ev.offsetY / canvas.clientHeight) * height);
      const o = objs.find((q) => {
        const c = corner === 'tl' ? q.tlCorner : q.brCorner;
        return c && c.x === x && c.y === y;
      });
      tip.textContent = `x ${x}, y ${y}: ${fmt(data[y * width + x] ?? NaN)}${o ? ` (${corner} corner of ${objectName(o, ctx.report.classNames)})` : ''}`;
    };
    row.append(el('figure', {}, el('figcaption', {}, `${corner} embedding map (${fmt(lo, 3)} … ${fmt(hi, 3)})`), canvas, tip));
  }
  host.append(el('h3', {}, 'Embedding maps'), row);
  ctx.drawn();
}

// --------------------------------------------------------------------------------------- offsets

/** Center conventions: each object's predicted vs target size (w, h) at its center, worst first. */
function renderSizes(host: HTMLElement, ctx: SectionContext): void {
  const { stack, image } = ctx.selection;
  const objs = ctx.report.objects.filter((o) => o.stack === stack && o.image === image && o.size).sort((a, b) => (b.size!.l1 ?? Infinity) - (a.size!.l1 ?? Infinity));
  host.append(
    el('h2', {}, 'Sizes'),
    el('p', { class: 'note' }, `${ctx.report.convention.startsWith('mmdet') ? 'Level' : 'Stack'} ${stack}, image ${image}: predicted vs target width and height at each object's center (wh), and their L1 (before the divisor), worst first.`),
  );
  if (!objs.length) {
    host.append(el('p', { class: 'none' }, 'No objects in this image.'));
    return;
  }
  const pair = (p: [number | null, number | null]) => `${fmt(p[0], 4)} × ${fmt(p[1], 4)}`;
  host.append(
    el(
      'table',
      { class: 'grid', id: 'size-table' },
      el('thead', {}, el('tr', {}, ...['object', 'class', 'center (x, y)', 'predicted w × h', 'target w × h', 'L1'].map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        ...objs.map((o) =>
          objectRow(
            ctx,
            o.slot,
            el('th', { scope: 'row' }, `${o.slot}${o.shared ? ' (shared center)' : ''}`),
            el('td', {}, o.class === undefined ? '–' : classLabel(ctx.report.classNames, o.class)),
            el('td', {}, o.center ? `(${o.center.x}, ${o.center.y})` : '–'),
            el('td', {}, pair(o.size!.pred)),
            el('td', {}, pair(o.size!.target)),
            el('td', {}, metric(`size.${o.slot}`, o.size!.l1)),
          ),
        ),
      ),
    ),
  );
}

export function renderOffsets(host: HTMLElement, ctx: SectionContext): void {
  clear(host);
  const { stack, image } = ctx.selection;
  const objs = ctx.report.objects.filter((o) => o.stack === stack && o.image === image);
  const centers = ctx.report.heads === 'centers';
  type Row = { o: (typeof objs)[number]; corner: 'tl' | 'br' | 'center'; pred: [number | null, number | null]; target: [number | null, number | null]; loss: number | null };
  const rows = objs
    .flatMap((o): Row[] =>
      centers
        ? [{ o, corner: 'center' as const, pred: o.tlOffset, target: o.tlOffsetTarget, loss: o.regrTl }]
        : [
            { o, corner: 'tl' as const, pred: o.tlOffset, target: o.tlOffsetTarget, loss: o.regrTl },
            { o, corner: 'br' as const, pred: o.brOffset, target: o.brOffsetTarget, loss: o.regrBr },
          ],
    )
    .sort((a, b) => (b.loss ?? Infinity) - (a.loss ?? Infinity));
  host.append(
    el('h2', {}, 'Offsets'),
    el(
      'p',
      { class: 'note' },
      centers
        ? `Image ${image}: predicted vs target sub-pixel center offsets (reg); L1 of x and y before the divisor, worst first.`
        : `Stack ${stack}, image ${image}: predicted vs target sub-pixel offsets; smooth-L1 of x and y divided by the batch's object count, worst first.`,
    ),
  );
  if (!rows.length) {
    host.append(el('p', { class: 'none' }, 'No objects in this image.'));
    return;
  }
  const pair = (p: [number | null, number | null]) => `(${fmt(p[0], 4)}, ${fmt(p[1], 4)})`;
  host.append(
    el(
      'table',
      { class: 'grid', id: 'offset-table' },
      el('thead', {}, el('tr', {}, ...['object', 'corner', 'predicted (x, y)', 'target (x, y)', '|error|', 'smooth-L1 share'].map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        ...rows.map((r) => {
          const dx = (r.pred[0] ?? NaN) - (r.target[0] ?? NaN);
          const dy = (r.pred[1] ?? NaN) - (r.target[1] ?? NaN);
          return objectRow(
            ctx,
            r.o.slot,
            el('th', { scope: 'row' }, String(r.o.slot)),
            el('td', {}, r.corner),
            el('td', {}, pair(r.pred)),
            el('td', {}, pair(r.target)),
            el('td', {}, fmt(Math.hypot(dx, dy), 4)),
            el('td', {}, metric(`offset.${r.o.slot}.${r.corner}`, r.loss)),
          );
        }),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------- decode

export interface DecodeSettings {
  K: number;
  aeThreshold: number;
  minScore: number;
}

export function renderDecodeControls(host: HTMLElement, ctx: SectionContext, settings: DecodeSettings, onRun: (s: DecodeSettings) => void): void {
  clear(host);
  const input = (id: string, label: string, value: number, attrs: Record<string, string>) =>
    el('label', { class: 'control' }, el('span', {}, label), el('input', { id, type: 'number', value: String(value), ...attrs }));
  const run = el('vscode-button', { id: 'decode-run' }, 'Decode');
  const read = (id: string) => Number((document.getElementById(id) as HTMLInputElement).value);
  run.addEventListener('click', () => onRun({ K: Math.round(read('decode-k')), aeThreshold: document.getElementById('decode-thr') ? read('decode-thr') : settings.aeThreshold, minScore: read('decode-min') }));
  host.append(
    el('h2', {}, 'Decode'),
    el(
      'p',
      { class: 'note' },
      ctx.report.heads === 'centers'
        ? `CenterNet's ctdet_decode on the last ${ctx.report.convention.startsWith('mmdet') ? 'level' : 'stack'} (${ctx.report.nstack - 1}): sigmoid, 3×3 max-pool NMS, top K centers over all classes, the offset (reg) added and the size (wh) read at each center. Detections are matched to the objects (same class, IoU ≥ 0.5).`
        : `The original decode on the last stack (${ctx.report.nstack - 1}): sigmoid, 3×3 max-pool NMS, top K corners per type over all classes, offsets added, K×K pairs with the same class, embedding distance ≤ threshold and br not left of / above tl; then up to 1000 pairs. Detections are matched to the objects (same class, IoU ≥ 0.5).`,
    ),
    el(
      'div',
      { class: 'controls' },
      input('decode-k', 'K', settings.K, { min: '1', max: '10000', step: '1' }),
      ...(ctx.report.heads === 'centers' ? [] : [input('decode-thr', 'AE threshold', settings.aeThreshold, { min: '0', step: '0.05' })]),
      input('decode-min', 'Show detections with score ≥', settings.minScore, { min: '0', max: '1', step: '0.05' }),
      run,
    ),
    el('div', { id: 'decode-out' }, el('p', { class: 'note' }, 'Decoding…')),
  );
}

export function drawDecode(ctx: SectionContext, view: DecodeView, width: number, height: number, background: Float32Array): void {
  const host = document.getElementById('decode-out');
  if (!host) return;
  clear(host);
  const colors = ctx.colors();
  const scale = Math.max(2, Math.ceil(720 / Math.max(width, height)));
  const canvas = el('canvas', { id: 'decode-canvas', class: 'heatmap decode', role: 'img' }) as HTMLCanvasElement;
  const backdrop = el('canvas') as HTMLCanvasElement;
  drawHeatmap(backdrop, { data: background, width, height, min: 0, max: 1, colormap: 'gray', scale, colors });
  canvas.width = backdrop.width;
  canvas.height = backdrop.height;
  const c2 = canvas.getContext('2d')!;
  const names = ctx.report.classNames;
  type Hit = { kind: 'detection'; i: number } | { kind: 'object'; slot: number };
  const box = (b: readonly number[], color: string, dash: number[], label: string, lineWidth = 2) => {
    c2.strokeStyle = color;
    c2.lineWidth = lineWidth;
    c2.setLineDash(dash);
    c2.strokeRect(b[0]! * scale, b[1]! * scale, (b[2]! - b[0]!) * scale, (b[3]! - b[1]!) * scale);
    c2.setLineDash([]);
    if (!label) return;
    c2.font = '12px sans-serif';
    c2.fillStyle = color;
    c2.fillText(label, b[0]! * scale + 2, Math.max(11, b[1]! * scale - 3));
  };
  const detBox = (d: (typeof view.detections)[number]) => [d.x1, d.y1, d.x2, d.y2];
  const paint = (hover?: Hit) => {
    c2.drawImage(backdrop, 0, 0);
    // Unmatched detections thin and underneath (duplicates dotted), matched ones over them, objects (dashed) on top.
    c2.globalAlpha = 0.75;
    for (const d of view.detections) {
      if (d.target !== undefined) continue;
      if (d.duplicateOf !== undefined) box(detBox(d), colors.peak, [2, 3], `dup #${d.duplicateOf}`, 1);
      else box(detBox(d), colors.bad, [], `c${d.class} ${fmt(d.score, 2)}`, 1);
    }
    c2.globalAlpha = 1;
    for (const d of view.detections) if (d.target !== undefined) box(detBox(d), colors.good, [], `c${d.class} ${fmt(d.score, 2)}`);
    for (const t of view.targets) box(t.box, colors.positive, [6, 4], `#${t.slot} c${t.class}`);
    const sel = ctx.selectedObject();
    const selected = view.targets.find((t) => t.slot === sel);
    if (selected) box(selected.box, '#00e5ff', [], '', 3);
    if (hover) box(hover.kind === 'object' ? view.targets.find((t) => t.slot === hover.slot)!.box : detBox(view.detections[hover.i]!), '#ffffff', [], '', 3);
  };
  paint();
  // The box under the cursor: the smallest that holds it (objects before detections of the same size).
  const hitAt = (ev: MouseEvent): Hit | undefined => {
    const k = canvas.width / (canvas.clientWidth || canvas.width);
    const x = (ev.offsetX * k) / scale;
    const y = (ev.offsetY * k) / scale;
    let best: Hit | undefined;
    let bestArea = Infinity;
    const inside = (b: readonly number[]) => x >= b[0]! - 0.5 && x <= b[2]! + 0.5 && y >= b[1]! - 0.5 && y <= b[3]! + 0.5;
    const area = (b: readonly number[]) => Math.max(1e-6, (b[2]! - b[0]!) * (b[3]! - b[1]!));
    for (const t of view.targets) if (inside(t.box) && area(t.box) <= bestArea) ((best = { kind: 'object', slot: t.slot }), (bestArea = area(t.box)));
    view.detections.forEach((d, i) => {
      if (inside(detBox(d)) && area(detBox(d)) < bestArea) ((best = { kind: 'detection', i }), (bestArea = area(detBox(d))));
    });
    return best;
  };
  const tip = el('div', { class: 'tooltip', id: 'decode-tip', 'aria-live': 'polite' }, 'Hover a box to read it; click to follow its object.');
  const describe = (h: Hit): string => {
    if (h.kind === 'object') {
      const t = view.targets.find((q) => q.slot === h.slot)!;
      const d = t.detection !== undefined ? view.detections[t.detection] : undefined;
      return `object ${t.slot} (class ${classLabel(names, t.class)}): ${d ? `matched by a detection with score ${fmt(d.score, 3)}, IoU ${fmt(t.iou ?? null, 3)}` : `missed: ${t.reason ?? ''}`}`;
    }
    const d = view.detections[h.i]!;
    const what = d.target !== undefined ? `matches object ${d.target} (IoU ${fmt(d.iou ?? null, 3)})` : d.duplicateOf !== undefined ? `duplicate of object ${d.duplicateOf} (IoU ${fmt(d.bestIoU ?? null, 3)}): that object already has a better detection` : d.bestTarget !== undefined ? `no object: best IoU ${fmt(d.bestIoU ?? null, 3)} with object ${d.bestTarget}` : 'no object of its class in this image';
    return `detection, class ${classLabel(names, d.class)}, score ${fmt(d.score, 3)} (tl ${fmt(d.tlScore, 3)}, br ${fmt(d.brScore, 3)}), box (${detBox(d).map((v) => fmt(v, 4)).join(', ')}): ${what}`;
  };
  let hovered: string | undefined;
  canvas.onmousemove = (ev) => {
    const h = hitAt(ev);
    const key = h ? JSON.stringify(h) : undefined;
    if (key === hovered) return;
    hovered = key;
    paint(h);
    tip.textContent = h ? describe(h) : '';
    tip.setAttribute('data-hit', h ? (h.kind === 'object' ? `object-${h.slot}` : `detection-${h.i}`) : '');
  };
  canvas.onmouseleave = () => {
    hovered = undefined;
    paint();
  };
  canvas.onclick = (ev) => {
    const h = hitAt(ev);
    if (!h) return;
    const d = h.kind === 'detection' ? view.detections[h.i]! : undefined;
    const slot = h.kind === 'object' ? h.slot : d!.target ?? d!.duplicateOf ?? d!.bestTarget;
    if (slot !== undefined) ctx.selectObject(slot);
  };
  objectHooks.set('decode', () => paint());
  const matched = view.targets.filter((t) => t.detection !== undefined).length;
  canvas.setAttribute('aria-label', `image ${view.image}: ${view.targets.length} objects (dashed), ${view.detections.length} detections shown, ${matched} objects matched`);
  const missed = view.targets.filter((t) => t.detection === undefined);
  const duplicates = view.detections.filter((d) => d.target === undefined && d.duplicateOf !== undefined);
  const extra = view.detections.filter((d) => d.target === undefined && d.duplicateOf === undefined);
  const legend = el(
    'p',
    { class: 'legend' },
    el('span', { class: 'sw positive' }),
    ' object (target box, dashed)  ',
    el('span', { class: 'sw good' }),
    ' detection matched  ',
    el('span', { class: 'sw bad' }),
    ' detection without object  ',
    el('span', { class: 'sw dup' }),
    ' duplicate of a matched object (dotted)',
  );
  const save = el('vscode-button', { id: 'save-decode', secondary: '' }, 'Save PNG…');
  save.addEventListener('click', () => ctx.post({ type: 'savePng', name: `decode-image${view.image}`, dataUrl: canvas.toDataURL('image/png') }));
  host.append(
    el(
      'p',
      {},
      save,
      ' Objects matched: ',
      metric('decode.matched', matched),
      ' of ',
      metric('decode.objects', view.targets.length),
      ' · detections shown: ',
      metric('decode.shown', view.detections.length),
      ` (score ≥ ${view.minScore}) of `,
      metric('decode.valid', view.validCount),
      ' valid · K ',
      String(view.options.K),
      ', AE threshold ',
      String(view.options.aeThreshold),
    ),
    canvas,
    tip,
    legend,
    el('h3', {}, `Objects without a detection (${missed.length})`),
    missed.length
      ? el(
          'table',
          { class: 'grid', id: 'decode-missed' },
          el('thead', {}, el('tr', {}, ...['object', 'class', 'box', 'why'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', {}, ...missed.map((t) => objectRow(ctx, t.slot, el('th', { scope: 'row' }, String(t.slot)), el('td', {}, classLabel(ctx.report.classNames, t.class)), el('td', { class: 'path' }, t.box.map((v) => fmt(v, 4)).join(', ')), el('td', { class: 'path' }, t.reason ?? '')))),
        )
      : el('p', { class: 'none' }, 'Every object has a detection.'),
    el('h3', {}, `Duplicates: detections of an already matched object (${duplicates.length})`),
    duplicates.length
      ? el(
          'table',
          { class: 'grid', id: 'decode-duplicates' },
          el('thead', {}, el('tr', {}, ...['score', 'class', 'box', 'duplicate of'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', {}, ...duplicates.slice(0, 50).map((d) => objectRow(ctx, d.duplicateOf!, el('td', {}, fmt(d.score, 4)), el('td', {}, classLabel(names, d.class)), el('td', { class: 'path' }, detBox(d).map((v) => fmt(v, 4)).join(', ')), el('td', {}, `duplicate of object ${d.duplicateOf} (IoU ${fmt(d.bestIoU ?? null, 3)})`)))),
        )
      : el('p', { class: 'none' }, 'No duplicates among the detections shown.'),
    el('h3', {}, `Detections without an object (${extra.length})`),
    extra.length
      ? el(
          'table',
          { class: 'grid', id: 'decode-extra' },
          el('thead', {}, el('tr', {}, ...['score', 'class', 'box', 'best IoU with an object of its class'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', {}, ...extra.slice(0, 50).map((d) => el('tr', {}, el('td', {}, fmt(d.score, 4)), el('td', {}, classLabel(names, d.class)), el('td', { class: 'path' }, detBox(d).map((v) => fmt(v, 4)).join(', ')), el('td', {}, d.bestIoU === undefined ? 'no object of this class' : `${fmt(d.bestIoU, 3)} (object ${d.bestTarget})`)))),
        )
      : el('p', { class: 'none' }, 'None above the score shown.'),
  );
  ctx.drawn();
}

function withAlpha(css: string, a: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(css.trim());
  if (!m) return css;
  const n = parseInt(m[1]!, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

export { colormapTable };
