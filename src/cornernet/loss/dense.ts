/**
 * Numeric primitives shared by the three extra loss conventions (mmdet CornerNet, CenterNet,
 * mmdet CenterNet): the sigmoids, the two focal-loss variants, mmdet's divisors and the
 * regression losses. Pure functions over typed arrays.
 *
 * Precision model: sums are accumulated in float64 (more accurate than torch's float32 sums, far
 * inside the 1e-5 tolerance), but in a 'float32' run every per-element step whose float32
 * rounding changes the result beyond that tolerance is rounded with Math.fround: the sigmoid
 * (step by step, as ATen evaluates it, so that it saturates at exactly 1.0), `1 - p` (quantised
 * near 1) and the `+ 1e-12` / `+ eps` additions. A 'float64' run evaluates the same formulas in
 * double, keeping the constants that upstream makes float32 even there.
 */
import type { TopK } from '../focal/focal';
import type { DType } from '../../tensor/dtype';

export type FloatArray = Float32Array | Float64Array;
/** Which torch dtype the upstream code ran in: float32 (also float16 inputs upcast) or float64. */
export type Precision = 'float32' | 'float64';
/** Integer data as the tensor readers return it (int64 stays BigInt64Array). */
export type IndexArray = ArrayLike<number> | BigInt64Array | BigUint64Array;

/** A quirk of the upstream code that this input hits, or something the caller should know. */
export interface LossWarning {
  code: string;
  message: string;
}

/** float64 inputs run in float64; float32, float16 (upcast exactly, as the fixtures do) and bfloat16 in float32. */
export function precisionOf(dtype: DType | string): Precision {
  return dtype === 'float64' ? 'float64' : 'float32';
}

/** `torch.finfo(torch.float32).eps`, the `eps` of mmdet's `weight_reduce_loss`. */
export const EPS32 = 2 ** -23;

/** The `1e-12` of mmdet's gaussian focal loss as a float32 tensor adds it (cast to float32 first). */
const LOG_EPS_F32 = Math.fround(1e-12);
const LOG_EPS_F64 = 1e-12;

export function num(a: IndexArray, i: number): number {
  return Number(a[i]!);
}

/**
 * torch's float32 sigmoid: ATen evaluates `1 / (1 + exp(-x))` in float32, rounding after the exp,
 * after the add and after the reciprocal. Rounding only the exact sigmoid would not do: `1 + e`
 * rounds to 1 once e < 2^-24, so upstream p is exactly 1.0 from x ~ 16.64 (not ~17.33), and a
 * confident negative then costs -log(1e-12) = 27.63 (mmdet CornerNet, saturated logits).
 */
export function sigmoid32(x: number): number {
  return Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-x))));
}

export function sigmoid64(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function sigmoidFor(precision: Precision): (x: number) => number {
  return precision === 'float64' ? sigmoid64 : sigmoid32;
}

/** The scalar torch sees when a Python float meets a tensor: float32 tensors cast it to float32. */
export function pyScalar(v: number, precision: Precision): number {
  return precision === 'float64' ? v : Math.fround(v);
}

/**
 * `avg_factor + eps` of mmdet's `weight_reduce_loss` for `avg_factor = max(1, t)`, t an integer
 * count tensor (`gt.eq(1).sum()`). Python's max returns the int 1 unless t > 1, so counts 0 and 1
 * divide by the Python float 1 + 2^-23 (representable in float32, the same in both runs); a larger
 * count stays an int64 tensor, and int64 + float gives a float32 tensor (torch's default dtype)
 * even in a float64 run, where count + 2^-23 rounds back to count.
 */
export function mmdetCountDivisor(count: number): number {
  if (!(count > 1)) return 1 + EPS32;
  return Math.fround(Math.fround(count) + EPS32);
}

/**
 * The same for a count that is a FLOAT tensor (`mask.sum()` of a mask made with `type_as(gt)`):
 * in a float64 run the addition happens in float64 and keeps the 2^-23.
 */
export function mmdetFloatCountDivisor(count: number, precision: Precision): number {
  if (!(count > 1)) return 1 + EPS32;
  return precision === 'float64' ? count + EPS32 : Math.fround(Math.fround(count) + EPS32);
}

/**
 * mmdet CenterNet's `avg_factor * 2 + eps` for `avg_factor = max(1, #peaks)`. With the Python int
 * 1 the divisor is the Python float 2 + 2^-23: kept in a float64 run, but a float32 tensor divided
 * by a Python scalar casts it to float32, where it rounds (ties to even) to exactly 2.
 */
export function mmdetDoubledCountDivisor(count: number, precision: Precision): number {
  if (!(count > 1)) return pyScalar(2 + EPS32, precision);
  return Math.fround(Math.fround(2 * count) + EPS32);
}

/** CenterNet RegL1Loss's `mask.sum() + 1e-4`: the mask is made with `.float()`, so float32 in every run. */
export function centernetRegDivisor(maskSum: number): number {
  return Math.fround(Math.fround(maskSum) + Math.fround(1e-4));
}

/** Smooth-L1 with beta 1 of a difference (NaN stays NaN: `diff < beta` is false, `diff - 0.5` is NaN). */
export function smoothL1(d: number): number {
  const a = Math.abs(d);
  return a < 1 ? 0.5 * a * a : a - 0.5;
}

/** True when a number is NaN or +-Inf. */
export function nonFinite(x: number): boolean {
  return x - x !== 0;
}

// ---------------------------------------------------------------------------------------------
// Targets

/** What one target heatmap [B,C,H,W] holds: scanned once per batch, shared by stacks/levels. */
export interface HeatTargetScan {
  /** Pixels with gt == 1 exactly, whole batch, all classes: the normaliser of every convention. */
  positives: number;
  /** Positives per (image, class) plane [B*C]. */
  planePositives: Int32Array;
  /** Values above 1 (finite): mmdet weights them as negatives with (1-g)^4, CenterNet ignores them. */
  aboveOne: number;
  /** Values in (0.999, 1): look like peaks but are negatives everywhere. */
  nearOne: number;
  /** NaN or +-Inf targets. */
  nonFinite: number;
}

export function scanHeatTargets(gt: FloatArray, planes: number, HW: number): HeatTargetScan {
  const planePositives = new Int32Array(planes);
  let positives = 0;
  let aboveOne = 0;
  let nearOne = 0;
  let bad = 0;
  for (let plane = 0; plane < planes; plane++) {
    let n = 0;
    const end = (plane + 1) * HW;
    for (let i = plane * HW; i < end; i++) {
      const g = gt[i]!;
      // Nearly every target pixel is a plain negative: one comparison settles it.
      if (g <= 0.999) {
        if (g === -Infinity) bad++;
        continue;
      }
      if (g === 1) n++;
      else if (g < 1) nearOne++;
      else if (g > 1 && g !== Infinity) aboveOne++;
      else bad++; // NaN (fails every comparison) or +Inf
    }
    planePositives[plane] = n;
    positives += n;
  }
  return { positives, planePositives, aboveOne, nearOne, nonFinite: bad };
}

/**
 * mmdet CornerHead's offset weight `gt.eq(1).sum(1).gt(0)`: 1 at pixels where ANY class has a
 * positive, class-agnostic, [B, H*W]. Returns the mask and its number of set pixels per image.
 */
export function anyClassPositiveMask(gt: FloatArray, B: number, C: number, HW: number): { mask: Uint8Array; perImage: Int32Array; count: number } {
  const mask = new Uint8Array(B * HW);
  const perImage = new Int32Array(B);
  let count = 0;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const base = (b * C + c) * HW;
      for (let i = 0; i < HW; i++) if (gt[base + i] === 1) mask[b * HW + i] = 1;
    }
    let n = 0;
    for (let i = 0; i < HW; i++) n += mask[b * HW + i]!;
    perImage[b] = n;
    count += n;
  }
  return { mask, perImage, count };
}

// ---------------------------------------------------------------------------------------------
// mmdet's gaussian focal loss

/** Per-plane sums of one heatmap pass (already negated: both are >= 0 for sane inputs). */
export interface GaussianFocalSums {
  /** Per plane [B*C]: sum over pixels with gt == 1 of -log(p + 1e-12) (1-p)^2. */
  pos: Float64Array;
  /** Per plane: sum over every other pixel of -log(1 - p + 1e-12) p^2 (1-g)^4. */
  neg: Float64Array;
  /** Negatives (g < 1) whose probability is exactly 1: each costs -log(1e-12) (1-g)^4 = 27.63 (1-g)^4. */
  saturatedNegatives: number;
  /** Positives whose probability is exactly 0: each costs 27.63. */
  saturatedPositives: number;
  /** Probability inputs outside [0, 1] (NaN logs); never for logits. */
  outOfRange: number;
  /** NaN or +-Inf predictions. */
  nonFinite: number;
}

/**
 * mmdet's `gaussian_focal_loss` summed per plane: `-log(p + 1e-12) (1-p)^2 [g == 1]
 * - log(1 - p + 1e-12) p^2 (1-g)^4`, on every pixel (there is no `g < 1` filter: a target above 1
 * is a negative with weight (1-g)^4, a NaN target gives NaN). `input` says whether `pred` holds
 * logits (CornerHead applies a plain sigmoid, no clamp) or probabilities (CenterNetHead's head
 * output, used as they are).
 */
export function gaussianFocalSums(
  pred: FloatArray,
  gt: FloatArray,
  planes: number,
  HW: number,
  input: 'logits' | 'probabilities',
  precision: Precision,
  /** Keeps the largest per-pixel losses (flat indices), for the report's top pixels. */
  top?: TopK,
): GaussianFocalSums {
  const pos = new Float64Array(planes);
  const neg = new Float64Array(planes);
  const r32 = precision === 'float32';
  const eps = r32 ? LOG_EPS_F32 : LOG_EPS_F64;
  const logits = input === 'logits';
  let saturatedNegatives = 0;
  let saturatedPositives = 0;
  let outOfRange = 0;
  let bad = 0;
  for (let plane = 0; plane < planes; plane++) {
    let P = 0;
    let Q = 0;
    const end = (plane + 1) * HW;
    for (let i = plane * HW; i < end; i++) {
      const x = pred[i]!;
      const g = gt[i]!;
      let p: number;
      if (logits) p = r32 ? Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-x)))) : 1 / (1 + Math.exp(-x));
      else p = x;
      if (x - x !== 0) bad++;
      if (!(p >= 0 && p <= 1)) {
        // Outside [0, 1] (only given probabilities can be) or NaN: upstream evaluates both terms on
        // every pixel and multiplies the unused one by 0, which is NaN once its log is NaN/-Inf.
        if (x - x === 0) outOfRange++;
        if (g === 1) P += literalGaussianFocal(p, g, r32);
        else Q += literalGaussianFocal(p, g, r32);
        continue;
      }
      if (g === 1) {
        const q = 1 - p; // exact in float32 for p >= 0.5; below, the log term dominates anyway
        // `pred + eps` happens in float32 on float32 tensors: it vanishes unless p < ~1e-5.
        const a = r32 ? Math.fround(p + eps) : p + eps;
        const v = -Math.log(a) * q * q;
        P += v;
        if (top && v > top.threshold) top.push(v, i);
        if (p === 0) saturatedPositives++;
      } else {
        // `1 - pred` is quantised to float32 steps (6e-8 near 1); `+ 1e-12` then only matters
        // where 1 - p is exactly 0, i.e. where the float32 sigmoid saturated at 1.
        const q = r32 ? Math.fround(Math.fround(1 - p) + eps) : 1 - p + eps;
        const w = 1 - g;
        const w2 = w * w;
        const v = -Math.log(q) * p * p * (w2 * w2);
        Q += v;
        if (top && v > top.threshold) top.push(v, i);
        if (p === 1) saturatedNegatives++;
      }
    }
    pos[plane] = P;
    neg[plane] = Q;
  }
  return { pos, neg, saturatedNegatives, saturatedPositives, outOfRange, nonFinite: bad };
}

/** One pixel of mmdet's gaussian focal loss exactly as written (both terms, masks as factors). */
export function literalGaussianFocal(p: number, g: number, r32: boolean): number {
  const eps = r32 ? LOG_EPS_F32 : LOG_EPS_F64;
  const posW = g === 1 ? 1 : 0;
  const w = 1 - g;
  const negW = w * w * w * w;
  const a = r32 ? Math.fround(p + eps) : p + eps;
  const q = r32 ? Math.fround(Math.fround(1 - p) + eps) : 1 - p + eps;
  return -Math.log(a) * (1 - p) * (1 - p) * posW + -Math.log(q) * p * p * negW;
}

// ---------------------------------------------------------------------------------------------
// CenterNet's (= CornerNet's) clamped focal loss

/** Probability bounds of `_sigmoid`'s clamp; same shape as the main engine's ClampBounds. */
export interface ClampBounds {
  lo: number;
  hi: number;
  /** Round the sigmoid to float32 (torch on float32 tensors). */
  round32: boolean;
}

/** On float32 tensors clamp(…, 1e-4, 1 - 1e-4) compares with float32 bounds: 9.99999974738e-05 and 0.99989998340606689. */
export const CLAMP_FLOAT32: ClampBounds = { lo: Math.fround(1e-4), hi: Math.fround(1 - 1e-4), round32: true };
export const CLAMP_FLOAT64: ClampBounds = { lo: 1e-4, hi: 1 - 1e-4, round32: false };

export function clampBoundsFor(precision: Precision): ClampBounds {
  return precision === 'float64' ? CLAMP_FLOAT64 : CLAMP_FLOAT32;
}

/** Per-plane sums of `_neg_loss`'s two terms, negated (the shape the main engine's focalSums returns). */
export interface ClampedFocalSums {
  /** Per plane: sum over gt == 1 of -log(p) (1-p)^2. */
  pos: Float64Array;
  /** Per plane: sum over gt < 1 of -log(1-p) p^2 (1-gt)^4. */
  neg: Float64Array;
  clampedLow?: number;
  clampedHigh?: number;
}

/**
 * A `_neg_loss` pass over one stack: pluggable so that the main engine's SIMD kernel
 * (`(l, g, p, hw, b) => focalSums(l, g, p, hw, b, 0)`) can replace the plain loop below. That
 * kernel follows CornerNet's masked indexing, which drops NaN/+Inf targets where CenterNet's
 * multiply-by-mask gives NaN; both agree on finite data.
 */
export type ClampedFocalFn = (logits: FloatArray, gt: FloatArray, planes: number, HW: number, bounds: ClampBounds) => ClampedFocalSums;

/**
 * CenterNet's `_sigmoid` (clamp to [1e-4, 1-1e-4]) followed by `_neg_loss`, per plane. CenterNet's
 * `_neg_loss` multiplies by `gt.eq(1)` / `gt.lt(1)` masks instead of indexing: targets above 1
 * drop out (weight * 0), but a NaN or +Inf target, or a NaN logit, poisons the sum with NaN.
 */
export const clampedFocalSums: ClampedFocalFn = (logits, gt, planes, HW, bounds) => {
  const pos = new Float64Array(planes);
  const neg = new Float64Array(planes);
  const { lo, hi, round32 } = bounds;
  let clampedLow = 0;
  let clampedHigh = 0;
  for (let plane = 0; plane < planes; plane++) {
    let P = 0;
    let Q = 0;
    const end = (plane + 1) * HW;
    for (let i = plane * HW; i < end; i++) {
      const x = logits[i]!;
      const g = gt[i]!;
      let p = round32 ? Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-x)))) : 1 / (1 + Math.exp(-x));
      // torch.clamp propagates NaN; +-Inf logits land on the bounds.
      if (p < lo) {
        p = lo;
        clampedLow++;
      } else if (p > hi) {
        p = hi;
        clampedHigh++;
      }
      if (g === 1) {
        const q = 1 - p;
        P += -Math.log(p) * q * q;
      } else if (g < 1) {
        const w = 1 - g;
        const w2 = w * w;
        const q = round32 ? Math.fround(1 - p) : 1 - p;
        Q += -Math.log(q) * p * p * (w2 * w2);
      } else if (p !== p || g !== g || g === Infinity) {
        // Masked out by `* neg_inds`, but NaN * 0 and (1 - Inf)^4 * 0 are NaN.
        Q += NaN;
      }
    }
    pos[plane] = P;
    neg[plane] = Q;
  }
  return { pos, neg, clampedLow, clampedHigh };
};

/** `_neg_loss` from its sums: -(P + Q) / N, or the unnormalised -Q when N = 0 (`num_pos == 0`). */
export function clampedFocalLoss(sums: { pos: Float64Array; neg: Float64Array }, positives: number): number {
  let P = 0;
  let Q = 0;
  for (let i = 0; i < sums.pos.length; i++) {
    P += sums.pos[i]!;
    Q += sums.neg[i]!;
  }
  return positives === 0 ? Q : (P + Q) / Math.fround(positives);
}

/** Whether any element of a range is NaN or +-Inf (what `x.sum() * 0` turns into NaN). */
export function anyNonFinite(a: FloatArray, start = 0, end = a.length): boolean {
  for (let i = start; i < end; i++) {
    const v = a[i]!;
    if (v - v !== 0) return true;
  }
  return false;
}


export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Checks a typed array has the element count its dims say (a caller's layout mistake, thrown). */
export function expectLength(what: string, a: { length: number }, n: number): void {
  if (a.length !== n) throw new RangeError(`${what}: ${a.length} elements, expected ${n}`);
}
