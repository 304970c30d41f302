/**
 * The A/B comparison panel's messages, both directions, validated on arrival. Planes travel as
 * ArrayBuffers of float32 (never JSON arrays).
 */
import type { AbDiff } from '../cornernet/model/abDiff';
import type { ConventionName } from '../cornernet/model/conventions';
import type { Corner } from '../cornernet/model/roles';

export type Num = number | null;

/** What the panel shows of each side's report. */
export interface CompareSide {
  label: string;
  convention: ConventionName;
  heads: 'corners' | 'centers';
  total: Num;
  terms: Record<string, Num>;
  sizes: { batch: number; classes: number; height: number; width: number; maxObjects: number };
  nstack: number;
  warnings: string[];
}

export interface PlaneRequest {
  corner: Corner;
  stack: number;
  image: number;
  class: number;
}

/** One plane of both sides: float32 buffers of width * height values. */
export interface ComparePlane extends PlaneRequest {
  width: number;
  height: number;
  aProb: ArrayBuffer;
  aLoss: ArrayBuffer;
  bProb: ArrayBuffer;
  bLoss: ArrayBuffer;
  /** b - a of the per-pixel loss. */
  diff: ArrayBuffer;
  target: ArrayBuffer;
  aPlaneLoss: number;
  bPlaneLoss: number;
}

export type ToCompare =
  | { type: 'result'; a: CompareSide; b: CompareSide; diff: AbDiff }
  | { type: 'plane'; plane: ComparePlane }
  | { type: 'error'; message: string };

export interface CompareRendered {
  total: { a: Num; b: Num; diff: Num };
  plane?: PlaneRequest & { maxAbsDiff: number; nonBlank: boolean };
  rows: { planes: number; objects: number; classes: number; images: number };
}

export type FromCompare = { type: 'ready' } | { type: 'plane'; plane: PlaneRequest } | { type: 'rendered'; rendered: CompareRendered };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1e7;

export function parsePlaneRequest(v: unknown): PlaneRequest | undefined {
  if (!isObj(v) || (v.corner !== 'tl' && v.corner !== 'br') || !isIndex(v.stack) || !isIndex(v.image) || !isIndex(v.class)) return undefined;
  return { corner: v.corner, stack: v.stack, image: v.image, class: v.class };
}

export function parseFromCompare(v: unknown): FromCompare | undefined {
  if (!isObj(v) || typeof v.type !== 'string') return undefined;
  switch (v.type) {
    case 'ready':
      return { type: 'ready' };
    case 'plane': {
      const p = parsePlaneRequest(v.plane);
      return p ? { type: 'plane', plane: p } : undefined;
    }
    case 'rendered':
      return isObj(v.rendered) && isObj(v.rendered.total) && isObj(v.rendered.rows) ? { type: 'rendered', rendered: v.rendered as unknown as CompareRendered } : undefined;
    default:
      return undefined;
  }
}

export function parseToCompare(v: unknown): ToCompare | undefined {
  if (!isObj(v) || typeof v.type !== 'string') return undefined;
  switch (v.type) {
    case 'result':
      return isObj(v.a) && isObj(v.b) && isObj(v.diff) && Array.isArray(v.diff.planes) ? (v as unknown as ToCompare) : undefined;
    case 'plane': {
      const p = v.plane;
      if (!isObj(p) || !parsePlaneRequest(p) || !isIndex(p.width) || !isIndex(p.height)) return undefined;
      const n = (p.width as number) * (p.height as number) * 4;
      const bufs = ['aProb', 'aLoss', 'bProb', 'bLoss', 'diff', 'target'];
      return bufs.every((k) => p[k] instanceof ArrayBuffer && (p[k] as ArrayBuffer).byteLength === n) ? (v as unknown as ToCompare) : undefined;
    }
    case 'error':
      return typeof v.message === 'string' ? { type: 'error', message: v.message } : undefined;
    default:
      return undefined;
  }
}
