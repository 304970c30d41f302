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
}

export type ToViewer =
  | { type: 'info'; file: string; size: number; arrays: ViewerArrayInfo[]; selected?: string; tooLarge: boolean; capMB: number; error?: string; colormap: Colormap }
  | { type: 'array'; key?: string; stats: TensorStats }
  | { type: 'plane'; requestId: number; rows: number; cols: number; data: ArrayBuffer; histogram: ArrayBuffer; lo: number; hi: number }
  | { type: 'failed'; message: string };

export type FromViewer =
  | { type: 'ready' }
  | { type: 'openAnyway' }
  | { type: 'selectArray'; key: string }
  | { type: 'requestPlane'; requestId: number; rowAxis: number; colAxis: number; index: number[]; clip?: [number, number] }
  | { type: 'rendered'; metrics: Record<string, number | null>; canvases: { id: string; width: number; height: number; checksum: string; nonBlank: boolean }[] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min = 0, max = 1e9): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isStr = (v: unknown, max = 10000): v is string => typeof v === 'string' && v.length <= max;

export function parseFromViewer(v: unknown): FromViewer | undefined {
  if (!isObj(v) || !isStr(v.type, 40)) return undefined;
  switch (v.type) {
    case 'ready':
    case 'openAnyway':
      return { type: v.type };
    case 'selectArray':
      return isStr(v.key, 4096) ? { type: 'selectArray', key: v.key } : undefined;
    case 'requestPlane': {
      if (!isInt(v.requestId) || !isInt(v.rowAxis, 0, 64) || !isInt(v.colAxis, 0, 64) || !Array.isArray(v.index) || v.index.length > 64 || !v.index.every((i) => isInt(i))) return undefined;
      const clip = v.clip;
      if (clip !== undefined && !(Array.isArray(clip) && clip.length === 2 && clip.every((c) => typeof c === 'number' && Number.isFinite(c)) && clip[0] < clip[1])) return undefined;
      return { type: 'requestPlane', requestId: v.requestId, rowAxis: v.rowAxis, colAxis: v.colAxis, index: v.index as number[], ...(clip ? { clip: clip as [number, number] } : {}) };
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
      return isStr(v.file) && typeof v.size === 'number' && Array.isArray(v.arrays) && typeof v.tooLarge === 'boolean' && (COLORMAPS as readonly unknown[]).includes(v.colormap) ? (v as unknown as ToViewer) : undefined;
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
