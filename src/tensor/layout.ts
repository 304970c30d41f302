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
 * Fortran (column-major) bytes -> a new C-order buffer. Axes of length 1 do not affect the layout,
 * so after dropping them an array with fewer than two axes is returned as is (no copy).
 *
 * In the C-order output, axis 0 has source stride 1 and the last axis has the largest source
 * stride: for every index of the middle axes, the copy is a 2-D transpose of (axis 0 x last axis),
 * done in tiles so the strided side is only walked for TILE items at a time, while writes run
 * sequentially along the last axis. The middle axes are visited with axis 1 fastest (the smallest
 * source stride among them), so when axis 0 is short -- e.g. (4, 128, 256, 256) -- consecutive
 * tiles read the rest of the cache lines the previous one loaded instead of coming back to them
 * after they were evicted. (Measured: faster than both a C-order walk of the middle axes and a
 * sequence of n-1 batched 2-D transposes.)
 */
export function fortranToC(bytes: Uint8Array, shape: readonly number[], itemSize: number): Uint8Array {
  const dims = shape.filter((d) => d !== 1);
  if (dims.length < 2 || bytes.byteLength === 0) return bytes;
  const out = new Uint8Array(bytes.byteLength);
  const lanes = itemSize === 8 ? 2 : 1; // 8-byte items move as two u32 words
  const wordSize = itemSize === 8 ? 4 : itemSize;
  const src = wordView(bytes, wordSize);
  const dst = wordView(out, wordSize);

  const n = dims.length;
  const fStride = new Array<number>(n); // in words
  const cStride = new Array<number>(n);
  fStride[0] = lanes;
  for (let k = 1; k < n; k++) fStride[k] = fStride[k - 1]! * dims[k - 1]!;
  cStride[n - 1] = lanes;
  for (let k = n - 2; k >= 0; k--) cStride[k] = cStride[k + 1]! * dims[k + 1]!;

  const rows = dims[0]!;
  const cols = dims[n - 1]!;
  const srcColStride = fStride[n - 1]!;
  const dstRowStride = cStride[0]!;
  const mid = dims.slice(1, n - 1);
  const midCount = mid.reduce((a, b) => a * b, 1);
  const midIdx = new Array<number>(mid.length).fill(0);
  let srcBase = 0;
  let dstBase = 0;
  for (let m = 0; m < midCount; m++) {
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const r1 = Math.min(rows, r0 + TILE);
      for (let c0 = 0; c0 < cols; c0 += TILE) {
        const c1 = Math.min(cols, c0 + TILE);
        if (lanes === 1) copyTile1(src, dst, srcBase, dstBase, r0, r1, c0, c1, srcColStride, dstRowStride);
        else copyTile2(src, dst, srcBase, dstBase, r0, r1, c0, c1, srcColStride, dstRowStride);
      }
    }
    // Odometer over the middle axes, axis 1 fastest; offsets updated incrementally.
    for (let k = 0; k < mid.length; k++) {
      const axis = k + 1;
      if (++midIdx[k]! < mid[k]!) {
        srcBase += fStride[axis]!;
        dstBase += cStride[axis]!;
        break;
      }
      midIdx[k] = 0;
      srcBase -= fStride[axis]! * (mid[k]! - 1);
      dstBase -= cStride[axis]! * (mid[k]! - 1);
    }
  }
  return out;
}

// dst[dstBase + r*dstRowStride + c] = src[srcBase + r + c*srcColStride], over one tile.
function copyTile1(
  src: WordArray,
  dst: WordArray,
  srcBase: number,
  dstBase: number,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
  srcColStride: number,
  dstRowStride: number,
): void {
  for (let r = r0; r < r1; r++) {
    let o = dstBase + r * dstRowStride + c0;
    let s = srcBase + r + c0 * srcColStride;
    for (let c = c0; c < c1; c++, s += srcColStride) dst[o++] = src[s]!;
  }
}

// The same for 8-byte items moved as two words.
function copyTile2(
  src: WordArray,
  dst: WordArray,
  srcBase: number,
  dstBase: number,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
  srcColStride: number,
  dstRowStride: number,
): void {
  for (let r = r0; r < r1; r++) {
    let o = dstBase + r * dstRowStride + c0 * 2;
    let s = srcBase + r * 2 + c0 * srcColStride;
    for (let c = c0; c < c1; c++, s += srcColStride) {
      dst[o++] = src[s]!;
      dst[o++] = src[s + 1]!;
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
