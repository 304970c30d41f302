/** NaN/Inf counts of the arrays read (the side view, badges and the report's input list show them). */
import { countNonFiniteSimd } from './focalSimd';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * NaN and +-Inf values, from the exponent bits (all ones): integer work only, one pass, ~10x
 * faster than comparing the values in V8 (this runs over every array read, 129 MB in the
 * realistic case).
 */
/**
 * Whether an array said to hold logits looks like probabilities: every finite value in [0, 1]
 * (trained heatmap logits sit around -4.6 and below; CenterNet's `_sigmoid` works in place, so an
 * output saved after the loss holds sigmoid values). Also how many sit exactly at `_sigmoid`'s
 * float32 clamp bounds, a second tell.
 */
export function probabilityLike(a: Float32Array | Float64Array): { all01: boolean; min: number; max: number; atBounds: number; finite: number } {
  let min = Infinity;
  let max = -Infinity;
  let atBounds = 0;
  let finite = 0;
  const lo = Math.fround(1e-4);
  const hi = Math.fround(1 - 1e-4);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) continue;
    finite++;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === lo || v === hi) atBounds++;
  }
  return { all01: finite > 0 && min >= 0 && max <= 1, min, max, atBounds, finite };
}

export function countNonFiniteValues(a: Float32Array | Float64Array): number {
  let n = 0;
  if (a instanceof Float32Array) {
    const simd = a.length >= 1024 ? countNonFiniteSimd(a) : undefined;
    if (simd !== undefined) return simd;
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
    // (bits & exponent mask) + one exponent unit reaches 2^31 exactly when the exponent is all ones.
    for (let i = 0; i < u.length; i++) n += ((u[i]! & 0x7f800000) + 0x00800000) >>> 31;
  } else {
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
    const high = LITTLE_ENDIAN ? 1 : 0; // the word holding sign and exponent
    for (let i = high; i < u.length; i += 2) n += ((u[i]! & 0x7ff00000) + 0x00100000) >>> 31;
  }
  return n;
}
