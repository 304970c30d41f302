/**
 * Statistics and 2-D planes of any array, for the tensor viewer, hovers, explorer badges and
 * diagnostics. One pass, float64 accumulators; NaN and +-Inf are counted, not mixed into the
 * moments.
 */
import { formatShape, type Tensor } from './tensor';

export interface TensorStats {
  count: number;
  /** Finite values only (null when there are none). */
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  nan: number;
  posInf: number;
  negInf: number;
  /** Fraction of the finite values outside [0, 1] (a target heatmap or a mask should have none). */
  outside01: number;
  /** Values exactly 1 (positives of a target heatmap). */
  ones: number;
  /** Flat (C-order) index of the first NaN or ±Inf, when there is one. */
  firstNonFinite?: number;
}

export function tensorStats(t: Tensor): TensorStats {
  const d = t.data;
  let nan = 0;
  let posInf = 0;
  let negInf = 0;
  let outside = 0;
  let ones = 0;
  let n = 0;
  let min = Infinity;
  let max = -Infinity;
  // Welford would be steadier, but two float64 sums are exact enough for display and twice as fast.
  let sum = 0;
  let sumSq = 0;
  let firstNonFinite = -1;
  const big = d instanceof BigInt64Array || d instanceof BigUint64Array;
  for (let i = 0; i < d.length; i++) {
    const v = big ? Number(d[i]!) : (d[i] as number);
    if (v !== v) {
      nan++;
      if (firstNonFinite < 0) firstNonFinite = i;
      continue;
    }
    if (v === Infinity) {
      posInf++;
      if (firstNonFinite < 0) firstNonFinite = i;
      continue;
    }
    if (v === -Infinity) {
      negInf++;
      if (firstNonFinite < 0) firstNonFinite = i;
      continue;
    }
    n++;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    sumSq += v * v;
    if (v < 0 || v > 1) outside++;
    else if (v === 1) ones++;
  }
  const mean = n ? sum / n : null;
  const variance = n ? Math.max(0, sumSq / n - (sum / n) ** 2) : null;
  return {
    count: d.length,
    min: n ? min : null,
    max: n ? max : null,
    mean,
    std: variance === null ? null : Math.sqrt(variance),
    nan,
    posInf,
    negInf,
    outside01: n ? outside / n : 0,
    ones,
    ...(firstNonFinite >= 0 ? { firstNonFinite } : {}),
  };
}

/**
 * The 2-D plane of an N-d array spanned by axes `rowAxis` (y) and `colAxis` (x), the other axes
 * fixed at `index[axis]`. Returns Float32 values [rows * cols] (64-bit integers converted).
 */
export function plane2d(t: Tensor, rowAxis: number, colAxis: number, index: readonly number[]): { rows: number; cols: number; data: Float32Array } {
  const nd = t.shape.length;
  if (nd === 0) return { rows: 1, cols: 1, data: Float32Array.of(Number(t.data[0] ?? NaN)) };
  if (nd === 1) {
    const data = new Float32Array(t.shape[0]!);
    for (let i = 0; i < data.length; i++) data[i] = Number(t.data[i]!);
    return { rows: 1, cols: data.length, data };
  }
  if (rowAxis === colAxis || rowAxis < 0 || colAxis < 0 || rowAxis >= nd || colAxis >= nd) {
    throw new RangeError(`axes ${rowAxis}, ${colAxis} do not name two axes of ${formatShape(t.shape)}`);
  }
  const strides = new Array<number>(nd);
  let s = 1;
  for (let a = nd - 1; a >= 0; a--) {
    strides[a] = s;
    s *= t.shape[a]!;
  }
  let base = 0;
  for (let a = 0; a < nd; a++) {
    if (a === rowAxis || a === colAxis) continue;
    const i = index[a] ?? 0;
    if (!(i >= 0 && i < t.shape[a]!)) throw new RangeError(`index ${i} out of range for axis ${a} of ${formatShape(t.shape)}`);
    base += i * strides[a]!;
  }
  const rows = t.shape[rowAxis]!;
  const cols = t.shape[colAxis]!;
  const data = new Float32Array(rows * cols);
  const rs = strides[rowAxis]!;
  const cs = strides[colAxis]!;
  const src = t.data;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) data[r * cols + c] = Number(src[base + r * rs + c * cs]!);
  }
  return { rows, cols, data };
}

/** Counts of finite values in `bins` equal bins over [lo, hi] (values outside go to the end bins). */
export function histogram(data: ArrayLike<number>, bins: number, lo: number, hi: number): Uint32Array {
  const out = new Uint32Array(bins);
  const span = hi > lo ? bins / (hi - lo) : 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) continue;
    let b = Math.floor((v - lo) * span);
    b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
    out[b]++;
  }
  return out;
}
