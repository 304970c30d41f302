/**
 * Planes of an N-d array for the tensor viewer, beyond a plain slice: the maximum over one more
 * axis (e.g. over the classes), an optional sigmoid, and the search for the next plane that holds
 * something (a value above a threshold). Memory: one output plane; the array is only read.
 */
import { formatShape, type Tensor } from './tensor';

export interface PlaneSpec {
  rowAxis: number;
  colAxis: number;
  /** Index on every axis (those of rows, columns and the projected axis are ignored). */
  index: readonly number[];
  /** Axis reduced with max (NaN propagates, as torch.amax does). */
  maxAxis?: number;
  /** sigmoid(x) of every value (after the max: the sigmoid is monotonic). */
  sigmoid?: boolean;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let n = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    s[a] = n;
    n *= shape[a]!;
  }
  return s;
}

function check(t: Tensor, p: PlaneSpec): void {
  const nd = t.shape.length;
  const axes = [p.rowAxis, p.colAxis, ...(p.maxAxis !== undefined ? [p.maxAxis] : [])];
  if (axes.some((a) => !Number.isInteger(a) || a < 0 || a >= nd) || new Set(axes).size !== axes.length) {
    throw new RangeError(`axes ${axes.join(', ')} do not name distinct axes of ${formatShape(t.shape)}`);
  }
}

/** The fixed axes (not rows, columns or the projected one), in order. */
export function scrubbedAxes(nd: number, p: Pick<PlaneSpec, 'rowAxis' | 'colAxis' | 'maxAxis'>): number[] {
  const out: number[] = [];
  for (let a = 0; a < nd; a++) if (a !== p.rowAxis && a !== p.colAxis && a !== p.maxAxis) out.push(a);
  return out;
}

/**
 * The plane [rows * cols] (Float32) at `p.index`: values, or their max over `p.maxAxis`, or the
 * sigmoid of those. Arrays of fewer than 2 axes give one row.
 */
export function planeOf(t: Tensor, p: PlaneSpec): { rows: number; cols: number; data: Float32Array } {
  const nd = t.shape.length;
  const src = t.data;
  const big = src instanceof BigInt64Array || src instanceof BigUint64Array;
  const at = (i: number): number => (big ? Number(src[i]!) : (src[i] as number));
  const f = p.sigmoid ? sigmoid : (x: number) => x;
  if (nd < 2) {
    const n = nd === 0 ? 1 : t.shape[0]!;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = f(at(i));
    return { rows: 1, cols: n, data };
  }
  check(t, p);
  const strides = stridesOf(t.shape);
  let base = 0;
  for (const a of scrubbedAxes(nd, p)) {
    const i = p.index[a] ?? 0;
    if (!(Number.isInteger(i) && i >= 0 && i < t.shape[a]!)) throw new RangeError(`index ${i} out of range for axis ${a} of ${formatShape(t.shape)}`);
    base += i * strides[a]!;
  }
  const rows = t.shape[p.rowAxis]!;
  const cols = t.shape[p.colAxis]!;
  const rs = strides[p.rowAxis]!;
  const cs = strides[p.colAxis]!;
  const data = new Float32Array(rows * cols);
  if (p.maxAxis === undefined) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = f(at(base + r * rs + c * cs));
    return { rows, cols, data };
  }
  const m = t.shape[p.maxAxis]!;
  const ms = strides[p.maxAxis]!;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const o = base + r * rs + c * cs;
      let best = -Infinity;
      for (let k = 0; k < m; k++) {
        const v = at(o + k * ms);
        if (v !== v) {
          best = NaN;
          break;
        }
        if (v > best) best = v;
      }
      data[r * cols + c] = f(best);
    }
  }
  return { rows, cols, data };
}

export interface NextPlane {
  /** The index of the plane found (on the scrubbed axes; the others as given). */
  index: number[];
  /** Its largest value (after the sigmoid when asked). */
  max: number;
  /** The search went past the last plane and started again at the first. */
  wrapped: boolean;
  /** Planes looked at. */
  visited: number;
}

/**
 * The next plane after `p.index` (in the order of the scrubbed axes, the last fastest; wrapping
 * around, the current plane last) whose largest value (max over the projected axis too, sigmoid
 * when asked) is above `threshold`; undefined when none is. `direction` -1 searches backwards.
 */
export function nextNonEmptyPlane(t: Tensor, p: PlaneSpec, threshold: number, direction: 1 | -1 = 1): NextPlane | undefined {
  const nd = t.shape.length;
  if (nd < 3) return undefined;
  check(t, p);
  const scrub = scrubbedAxes(nd, p);
  if (!scrub.length) return undefined;
  const sizes = scrub.map((a) => t.shape[a]!);
  const total = sizes.reduce((x, y) => x * y, 1);
  if (total === 0) return undefined;
  // Linear position of the current plane among the scrubbed positions.
  let cur = 0;
  scrub.forEach((a, i) => {
    const v = p.index[a] ?? 0;
    cur = cur * sizes[i]! + (Number.isInteger(v) && v >= 0 && v < sizes[i]! ? v : 0);
  });
  // Above `threshold` after the sigmoid <=> the raw value above logit(threshold).
  const raw = p.sigmoid ? (threshold <= 0 ? -Infinity : threshold >= 1 ? Infinity : Math.log(threshold / (1 - threshold))) : threshold;
  const strides = stridesOf(t.shape);
  const src = t.data;
  const big = src instanceof BigInt64Array || src instanceof BigUint64Array;
  const inPlane: number[] = [p.rowAxis, p.colAxis, ...(p.maxAxis !== undefined ? [p.maxAxis] : [])];
  const inSizes = inPlane.map((a) => t.shape[a]!);
  const inStrides = inPlane.map((a) => strides[a]!);
  const inCount = inSizes.reduce((x, y) => x * y, 1);
  const idx = new Array<number>(inPlane.length).fill(0);
  for (let step = 1; step <= total; step++) {
    const pos = (((cur + direction * step) % total) + total) % total;
    const index = [...p.index.slice(0, nd)];
    while (index.length < nd) index.push(0);
    let rest = pos;
    let base = 0;
    for (let i = scrub.length - 1; i >= 0; i--) {
      const v = rest % sizes[i]!;
      rest = Math.floor(rest / sizes[i]!);
      index[scrub[i]!] = v;
      base += v * strides[scrub[i]!]!;
    }
    // The plane's max, walking its elements (rows, columns, projected axis) with an odometer.
    idx.fill(0);
    let off = base;
    let best = -Infinity;
    for (let n = 0; n < inCount; n++) {
      const v = big ? Number(src[off]!) : (src[off] as number);
      if (v > best) best = v;
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d]! < inSizes[d]!) {
          off += inStrides[d]!;
          break;
        }
        off -= (inSizes[d]! - 1) * inStrides[d]!;
        idx[d] = 0;
      }
    }
    if (best > raw) {
      return { index, max: p.sigmoid ? sigmoid(best) : best, wrapped: direction === 1 ? pos <= cur : pos >= cur, visited: step };
    }
  }
  return undefined;
}

/** The N-d index of flat (C-order) position `flat` in `shape`. */
export function unravelIndex(flat: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(0);
  let r = flat;
  for (let a = shape.length - 1; a >= 0; a--) {
    const n = shape[a]!;
    out[a] = n > 0 ? r % n : 0;
    r = n > 0 ? Math.floor(r / n) : 0;
  }
  return out;
}
