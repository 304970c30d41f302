/**
 * Turning stored bytes into a TensorData with as little work as possible: a typed-array view when
 * the bytes are aligned, in-place byte swapping for big-endian data (the readers own their
 * buffers), a cache-blocked transpose for Fortran order, and widening for half types. These are the
 * only per-element loops on the read path; everything else is a view.
 */
import { ITEM_SIZE, bfloat16ArrayToFloat32, halfArrayToFloat32, type DType, type TensorData } from './dtype';

/** Bytes whose start is a multiple of `itemSize` (typed arrays require it); copies only if not. */
export function alignedFor(bytes: Uint8Array, itemSize: number): Uint8Array {
  return bytes.byteOffset % itemSize === 0 ? bytes : bytes.slice();
}

function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Reverse the byte order of every item, in place. `bytes` must be aligned for `itemSize`. */
export function byteSwapInPlace(bytes: Uint8Array, itemSize: number): void {
  const { buffer, byteOffset } = bytes;
  const n = bytes.byteLength / itemSize;
  if (itemSize === 2) {
    const u = new Uint16Array(buffer, byteOffset, n);
    for (let i = 0; i < n; i++) {
      const x = u[i]!;
      u[i] = ((x & 0xff) << 8) | (x >>> 8);
    }
  } else if (itemSize === 4) {
    const u = new Uint32Array(buffer, byteOffset, n);
    for (let i = 0; i < n; i++) u[i] = bswap32(u[i]!);
  } else if (itemSize === 8) {
    // Through u32 lanes: never through Float64Array/BigInt64Array, which could canonicalize NaN
    // payloads or allocate a BigInt per element.
    const u = new Uint32Array(buffer, byteOffset, n * 2);
    for (let i = 0; i < u.length; i += 2) {
      const lo = u[i]!;
      u[i] = bswap32(u[i + 1]!);
      u[i + 1] = bswap32(lo);
    }
  }
}

type WordArray = Uint8Array | Uint16Array | Uint32Array;

function wordView(bytes: Uint8Array, wordSize: number): WordArray {
  const { buffer, byteOffset, byteLength } = bytes;
  if (wordSize === 1) return bytes;
  if (wordSize === 2) return new Uint16Array(buffer, byteOffset, byteLength / 2);
  return new Uint32Array(buffer, byteOffset, byteLength / 4);
}

// 32x32 items per tile: both the read and the write side of a tile stay within L1.
const TILE = 32;

/**
 * Fortran (column-major) bytes -> C order. Axes of length 1 do not affect the layout, so after
 * dropping them an array with fewer than two axes is returned as is (no copy).
 *
 * Fortran order of shape (d0, ..., dn-1) is C order of the reversed shape. The full axis reversal
 * is done as n-1 batched 2-D transposes, each moving one axis to its place:
 *   (dn-1 ... d1 | d0) -> (d0 | dn-1 ... d2 | d1) -> (d0 d1 | dn-1 ... d3 | d2) -> ... -> (d0 ... dn-1)
 * where pass k, per index of the axes already placed, transposes an (R = dn-1*...*dk+1) x (dk)
 * matrix. Every pass is a cache-blocked transpose, unlike a single pass over the reversed strides,
 * which for shapes such as (4, 128, 256, 256) walks memory with a stride of megabytes and misses
 * cache and TLB on nearly every element. The passes ping-pong between the input (which the reader
 * owns) and one new buffer, so the cost is one allocation however many axes there are.
 */
export function fortranToC(bytes: Uint8Array, shape: readonly number[], itemSize: number): Uint8Array {
  const dims = shape.filter((d) => d !== 1);
  if (dims.length < 2 || bytes.byteLength === 0) return bytes;
  const lanes = itemSize === 8 ? 2 : 1; // 8-byte items move as two u32 words
  const wordSize = itemSize === 8 ? 4 : itemSize;
  let from: Uint8Array = bytes;
  let to: Uint8Array = new Uint8Array(bytes.byteLength);
  const n = dims.length;
  let batch = 1;
  let rows = dims.reduce((a, b) => a * b, 1);
  for (let k = 0; k < n - 1; k++) {
    const cols = dims[k]!;
    rows /= cols;
    transposeBatched(wordView(from, wordSize), wordView(to, wordSize), batch, rows, cols, lanes);
    [from, to] = [to, from];
    batch *= cols;
  }
  return from;
}

/** For each of `batch` consecutive rows x cols matrices (items `lanes` words wide): dst = transpose(src). */
function transposeBatched(
  src: WordArray,
  dst: WordArray,
  batch: number,
  rows: number,
  cols: number,
  lanes: number,
): void {
  const matrix = rows * cols * lanes;
  for (let b = 0, base = 0; b < batch; b++, base += matrix) {
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const r1 = Math.min(rows, r0 + TILE);
      for (let c0 = 0; c0 < cols; c0 += TILE) {
        const c1 = Math.min(cols, c0 + TILE);
        if (lanes === 1) copyTile1(src, dst, base, rows, cols, r0, r1, c0, c1);
        else copyTile2(src, dst, base, rows, cols, r0, r1, c0, c1);
      }
    }
  }
}

// src[r][c] -> dst[c][r], reading src rows sequentially within the tile.
function copyTile1(src: WordArray, dst: WordArray, base: number, rows: number, cols: number, r0: number, r1: number, c0: number, c1: number): void {
  for (let r = r0; r < r1; r++) {
    let s = base + r * cols + c0;
    let d = base + c0 * rows + r;
    for (let c = c0; c < c1; c++, d += rows) dst[d] = src[s++]!;
  }
}

function copyTile2(src: WordArray, dst: WordArray, base: number, rows: number, cols: number, r0: number, r1: number, c0: number, c1: number): void {
  const step = rows * 2;
  for (let r = r0; r < r1; r++) {
    let s = base + (r * cols + c0) * 2;
    let d = base + (c0 * rows + r) * 2;
    for (let c = c0; c < c1; c++, d += step) {
      dst[d] = src[s++]!;
      dst[d + 1] = src[s++]!;
    }
  }
}

/**
 * The elements of little-endian, C-order, aligned `bytes` as the TensorData for `dtype`: a view
 * (no copy) except for the half types, which are widened to a new Float32Array.
 */
export function typedView(dtype: DType, bytes: Uint8Array): TensorData {
  const { buffer, byteOffset, byteLength } = bytes;
  const n = byteLength / ITEM_SIZE[dtype];
  switch (dtype) {
    case 'float16':
      return halfArrayToFloat32(new Uint16Array(buffer, byteOffset, n));
    case 'bfloat16':
      return bfloat16ArrayToFloat32(new Uint16Array(buffer, byteOffset, n));
    case 'float32':
      return new Float32Array(buffer, byteOffset, n);
    case 'float64':
      return new Float64Array(buffer, byteOffset, n);
    case 'int8':
      return new Int8Array(buffer, byteOffset, n);
    case 'int16':
      return new Int16Array(buffer, byteOffset, n);
    case 'int32':
      return new Int32Array(buffer, byteOffset, n);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, n);
    case 'uint8':
    case 'bool':
      return bytes;
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, n);
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, n);
    case 'uint64':
      return new BigUint64Array(buffer, byteOffset, n);
  }
}

/** The raw little-endian bytes of a typed array (a view, no copy). */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// The views above reinterpret file bytes (always little-endian here after swapping) as native
// numbers; every platform Node supports is little-endian, but fail loudly rather than silently.
if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
  throw new Error('tensor readers require a little-endian host');
}
