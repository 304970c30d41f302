/**
 * The differences of two batches' reports (`--compare A B`, the comparison panel): types only, so
 * that the webview's protocol can name them.
 */
import type { Corner } from './roles';
import type { Num, ObjectReport } from './report';

/** A value on both sides and b - a. */
export interface Change {
  a: Num;
  b: Num;
  diff: Num;
}

/** One heatmap plane of one stack: its share of the stack's heat term on each side. */
export interface PlaneChange extends Change {
  stack: number;
  /** `tl`/`br` for corner conventions, `center` for CenterNet's. */
  corner: Corner | 'center';
  image: number;
  class: number;
}

export interface ObjectChange {
  stack: number;
  image: number;
  slot: number;
  class?: number;
  /** |Δ tl tag| + |Δ br tag| (null when a side has no embeddings or a value is not finite). */
  embedding: Num;
  /** Sum of |Δ| over the predicted offsets (and sizes, for center conventions). */
  offset: Num;
  a: Pick<ObjectReport, 'tlTag' | 'brTag' | 'tlOffset' | 'brOffset' | 'pull' | 'push' | 'regrTl' | 'regrBr'> & { size?: [Num, Num] };
  b: ObjectChange['a'];
}

export interface PixelChange {
  stack: number;
  corner: Corner | 'center';
  image: number;
  class: number;
  x: number;
  y: number;
  a: Num;
  b: Num;
  diff: Num;
}

/** Per-pixel differences of the focal loss, when both sides have the same targets. */
export interface PixelDiffSummary {
  targetsIdentical: boolean;
  /** Why not, when they are not. */
  reason?: string;
  pixels?: number;
  /** Pixels whose loss differs. */
  changed?: number;
  /** Sum of |b - a| over the pixels, and the share of it in the top 1% of pixels. */
  sumAbs?: Num;
  /** The pixels that changed most, largest |b - a| first. */
  top?: PixelChange[];
}

export interface AbDiff {
  total: Num;
  /** b - a of each upstream term. */
  terms: Record<string, Num>;
  perStack: { stack: number; total: Change; focal: Change; pull: Change; push: Change; regr: Change; wh?: Change }[];
  perImage: { image: number; total: Change; focal: Change; pull: Change; push: Change; regr: Change; wh?: Change }[];
  perClass: { class: number; focal: Change }[];
  /** Planes, largest |b - a| first. */
  planes: PlaneChange[];
  /** Objects, largest embedding + offset change first. */
  objects: ObjectChange[];
  pixels: PixelDiffSummary;
}
