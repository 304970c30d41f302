/** Element types the readers accept. Anything else (object, structured, complex, strings) is refused. */
export type DType =
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool';

/**
 * The typed array a tensor's elements live in, always in C order and native (little) endianness.
 * float16 and bfloat16 are widened exactly to float32; bool is a Uint8Array of 0/1 (not a JS
 * boolean[] as npyjs returns); 64-bit integers stay BigInt arrays so no value is rounded.
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** Bytes per element as stored in the file. */
export const ITEM_SIZE: Readonly<Record<DType, number>> = {
  float16: 2,
  bfloat16: 2,
  float32: 4,
  float64: 8,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  uint16: 2,
  uint32: 4,
  uint64: 8,
  bool: 1,
};

export function isFloatDType(d: DType): boolean {
  return d === 'float16' || d === 'bfloat16' || d === 'float32' || d === 'float64';
}

export function isIntegerDType(d: DType): boolean {
  return !isFloatDType(d) && d !== 'bool';
}

/** IEEE 754 half -> float, exact (every half is a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let halfTable: Float32Array | undefined;

/** Widen a Uint16Array of half bits into a new Float32Array, through a 64k lookup table. */
export function halfArrayToFloat32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i);
  }
  const t = halfTable;
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

/** Widen a Uint16Array of bfloat16 bits into a new Float32Array. */
export function bfloat16ArrayToFloat32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** Round to the nearest integer, ties to even (the IEEE default the half conversion needs). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const HALF_MAX_PLUS_HALF_ULP = 65520; // 65504 + 16: from here on, ties-to-even rounds to infinity

/**
 * float -> IEEE 754 half bits, round-to-nearest-even, as numpy's astype(float16) does. Works on the
 * double directly (never through float32) so there is no double rounding. NaN becomes the quiet NaN
 * 0x7e00 (its sign and payload are not observable from JS).
 */
export function floatToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= HALF_MAX_PLUS_HALF_ULP) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal range: units of 2^-24; a result of 1024 is exactly the smallest normal's bits.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let e = Math.floor(Math.log2(a));
  // log2 may be off by one near powers of two; powers of two are exact, so correct against them.
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven(a * 2 ** (10 - e)); // in [1024, 2048]
  if (m === 2048) {
    m = 1024;
    e++;
  }
  return sign | ((e + 15) << 10) | (m - 1024);
}

/** Narrow numbers to half bits (for writers); see floatToHalf. */
export function floatArrayToHalf(src: ArrayLike<number>, out = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  return out;
}
