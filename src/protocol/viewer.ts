/**
 * The tensor viewer's messages (custom editor for .npy/.npz/.safetensors), both directions,
 * imported by the host and the webview; validated on receipt.
 */
import type { TensorStats } from '../tensor/stats';
import type { Colormap } from './panel';
import { COLORMAPS } from './panel';

export { VIEWER_VIEW_TYPE } from '../ids';

export interface ViewerArrayInfo {
  key?: string;
  dtype: string;
  shape: number[];
  fortranOrder: boolean;
  dataBytes: number;
  /** One name per axis: by role when the name gives one (`batch`, `class`, `y`, `x`), else `axis k`. */
  axes: string[];
  /** The role its name gives (when its shape fits). */
  role?: string;
  /** Heatmap logits by role: the sigmoid is offered and on at first. */
  logits: boolean;
}

/** An element to show: the array (archive member) and its index on every axis. */
export interface ViewerElement {
  key?: string;
  index: number[];
  /** What is there (the Problems entry's message). */
  label?: string;
}

export type ToViewer =
  | { type: 'info'; file: string; size: number; arrays: ViewerArrayInfo[]; selected?: string; tooLarge: boolean; capMB: number; error?: string; colormap: Colormap }
  | { type: 'array'; key?: string; stats: TensorStats }
  | { type: 'plane'; requestId: number; rows: number; cols: number; data: ArrayBuffer; histogram: ArrayBuffer; lo: number; hi: number }
  /** The answer to findNext: the plane found, or none above the threshold. */
  | { type: 'nextPlane'; requestId: number; found?: { index: number[]; max: number; wrapped: boolean } }
  /** Show this element: its plane (rows and columns the last two axes), highlighted. */
  | { type: 'reveal'; element: ViewerElement }
  | { type: 'failed'; message: string };

export type FromViewer =
  | { type: 'ready' }
  | { type: 'openAnyway' }
  | { type: 'selectArray'; key: string }
  | { type: 'requestPlane'; requestId: number; rowAxis: number; colAxis: number; index: number[]; clip?: [number, number]; maxAxis?: number; sigmoid?: boolean }
  | { type: 'findNext'; requestId: number; rowAxis: number; colAxis: number; index: number[]; maxAxis?: number; sigmoid?: boolean; threshold: number; direction: 1 | -1 }
  | { type: 'rendered'; metrics: Record<string, number | null>; canvases: { id: string; width: number; height: number; checksum: string; nonBlank: boolean }[] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min = 0, max = 1e9): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isStr = (v: unknown, max = 10000): v is string => typeof v === 'string' && v.length <= max;

/** The fields a plane request and a search share, checked (axes distinct, indices whole numbers). */
function planeFields(v: Obj): { requestId: number; rowAxis: number; colAxis: number; index: number[]; maxAxis?: number; sigmoid?: boolean } | undefined {
  if (!isInt(v.requestId) || !isInt(v.rowAxis, 0, 64) || !isInt(v.colAxis, 0, 64) || !Array.isArray(v.index) || v.index.length > 64 || !v.index.every((i) => isInt(i))) return undefined;
  if (v.maxAxis !== undefined && !isInt(v.maxAxis, 0, 64)) return undefined;
  if (v.sigmoid !== undefined && typeof v.sigmoid !== 'boolean') return undefined;
  const axes = [v.rowAxis, v.colAxis, ...(v.maxAxis !== undefined ? [v.maxAxis] : [])];
  if (new Set(axes).size !== axes.length) return undefined;
  return {
    requestId: v.requestId,
    rowAxis: v.rowAxis,
    colAxis: v.colAxis,
    index: v.index as number[],
    ...(v.maxAxis !== undefined ? { maxAxis: v.maxAxis as number } : {}),
    ...(v.sigmoid !== undefined ? { sigmoid: v.sigmoid as boolean } : {}),
  };
}

/** An element to reveal: integer indices, an optional key. */
export function isViewerElement(v: unknown): v is ViewerElement {
  return isObj(v) && Array.isArray(v.index) && v.index.length <= 64 && v.index.every((i) => isInt(i, 0, 2 ** 53)) && (v.key === undefined || isStr(v.key, 4096)) && (v.label === undefined || isStr(v.label));
}

export function parseFromViewer(v: unknown): FromViewer | undefined {
  if (!isObj(v) || !isStr(v.type, 40)) return undefined;
  switch (v.type) {
    case 'ready':
    case 'openAnyway':
      return { type: v.type };
    case 'selectArray':
      return isStr(v.key, 4096) ? { type: 'selectArray', key: v.key } : undefined;
    case 'requestPlane': {
      const base = planeFields(v);
      if (!base) return undefined;
      const clip = v.clip;
      if (clip !== undefined && !(Array.isArray(clip) && clip.length === 2 && clip.every((c) => typeof c === 'number' && Number.isFinite(c)) && clip[0] < clip[1])) return undefined;
      return { type: 'requestPlane', ...base, ...(clip ? { clip: clip as [number, number] } : {}) };
    }
    case 'findNext': {
      const base = planeFields(v);
      if (!base || typeof v.threshold !== 'number' || !Number.isFinite(v.threshold) || (v.direction !== 1 && v.direction !== -1)) return undefined;
      return { type: 'findNext', ...base, threshold: v.threshold, direction: v.direction };
    }
    case 'rendered': {
      if (!isObj(v.metrics) || !Array.isArray(v.canvases) || v.canvases.length > 100) return undefined;
      for (const m of Object.values(v.metrics)) if (!(m === null || typeof m === 'number')) return undefined;
      if (!v.canvases.every((c) => isObj(c) && isStr(c.id, 200) && isInt(c.width) && isInt(c.height) && isStr(c.checksum, 64) && typeof c.nonBlank === 'boolean')) return undefined;
      return v as unknown as FromViewer;
    }
    default:
      return undefined;
  }
}

export function parseToViewer(v: unknown): ToViewer | undefined {
  if (!isObj(v) || !isStr(v.type, 40)) return undefined;
  switch (v.type) {
    case 'info':
      return isStr(v.file) &&
        typeof v.size === 'number' &&
        Array.isArray(v.arrays) &&
        v.arrays.every((a) => isObj(a) && Array.isArray(a.shape) && Array.isArray(a.axes) && a.axes.length === a.shape.length && a.axes.every((n) => isStr(n, 200)) && typeof a.logits === 'boolean') &&
        typeof v.tooLarge === 'boolean' &&
        (COLORMAPS as readonly unknown[]).includes(v.colormap)
        ? (v as unknown as ToViewer)
        : undefined;
    case 'nextPlane':
      return isInt(v.requestId) && (v.found === undefined || (isObj(v.found) && Array.isArray(v.found.index) && v.found.index.every((i) => isInt(i)) && typeof v.found.max === 'number' && typeof v.found.wrapped === 'boolean'))
        ? (v as unknown as ToViewer)
        : undefined;
    case 'reveal':
      return isViewerElement(v.element) ? (v as unknown as ToViewer) : undefined;
    case 'array':
      return isObj(v.stats) ? (v as unknown as ToViewer) : undefined;
    case 'plane':
      return isInt(v.requestId) && isInt(v.rows, 1) && isInt(v.cols, 1) && v.data instanceof ArrayBuffer && v.data.byteLength === v.rows * v.cols * 4 && v.histogram instanceof ArrayBuffer
        ? (v as unknown as ToViewer)
        : undefined;
    case 'failed':
      return isStr(v.message) ? (v as unknown as ToViewer) : undefined;
    default:
      return undefined;
  }
}
