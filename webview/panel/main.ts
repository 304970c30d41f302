/**
 * The results panel: summary of the loss, warnings, and per-corner heatmaps (probability, target,
 * per-pixel loss) of one (stack, image, class) plane, with a class thumbnail strip. The host keeps
 * the tensors; this page asks for the planes it shows and tells the host what it drew.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import type { LossReport, Num } from '../../src/cornernet/model/report';
import { WARNING_EXPLANATIONS, type WarningCode } from '../../src/cornernet/model/warnings';
import { CONVENTIONS, CONVENTION_NAMES, type ConventionName } from '../../src/cornernet/model/conventions';
import {
  COLORMAPS,
  parseToPanel,
  type Colormap,
  type CornerName,
  type FromPanel,
  type PanelState,
  type RenderReport,
  type Selection,
  type SliceData,
  type ToPanel,
} from '../../src/protocol/panel';
import { canvasDigest, drawColorbar, drawHeatmap, type Marker } from '../shared/heatmap';
import { LinkedMaps, type MapMarker } from './mapView';
import { numpyIndex } from '../../src/cornernet/views/numpyIndex';
import { colormapTable } from '../shared/colormap';
import type { DecodeView } from '../../src/cornernet/views/matching';
import type { ObjectReport } from '../../src/cornernet/model/report';
import { clampedSigmoid, pixelFocalGrad, pixelFocalLoss } from '../../src/cornernet/model/pixel';
import { classLabel } from '../../src/cornernet/model/classNames';
import { divergingTable, drawDivergingBar } from '../shared/diverging';
import { clear, el, fmt, metric } from '../shared/dom';
import { drawDecode, drawTagMaps, objectChanged, renderDecodeControls, renderEmbeddings, renderOffsets, type DecodeSettings, type SectionContext } from './diagnostics';

interface VsCodeApi {
  postMessage(msg: FromPanel): void;
  getState(): PanelState | undefined;
  setState(s: PanelState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();
const post = (m: FromPanel) => vscode.postMessage(m);

/** A plane as received, with the probabilities and losses derived from it. */
type DecodedSlice = Omit<SliceData, 'logit' | 'target'> & { logit: Float32Array; prob: Float32Array; target: Float32Array; loss: Float32Array; grad: Float32Array };

const KINDS = ['prob', 'target', 'loss', 'grad'] as const;
type Kind = (typeof KINDS)[number];
const KIND_TITLES: Record<Kind, string> = { prob: 'predicted probability', target: 'target', loss: 'per-pixel focal loss', grad: 'gradient d loss / d logit' };
const CORNER_TITLES: Record<CornerName, string> = { tl: 'top-left', br: 'bottom-right' };
/** Center conventions (CenterNet, mmdet CenterNetHead) draw one heatmap column, the center. */
const cornerTitle = (corner: CornerName) => (report?.heads === 'centers' ? 'center' : CORNER_TITLES[corner]);
/** The loss row says whose per-pixel loss it is (mmdet: no clamp, eps 1e-12). */
const kindTitle = (kind: Kind) => (kind === 'loss' && report?.convention.startsWith('mmdet') ? 'per-pixel loss (mmdet: no clamp)' : KIND_TITLES[kind]);
const heads = (): readonly CornerName[] => (report?.heads === 'centers' ? ['tl'] : ['tl', 'br']);
let conventionsRequest = 0;

let runId = -1;
let report: LossReport | undefined;
let loaded: PanelState['load'];
let selection: Selection = vscode.getState()?.selection ?? { stack: 0, image: 0, class: 0 };
let colormap: Colormap = 'viridis';
let slices: Record<CornerName, DecodedSlice> | undefined;
let thumbs: { stack: number; image: number; width: number; height: number; classes: { class: number; loss: number | null }[]; data: Float32Array } | undefined;
let nextRequest = 1;
/** Decode peaks drawn: the best `peaksShown` of the image's top 100 (over all classes). */
let peaksShown = 10;
let slicesRequest = 0;
let thumbsRequest = 0;
let decodeRequest = 0;
let tagMapsRequest = 0;
let decodeSettings: DecodeSettings = { K: 100, aeThreshold: 0.5, minScore: 0.5 };
/** Image the embeddings/offsets/decode sections show (they follow the heatmap selection). */
let sectionsFor = '';
/** The per-pixel loss on a log scale (most of a plane's loss sits in a few pixels). */
let logLoss = false;
/** Offsets as arrows at the objects' corners: target (red) and predicted (yellow). */
let showArrows = true;
/** The object followed across the panel (slot in the selected stack and image). */
let selectedObject: number | undefined;
/** The last decode of the selected image (what happened to each object). */
let lastDecode: DecodeView | undefined;
/** The pixel under the cursor, to copy its numpy index. */
let lastHover: { corner: CornerName; kind: Kind; x: number; y: number } | undefined;
/** First plane of a new result chosen by the host: align its class with the strip's worst. */
let alignClass = false;

const maps = new LinkedMaps(
  () => {
    const c = themeColors();
    return { positive: c.positive, peak: c.peak, selected: '#00e5ff', offsetTarget: c.positive, offsetPred: c.peak };
  },
  {
    hover: (id, x, y, t) => {
      const m = /^canvas-(tl|br)-(\w+)$/.exec(id ?? '');
      if (m) readout(m[1] as CornerName, x, y, t, m[2] as Kind);
    },
    click: (id, x, y, radius) => {
      const m = /^canvas-(tl|br)-/.exec(id);
      if (m) clickMap(m[1] as CornerName, x, y, radius);
    },
    context: (id, x, y) => {
      const m = /^canvas-(tl|br)-(\w+)$/.exec(id);
      if (m) copyNumpyIndex(m[1] as CornerName, m[2] as Kind, x, y);
    },
    viewChanged: () => syncZoomLabel(),
  },
);

const root = document.getElementById('root')!;

window.addEventListener('message', (e: MessageEvent) => {
  const msg = parseToPanel(e.data);
  if (!msg) {
    console.warn('CornerNet Inspector: dropped a malformed message');
    return;
  }
  onMessage(msg);
});

function onMessage(msg: ToPanel): void {
  const t0msg = performance.now();
  switch (msg.type) {
    case 'load':
      runId = msg.runId;
      report = msg.report;
      loaded = { report: msg.report, inputsLabel: msg.inputsLabel, spec: msg.spec };
      colormap = msg.colormap;
      selection = clampSelection(msg.selection, msg.report);
      objectsPending = msg.objectsPending === true;
      slices = undefined;
      thumbs = undefined;
      alignClass = msg.selectionIsDefault === true;
      selectedObject = undefined;
      lastDecode = undefined;
      lastHover = undefined;
      maps.reset();
      maps.cursor = undefined;
      // Ask for the planes first: the host reads them while this page builds the report.
      requestPlanes(false);
      renderAll(msg.inputsLabel);
      perfLoad(t0msg);
      // A new result starts at its top (its total), not where the previous one was scrolled.
      window.scrollTo(0, 0);
      renderSections();
      break;
    case 'objects':
      if (msg.runId !== runId || !report || !loaded) return;
      report = { ...report, objects: msg.objects, topPixels: msg.topPixels };
      loaded = { ...loaded, report: { ...loaded.report, objects: msg.objects, topPixels: msg.topPixels } };
      objectsPending = false;
      vscode.setState({ selection, load: loaded });
      renderSections(true);
      drawSlices();
      maybeReportRender();
      break;
    case 'slices': {
      if (msg.requestId !== slicesRequest || msg.runId !== runId) return;
      const t0 = performance.now();
      slices = { tl: decode(msg.tl), br: decode(msg.br) };
      drawSlices();
      slicesUnpainted = true;
      requestAnimationFrame(() => (slicesUnpainted = false));
      timeToPaint('perf.slicesMs', t0);
      perfPlanes('slices', t0msg);
      maybeReportRender();
      break;
    }
    case 'thumbnails': {
      if (msg.requestId !== thumbsRequest || msg.runId !== runId) return;
      const show = () => {
        if (msg.requestId !== thumbsRequest || msg.runId !== runId) return;
        const t0 = performance.now();
        // Quantised on the wire: back to loss values for the colour scale.
        thumbs = { stack: msg.stack, image: msg.image, width: msg.width, height: msg.height, classes: msg.classes, data: Float32Array.from(new Uint8Array(msg.data), (q) => (q / 255) * (msg.max ?? 1)) };
        drawThumbnails();
        timeToPaint('perf.thumbsMs', t0);
        perfPlanes('thumbs', t0msg);
        maybeReportRender();
        if (alignClass && thumbs.stack === selection.stack && thumbs.image === selection.image) {
          // The host's default plane is the worst over all stacks; the strip ranks the shown stack.
          alignClass = false;
          const top = thumbs.classes.reduce((a, b) => ((b.loss ?? -Infinity) > (a.loss ?? -Infinity) ? b : a), thumbs.classes[0]!);
          if (top && top.class !== selection.class) choose({ class: top.class });
        }
      };
      // Heatmaps drawn but not on screen yet (both replies came together): their frame first, then
      // the strip's 80 canvases.
      if (slicesUnpainted) requestAnimationFrame(() => setTimeout(show, 0));
      else show();
      break;
    }
    case 'decode':
      if (msg.requestId !== decodeRequest || msg.runId !== runId) return;
      lastDecode = msg.view;
      drawDecode(sectionContext(), msg.view, msg.width, msg.height, new Float32Array(msg.background));
      break;
    case 'tagMaps':
      if (msg.requestId !== tagMapsRequest || msg.runId !== runId) return;
      drawTagMaps(sectionContext(), msg.width, msg.height, new Float32Array(msg.tl), new Float32Array(msg.br));
      break;
    case 'colormap':
      colormap = msg.colormap;
      syncColormapSelect();
      redraw();
      break;
    case 'busy': {
      const b = document.getElementById('busy');
      if (b) {
        b.textContent = msg.message ?? '';
        b.hidden = msg.message === null;
      }
      break;
    }
    case 'offer': {
      // A debug session stopped again: the reason, and the button that computes again there.
      const o = document.getElementById('offer');
      if (!o) break;
      clear(o);
      o.hidden = msg.message === null;
      if (msg.message !== null) {
        const button = el('vscode-button', { id: 'offer-action' }, msg.action);
        button.addEventListener('click', () => post({ type: 'recompute' }));
        o.append(el('span', { class: 'offer-message' }, msg.message), button);
      }
      break;
    }
    case 'diagnosis':
      if (msg.runId !== runId || !report) return;
      report = { ...report, findings: msg.findings, gradients: msg.gradients };
      renderFindings(document.getElementById('findings')!, report);
      // The non-finite warning can now point at the first NaN/Inf.
      if (report.warnings.some((w) => w.code === 'non-finite')) document.getElementById('warnings')?.replaceWith(renderWarnings(report));
      renderGradients(document.getElementById('gradients')!, report);
      break;
    case 'ablation':
      if (msg.runId !== runId || !report) return;
      report = { ...report, ablation: msg.ablation };
      renderAblation(document.getElementById('ablation')!, report);
      break;
    case 'conventions':
      if (msg.requestId !== conventionsRequest || msg.runId !== runId || !report) return;
      report = { ...report, conventions: msg.conventions, gaps: msg.gaps };
      renderComparison(document.getElementById('compare')!, report);
      break;
    case 'requestFailed': {
      // A section's own request failed (e.g. decode without maps): say so in that section.
      const target = msg.requestId === decodeRequest ? document.getElementById('decode-out') : msg.requestId === tagMapsRequest ? document.getElementById('tagmaps') : document.getElementById('busy');
      if (target) {
        target.textContent = msg.message;
        target.hidden = false;
      }
      break;
    }
  }
}

/** The report came without its per-object table, which follows (`objects`). */
let objectsPending = false;

/** A received plane with its probabilities and per-pixel losses derived as the engine does. */
function decode(s: SliceData): DecodedSlice {
  const logit = new Float32Array(s.logit);
  const target = new Float32Array(s.target);
  const prob = new Float32Array(logit.length);
  const loss = new Float32Array(logit.length);
  const grad = new Float32Array(logit.length);
  for (let i = 0; i < logit.length; i++) {
    const p = clampedSigmoid(logit[i]!, s.bounds);
    prob[i] = p;
    loss[i] = pixelFocalLoss(p, target[i]!, s.bounds.plain) / s.norm;
    // The learning signal: 0 where the clamp holds p at a bound.
    grad[i] = pixelFocalGrad(logit[i]!, target[i]!, s.bounds) / s.norm;
  }
  return { ...s, logit, target, prob, loss, grad };
}

function clampSelection(s: Selection, r: LossReport): Selection {
  const inRange = (v: number, n: number) => (v >= 0 && v < n ? v : 0);
  return { stack: inRange(s.stack, r.nstack), image: inRange(s.image, r.sizes.batch), class: inRange(s.class, r.sizes.classes) };
}

function requestPlanes(sections = true): void {
  if (!report) return;
  slicesRequest = nextRequest++;
  post({ type: 'requestSlices', requestId: slicesRequest, runId, selection });
  if (!thumbs || thumbs.stack !== selection.stack || thumbs.image !== selection.image) {
    thumbsRequest = nextRequest++;
    post({ type: 'requestThumbnails', requestId: thumbsRequest, runId, stack: selection.stack, image: selection.image });
  }
  saveStateSoon();
  if (sections) renderSections();
}

let saveTimer: ReturnType<typeof setTimeout> | undefined;
/**
 * The state that brings the panel back after a window reload holds the whole report: serialising
 * it on every switch would cost the switch; the selection is saved once switching pauses.
 */
function saveStateSoon(): void {
  if (saveTimer !== undefined) clearTimeout(saveTimer);
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    vscode.setState({ selection, load: loaded });
  }, 300);
}

function sectionContext(): SectionContext {
  return {
    report: report!,
    runId,
    selection,
    colormap,
    post,
    requestId: () => nextRequest++,
    colors: themeColors,
    drawn: () => maybeReportRender(),
    selectObject: (slot) => selectObject(slot),
    selectedObject: () => selectedObject,
  };
}

/** Embeddings, offsets and decode follow the selected stack and image. */
function renderSections(force = false): void {
  if (!report) return;
  if (objectsPending) {
    for (const id of ['embeddings', 'offsets', 'decode']) {
      const host = document.getElementById(id);
      if (host) host.replaceChildren(el('p', { class: 'hint' }, 'Loading the objects…'));
    }
    return;
  }
  const key = `${runId}/${selection.stack}/${selection.image}`;
  if (key === sectionsFor && !force) return;
  sectionsFor = key;
  const ctx = sectionContext();
  // Tag-map replies carry the request id the section asked with.
  const realPost = ctx.post;
  ctx.post = (m) => {
    if (m.type === 'requestTagMaps') tagMapsRequest = m.requestId;
    realPost(m);
  };
  renderEmbeddings(document.getElementById('embeddings')!, ctx);
  renderOffsets(document.getElementById('offsets')!, ctx);
  renderDecodeControls(document.getElementById('decode')!, ctx, decodeSettings, (s) => {
    decodeSettings = s;
    requestDecode();
  });
  requestDecode();
}

function requestDecode(): void {
  if (!report) return;
  const { K, aeThreshold, minScore } = decodeSettings;
  if (!(K >= 1 && K <= 10000 && aeThreshold >= 0 && minScore >= 0 && minScore <= 1)) {
    const out = document.getElementById('decode-out');
    if (out) out.textContent = 'K must be 1–10000, the threshold ≥ 0 and the score in [0, 1].';
    return;
  }
  decodeRequest = nextRequest++;
  post({ type: 'requestDecode', requestId: decodeRequest, runId, image: selection.image, K, aeThreshold, minScore });
}

// ---------------------------------------------------------------- layout

function renderAll(inputsLabel: string): void {
  const r = report!;
  clear(root);
  root.append(
    renderHeader(r, inputsLabel),
    el('p', { id: 'busy', class: 'busy', hidden: true }),
    el('p', { id: 'offer', class: 'offer', hidden: true }),
    el('section', { id: 'findings', 'aria-label': 'findings' }, el('p', { class: 'hint' }, 'Diagnosing…')),
    renderSummary(r),
    el('section', { id: 'gradients', 'aria-label': 'gradient norms' }),
    el('section', { id: 'ablation', 'aria-label': 'ground-truth ablation' }),
    renderComparisonSection(r),
    renderWarnings(r),
    renderHeatmapSection(r),
    el('section', { id: 'embeddings', 'aria-label': 'embeddings' }),
    el('section', { id: 'offsets', 'aria-label': 'offsets' }),
    el('section', { id: 'decode', 'aria-label': 'decode' }),
    el('div', { id: 'perf', hidden: true }),
  );
  sectionsFor = '';
}

function renderHeader(r: LossReport, inputsLabel: string): HTMLElement {
  const change = el('vscode-button', { id: 'change-roles' }, 'Change roles…');
  change.addEventListener('click', () => post({ type: 'changeRoles' }));
  const again = el('vscode-button', { id: 'recompute', secondary: '' }, 'Recompute');
  again.addEventListener('click', () => post({ type: 'recompute' }));
  const exportJson = el('vscode-button', { id: 'export-report', secondary: '' }, 'Export JSON…');
  exportJson.addEventListener('click', () => post({ type: 'exportReport' }));
  // Arrays from a notebook kernel: the notebook's name and the variable.
  const where = (u: { file: string; key?: string; variable?: string }) =>
    u.variable !== undefined ? `${u.file.split(/[\\/]/).pop()}: ${u.variable}` : u.key !== undefined ? `${u.file}:${u.key}` : u.file;
  const rows = r.inputs.roles.map((u) =>
    el(
      'tr',
      {},
      el('td', {}, u.role),
      el('td', { class: 'path' }, where(u)),
      el('td', {}, `[${u.shape.join(', ')}]`),
      el('td', {}, u.dtype),
      el('td', {}, [u.form, u.purpose === 'check' ? 'checked' : '', u.origin !== 'name' ? u.origin : ''].filter(Boolean).join(', ')),
    ),
  );
  const unused = r.inputs.unused.map((u) =>
    el('tr', { class: 'unused' }, el('td', {}, '(unused)'), el('td', { class: 'path' }, where(u)), el('td', {}, `[${u.shape.join(', ')}]`), el('td', {}, u.dtype), el('td', {}, u.reason)),
  );
  const { batch, classes, height, width, maxObjects } = r.sizes;
  // A mask synthesized instead of read (the role picker's choice, --mask): listed with the arrays.
  const synth = r.warnings.find((w) => w.code === 'synthetic-mask');
  const synthRows = synth
    ? [
        el(
          'tr',
          { class: 'synthetic', 'data-role': 'gt_mask' },
          el('td', {}, 'gt_mask'),
          el('td', { class: 'path' }, /from the indices/.test(synth.message) ? '(synthesized from the indices: tl_ind or br_ind non-zero)' : '(synthesized: all slots valid)'),
          el('td', {}, `[${batch}, ${maxObjects}]`),
          el('td', {}, 'uint8'),
          el('td', {}, 'synthesized'),
        ),
      ]
    : [];
  return el(
    'header',
    {},
    el('div', { class: 'title-row' }, el('h1', {}, r.convention === 'cornernet' ? 'CornerNet loss' : `${CONVENTIONS[r.convention].label} loss`), el('div', { class: 'actions' }, change, again, exportJson)),
    el('p', { class: 'inputs', title: inputsLabel }, inputsLabel),
    renderConventionLine(r),
    el('p', { class: 'sizes' }, `${r.nstack} ${stackWord(r)}${r.nstack > 1 ? 's' : ''} · batch ${batch} · ${classes} classes${r.classNamesFrom ? ` (names from ${r.classNamesFrom.split(/[\\/]/).pop()})` : ''} · ${height}×${width}${maxObjects ? ` · K ${maxObjects}` : ''} · ${precisionLabel(r)} · weights ${Object.entries(r.weights).map(([k, v]) => `${k} ${v}`).join(', ')}`),
    el(
      'details',
      { id: 'roles' },
      el('summary', {}, `Roles (${r.inputs.roles.length} arrays${synth ? ', gt_mask synthesized' : ''}${r.inputs.unused.length ? `, ${r.inputs.unused.length} unused` : ''})`),
      el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, ...['role', 'file', 'shape', 'dtype', ''].map((h) => el('th', {}, h)))), el('tbody', {}, ...rows, ...synthRows, ...unused)),
    ),
  );
}

/** The inputs' dtype and the arithmetic: a float16 batch is not "float32" (it is computed in float32). */
function precisionLabel(r: LossReport): string {
  const heat = r.inputs.roles.filter((u) => u.purpose === 'loss' && /heat|hm/i.test(u.role) && !/^gt_|target|^batch_/i.test(u.role));
  const dtypes = [...new Set(heat.map((u) => u.dtype))];
  if (!dtypes.length || (dtypes.length === 1 && dtypes[0] === r.precision)) return r.precision;
  return `${dtypes.join('/')} outputs, ${r.precision} arithmetic`;
}

function stackWord(r: LossReport): string {
  return r.convention.startsWith('mmdet') ? 'level' : 'stack';
}

/** Which convention scored the batch, why, and a switch to the others. */
function renderConventionLine(r: LossReport): HTMLElement {
  const choice = r.conventionChoice;
  // Only the conventions whose layout these arrays fit (the other codebase of the same kind is
  // reached through "Compare conventions", which converts the layout).
  const fits = [r.convention, ...(choice?.alternatives ?? [])].filter((n, i, a) => (CONVENTION_NAMES as readonly string[]).includes(n) && a.indexOf(n) === i);
  const options = fits.map((n) => ({ value: n, label: CONVENTIONS[n].label }));
  const sel = select('sel-convention', 'Convention', options, r.convention, (v) => {
    if (v !== r.convention) post({ type: 'switchConvention', convention: v as ConventionName });
  });
  return el(
    'div',
    { class: 'convention' },
    sel,
    el('span', { class: 'why', id: 'convention-reason' }, choice ? `${choice.how === 'detected' ? 'detected' : choice.how === 'default' ? 'default' : `chosen (${choice.how})`}: ${choice.reason}` : ''),
  );
}

/** "Compare conventions": the batch under the other codebase of its kind, gaps per term. */
function renderComparisonSection(r: LossReport): HTMLElement {
  const box = el('section', { id: 'compare', 'aria-label': 'compare conventions' });
  renderComparison(box, r);
  return box;
}

function renderComparison(box: HTMLElement, r: LossReport): void {
  clear(box);
  const button = el('vscode-button', { id: 'compare-conventions', secondary: '' }, r.conventions ? 'Compare again' : 'Compare conventions');
  button.addEventListener('click', () => {
    conventionsRequest = nextRequest++;
    post({ type: 'compareConventions', requestId: conventionsRequest, runId });
    button.setAttribute('disabled', '');
  });
  box.append(el('div', { class: 'title-row' }, el('h2', {}, 'The same batch under both codebases'), button));
  if (!r.conventions) {
    box.append(el('p', { class: 'hint' }, `Scores this batch under ${r.heads === 'centers' ? "CenterNet's CtdetLoss and mmdetection's CenterNetHead" : "the original AELoss and mmdetection's CornerHead"} and explains each term's gap.`));
    return;
  }
  const rows = Object.entries(r.conventions).map(([name, s]) =>
    el(
      'tr',
      { class: name === r.convention ? 'current' : '' },
      el('th', { scope: 'row' }, CONVENTIONS[name as ConventionName].label),
      el('td', {}, s?.unavailable ? '–' : metric(`compare.${name}.total`, s?.total ?? null, 6)),
      el('td', { class: 'terms' }, s?.unavailable ? s.unavailable : Object.entries(s?.terms ?? {}).filter(([k]) => k !== 'loss').map(([k, v]) => `${k} ${fmt(v, 4)}`).join(' · ')),
    ),
  );
  box.append(el('table', { class: 'grid', id: 'compare-table' }, el('thead', {}, el('tr', {}, ...['convention', 'total', 'terms'].map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, ...rows)));
  const gaps = el('ul', { class: 'gaps', id: 'compare-gaps' }, ...(r.gaps ?? []).map((g) => el('li', {}, el('strong', {}, `${g.term}: `), g.summary)));
  box.append(gaps);
  const notes = Object.entries(r.conventions).flatMap(([, s]) => s?.notes ?? []);
  if (notes.length) box.append(el('details', {}, el('summary', {}, `How the batch was converted (${notes.length} note${notes.length > 1 ? 's' : ''})`), el('ul', {}, ...notes.map((n) => el('li', {}, n)))));
}

/** mmdet CornerHead, CenterNet, mmdet CenterNetHead: the upstream terms, per level/stack and image. */
function renderDenseSummary(r: LossReport): HTMLElement {
  const total = r.total;
  const share = (v: Num) => (v === null || !total ? '' : `${((100 * v) / total).toFixed(1)}%`);
  const head = (...hs: string[]) => el('thead', {}, el('tr', {}, ...hs.map((h) => el('th', { scope: 'col' }, h))));
  const termRows = Object.entries(r.terms)
    .filter(([k]) => k !== 'loss')
    .map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, metric(`term.${k}`, v)), el('td', { class: 'share' }, share(v), bar(v, total))));
  const corners = r.heads === 'corners';
  const word = stackWord(r);
  const stackCols = corners ? (['focalTl', 'focalBr', 'pull', 'push', 'regrTl', 'regrBr', 'total'] as const) : (['focal', 'wh', 'regr', 'total'] as const);
  const stackRows = r.perStack.map((s) => el('tr', {}, el('th', { scope: 'row' }, String(s.stack)), ...stackCols.map((k) => el('td', {}, metric(`stack${s.stack}.${k}`, (s as unknown as Record<string, Num>)[k] ?? null)))));
  const imageRows = r.perImage.map((i) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, String(i.image)),
      el('td', {}, metric(`image${i.image}.objects`, i.objects)),
      el('td', {}, corners ? `${i.positives.tl}/${i.positives.br}` : String(i.positives.tl)),
      el('td', {}, metric(`image${i.image}.focal`, i.focal)),
      el('td', {}, i.focalShare === null ? '–' : `${(100 * i.focalShare).toFixed(1)}%`),
      ...(corners ? [el('td', {}, metric(`image${i.image}.pull`, i.pull)), el('td', {}, metric(`image${i.image}.push`, i.push))] : [el('td', {}, metric(`image${i.image}.wh`, i.wh ?? null))]),
      el('td', {}, metric(`image${i.image}.regr`, i.regr)),
      el('td', {}, metric(`image${i.image}.total`, i.total)),
    ),
  );
  const heat = corners ? 'det' : 'heat';
  return el(
    'section',
    { id: 'summary', 'aria-label': 'loss summary' },
    el('div', { class: 'total' }, el('span', { class: 'label' }, 'total'), metric('total', total, 8)),
    el('p', { class: 'hint' }, CONVENTIONS[r.convention].total),
    el('table', { class: 'grid terms' }, head('term', 'value', 'share of total'), el('tbody', {}, ...termRows)),
    el('p', { class: 'split' }, corners ? `positives tl ${r.numPositives.tl}, br ${r.numPositives.br}` : `peaks (target = 1): ${r.numPositives.tl}`),
    el('h2', {}, `Per ${word}`),
    el(
      'table',
      { class: 'grid' },
      corners ? head(word, 'det tl', 'det br', 'pull', 'push', 'off tl', 'off br', 'sum') : head(word, 'heat', 'wh', 'offset', 'share of total'),
      el('tbody', {}, ...stackRows),
    ),
    el('h2', {}, 'Per image'),
    el(
      'table',
      { class: 'grid' },
      corners ? head('image', 'objects', 'positives tl/br', heat, `${heat} share`, 'pull', 'push', 'off', 'share of total') : head('image', 'objects', 'peaks', heat, `${heat} share`, 'wh', 'offset', 'share of total'),
      el('tbody', {}, ...imageRows),
    ),
  );
}

function renderSummary(r: LossReport): HTMLElement {
  if (r.convention !== 'cornernet') return renderDenseSummary(r);
  const total = r.total;
  const share = (v: Num) => (v === null || !total ? '' : `${((100 * v) / total).toFixed(1)}%`);
  const weight = { focal: 1, pull: r.weights.pull, push: r.weights.push, regr: r.weights.regr };
  const sum = (f: (s: LossReport['perStack'][number]) => Num) => r.perStack.reduce<Num>((a, s) => (a === null || f(s) === null ? null : a + f(s)!), 0);
  const termRows = (['focal', 'pull', 'push', 'regr'] as const).map((t) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, t),
      el('td', {}, metric(t, r.unweighted[t])),
      el('td', {}, String(weight[t])),
      el('td', {}, metric(`${t}Weighted`, r.weighted[t])),
      el('td', {}, metric(`${t}Contribution`, r.contribution[t])),
      el('td', { class: 'share' }, share(r.contribution[t]), bar(r.contribution[t], total)),
    ),
  );
  const split = el(
    'p',
    { class: 'split' },
    'focal tl ',
    metric('focalTl', sum((s) => s.focalTl)),
    ' · focal br ',
    metric('focalBr', sum((s) => s.focalBr)),
    ' · regr tl ',
    metric('regrTl', sum((s) => s.regrTl)),
    ' · regr br ',
    metric('regrBr', sum((s) => s.regrBr)),
    ` · positives tl ${r.numPositives.tl}, br ${r.numPositives.br}`,
  );
  const stackRows = r.perStack.map((s) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, String(s.stack)),
      ...(['focalTl', 'focalBr', 'pull', 'push', 'regrTl', 'regrBr', 'total'] as const).map((k) => el('td', {}, metric(`stack${s.stack}.${k}`, s[k]))),
    ),
  );
  const imageRows = r.perImage.map((i) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, String(i.image)),
      el('td', {}, metric(`image${i.image}.objects`, i.objects)),
      el('td', {}, `${i.positives.tl}/${i.positives.br}`),
      el('td', {}, metric(`image${i.image}.focal`, i.focal)),
      el('td', {}, i.focalShare === null ? '–' : `${(100 * i.focalShare).toFixed(1)}%`),
      el('td', {}, metric(`image${i.image}.pull`, i.pull)),
      el('td', {}, metric(`image${i.image}.push`, i.push)),
      el('td', {}, metric(`image${i.image}.regr`, i.regr)),
      el('td', {}, metric(`image${i.image}.total`, i.total)),
    ),
  );
  const head = (...hs: string[]) => el('thead', {}, el('tr', {}, ...hs.map((h) => el('th', { scope: 'col' }, h))));
  return el(
    'section',
    { id: 'summary', 'aria-label': 'loss summary' },
    el('div', { class: 'total' }, el('span', { class: 'label' }, 'total'), metric('total', total, 8)),
    el('table', { class: 'grid terms' }, head('term', 'unweighted', 'weight', 'weighted', '÷ S', 'share of total'), el('tbody', {}, ...termRows)),
    split,
    el('h2', {}, 'Per stack'),
    el('table', { class: 'grid' }, head('stack', 'focal tl', 'focal br', 'pull', 'push', 'regr tl', 'regr br', 'share of total'), el('tbody', {}, ...stackRows)),
    el('h2', {}, 'Per image'),
    el('table', { class: 'grid' }, head('image', 'objects', 'positives tl/br', 'focal', 'focal share', 'pull', 'push', 'regr', 'share of total'), el('tbody', {}, ...imageRows)),
  );
}

function bar(v: Num, total: Num): HTMLElement {
  const w = v === null || !total ? 0 : Math.max(0, Math.min(100, (100 * v) / total));
  const b = el('span', { class: 'bar', 'aria-hidden': 'true' });
  b.style.width = `${w}%`;
  return b;
}

/** The non-finite warning's way to the first NaN/Inf (the diagnosis locates it). */
function firstNonFiniteButton(r: LossReport): HTMLElement | string {
  const p = r.findings?.find((f) => f.code === 'non-finite')?.evidence.where.find((w) => w.x !== undefined);
  if (!p) return '';
  const where = [p.input ?? p.head ?? '', p.stack !== undefined ? `${stackWord(r)} ${p.stack}` : '', p.image !== undefined ? `image ${p.image}` : '', p.class !== undefined ? `class ${classLabel(r.classNames, p.class)}` : '', `y ${p.y}, x ${p.x}`].filter(Boolean).join(', ');
  const b = el('button', { class: 'jump', id: 'nonfinite-first' }, `first: ${where}`);
  b.addEventListener('click', () => jumpTo(p));
  return b;
}

/** Warnings grouped by code: one entry per quirk, its instances (stacks, corners) listed under it. */
function renderWarnings(r: LossReport): HTMLElement {
  if (!r.warnings.length) return el('section', { id: 'warnings' }, el('p', { class: 'none' }, 'No warnings.'));
  const groups = new Map<string, LossReport['warnings']>();
  for (const w of r.warnings) groups.set(w.code, [...(groups.get(w.code) ?? []), w]);
  return el(
    'section',
    { id: 'warnings', 'aria-label': 'warnings' },
    el('h2', {}, `Warnings (${groups.size}${groups.size !== r.warnings.length ? `, ${r.warnings.length} in all` : ''})`),
    el(
      'ul',
      {},
      ...[...groups].map(([code, ws]) =>
        el(
          'li',
          { 'data-warning': code, 'data-count': String(ws.length) },
          el('code', { class: 'code' }, ws.length > 1 ? `${code} ×${ws.length}` : code),
          ws.length === 1 ? el('span', { class: 'message' }, ws[0]!.message) : el('ul', { class: 'instances' }, ...ws.map((w) => el('li', { class: 'message' }, w.message))),
          code === 'heat-is-probability' ? probabilityButton(!ws[0]!.message.includes('as asked')) : '',
          code === 'non-finite' ? firstNonFiniteButton(r) : '',
          WARNING_EXPLANATIONS[code as WarningCode] ? el('details', {}, el('summary', {}, 'What is this?'), el('p', {}, WARNING_EXPLANATIONS[code as WarningCode])) : '',
        ),
      ),
    ),
  );
}

/** A pixel a finding pointed at: marked on the heatmaps until the selection changes. */
let focus: { x: number; y: number; head?: string } | undefined;

/** The findings, most important first, each with its evidence and the places to jump to. */
function renderFindings(box: HTMLElement, r: LossReport): void {
  clear(box);
  const fs = r.findings ?? [];
  if (!fs.length) {
    box.append(el('p', { class: 'none', id: 'findings-none' }, 'Findings: nothing looks wrong with this batch.'));
    return;
  }
  box.append(el('h2', {}, `Findings (${fs.length})`));
  const list = el('ol', { class: 'findings', id: 'findings-list' });
  for (const f of fs) {
    const places = f.evidence.where.slice(0, 12).map((p, i) => {
      const label = [p.stack !== undefined ? `${stackWord(r)} ${p.stack}` : '', p.image !== undefined ? `image ${p.image}` : '', p.class !== undefined ? `class ${classLabel(r.classNames, p.class)}` : '', p.head ?? '', p.x !== undefined ? `(${p.x}, ${p.y})` : '', p.object !== undefined ? `object ${p.object}` : '']
        .filter(Boolean)
        .join(' ');
      const b = el('button', { class: 'jump', 'data-finding': f.code, 'data-place': String(i), title: 'Show it in the heatmaps' }, label || 'show');
      b.addEventListener('click', () => jumpTo(p));
      return b;
    });
    const numbers = Object.entries(f.evidence)
      .filter(([k, v]) => k !== 'where' && (typeof v === 'number' || typeof v === 'string' || (Array.isArray(v) && v.length <= 12 && v.every((x) => typeof x === 'number' || typeof x === 'string'))))
      .map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v, 4) : Array.isArray(v) ? v.join(', ') : v}`);
    list.append(
      el(
        'li',
        { class: `finding ${f.severity}`, 'data-code': f.code },
        el('div', { class: 'finding-head' }, el('code', { class: 'code' }, f.code), el('span', { class: 'title' }, f.title)),
        numbers.length ? el('p', { class: 'evidence' }, numbers.join(' · ')) : '',
        places.length ? el('div', { class: 'places' }, ...places) : '',
        el('details', {}, el('summary', {}, 'What to check'), el('p', {}, f.advice)),
      ),
    );
  }
  box.append(list);
}

/** Jump to a finding's place: its plane in the heatmaps (and the pixel marked). */
function jumpTo(p: NonNullable<LossReport['findings']>[number]['evidence']['where'][number]): void {
  if (!report) return;
  focus = p.x !== undefined && p.y !== undefined ? { x: p.x, y: p.y, ...(p.head ? { head: p.head } : {}) } : undefined;
  if (focus) maps.centerOn(focus.x, focus.y);
  const change: Partial<Selection> = {};
  if (p.stack !== undefined && p.stack < report.nstack) change.stack = p.stack;
  if (p.image !== undefined && p.image < report.sizes.batch) change.image = p.image;
  if (p.class !== undefined && p.class < report.sizes.classes) change.class = p.class;
  choose(change, true);
  document.getElementById('heatmaps')?.scrollIntoView({ block: 'start' });
}

/** Which term drives learning: each term's gradient norm per stack. */
function renderGradients(box: HTMLElement, r: LossReport): void {
  clear(box);
  const gs = r.gradients ?? [];
  if (!gs.length) return;
  const max = Math.max(...gs.map((g) => g.norm).filter(Number.isFinite), 1e-30);
  box.append(
    el('h2', {}, 'Gradient norms: which term drives learning'),
    el('p', { class: 'hint' }, 'The norm of each term\'s gradient (its share of the total, weighted and normalised as the loss composes it) with respect to the outputs it reads.'),
    el(
      'table',
      { class: 'grid', id: 'gradient-table' },
      el('thead', {}, el('tr', {}, ...[stackWord(r), 'term', 'with respect to', 'norm', ''].map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        ...gs.map((g) =>
          el('tr', {}, el('td', {}, String(g.stack)), el('th', { scope: 'row' }, g.term), el('td', {}, g.wrt), el('td', {}, metric(`grad.${g.stack}.${g.term}.${g.wrt.split(' ')[0]}`, g.norm, 4)), el('td', { class: 'share' }, bar(g.norm, max))),
        ),
      ),
    ),
  );
}

const ABLATION_LABELS: Record<string, string> = {
  'as-is': 'as it is',
  'target-heatmaps': 'target heatmaps',
  'target-offsets': 'target offsets',
  'perfect-grouping': 'perfect grouping',
  'target-sizes': 'target sizes',
  'all-targets': 'all targets',
};

/** Which head limits detection: the last stack decoded as it is and with each head's target swapped in. */
function renderAblation(box: HTMLElement, r: LossReport): void {
  clear(box);
  const a = r.ablation;
  if (!a) return;
  box.append(el('h2', {}, 'Which head limits detection'));
  if (a.unavailable) {
    box.append(el('p', { class: 'hint', id: 'ablation-unavailable' }, `Not available: ${a.unavailable}`));
    return;
  }
  box.append(
    el('p', { class: 'hint' }, `${stackWord(r)} ${a.stack} decoded (top ${a.options.K}) as it is, then with one head's output replaced by its target; objects matched at IoU 0.5 (same class) and AP@0.5 over the batch's detections ranked by score.`),
    el(
      'table',
      { class: 'grid', id: 'ablation-table' },
      el('thead', {}, el('tr', {}, ...['decoded with', 'matched', 'detections', 'AP@0.5', ''].map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        ...a.rows.map((row) =>
          el(
            'tr',
            { 'data-variant': row.variant, class: row.variant === a.limitingHead ? 'limiting' : '' },
            el('th', { scope: 'row', title: row.description }, ABLATION_LABELS[row.variant] ?? row.variant),
            el('td', {}, `${row.matched} / ${row.objects}`),
            el('td', {}, String(row.detections)),
            el('td', {}, metric(`ablation.${row.variant}`, row.ap50, 3)),
            el('td', { class: 'share' }, bar(row.ap50, 1)),
          ),
        ),
      ),
    ),
    el(
      'p',
      { id: 'ablation-verdict' },
      a.limitingHead
        ? `Limiting head: ${ABLATION_LABELS[a.limitingHead] ?? a.limitingHead} (AP@0.5 ${a.rows[0]!.ap50.toFixed(3)} → ${a.rows.find((x) => x.variant === a.limitingHead)!.ap50.toFixed(3)}).`
        : 'No single head\'s target improves on the network as it is.',
    ),
  );
  const missed = a.rows.filter((row) => row.missed.length);
  if (missed.length) {
    box.append(
      el(
        'details',
        {},
        el('summary', {}, 'Objects each variant misses, and why'),
        ...missed.map((row) =>
          el('div', {}, el('h3', {}, ABLATION_LABELS[row.variant] ?? row.variant), el('ul', {}, ...row.missed.map((m) => el('li', {}, `image ${m.image}, object ${m.slot} (class ${classLabel(r.classNames, m.class)}): ${m.reason}`)))),
        ),
      ),
    );
  }
}

/** The way out of `heat-is-probability`: compute again reading the heatmap as probabilities (or back). */
function probabilityButton(asProbabilities: boolean): HTMLElement {
  const b = el('vscode-button', { id: 'heat-as-probability', secondary: '' }, asProbabilities ? 'Treat as probabilities' : 'Read as logits again');
  b.addEventListener('click', () => post({ type: 'heatIsProbability', value: asProbabilities }));
  return b;
}

function select(id: string, label: string, options: { value: string; label: string }[], value: string, onChange: (v: string) => void): HTMLElement {
  const s = el('vscode-single-select', { id, 'aria-label': label }) as HTMLElement & { value: string };
  for (const o of options) {
    const opt = el('vscode-option', { value: o.value }, o.label);
    if (o.value === value) opt.setAttribute('selected', '');
    s.append(opt);
  }
  s.addEventListener('change', () => onChange(s.value));
  return el('label', { class: 'control' }, el('span', {}, label), s);
}

function renderHeatmapSection(r: LossReport): HTMLElement {
  const range = (n: number) => Array.from({ length: n }, (_, i) => ({ value: String(i), label: String(i) }));
  const classOptions = r.perClass.map((c) => ({ value: String(c.class), label: classLabel(r.classNames, c.class) }));
  const controls = el(
    'div',
    { class: 'controls' },
    select('sel-stack', 'Stack', range(r.nstack), String(selection.stack), (v) => choose({ stack: Number(v) })),
    select('sel-image', 'Image', range(r.sizes.batch), String(selection.image), (v) => choose({ image: Number(v) })),
    select('sel-class', 'Class', classOptions, String(selection.class), (v) => choose({ class: Number(v) })),
    select('sel-peaks', 'Peaks shown', [0, 5, 10, 20, 50, 100].map((k) => ({ value: String(k), label: String(k) })), String(peaksShown), (v) => {
      peaksShown = Number(v);
      redraw();
    }),
    select('sel-colormap', 'Colormap', COLORMAPS.map((c) => ({ value: c, label: c })), colormap, (v) => {
      colormap = v as Colormap;
      redraw();
    }),
  );
  const figure = (corner: CornerName, kind: Kind) =>
    el(
      'figure',
      { 'data-corner': corner, 'data-kind': kind },
      el('canvas', { id: `canvas-${corner}-${kind}`, class: 'heatmap', role: 'img', 'aria-label': `${cornerTitle(corner)} ${kindTitle(kind)}`, 'data-corner': corner, 'data-kind': kind }),
      el(
        'figcaption',
        {},
        el('span', { class: 'colorbar' }, el('span', { class: 'min', id: `min-${corner}-${kind}` }), el('canvas', { class: 'cbar', id: `cbar-${corner}-${kind}` }), el('span', { class: 'max', id: `max-${corner}-${kind}` })),
      ),
    );
  // tl and br side by side, one row per quantity, so each pair compares at a glance.
  const grid = el(
    'div',
    { class: 'heat-grid' },
    el('div', {}),
    ...heads().map((corner) => el('div', { class: 'col-head' }, cornerTitle(corner), el('span', { class: 'plane-loss' }, ' · plane loss ', metric(`plane.${corner}`, null)))),
    ...KINDS.flatMap((kind) => [el('div', { class: 'row-head' }, kindTitle(kind)), ...heads().map((corner) => figure(corner, kind))]),
  );
  if (r.heads === 'centers') grid.classList.add('one-head');
  const legend = el(
    'p',
    { class: 'legend' },
    el('span', { class: 'sw positive' }),
    ' target positive (gt = 1)  ',
    el('span', { class: 'sw peak' }),
    " predicted peak: among the image's best (decode: sigmoid, 3×3 max-pool NMS, top K over all classes)",
    ...(r.heads === 'centers' ? ['  ·  boxes of this class: target (solid), predicted at the center: center + reg, wh (dashed)'] : []),
  );
  const readout = el('div', { id: 'readout', class: 'readout', 'aria-live': 'polite' }, HOVER_HINT);
  const save = el('vscode-button', { id: 'save-heatmaps', secondary: '' }, 'Save figure…');
  save.addEventListener('click', () => saveHeatmapFigure());
  const button = (id: string, label: string, title: string, onClick: () => void) => {
    const b = el('button', { id, class: 'tool', title, 'aria-label': title }, label);
    b.addEventListener('click', onClick);
    return b;
  };
  const check = (id: string, label: string, value: boolean, onChange: (v: boolean) => void) => {
    const input = el('input', { id, type: 'checkbox' }) as HTMLInputElement;
    input.checked = value;
    input.addEventListener('change', () => onChange(input.checked));
    return el('label', { class: 'check' }, input, label);
  };
  const copy = el('vscode-button', { id: 'copy-index', secondary: '', disabled: true, title: 'Copy np.load(file)[stack, image, class, y, x] of the pixel under the cursor (or right-click a pixel)' }, 'Copy numpy index');
  copy.addEventListener('click', () => lastHover && copyNumpyIndex(lastHover.corner, lastHover.kind, lastHover.x, lastHover.y));
  const toolbar = el(
    'div',
    { class: 'map-tools', role: 'toolbar', 'aria-label': 'zoom' },
    button('zoom-in', '+', 'Zoom in (or the mouse wheel over a map)', () => maps.zoomBy(2)),
    button('zoom-out', '−', 'Zoom out', () => maps.zoomBy(0.5)),
    button('zoom-fit', 'Fit', 'Fit the whole plane (or double-click a map)', () => maps.fit()),
    el('span', { id: 'zoom-label', class: 'zoom-label' }),
    check('log-loss', 'log scale for the loss', logLoss, (v) => {
      logLoss = v;
      drawSlices();
    }),
    check('offset-arrows', 'offset arrows', showArrows, (v) => {
      showArrows = v;
      drawSlices();
    }),
    el('span', { class: 'hint' }, 'drag to pan · click a corner to follow its object · right-click a pixel for its numpy index'),
  );
  return el(
    'section',
    { id: 'heatmaps', 'aria-label': 'heatmaps' },
    el('div', { class: 'title-row' }, el('h2', {}, 'Heatmaps'), save),
    controls,
    toolbar,
    el('div', { id: 'object-card', class: 'object-card', hidden: true, 'aria-live': 'polite' }),
    el('p', { id: 'plane-nonfinite', class: 'nonfinite', hidden: true }),
    grid,
    legend,
    el('div', { class: 'readout-row' }, readout, copy),
    el('h2', {}, 'Classes of this image, by focal loss'),
    el('div', { id: 'thumbs', class: 'thumbs', role: 'list' }),
  );
}

function choose(change: Partial<Selection>, keepFocus = false, keepObject = false): void {
  perfSwitch(change);
  if (!keepFocus) focus = undefined;
  // The user chose: the default plane's class is not aligned with the strip any more.
  alignClass = false;
  const before = selection;
  selection = { ...selection, ...change };
  // The object followed lives in one stack and image; another class keeps it (its corners are elsewhere).
  if (!keepObject && (before.stack !== selection.stack || before.image !== selection.image)) selectObject(undefined, false);
  // The readout and crosshair described the old plane.
  lastHover = undefined;
  maps.clearCursor();
  const box = document.getElementById('readout');
  if (box) box.textContent = HOVER_HINT;
  document.getElementById('copy-index')?.setAttribute('disabled', '');
  slices = undefined;
  syncSelects();
  requestPlanes();
  // The strip stays (another image's comes with its thumbnails): only its highlighted class moves.
  markSelectedThumb();
  perfSwitchPosted();
}

/** The strip's highlight on the selected class, without drawing its 80 canvases again. */
function markSelectedThumb(): void {
  document.querySelectorAll('#thumbs .thumb-item.selected').forEach((n) => n.classList.remove('selected'));
  document.getElementById(`thumb-${selection.class}`)?.closest('.thumb-item')?.classList.add('selected');
}

function syncSelects(): void {
  const set = (id: string, v: number) => {
    const s = document.getElementById(id) as (HTMLElement & { value: string }) | null;
    if (s && s.value !== String(v)) s.value = String(v);
  };
  set('sel-stack', selection.stack);
  set('sel-image', selection.image);
  set('sel-class', selection.class);
}

function syncColormapSelect(): void {
  const s = document.getElementById('sel-colormap') as (HTMLElement & { value: string }) | null;
  if (s && s.value !== colormap) s.value = colormap;
}

// ---------------------------------------------------------------- drawing

function themeColors() {
  const css = getComputedStyle(document.body);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    positive: v('--vscode-charts-red', '#f14c4c'),
    peak: v('--vscode-charts-yellow', '#cca700'),
    good: v('--vscode-charts-green', '#89d185'),
    bad: v('--vscode-charts-orange', '#d18616'),
    text: v('--vscode-foreground', '#cccccc'),
    grid: v('--vscode-panel-border', '#80808059'),
  };
}

function redraw(): void {
  drawSlices();
  drawThumbnails();
  renderSections(true);
  maybeReportRender();
}

/** Width of each map: the section's width shared by the columns (fit to width). */
function fitMapsToWidth(): void {
  const section = document.getElementById('heatmaps');
  if (!section || !report) return;
  const cols = heads().length;
  const avail = section.clientWidth - 40 - 16 * (cols - 1) - 4 * cols;
  maps.setCssWidth(Math.max(160, Math.min(720, Math.floor(avail / cols))));
}

new ResizeObserver(() => fitMapsToWidth()).observe(document.body);

function syncZoomLabel(): void {
  const label = document.getElementById('zoom-label');
  if (!label || !slices) return;
  const { x0, y0, span } = maps.vp;
  const s = slices.tl;
  const spanY = (span * s.height) / s.width;
  label.textContent = `×${fmt(maps.zoom, 3)} · x ${Math.floor(x0)}–${Math.ceil(x0 + span) - 1}, y ${Math.floor(y0)}–${Math.ceil(y0 + spanY) - 1}`;
  label.setAttribute('data-zoom', String(maps.zoom));
  label.setAttribute('data-viewport', `${x0},${y0},${span}`);
}

/** The loss as shown: log10 with a floor 6 decades under the maximum, or as it is. */
function lossDisplay(loss: Float32Array, max: number): { data: Float32Array; min: number; max: number } {
  if (!logLoss || !(max > 0)) return { data: loss, min: 0, max: max || 1 };
  const floor = max * 1e-6;
  const out = new Float32Array(loss.length);
  for (let i = 0; i < loss.length; i++) {
    const v = loss[i]!;
    out[i] = v !== v ? v : Math.log10(v > floor ? v : floor);
  }
  return { data: out, min: Math.log10(floor), max: Math.log10(max) };
}

function selectedObjectReport(): ObjectReport | undefined {
  if (selectedObject === undefined || !report) return undefined;
  return report.objects.find((o) => o.stack === selection.stack && o.image === selection.image && o.slot === selectedObject);
}

/** Objects of the plane (its image, and its class when known) in the selected stack. */
function planeObjects(): ObjectReport[] {
  if (!report) return [];
  return report.objects.filter((o) => o.stack === selection.stack && o.image === selection.image && (o.class === undefined || o.class === selection.class));
}

function cornerOf(o: ObjectReport, corner: CornerName): { x: number; y: number } | undefined {
  return report?.heads === 'centers' ? o.center ?? o.tlCorner : corner === 'tl' ? o.tlCorner : o.brCorner;
}

/** Markers of one head: positives, peaks, boxes, the finding's pixel, offsets and the followed object. */
function markersFor(corner: CornerName, s: DecodedSlice): MapMarker[] {
  const out: MapMarker[] = [
    ...s.positives.map((p) => ({ ...p, kind: 'positive' as const })),
    ...s.peaks.filter((p) => p.rank < peaksShown).map((p) => ({ x: p.x, y: p.y, kind: 'peak' as const })),
    ...objectBoxes(),
    ...(focus && (!focus.head || focus.head === corner || focus.head === 'center') ? [{ x: focus.x, y: focus.y, kind: 'focus' as const }] : []),
  ];
  if (showArrows) {
    for (const o of planeObjects()) {
      const q = cornerOf(o, corner);
      if (!q) continue;
      const target = corner === 'tl' ? o.tlOffsetTarget : o.brOffsetTarget;
      const pred = corner === 'tl' ? o.tlOffset : o.brOffset;
      if (target[0] !== null && target[1] !== null) out.push({ kind: 'arrow', x: q.x, y: q.y, dx: target[0], dy: target[1], role: 'target' });
      if (pred[0] !== null && pred[1] !== null) out.push({ kind: 'arrow', x: q.x, y: q.y, dx: pred[0], dy: pred[1], role: 'pred' });
    }
  }
  const o = selectedObjectReport();
  if (o) {
    const q = cornerOf(o, corner);
    if (q) out.push({ kind: 'selected-corner', x: q.x, y: q.y, label: `#${o.slot}` });
    if (o.box) out.push({ kind: 'selected-box', x: o.box[0], y: o.box[1], x2: o.box[2], y2: o.box[3] });
  }
  return out;
}

function drawSlices(): void {
  if (!slices || !report) return;
  let lossMax = 0;
  let gradMax = 0;
  for (const s of Object.values(slices)) {
    for (let i = 0; i < s.loss.length; i++) {
      if (s.loss[i]! > lossMax) lossMax = s.loss[i]!;
      const g = Math.abs(s.grad[i]!);
      if (g > gradMax) gradMax = g;
    }
  }
  maps.setSize(slices.tl.width, slices.tl.height);
  fitMapsToWidth();
  for (const corner of heads()) {
    const s = slices[corner];
    const markers = markersFor(corner, s);
    for (const kind of KINDS) {
      const canvas = document.getElementById(`canvas-${corner}-${kind}`) as HTMLCanvasElement | null;
      if (!canvas) continue;
      const max = kind === 'loss' ? lossMax || 1 : kind === 'grad' ? gradMax || 1 : 1;
      // The gradient has a sign (negative: the step raises the logit): a diverging scale around 0.
      const diverging = kind === 'grad';
      const shown = kind === 'loss' ? lossDisplay(s.loss, lossMax) : { data: s[kind], min: diverging ? -max : 0, max };
      maps.set(canvas.id, canvas, { data: shown.data, width: s.width, height: s.height, min: shown.min, max: shown.max, colormap, ...(diverging ? { lut: divergingTable() } : {}) }, markers);
      const nonFinite = countNonFinite(s[kind]);
      const peakNote = s.peaks.length ? `, ${s.peaks.length} predicted peak(s), best ${fmt(s.peaks[0]!.score, 3)}` : '';
      canvas.setAttribute('aria-label', `${cornerTitle(corner)} ${kindTitle(kind)}, ${stackWord(report)} ${selection.stack}, image ${selection.image}, class ${classLabel(report.classNames, selection.class)}: ${s.positives.length} positive(s)${peakNote}${nonFinite ? `, ${nonFinite} NaN/Inf` : ''}`);
      canvas.setAttribute('data-nonfinite', String(nonFinite));
      if (diverging) drawDivergingBar(document.getElementById(`cbar-${corner}-${kind}`) as HTMLCanvasElement, 96, 8);
      else drawColorbar(document.getElementById(`cbar-${corner}-${kind}`) as HTMLCanvasElement, colormap, 96, 8);
      const log = kind === 'loss' && logLoss && lossMax > 0;
      document.getElementById(`min-${corner}-${kind}`)!.textContent = log ? `1e${fmt(shown.min, 3)}` : diverging ? fmt(-max, 3) : '0';
      document.getElementById(`max-${corner}-${kind}`)!.textContent = log ? `${fmt(lossMax, 3)} (log)` : fmt(max, 3);
    }
    const pl = document.querySelector(`[data-metric="plane.${corner}"]`);
    if (pl) {
      pl.setAttribute('data-value', String(s.planeLoss));
      pl.textContent = fmt(s.planeLoss);
    }
  }
  renderNonFiniteNote();
  syncZoomLabel();
  renderObjectCard();
}

function countNonFinite(a: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i]! - a[i]! !== 0) n++;
  return n;
}

/** NaN/Inf in the shown plane: how many, where the first is, and a jump to it. */
function renderNonFiniteNote(): void {
  const host = document.getElementById('plane-nonfinite');
  if (!host || !slices) return;
  clear(host);
  const parts: HTMLElement[] = [];
  for (const corner of heads()) {
    const s = slices[corner];
    for (const [name, a] of [['logit', s.logit], ['target', s.target]] as const) {
      let nan = 0;
      let inf = 0;
      let first = -1;
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        if (v !== v) nan++;
        else if (v - v !== 0) inf++;
        else continue;
        if (first < 0) first = i;
      }
      if (first < 0) continue;
      const x = first % s.width;
      const y = Math.floor(first / s.width);
      const b = el('button', { class: 'jump', 'data-corner': corner, 'data-x': String(x), 'data-y': String(y) }, `${cornerTitle(corner)} ${name}: ${nan} NaN, ${inf} Inf, first at (x ${x}, y ${y})`);
      b.addEventListener('click', () => {
        focus = { x, y, head: corner };
        maps.centerOn(x, y);
        drawSlices();
        readout(corner, x, y);
      });
      parts.push(b);
    }
  }
  host.hidden = parts.length === 0;
  if (parts.length) host.append(el('span', {}, 'Not finite in this plane (magenta NaN, pink Inf): '), ...parts);
}

/**
 * Center conventions: each object of the plane's image and class, its target box (solid) and the
 * box its prediction gives at its center (center + offset, wh; dashed).
 */
function objectBoxes(): Marker[] {
  if (!report || report.heads !== 'centers') return [];
  const box = (b: [number, number, number, number], kind: Marker['kind']): Marker => ({ x: b[0], y: b[1], x2: b[2], y2: b[3], kind });
  return report.objects
    .filter((o) => o.stack === selection.stack && o.image === selection.image && o.class === selection.class)
    .flatMap((o) => [...(o.box ? [box(o.box, 'target-box')] : []), ...(o.predictedBox ? [box(o.predictedBox, 'pred-box')] : [])]);
}

/**
 * How long from `t0` (a message's arrival, an event) until the frame that shows its result: kept
 * in hidden metrics so that the UI harness can measure the panel in a real browser.
 */
function timeToPaint(name: string, t0: number): void {
  requestAnimationFrame(() => {
    const host = document.getElementById('perf');
    if (!host) return;
    let m = host.querySelector(`[data-metric="${name}"]`);
    if (!m) host.append((m = metric(name, null)));
    m.setAttribute('data-value', String(performance.now() - t0));
  });
}

// ---- perf metrics (hidden, for the UI perf test): wall-clock instants (ms since the epoch, so
// they compare with the workbench's click) and durations from a selection change to its frame.
let perfFirst: { slices: boolean; thumbs: boolean } | undefined;
/** Heatmaps drawn in this task, before their frame (the strip then waits for that frame). */
let slicesUnpainted = false;
let perfPending: { kind: 'image' | 'class' | 'stack'; t0: number; posted: number; slices: boolean; thumbs: boolean } | undefined;

function perfMetric(name: string, value: number): void {
  const host = document.getElementById('perf');
  if (!host) return;
  let m = host.querySelector(`[data-metric="${name}"]`);
  if (!m) host.append((m = metric(name, null)));
  m.setAttribute('data-value', String(value));
}

function perfAt(name: string): void {
  requestAnimationFrame(() => perfMetric(name, performance.timeOrigin + performance.now()));
}

/** A result shown: when this page started, when the message came, when its total is on screen. */
function perfLoad(t0: number): void {
  perfFirst = { slices: false, thumbs: false };
  perfPending = undefined;
  perfMetric('perf.pageStartAt', performance.timeOrigin);
  perfMetric('perf.loadReceivedAt', performance.timeOrigin + t0);
  timeToPaint('perf.loadMs', t0);
  perfAt('perf.totalAt');
}

function perfSwitch(change: Partial<Selection>): void {
  const kind = change.image !== undefined && change.image !== selection.image ? 'image' : change.stack !== undefined && change.stack !== selection.stack ? 'stack' : 'class';
  perfPending = { kind, t0: performance.now(), posted: NaN, slices: false, thumbs: kind === 'class' };
}

/** The selection change's synchronous work is done (its requests posted). */
function perfSwitchPosted(): void {
  if (perfPending) perfPending.posted = performance.now();
}

function perfPlanes(what: 'slices' | 'thumbs', arrived: number): void {
  if (perfFirst && !perfFirst[what]) {
    perfFirst[what] = true;
    perfAt(what === 'slices' ? 'perf.firstSlicesAt' : 'perf.firstThumbsAt');
  }
  const p = perfPending;
  if (!p) return;
  p[what] = true;
  if (what === 'slices') {
    timeToPaint(`perf.${p.kind}SwitchMs`, p.t0);
    // Of which: the page's own work before the request left, and the wait for the reply.
    perfMetric(`perf.${p.kind}SwitchPageMs`, p.posted - p.t0);
    perfMetric(`perf.${p.kind}SwitchReplyMs`, arrived - p.posted);
  }
  if (p.slices && p.thumbs) {
    perfPending = undefined;
    if (p.kind !== 'class') timeToPaint(`perf.${p.kind}SwitchAllMs`, p.t0);
  }
}

const HOVER_HINT = 'Hover a pixel to read its values (all maps show the same pixel).';

function readout(corner: CornerName, x: number, y: number, eventTime = performance.now(), kind: Kind = 'prob'): void {
  const s = slices?.[corner];
  const box = document.getElementById('readout');
  if (!s || !box || x < 0 || y < 0 || x >= s.width || y >= s.height) return;
  lastHover = { corner, kind, x, y };
  document.getElementById('copy-index')?.removeAttribute('disabled');
  const i = y * s.width + x;
  const other = heads().length > 1 ? slices?.[corner === 'tl' ? 'br' : 'tl'] : undefined;
  clear(box);
  box.append(
    el('span', {}, `${stackWord(report!)} ${selection.stack} · image ${selection.image} · class ${classLabel(report!.classNames, selection.class)} · `),
    el('span', {}, 'x ', metric('hover.x', x, 0), ' y ', metric('hover.y', y, 0)),
    el('br'),
    el('strong', {}, `${cornerTitle(corner)}: `),
    el('span', {}, 'logit ', metric('hover.logit', s.logit[i]!)),
    el('span', {}, ' · p ', metric('hover.prob', s.prob[i]!)),
    el('span', {}, ' · target ', metric('hover.target', s.target[i]!)),
    el('span', {}, ' · loss ', metric('hover.loss', s.loss[i]!)),
    el('span', {}, ' · gradient ', metric('hover.grad', s.grad[i]!)),
    ...(other
      ? [
          el('br'),
          el('strong', {}, `${cornerTitle(corner === 'tl' ? 'br' : 'tl')}: `),
          el('span', {}, 'p ', metric('hover.other.prob', other.prob[i]!)),
          el('span', {}, ' · target ', metric('hover.other.target', other.target[i]!)),
          el('span', {}, ' · loss ', metric('hover.other.loss', other.loss[i]!)),
        ]
      : []),
  );
  timeToPaint('perf.hoverMs', eventTime);
}

/** A click on a map: the object whose corner (center) is nearest, within the marker's reach. */
function clickMap(corner: CornerName, x: number, y: number, radius: number): void {
  let best: ObjectReport | undefined;
  let bestD = Infinity;
  for (const o of planeObjects()) {
    const q = cornerOf(o, corner);
    if (!q) continue;
    const d = Math.hypot(q.x - x, q.y - y);
    if (d <= radius && d < bestD) {
      best = o;
      bestD = d;
    }
  }
  if (best) selectObject(best.slot);
}

/**
 * Follows an object everywhere: its class's plane, its corners and box on every map, its rows in
 * the tables, its card. `undefined` lets it go.
 */
function selectObject(slot: number | undefined, redrawNow = true): void {
  selectedObject = slot;
  document.querySelectorAll('[data-object]').forEach((n) => n.classList.toggle('selected-object', slot !== undefined && n.getAttribute('data-object') === String(slot)));
  const o = selectedObjectReport();
  objectChanged();
  if (!redrawNow) return;
  if (o && o.class !== undefined && o.class !== selection.class) {
    choose({ class: o.class }, false, true);
  } else {
    drawSlices();
    maybeReportRender();
  }
  if (o) {
    renderObjectCard();
    document.getElementById('heatmaps')?.scrollIntoView({ block: 'start' });
  } else {
    const card = document.getElementById('object-card');
    if (card) card.hidden = true;
  }
}

/** The followed object's card: focal loss at its corners, tags, pull/push, offsets, its decode. */
function renderObjectCard(): void {
  const card = document.getElementById('object-card');
  if (!card || !report) return;
  const o = selectedObjectReport();
  card.hidden = !o;
  clear(card);
  if (!o) return;
  const close = el('button', { class: 'tool', id: 'object-card-close', title: 'Stop following this object', 'aria-label': 'close' }, '×');
  close.addEventListener('click', () => selectObject(undefined));
  const img = report.perStack[selection.stack]?.images[selection.image];
  const share = (v: number | null, of: number | null | undefined) => (v === null || !of ? '' : ` (${((100 * v) / of).toFixed(1)}% of the image's)`);
  const rows: HTMLElement[] = [];
  for (const corner of heads()) {
    const q = cornerOf(o, corner);
    const s = slices?.[corner];
    if (!q) continue;
    const at = s && s.width > q.x && s.height > q.y ? q.y * s.width + q.x : -1;
    rows.push(
      el(
        'li',
        {},
        el('strong', {}, `${cornerTitle(corner)} (x ${q.x}, y ${q.y}): `),
        ...(at >= 0 && s
          ? ['focal loss ', metric(`object.${corner}.loss`, s.loss[at]!), ' · p ', metric(`object.${corner}.prob`, s.prob[at]!), ' · target ', metric(`object.${corner}.target`, s.target[at]!)]
          : ['(plane loading)']),
      ),
    );
  }
  const centers = report.heads === 'centers';
  if (!centers) {
    rows.push(el('li', {}, el('strong', {}, 'embeddings: '), 'tl ', metric('object.tlTag', o.tlTag), ' · br ', metric('object.brTag', o.brTag), ' · mean ', metric('object.mean', o.mean)));
    rows.push(el('li', {}, el('strong', {}, 'pull: '), metric('object.pull', o.pull), share(o.pull, img?.pull), el('strong', {}, ' · push row: '), metric('object.push', o.push), share(o.push, img?.push)));
  } else if (o.size) {
    rows.push(el('li', {}, el('strong', {}, 'size (w × h): '), `predicted ${fmt(o.size.pred[0], 4)} × ${fmt(o.size.pred[1], 4)}, target ${fmt(o.size.target[0], 4)} × ${fmt(o.size.target[1], 4)}, L1 `, metric('object.sizeL1', o.size.l1)));
  }
  const offsetLine = (name: string, pred: [number | null, number | null], target: [number | null, number | null], loss: number | null) => {
    const err = Math.hypot((pred[0] ?? NaN) - (target[0] ?? NaN), (pred[1] ?? NaN) - (target[1] ?? NaN));
    return el('li', {}, el('strong', {}, `${name} offset: `), `predicted (${fmt(pred[0], 3)}, ${fmt(pred[1], 3)}), target (${fmt(target[0], 3)}, ${fmt(target[1], 3)}), |error| `, metric(`object.${name}.offsetError`, Number.isFinite(err) ? err : null), ' · loss ', metric(`object.${name}.regr`, loss));
  };
  if (centers) rows.push(offsetLine('center', o.tlOffset, o.tlOffsetTarget, o.regrTl));
  else rows.push(offsetLine('tl', o.tlOffset, o.tlOffsetTarget, o.regrTl), offsetLine('br', o.brOffset, o.brOffsetTarget, o.regrBr));
  rows.push(el('li', { id: 'object-decode' }, el('strong', {}, 'decode: '), decodeFate(o.slot)));
  card.append(
    el('div', { class: 'title-row' }, el('h3', {}, `Object ${o.slot}${o.class !== undefined ? ` · class ${classLabel(report.classNames, o.class)}` : ''}${o.box ? ` · box (${o.box.map((v) => fmt(v, 4)).join(', ')})` : ''}${o.shared ? ' · shares a corner' : ''}`), close),
    el('ul', {}, ...rows),
  );
  card.setAttribute('data-object', String(o.slot));
}

/** What the decode of the last stack did with an object (when the decode section has run). */
function decodeFate(slot: number): string {
  const v = lastDecode;
  if (!v || !report) return 'not decoded yet';
  if (v.image !== selection.image) return 'decoded for another image';
  const t = v.targets.find((q) => q.slot === slot);
  if (!t) return 'not a decode target (no class at its corners)';
  const dups = v.detections.filter((d) => d.duplicateOf === slot).length;
  const dupNote = dups ? `; ${dups} duplicate detection${dups > 1 ? 's' : ''} of it` : '';
  if (t.detection !== undefined) {
    const d = v.detections[t.detection];
    return `matched by a detection with score ${fmt(d?.score ?? null, 3)} at IoU ${fmt(t.iou ?? null, 3)} (${stackWord(report)} ${v.stack})${dupNote}`;
  }
  return `missed: ${t.reason ?? 'no detection overlaps it'}${dupNote}`;
}

/** Which array a map's pixel comes from: the prediction (probability, loss, gradient) or the target. */
function roleFor(corner: CornerName, kind: Kind): LossReport['inputs']['roles'][number] | undefined {
  if (!report) return undefined;
  const target = kind === 'target';
  const isTarget = (r: string) => /^gt_|target|^batch_|topleft_heatmap|bottomright_heatmap|^gt$/i.test(r);
  const isCorner = (r: string) => report!.heads === 'centers' || (corner === 'tl' ? /tl|topleft/i.test(r) : /br|bottomright/i.test(r));
  const candidates = report.inputs.roles.filter((u) => u.purpose === 'loss' && /heat|hm/i.test(u.role) && isTarget(u.role) === target && isCorner(u.role));
  if (target) return candidates[0];
  return candidates.find((u) => u.stacks.includes(selection.stack)) ?? candidates[0];
}

function copyNumpyIndex(corner: CornerName, kind: Kind, x: number, y: number): void {
  const u = roleFor(corner, kind);
  if (!u || !report) return;
  const text = numpyIndex(u, selection.stack, selection.image, selection.class, y, x);
  const out = document.getElementById('copied-index');
  if (out) out.textContent = text;
  post({ type: 'copyText', text, what: `numpy index of ${u.role} (${kind === 'target' ? 'target' : kind === 'prob' ? 'logit' : `logit of the ${kind} map`})` });
}

/**
 * The heatmaps as a figure to paste into an issue or a paper: a title naming the case, the stack,
 * image and class and the window shown; each map with its title, markers and a labelled colorbar.
 */
function saveHeatmapFigure(): void {
  if (!report || !slices) return;
  const cols = heads();
  const cell = 320;
  const s0 = slices.tl;
  const mapH = Math.round((cell * s0.height) / s0.width);
  const pad = 16;
  const titleH = 44;
  const capH = 20;
  const barH = 30;
  const rowH = capH + mapH + barH;
  const out = document.createElement('canvas');
  out.width = pad + cols.length * (cell + pad);
  out.height = titleH + KINDS.length * rowH + pad + 18;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = '#111111';
  ctx.font = 'bold 15px sans-serif';
  const label = document.querySelector('.inputs')?.textContent ?? '';
  const conv = report.convention === 'cornernet' ? 'CornerNet' : CONVENTIONS[report.convention].label;
  ctx.fillText(`${conv} loss · ${stackWord(report)} ${selection.stack} · image ${selection.image} · class ${classLabel(report.classNames, selection.class)}`, pad, 20);
  ctx.font = '12px sans-serif';
  const { x0, y0, span } = maps.vp;
  const spanY = (span * s0.height) / s0.width;
  const windowNote = maps.zoom > 1.001 ? ` · window x ${Math.floor(x0)}–${Math.ceil(x0 + span) - 1}, y ${Math.floor(y0)}–${Math.ceil(y0 + spanY) - 1} of ${s0.width}×${s0.height}` : ` · ${s0.width}×${s0.height}`;
  ctx.fillText(`${label.length > 90 ? `…${label.slice(-89)}` : label}${windowNote} · total ${fmt(report.total, 6)}`, pad, 38);
  KINDS.forEach((kind, r) => {
    cols.forEach((corner, c) => {
      const x = pad + c * (cell + pad);
      const y = titleH + r * rowH;
      ctx.fillStyle = '#111111';
      ctx.font = '12px sans-serif';
      ctx.fillText(`${cornerTitle(corner)} · ${kindTitle(kind)}${kind === 'loss' && logLoss ? ' (log10)' : ''}`, x, y + 14);
      maps.paintInto(`canvas-${corner}-${kind}`, ctx, x, y + capH, cell, mapH);
      ctx.strokeStyle = '#888888';
      ctx.strokeRect(x - 0.5, y + capH - 0.5, cell + 1, mapH + 1);
      // Colorbar with its ends labelled.
      const lut = kind === 'grad' ? divergingTable() : colormapTable(colormap);
      const bw = 160;
      const by = y + capH + mapH + 6;
      for (let i = 0; i < bw; i++) {
        const k = Math.round((i / (bw - 1)) * 255);
        ctx.fillStyle = `rgb(${lut[k * 4]}, ${lut[k * 4 + 1]}, ${lut[k * 4 + 2]})`;
        ctx.fillRect(x + 40 + i, by, 1, 8);
      }
      ctx.fillStyle = '#111111';
      ctx.font = '11px sans-serif';
      ctx.fillText(document.getElementById(`min-${corner}-${kind}`)?.textContent ?? '', x, by + 8);
      ctx.fillText(document.getElementById(`max-${corner}-${kind}`)?.textContent ?? '', x + 44 + bw, by + 8);
    });
  });
  ctx.font = '11px sans-serif';
  ctx.fillStyle = '#111111';
  ctx.fillText('circles: target positives (gt = 1) · crosses: predicted peaks · dashed box: followed object', pad, out.height - 20);
  ctx.fillText('arrows: offsets (red target, yellow predicted) · magenta: NaN, pink: Inf', pad, out.height - 5);
  post({ type: 'savePng', name: `heatmaps-s${selection.stack}-i${selection.image}-c${selection.class}`, dataUrl: out.toDataURL('image/png') });
}

function drawThumbnails(): void {
  const box = document.getElementById('thumbs');
  if (!box || !thumbs || !report) return;
  clear(box);
  const { width, height } = thumbs;
  let max = 0;
  for (let i = 0; i < thumbs.data.length; i++) if (thumbs.data[i]! > max) max = thumbs.data[i]!;
  const scale = Math.max(1, Math.floor(64 / Math.max(width, height)));
  thumbs.classes.forEach((c, i) => {
    const canvas = el('canvas', { class: 'thumb', id: `thumb-${c.class}`, role: 'img', 'aria-label': `class ${classLabel(report?.classNames, c.class)}, loss ${fmt(c.loss)}` }) as HTMLCanvasElement;
    drawHeatmap(canvas, { data: thumbs!.data.subarray(i * width * height, (i + 1) * width * height), width, height, min: 0, max: max || 1, colormap, scale, colors: themeColors() });
    const item = el('button', { class: `thumb-item${c.class === selection.class ? ' selected' : ''}`, role: 'listitem', title: `class ${classLabel(report?.classNames, c.class)}: focal loss ${c.loss}` }, canvas, el('span', { class: 'class-name' }, `class ${classLabel(report?.classNames, c.class)}`), el('span', { class: 'num' }, fmt(c.loss, 4)));
    item.addEventListener('click', () => choose({ class: c.class }));
    box.append(item);
  });
}

/** Once the heatmaps and thumbnails of the current selection are drawn, tell the host. */
function maybeReportRender(): void {
  if (!report || !slices || !thumbs) return;
  requestAnimationFrame(() => {
    const metrics: Record<string, number | null> = {};
    document.querySelectorAll('[data-metric]').forEach((n) => {
      const v = n.getAttribute('data-value');
      metrics[n.getAttribute('data-metric')!] = v === null || v === 'null' ? null : Number(v);
    });
    const canvases: RenderReport['canvases'] = [];
    document.querySelectorAll<HTMLCanvasElement>('canvas[id]:not(.cbar)').forEach((c) => {
      canvases.push({ id: c.id, width: c.width, height: c.height, ...canvasDigest(c) });
    });
    post({ type: 'rendered', report: { runId, selection, metrics, canvases } });
  });
}

// Theme changes (body class) recolour the markers.
new MutationObserver(() => redraw()).observe(document.body, { attributes: true, attributeFilter: ['class'] });

post({ type: 'ready' });
