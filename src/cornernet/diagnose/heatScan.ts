/**
 * One pass over a batch's heatmaps for the diagnosis (findings.ts): per head (tl, br or center)
 * and stack, the predictions' range and spread, how many pixels sit at the probability floor,
 * where the first NaN/Inf is; per class, positives and floor pixels; for every positive (up to a
 * cap) its prediction in each stack and its target neighbours (the gaussian's radius). The arrays
 * come whole (in memory) or plane chunk by plane chunk from the files (the CLI's streamed run), so
 * the pass never holds more than a chunk.
 */
import * as fs from 'node:fs';
import type { FloatArray } from '../model/batch';
import type { HeatLocation } from '../focal/stream';
import { readFullySync } from '../../tensor/source';
import { pixelFocalGrad, type ClampBounds } from '../model/pixel';

type StatsAcc = { min: number; max: number; sum: number; sumsq: number; finite: number; nan: number; inf: number; atFloor: number; first?: { index: number; value: number } };

// The loops are small functions of their own: V8 optimises them (and keeps them monomorphic per
// array type) where one large closure would stay slow.

/**
 * The statistics of a chunk of logits and the sum of their squared gradients, in one pass (one
 * load per pixel): the background pixel's gradient from the table, the rest exactly. The sum
 * runs on from `acc` (pixel after pixel, whatever the chunks): files and memory give the same bits.
 */
function statsAndGrad(a: StatsAcc, pr: FloatArray, gt: FloatArray, n: number, base: number, t: Float64Array, b: ClampBounds, acc: number): number {
  let { min, max, sum, sumsq, finite, atFloor } = a;
  for (let i = 0; i < n; i++) {
    const x = pr[i]!;
    const g = gt[i]!;
    if (x - x !== 0) {
      if (x !== x) a.nan++;
      else a.inf++;
      a.first ??= { index: base + i, value: x };
      continue;
    }
    finite++;
    sum += x;
    sumsq += x * x;
    if (x < min) min = x;
    if (x > max) max = x;
    if (x <= FLOOR_LOGIT) atFloor++;
    let v: number;
    if (g === 0 && x > GRAD_LO && x < GRAD_HI) {
      const f = (x - GRAD_LO) * GRAD_STEPS;
      const k = f | 0;
      v = t[k]! + (t[k + 1]! - t[k]!) * (f - k);
    } else {
      v = pixelFocalGrad(x, g, b);
      if (v !== v) continue;
    }
    acc += v * v;
  }
  a.min = min;
  a.max = max;
  a.sum = sum;
  a.sumsq = sumsq;
  a.finite = finite;
  a.atFloor = atFloor;
  return acc;
}

function probabilityGradSquares(pr: FloatArray, gt: FloatArray, n: number, acc: number): number {
  for (let i = 0; i < n; i++) {
    const v = probabilityGrad(pr[i]!, gt[i]!);
    if (v === v) acc += v * v;
  }
  return acc;
}

function accumulateStats(a: StatsAcc, pr: FloatArray, n: number, base: number, logits: boolean): void {
  let { min, max, sum, sumsq, finite, atFloor } = a;
  const floor = logits ? FLOOR_LOGIT : FLOOR_P;
  for (let i = 0; i < n; i++) {
    const v = pr[i]!;
    if (v - v !== 0) {
      if (v !== v) a.nan++;
      else a.inf++;
      a.first ??= { index: base + i, value: v };
      continue;
    }
    finite++;
    sum += v;
    sumsq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v <= floor) atFloor++;
  }
  a.min = min;
  a.max = max;
  a.sum = sum;
  a.sumsq = sumsq;
  a.finite = finite;
  a.atFloor = atFloor;
}

/** Positive pixels of the plane being scanned (offsets in the plane), reused from plane to plane. */
let positiveScratch = new Int32Array(1024);

/** One (image, class) plane: floor pixels of the last stack, near-peaks, target NaN/Inf, positives (into positiveScratch). */
function scanPlane(gt: FloatArray, last: FloatArray, base: number, HW: number, floor: number) {
  let atFloor = 0;
  let nearPeaks = 0;
  let nonFinite = 0;
  let firstNonFinite = -1;
  let positives = 0;
  for (let i = 0; i < HW; i++) {
    const g = gt[base + i]!;
    if (last[base + i]! <= floor) atFloor++;
    if (g === 0) continue;
    if (g - g !== 0) {
      if (firstNonFinite < 0) firstNonFinite = i;
      nonFinite++;
      continue;
    }
    if (g === 1) {
      if (positives >= positiveScratch.length) {
        const grown = new Int32Array(positiveScratch.length * 2);
        grown.set(positiveScratch);
        positiveScratch = grown;
      }
      positiveScratch[positives++] = i;
    } else if (g > 0.9 && g < 1) nearPeaks++;
  }
  return { atFloor, nearPeaks, nonFinite, firstNonFinite, positives };
}

/** The table of the background pixel's gradient (target 0): logits in (GRAD_LO, GRAD_HI), GRAD_STEPS per unit. */
const GRAD_LO = -40;
const GRAD_HI = 40;
const GRAD_STEPS = 256;
const gradTables = new Map<string, Float64Array>();

function backgroundGradTable(b: ClampBounds): Float64Array {
  const key = `${b.lo}/${b.hi}/${b.round32}/${b.plain ?? false}`;
  let t = gradTables.get(key);
  if (!t) {
    t = new Float64Array((GRAD_HI - GRAD_LO) * GRAD_STEPS + 2);
    for (let k = 0; k < t.length; k++) t[k] = pixelFocalGrad(GRAD_LO + k / GRAD_STEPS, 0, b);
    gradTables.set(key, t);
  }
  return t;
}

/** mmdetection's gaussian focal loss on a given probability: d(loss)/dp (no sigmoid). */
function probabilityGrad(p: number, g: number): number {
  const eps = 1e-12;
  if (g === 1) return -((1 - p) * (1 - p)) / (p + eps) + 2 * (1 - p) * Math.log(p + eps);
  const w = (1 - g) * (1 - g);
  return w * w * ((p * p) / (1 - p + eps) - 2 * p * Math.log(1 - p + eps));
}

export type Head = 'tl' | 'br';

/** What the heatmap predictions hold: logits (CornerNet, mmdet CornerHead, CenterNet) or probabilities (mmdet CenterNetHead). */
export type HeatKind = 'logits' | 'probabilities';

/** The arrays, visited a chunk of whole (image, class) planes at a time. */
export interface HeatSource {
  dims: { S: number; B: number; C: number; H: number; W: number };
  heads: readonly Head[];
  kind: HeatKind;
  /** Calls `visit` with consecutive plane ranges [p0, p1) of each head: the targets and each stack's predictions. */
  visit(visit: (head: Head, p0: number, p1: number, gt: FloatArray, preds: FloatArray[]) => void): void;
}

export function memoryHeatSource(dims: HeatSource['dims'], heads: readonly Head[], kind: HeatKind, gt: Record<Head, FloatArray>, preds: Record<Head, FloatArray[]>): HeatSource {
  return { dims, heads, kind, visit: (v) => heads.forEach((h) => v(h, 0, dims.B * dims.C, gt[h], preds[h])) };
}

/**
 * Chunk buffers kept from one scan to the next in this thread (a run over many batches, `--each`,
 * would otherwise touch fresh pages for every batch; at most a few MB).
 */
const scratch = new Map<string, ArrayBuffer>();

/** Heatmaps left on disk (the streamed run's plan): read a chunk of planes at a time into reused buffers. */
export function fileHeatSource(dims: HeatSource['dims'], jobs: { head: Head; gt: HeatLocation; preds: HeatLocation[] }[], kind: HeatKind = 'logits'): HeatSource {
  const HW = dims.H * dims.W;
  const planes = dims.B * dims.C;
  const chunkPlanes = Math.max(1, Math.floor((1 << 18) / HW));
  return {
    dims,
    heads: jobs.map((j) => j.head),
    kind,
    visit(visit) {
      const fds = new Map<string, number>();
      const buffers = scratch;
      const read = (loc: HeatLocation, slot: string, p0: number, n: number): FloatArray => {
        const size = loc.float64 ? 8 : 4;
        let fd = fds.get(loc.path);
        if (fd === undefined) {
          fd = fs.openSync(loc.path, 'r');
          fds.set(loc.path, fd);
        }
        let buf = buffers.get(slot);
        if (!buf || buf.byteLength < n * HW * size) buffers.set(slot, (buf = new ArrayBuffer(n * HW * size)));
        const bytes = new Uint8Array(buf, 0, n * HW * size);
        const got = readFullySync(fd, bytes, loc.offset + p0 * HW * size);
        if (got < bytes.length) throw new Error(`${loc.label}: the file changed while it was being read; run again`);
        return loc.float64 ? new Float64Array(buf, 0, n * HW) : new Float32Array(buf, 0, n * HW);
      };
      try {
        for (const job of jobs) {
          for (let p0 = 0; p0 < planes; p0 += chunkPlanes) {
            const n = Math.min(chunkPlanes, planes - p0);
            visit(job.head, p0, p0 + n, read(job.gt, 'gt', p0, n), job.preds.map((loc, s) => read(loc, `p${s}`, p0, n)));
          }
        }
      } finally {
        for (const fd of fds.values()) fs.closeSync(fd);
      }
    },
  };
}

export interface PredStats {
  min: number;
  max: number;
  mean: number;
  std: number;
  finite: number;
  nan: number;
  inf: number;
  /** Pixels whose probability is at or below the floor (p <= FLOOR_P: logit <= -9.2). */
  atFloor: number;
  /** Flat index [B,C,H,W] of the first NaN/Inf. */
  firstNonFinite?: { index: number; value: number };
}

export interface PositiveAt {
  head: Head;
  /** Flat index in [B,C,H,W]. */
  index: number;
  /** The prediction (logit or probability as given) in each stack. */
  preds: number[];
  /** The smallest target value among the in-map 4-neighbours (overlapping gaussians only raise them); undefined: none in the map. */
  neighbour?: number;
}

export interface ClassScan {
  /** Target pixels exactly 1, per head. */
  positives: Record<Head, number>;
  /** Target pixels in (0.9, 1): near-peaks (a peak that is not a positive). */
  nearPeaks: number;
  /** Pixels of this class's planes, and those at the floor in the last stack, per head. */
  pixels: number;
  atFloorLast: Record<Head, number>;
}

export interface HeatScan {
  kind: HeatKind;
  /** Per head and stack: the sum of the squared per-pixel gradients d(loss)/d(prediction), unnormalised (when asked). */
  gradSq?: Record<Head, number[]>;
  dims: HeatSource['dims'];
  heads: readonly Head[];
  /** Per head, per stack. */
  preds: Record<Head, PredStats[]>;
  /** Target NaN/Inf, per head: the first. */
  gtNonFinite: Record<Head, { count: number; first?: { index: number; value: number } }>;
  positives: PositiveAt[];
  /** More positives than the cap were found (the list holds the first ones). */
  positivesTruncated: boolean;
  classes: ClassScan[];
}

/** The probability floor of `_sigmoid`'s clamp (1e-4), with a margin for float32 rounding. */
export const FLOOR_P = 1.0001e-4;
const FLOOR_LOGIT = Math.log(FLOOR_P / (1 - FLOOR_P));
const MAX_POSITIVES = 100_000;

/**
 * `grad`: each stack's per-pixel rule (CornerNet's clamp, or mmdetection's plain sigmoid, or
 * probabilities given directly): the scan then sums the squared gradients too.
 */
export function scanHeat(source: HeatSource, grad?: { bounds: ClampBounds[] }): HeatScan {
  const { S, C, H, W } = source.dims;
  const HW = H * W;
  const logits = source.kind === 'logits';
  const acc = {} as Record<Head, StatsAcc[]>;
  const gtNonFinite = {} as HeatScan['gtNonFinite'];
  for (const h of source.heads) {
    acc[h] = Array.from({ length: S }, () => ({ min: Infinity, max: -Infinity, sum: 0, sumsq: 0, finite: 0, nan: 0, inf: 0, atFloor: 0 }));
    gtNonFinite[h] = { count: 0 };
  }
  const classes: ClassScan[] = Array.from({ length: C }, () => ({ positives: { tl: 0, br: 0 }, nearPeaks: 0, pixels: 0, atFloorLast: { tl: 0, br: 0 } }));
  const positives: PositiveAt[] = [];
  let truncated = false;
  const gradSq = grad ? ({} as Record<Head, number[]>) : undefined;
  if (gradSq) for (const h of source.heads) gradSq[h] = new Array<number>(S).fill(0);
  source.visit((head, p0, p1, gt, preds) => {
    const n = (p1 - p0) * HW;
    for (let s = 0; s < preds.length; s++) {
      const a = acc[head][s]!;
      if (gradSq && grad && logits) gradSq[head][s] = statsAndGrad(a, preds[s]!, gt, n, p0 * HW, backgroundGradTable(grad.bounds[s]!), grad.bounds[s]!, gradSq[head][s]!);
      else {
        if (gradSq) gradSq[head][s] = probabilityGradSquares(preds[s]!, gt, n, gradSq[head][s]!);
        accumulateStats(a, preds[s]!, n, p0 * HW, logits);
      }
    }
    const last = preds[preds.length - 1]!;
    for (let p = p0; p < p1; p++) {
      const c = p % C;
      const cls = classes[c]!;
      cls.pixels += head === source.heads[0] ? HW : 0;
      const base = (p - p0) * HW;
      const plane = scanPlane(gt, last, base, HW, logits ? FLOOR_LOGIT : FLOOR_P);
      cls.atFloorLast[head] += plane.atFloor;
      cls.nearPeaks += plane.nearPeaks;
      if (plane.nonFinite) {
        const nf = gtNonFinite[head];
        nf.count += plane.nonFinite;
        nf.first ??= { index: p * HW + plane.firstNonFinite, value: gt[base + plane.firstNonFinite]! };
      }
      for (let j = 0; j < plane.positives; j++) {
        const i = positiveScratch[j]!;
        cls.positives[head]++;
        if (positives.length >= MAX_POSITIVES) {
          truncated = true;
          continue;
        }
        const x = i % W;
        const y = (i - x) / W;
        let neighbour: number | undefined;
        for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]] as const) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
          const q = gt[base + yy * W + xx]!;
          if (neighbour === undefined || q < neighbour) neighbour = q;
        }
        positives.push({ head, index: p * HW + i, preds: preds.map((pr) => pr[base + i]!), ...(neighbour !== undefined ? { neighbour } : {}) });
      }
    }
  });
  const preds = {} as HeatScan['preds'];
  for (const h of source.heads) {
    preds[h] = acc[h].map((a) => {
      const mean = a.finite ? a.sum / a.finite : NaN;
      return {
        min: a.min,
        max: a.max,
        mean,
        std: a.finite ? Math.sqrt(Math.max(0, a.sumsq / a.finite - mean * mean)) : NaN,
        finite: a.finite,
        nan: a.nan,
        inf: a.inf,
        atFloor: a.atFloor,
        ...(a.first ? { firstNonFinite: a.first } : {}),
      };
    });
  }
  return { kind: source.kind, dims: source.dims, heads: source.heads, preds, gtNonFinite, positives, positivesTruncated: truncated, classes, ...(gradSq ? { gradSq } : {}) };
}

/** The gaussian radius whose 4-neighbour value is `g` (draw_gaussian: sigma = (2r + 1) / 6). */
export function radiusFromNeighbour(g: number): number | undefined {
  if (!(g > 0 && g < 1)) return undefined;
  const sigma = Math.sqrt(-1 / (2 * Math.log(g)));
  return (6 * sigma - 1) / 2;
}
