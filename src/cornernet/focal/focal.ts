/**
 * Corner focal loss (`_neg_loss`): one fused pass per heatmap and stack, no materialised masks.
 * The original builds boolean masks and indexes with them (~1.4 s on a realistic batch); here each
 * pixel is visited once and falls into the positive (gt == 1), negative (gt < 1) or ignored set.
 * `focalSums` runs the fast kernel of focalKernel.ts; `referenceFocalSums` is the plain per-pixel
 * loop (Math.exp, Math.fround, Math.log) it is checked against.
 */
import type { FloatArray } from '../model/batch';
import { createFocalKernel, type RawFocalSums } from './focalKernel';
import { focalSimdModule } from './focalSimd';

import { type ClampBounds } from '../model/pixel';


/** What the target heatmap of one corner type holds: scanned once, shared by the stacks. */
export interface TargetScan {
  /** Pixels with gt == 1 exactly, in the whole batch: the focal loss's normaliser N. */
  positives: number;
  /** Positives per (image, class) plane [B*C]. */
  planePositives: Int32Array;
  /** Values in (0.999, 1): look like peaks but are negatives. */
  nearOne: number;
  firstNearOne?: number;
  /** Values above 1: in neither set. */
  aboveOne: number;
  firstAboveOne?: number;
  /** NaN or Inf targets (NaN: in neither set; +Inf: above one; -Inf: a negative with infinite weight). */
  nonFinite: number;
}

/**
 * One pass over the targets. `positiveIndices`: where to write the indices of the positives, as far
 * as it has room (the streamed pass; the count is `positives` either way).
 */
export function scanTargets(gt: FloatArray, planes: number, HW: number, positiveIndices?: Float64Array): TargetScan {
  const room = positiveIndices ? positiveIndices.length : 0;
  const planePositives = new Int32Array(planes);
  let positives = 0;
  let nearOne = 0;
  let aboveOne = 0;
  let nonFinite = 0;
  let firstNearOne: number | undefined;
  let firstAboveOne: number | undefined;
  for (let plane = 0; plane < planes; plane++) {
    let n = 0;
    const end = (plane + 1) * HW;
    for (let i = plane * HW; i < end; i++) {
      const g = gt[i]!;
      // Most target pixels are 0; one comparison settles them.
      if (g < 0.999 && g > -Infinity) continue;
      if (g === 1) {
        if (positives + n < room) positiveIndices![positives + n] = i;
        n++;
      } else if (g > 0.999 && g < 1) {
        nearOne++;
        firstNearOne ??= i;
      } else if (g > 1 && g !== Infinity) {
        aboveOne++;
        firstAboveOne ??= i;
      } else if (g !== g || g === Infinity || g === -Infinity) nonFinite++;
    }
    planePositives[plane] = n;
    positives += n;
  }
  return { positives, planePositives, nearOne, firstNearOne, aboveOne, firstAboveOne, nonFinite };
}

/** The k largest values seen, with their flat indices (a min-heap; `threshold` is its smallest). */
export class TopK {
  readonly values: Float64Array;
  readonly indices: Float64Array;
  size = 0;
  threshold = -Infinity;
  constructor(readonly k: number) {
    this.values = new Float64Array(k);
    this.indices = new Float64Array(k);
  }

  push(v: number, index: number): void {
    if (this.k === 0) return;
    const vs = this.values;
    const is = this.indices;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (vs[parent]! <= v) break;
        vs[i] = vs[parent]!;
        is[i] = is[parent]!;
        i = parent;
      }
      vs[i] = v;
      is[i] = index;
      if (this.size === this.k) this.threshold = vs[0]!;
      return;
    }
    // Replace the root (smallest) and sift down.
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && vs[r]! < vs[l]! ? r : l;
      if (vs[c]! >= v) break;
      vs[i] = vs[c]!;
      is[i] = is[c]!;
      i = c;
    }
    vs[i] = v;
    is[i] = index;
    this.threshold = vs[0]!;
  }

  /** Entries, largest first. */
  sorted(): { value: number; index: number }[] {
    const out = [];
    for (let i = 0; i < this.size; i++) out.push({ value: this.values[i]!, index: this.indices[i]! });
    return out.sort((a, b) => b.value - a.value || a.index - b.index);
  }
}

/** Sums of one heatmap pass, per (image, class) plane, not yet normalised. */
export interface FocalSums {
  /** Sum over positives of -log(p) (1-p)^2, per plane [B*C]. */
  pos: Float64Array;
  /** Sum over negatives of -log(1-p) p^2 (1-gt)^4, per plane [B*C]. */
  neg: Float64Array;
  /** Logits whose probability was clamped at the lower / upper bound. */
  clampedLow: number;
  clampedHigh: number;
  /** Positives clamped at the lower bound: each costs the maximum 9.21. */
  clampedPositives: number;
  /** NaN or +-Inf logits. */
  nonFinite: number;
  /** Largest per-pixel losses (unnormalised), over the whole heatmap. */
  top: TopK;
}

let kernel: ReturnType<typeof createFocalKernel> | undefined;

/**
 * One pass over logits and targets of one stack: per-plane positive and negative sums of the
 * focal loss, the clamp statistics, and the top pixels. Sums are float64 per plane. The values
 * are those of `referenceFocalSums`, several times faster: on float32 inputs (the kernel's table
 * path) to ~3e-9 relative per pixel at worst (~1e-10 per plane), on float64 inputs to ~1e-15; the
 * clamp counts exactly.
 */
export function focalSums(
  logits: FloatArray,
  gt: FloatArray,
  planes: number,
  HW: number,
  bounds: ClampBounds,
  topK: number,
): FocalSums {
  kernel ??= createFocalKernel(focalSimdModule());
  return fromRaw(kernel.sums(logits, gt, 0, planes, HW, bounds.lo, bounds.hi, bounds.round32, topK), topK);
}

/** FocalSums from the kernel's plain results (of one call, or of several plane ranges in order). */
export function fromRaw(parts: RawFocalSums | RawFocalSums[], topK: number): FocalSums {
  const list = Array.isArray(parts) ? parts : [parts];
  const one = list.length === 1 ? list[0]! : undefined;
  const planes = list.reduce((a, r) => a + r.pos.length, 0);
  const pos = one ? one.pos : new Float64Array(planes);
  const neg = one ? one.neg : new Float64Array(planes);
  const top = new TopK(topK);
  let clampedLow = 0;
  let clampedHigh = 0;
  let clampedPositives = 0;
  let nonFinite = 0;
  let at = 0;
  for (const r of list) {
    if (!one) {
      pos.set(r.pos, at);
      neg.set(r.neg, at);
      at += r.pos.length;
    }
    clampedLow += r.clampedLow;
    clampedHigh += r.clampedHigh;
    clampedPositives += r.clampedPositives;
    nonFinite += r.nonFinite;
    for (let i = 0; i < r.topValues.length; i++) {
      const v = r.topValues[i]!;
      if (v > top.threshold) top.push(v, r.topIndices[i]!);
    }
  }
  return { pos, neg, clampedLow, clampedHigh, clampedPositives, nonFinite, top };
}

/**
 * The plain per-pixel loop: the reference the fast kernel is checked against (and what the
 * benchmark reports as the baseline this machine runs without PyTorch). Same results as focalSums.
 */
export function referenceFocalSums(
  logits: FloatArray,
  gt: FloatArray,
  planes: number,
  HW: number,
  bounds: ClampBounds,
  topK: number,
): FocalSums {
  const pos = new Float64Array(planes);
  const neg = new Float64Array(planes);
  const top = new TopK(topK);
  const { lo, hi, round32 } = bounds;
  let clampedLow = 0;
  let clampedHigh = 0;
  let clampedPositives = 0;
  let nonFinite = 0;
  for (let plane = 0; plane < planes; plane++) {
    let P = 0;
    let Q = 0;
    const end = (plane + 1) * HW;
    for (let i = plane * HW; i < end; i++) {
      const g = gt[i]!;
      const x = logits[i]!;
      if (x - x !== 0) nonFinite++;
      let p = 1 / (1 + Math.exp(-x));
      if (round32) p = Math.fround(p);
      if (p < lo) {
        p = lo;
        clampedLow++;
      } else if (p > hi) {
        p = hi;
        clampedHigh++;
      }
      let v: number;
      if (g === 1) {
        const q = 1 - p;
        v = -Math.log(p) * q * q;
        P += v;
        if (p === lo) clampedPositives++;
      } else if (g < 1) {
        const w = 1 - g;
        const w2 = w * w;
        v = -Math.log(1 - p) * p * p * w2 * w2;
        Q += v;
      } else continue;
      if (v > top.threshold) top.push(v, i);
    }
    pos[plane] = P;
    neg[plane] = Q;
  }
  return { pos, neg, clampedLow, clampedHigh, clampedPositives, nonFinite, top };
}

/** `_neg_loss` for one stack from its sums: -(P + Q) / N, or -Q unnormalised when N = 0. */
export function focalFromSums(sums: FocalSums, positives: number): number {
  let total = 0;
  for (let i = 0; i < sums.pos.length; i++) total += sums.pos[i]! + sums.neg[i]!;
  // Sums above are of the negated log terms, so they are already -(P + Q) of the formula.
  return positives === 0 ? total : total / Math.fround(positives);
}
