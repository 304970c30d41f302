/**
 * The results panel's messages, both directions, imported by the extension host and by the
 * webview bundle. Tensor data travels as ArrayBuffers (Float32 element data), never as JSON
 * arrays. Each side validates what it receives with the parsers below; anything else is dropped.
 */
import { CONVENTION_NAMES, type ConventionName } from '../cornernet/model/conventions';
import type { LossReport } from '../cornernet/model/report';
import type { DecodeView } from '../cornernet/views/matching';

export { PANEL_VIEW_TYPE } from '../ids';

export type Colormap = 'viridis' | 'magma' | 'gray';
export const COLORMAPS: readonly Colormap[] = ['viridis', 'magma', 'gray'];
export type CornerName = 'tl' | 'br';

export interface Selection {
  stack: number;
  image: number;
  class: number;
}

/**
 * One corner type's plane: Float32 logits and targets [height * width], row-major. The webview
 * derives the clamped probability and the per-pixel loss itself (src/cornernet/model/pixel.ts) from the
 * bounds and the normaliser: half the bytes on the wire.
 */
export interface SliceData {
  corner: CornerName;
  width: number;
  height: number;
  logit: ArrayBuffer;
  target: ArrayBuffer;
  /** The clamp of `_sigmoid` for these logits (float32 or float64 inputs). */
  bounds: { lo: number; hi: number; round32: boolean; plain?: boolean };
  /** Per-pixel losses are divided by this (the batch's positives of this corner type, or 1 if none). */
  norm: number;
  positives: { x: number; y: number }[];
  /** Scores and losses are null where not finite: VS Code carries webview messages as JSON, where NaN and Inf become null. */
  peaks: { x: number; y: number; score: number | null; rank: number }[];
  planeLoss: number | null;
}

/** Losses null where not finite (JSON on the wire). */
export interface ThumbnailClass {
  class: number;
  loss: number | null;
  lossTl: number | null;
  lossBr: number | null;
}

/** What the webview drew, for tests: every number shown and a checksum of every canvas. */
export interface RenderReport {
  runId: number;
  selection: Selection;
  metrics: Record<string, number | null>;
  canvases: { id: string; width: number; height: number; checksum: string; nonBlank: boolean }[];
}

// ---- host -> webview
export type ToPanel =
  /** A new result (or the restored one) to show; `runId` tags every later request. */
  /** `selectionIsDefault`: the host chose the plane (not restored): the panel may align its class with the strip. */
  | { type: 'load'; runId: number; report: LossReport; inputsLabel: string; spec: RunSpec; selection: Selection; colormap: Colormap; selectionIsDefault?: boolean; objectsPending?: boolean }
  /**
   * The report's per-object table and top pixels, after a `load` that said `objectsPending`: most
   * of the report's bytes, so the total goes first.
   */
  | { type: 'objects'; runId: number; objects: LossReport['objects']; topPixels: LossReport['topPixels'] }
  | { type: 'slices'; requestId: number; runId: number; selection: Selection; tl: SliceData; br: SliceData }
  /** Per-class loss thumbnails, quantised to bytes (0..255 of `max`): they are only looked at. */
  | { type: 'thumbnails'; requestId: number; runId: number; stack: number; image: number; width: number; height: number; classes: ThumbnailClass[]; max: number | null; data: ArrayBuffer }
  /** Decode of the last stack for one image, with a background [height * width] of corner probabilities. */
  | { type: 'decode'; requestId: number; runId: number; view: DecodeView; width: number; height: number; background: ArrayBuffer }
  /** Embedding maps of one image (only when the inputs had maps). */
  | { type: 'tagMaps'; requestId: number; runId: number; stack: number; image: number; width: number; height: number; tl: ArrayBuffer; br: ArrayBuffer }
  | { type: 'colormap'; colormap: Colormap }
  | { type: 'busy'; message: string | null }
  /** An action offered above the results, with its reason (a debug session stopped again: "Compute again"); null removes it. */
  | { type: 'offer'; message: string | null; action: string }
  | { type: 'requestFailed'; requestId: number; message: string }
  /** The diagnosis, which follows the report: findings (most important first) and gradient norms. */
  | { type: 'diagnosis'; runId: number; findings: NonNullable<LossReport['findings']>; gradients: NonNullable<LossReport['gradients']> }
  /** Which head limits detection (after the diagnosis): the last stack decoded with each head's target. */
  | { type: 'ablation'; runId: number; ablation: NonNullable<LossReport['ablation']> }
  /** The batch under the other conventions of its kind, with the gaps explained. */
  | { type: 'conventions'; requestId: number; runId: number; conventions: NonNullable<LossReport['conventions']>; gaps: NonNullable<LossReport['gaps']> };

// ---- webview -> host
export type FromPanel =
  | { type: 'ready' }
  | { type: 'requestSlices'; requestId: number; runId: number; selection: Selection }
  | { type: 'requestThumbnails'; requestId: number; runId: number; stack: number; image: number }
  | { type: 'requestDecode'; requestId: number; runId: number; image: number; K: number; aeThreshold: number; minScore: number }
  | { type: 'requestTagMaps'; requestId: number; runId: number; stack: number; image: number }
  | { type: 'changeRoles' }
  | { type: 'recompute' }
  /** Score the same inputs under another convention. */
  | { type: 'switchConvention'; convention: ConventionName }
  /** Compute again reading the heatmap outputs as probabilities (or as logits: false). */
  | { type: 'heatIsProbability'; value: boolean }
  | { type: 'compareConventions'; requestId: number; runId: number }
  | { type: 'exportReport' }
  /** A PNG of what the webview drew (data: URL), to save where the user says. */
  | { type: 'savePng'; name: string; dataUrl: string }
  /** Text for the clipboard (a numpy index expression), `what` says what it is in the confirmation. */
  | { type: 'copyText'; text: string; what: string }
  | { type: 'rendered'; report: RenderReport };

// ---- validation (hand-written: small, no dependency, runs on both sides)

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min = 0, max = 1e9): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isNum = (v: unknown): v is number => typeof v === 'number';
const isStr = (v: unknown, max = 10000): v is string => typeof v === 'string' && v.length <= max;

function isSelection(v: unknown): v is Selection {
  return isObj(v) && isInt(v.stack, 0, 1e4) && isInt(v.image, 0, 1e6) && isInt(v.class, 0, 1e6);
}

function isRenderReport(v: unknown): v is RenderReport {
  if (!isObj(v) || !isInt(v.runId) || !isSelection(v.selection) || !isObj(v.metrics) || !Array.isArray(v.canvases)) return false;
  if (Object.keys(v.metrics).length > 10000) return false;
  for (const [k, m] of Object.entries(v.metrics)) if (!isStr(k, 200) || !(m === null || isNum(m))) return false;
  return v.canvases.length <= 1000 && v.canvases.every((c) => isObj(c) && isStr(c.id, 200) && isInt(c.width) && isInt(c.height) && isStr(c.checksum, 64) && typeof c.nonBlank === 'boolean');
}

/** A message from the webview, or undefined if it is not one of ours (drop and log it). */
export function parseFromPanel(v: unknown): FromPanel | undefined {
  if (!isObj(v) || !isStr(v.type, 40)) return undefined;
  switch (v.type) {
    case 'ready':
    case 'changeRoles':
    case 'recompute':
    case 'exportReport':
      return { type: v.type };
    case 'requestDecode':
      return isInt(v.requestId) && isInt(v.runId) && isInt(v.image, 0, 1e6) && isInt(v.K, 1, 10000) && isNum(v.aeThreshold) && v.aeThreshold >= 0 && v.aeThreshold <= 1e6 && isNum(v.minScore) && v.minScore >= -1 && v.minScore <= 1
        ? { type: 'requestDecode', requestId: v.requestId, runId: v.runId, image: v.image, K: v.K, aeThreshold: v.aeThreshold, minScore: v.minScore }
        : undefined;
    case 'copyText':
      return isStr(v.text, 4096) && v.text.length > 0 && isStr(v.what, 200) ? { type: 'copyText', text: v.text, what: v.what } : undefined;
    case 'requestTagMaps':
      return isInt(v.requestId) && isInt(v.runId) && isInt(v.stack, 0, 1e4) && isInt(v.image, 0, 1e6)
        ? { type: 'requestTagMaps', requestId: v.requestId, runId: v.runId, stack: v.stack, image: v.image }
        : undefined;
    case 'savePng':
      // A PNG data URL of bounded size (a canvas export, not an arbitrary payload).
      return isStr(v.name, 200) && /^[\w.-]+$/.test(v.name) && isStr(v.dataUrl, 64 * 1024 * 1024) && v.dataUrl.startsWith('data:image/png;base64,')
        ? { type: 'savePng', name: v.name, dataUrl: v.dataUrl }
        : undefined;
    case 'requestSlices':
      return isInt(v.requestId) && isInt(v.runId) && isSelection(v.selection)
        ? { type: 'requestSlices', requestId: v.requestId, runId: v.runId, selection: { stack: v.selection.stack, image: v.selection.image, class: v.selection.class } }
        : undefined;
    case 'requestThumbnails':
      return isInt(v.requestId) && isInt(v.runId) && isInt(v.stack, 0, 1e4) && isInt(v.image, 0, 1e6)
        ? { type: 'requestThumbnails', requestId: v.requestId, runId: v.runId, stack: v.stack, image: v.image }
        : undefined;
    case 'rendered':
      return isRenderReport(v.report) ? { type: 'rendered', report: v.report } : undefined;
    case 'switchConvention':
      return (CONVENTION_NAMES as readonly unknown[]).includes(v.convention) ? { type: 'switchConvention', convention: v.convention as ConventionName } : undefined;
    case 'heatIsProbability':
      return typeof v.value === 'boolean' ? { type: 'heatIsProbability', value: v.value } : undefined;
    case 'compareConventions':
      return isInt(v.requestId) && isInt(v.runId) ? { type: 'compareConventions', requestId: v.requestId, runId: v.runId } : undefined;
    default:
      return undefined;
  }
}

function isSliceData(v: unknown): v is SliceData {
  return (
    isObj(v) &&
    (v.corner === 'tl' || v.corner === 'br') &&
    isInt(v.width, 1, 1e5) &&
    isInt(v.height, 1, 1e5) &&
    ['logit', 'target'].every((k) => v[k] instanceof ArrayBuffer && (v[k] as ArrayBuffer).byteLength === (v.width as number) * (v.height as number) * 4) &&
    isObj(v.bounds) &&
    isNum(v.bounds.lo) &&
    isNum(v.bounds.hi) &&
    typeof v.bounds.round32 === 'boolean' &&
    (v.bounds.plain === undefined || typeof v.bounds.plain === 'boolean') &&
    isNum(v.norm) &&
    v.norm > 0 &&
    Array.isArray(v.positives) &&
    Array.isArray(v.peaks) &&
    (v.planeLoss === null || isNum(v.planeLoss))
  );
}

/** A message from the host (the webview checks too: a stale or malformed message must not break it). */
export function parseToPanel(v: unknown): ToPanel | undefined {
  if (!isObj(v) || !isStr(v.type, 40)) return undefined;
  switch (v.type) {
    case 'load':
      return isInt(v.runId) && isObj(v.report) && isStr(v.inputsLabel) && isRunSpec(v.spec) && isSelection(v.selection) && (COLORMAPS as readonly unknown[]).includes(v.colormap) && (v.selectionIsDefault === undefined || typeof v.selectionIsDefault === 'boolean') && (v.objectsPending === undefined || typeof v.objectsPending === 'boolean')
        ? (v as unknown as ToPanel)
        : undefined;
    case 'slices':
      return isInt(v.requestId) && isInt(v.runId) && isSelection(v.selection) && isSliceData(v.tl) && isSliceData(v.br) ? (v as unknown as ToPanel) : undefined;
    case 'thumbnails':
      return isInt(v.requestId) && isInt(v.runId) && isInt(v.width, 1) && isInt(v.height, 1) && Array.isArray(v.classes) && (v.max === null || isNum(v.max)) && v.data instanceof ArrayBuffer && v.data.byteLength === v.classes.length * v.width * v.height
        ? (v as unknown as ToPanel)
        : undefined;
    case 'objects':
      return isInt(v.runId) && Array.isArray(v.objects) && v.objects.every(isObj) && Array.isArray(v.topPixels) ? (v as unknown as ToPanel) : undefined;
    case 'conventions':
      return isInt(v.requestId) && isInt(v.runId) && isObj(v.conventions) && Array.isArray(v.gaps) ? (v as unknown as ToPanel) : undefined;
    case 'ablation':
      return isInt(v.runId) && isObj(v.ablation) && isInt(v.ablation.stack) && Array.isArray(v.ablation.rows) && v.ablation.rows.every((r) => isObj(r) && isStr(r.variant, 100) && typeof r.ap50 === 'number' && isInt(r.matched) && isInt(r.objects) && Array.isArray(r.missed))
        ? (v as unknown as ToPanel)
        : undefined;
    case 'diagnosis':
      return isInt(v.runId) && Array.isArray(v.findings) && v.findings.every((f) => isObj(f) && isStr(f.code, 100) && isStr(f.title) && isObj(f.evidence) && Array.isArray(f.evidence.where)) && Array.isArray(v.gradients)
        ? (v as unknown as ToPanel)
        : undefined;
    case 'decode':
      return isInt(v.requestId) && isInt(v.runId) && isObj(v.view) && isInt(v.width, 1, 1e5) && isInt(v.height, 1, 1e5) && v.background instanceof ArrayBuffer && v.background.byteLength === v.width * v.height * 4
        ? (v as unknown as ToPanel)
        : undefined;
    case 'tagMaps':
      return isInt(v.requestId) && isInt(v.runId) && isInt(v.width, 1, 1e5) && isInt(v.height, 1, 1e5) && [v.tl, v.br].every((b) => b instanceof ArrayBuffer && b.byteLength === (v.width as number) * (v.height as number) * 4)
        ? (v as unknown as ToPanel)
        : undefined;
    case 'colormap':
      return (COLORMAPS as readonly unknown[]).includes(v.colormap) ? (v as unknown as ToPanel) : undefined;
    case 'busy':
      return v.message === null || isStr(v.message) ? (v as unknown as ToPanel) : undefined;
    case 'offer':
      return (v.message === null || isStr(v.message)) && isStr(v.action, 100) ? (v as unknown as ToPanel) : undefined;
    case 'requestFailed':
      return isInt(v.requestId) && isStr(v.message) ? (v as unknown as ToPanel) : undefined;
    default:
      return undefined;
  }
}

/** The inputs of a run, enough to compute it again (after a window reload, or "Recompute"). */
export interface RunSpec {
  paths: string[];
  roles: { name: string; path: string; key?: string }[];
  /** A convention chosen for this run (the panel's switcher); else detected, as the CLI does. */
  convention?: ConventionName;
  /** The heatmap outputs hold probabilities (the panel's "Treat as probabilities"). */
  heatIsProbability?: boolean;
  /** No gt_mask file: synthesized so (the role picker's "All slots valid" / "Derive from the indices"). */
  mask?: 'all' | 'from-indices';
  /** Arrays pulled from a notebook's kernel: which notebook, and what was chosen there. */
  notebook?: NotebookRunSpec;
  /** Arrays pulled from a paused debug session: the same choices, made in a stack frame. */
  debug?: DebugRunSpec;
}

/** A path from a kernel variable: `['outs', 3]` is `outs[3]`. */
export type KernelPath = [string, ...(string | number)[]];

export type NotebookChoice =
  | { kind: 'pair'; outs: string; targets: string }
  /** CenterNet's CtdetLoss(outputs, batch). */
  | { kind: 'ctdet'; output: string; batch: string }
  | { kind: 'roles'; arrays: { path: KernelPath; role: string; stackIndex?: number }[] };

/**
 * A run from a paused debug session. Computing it again uses the frame the session is paused in
 * then (the next breakpoint hit), with the same choice.
 */
export interface DebugRunSpec {
  /** The session it came from (a restarted session has another id; the active one is used then). */
  sessionId: string;
  choice: NotebookChoice;
  /** Values the Variables view named by an expression (`self.outs`), evaluated in the frame: [name, expression]. */
  aliases?: [string, string][];
}

export interface NotebookRunSpec {
  uri: string;
  choice: NotebookChoice;
}

function isKernelPath(v: unknown): v is KernelPath {
  return Array.isArray(v) && v.length >= 1 && v.length <= 8 && isStr(v[0], 1000) && v.slice(1).every((s) => isStr(s, 1000) || (isInt(s) && (s as number) >= 0));
}

export function isNotebookChoice(v: unknown): v is NotebookChoice {
  if (!isObj(v)) return false;
  if (v.kind === 'pair') return isStr(v.outs, 1000) && isStr(v.targets, 1000);
  if (v.kind === 'ctdet') return isStr(v.output, 1000) && isStr(v.batch, 1000);
  if (v.kind === 'roles') {
    return (
      Array.isArray(v.arrays) &&
      v.arrays.length <= 1000 &&
      v.arrays.every((a) => isObj(a) && isKernelPath(a.path) && isStr(a.role, 100) && (a.stackIndex === undefined || (isInt(a.stackIndex) && (a.stackIndex as number) >= 0)))
    );
  }
  return false;
}

/** What the webview persists with setState (restored after a window reload). */
export interface PanelState {
  selection: Selection;
  load?: { report: LossReport; inputsLabel: string; spec: RunSpec };
}

export function isRunSpec(v: unknown): v is RunSpec {
  return (
    isObj(v) &&
    Array.isArray(v.paths) &&
    v.paths.length <= 10000 &&
    v.paths.every((p) => isStr(p, 4096)) &&
    Array.isArray(v.roles) &&
    v.roles.length <= 1000 &&
    v.roles.every((r) => isObj(r) && isStr(r.name, 100) && isStr(r.path, 4096) && (r.key === undefined || isStr(r.key, 4096))) &&
    (v.convention === undefined || (CONVENTION_NAMES as readonly unknown[]).includes(v.convention)) &&
    (v.heatIsProbability === undefined || typeof v.heatIsProbability === 'boolean') &&
    (v.mask === undefined || v.mask === 'all' || v.mask === 'from-indices') &&
    (v.notebook === undefined || (isObj(v.notebook) && isStr(v.notebook.uri, 4096) && isNotebookChoice(v.notebook.choice))) &&
    (v.debug === undefined ||
      (isObj(v.debug) &&
        isStr(v.debug.sessionId, 200) &&
        isNotebookChoice(v.debug.choice) &&
        (v.debug.aliases === undefined || (Array.isArray(v.debug.aliases) && v.debug.aliases.length <= 100 && v.debug.aliases.every((a) => Array.isArray(a) && a.length === 2 && isStr(a[0], 1000) && isStr(a[1], 1000))))))
  );
}
