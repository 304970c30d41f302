/**
 * Property-based fuzzing of the tensor readers (fast-check): valid .npy / .npz / .safetensors
 * files of random dtypes, shapes, orders and versions, then mutated (truncated, bytes flipped,
 * header fields forged: absurd shapes, huge header lengths, wrong sizes, bad dtypes). Every input
 * must either read as a consistent array or raise the reader's typed error, within a time and
 * memory bound. Used by the unit suite (a short run) and `npm run fuzz` (100,000+ cases).
 */
import fc from 'fast-check';
import { zipSync } from 'fflate';
import { isTensorReadError } from '../../src/tensor/errors';
import type { DType } from '../../src/tensor/dtype';
import { ITEM_SIZE } from '../../src/tensor/dtype';
import { memorySource } from '../../src/tensor/source';
import { listArrays, readArray, type TensorFormat } from '../../src/tensor/tensorFile';
import type { ReadLimits } from '../../src/tensor/limits';

/** Small limits: a reader that allocates by what a header claims would cross them at once. */
export const FUZZ_LIMITS: Partial<ReadLimits> = {
  maxArrayBytes: 8 * 1024 * 1024,
  maxHeaderBytes: 64 * 1024,
  maxMembers: 64,
  maxTotalUncompressedBytes: 16 * 1024 * 1024,
};

const DESCR: Record<Exclude<DType, 'bfloat16'>, string> = {
  float16: 'f2',
  float32: 'f4',
  float64: 'f8',
  int8: 'i1',
  int16: 'i2',
  int32: 'i4',
  int64: 'i8',
  uint8: 'u1',
  uint16: 'u2',
  uint32: 'u4',
  uint64: 'u8',
  bool: 'b1',
};
const NPY_DTYPES = Object.keys(DESCR) as (keyof typeof DESCR)[];
const ST_CODES = ['F16', 'BF16', 'F32', 'F64', 'I8', 'I16', 'I32', 'I64', 'U8', 'U16', 'U32', 'U64', 'BOOL'];
const ST_SIZE: Record<string, number> = { F16: 2, BF16: 2, F32: 4, F64: 8, I8: 1, I16: 2, I32: 4, I64: 8, U8: 1, U16: 2, U32: 4, U64: 8, BOOL: 1 };

/** A .npy built by hand (any version, byte order, Fortran flag), data random bytes. */
function npyBytes(dtype: keyof typeof DESCR, shape: number[], version: 1 | 2 | 3, big: boolean, fortran: boolean, data: Uint8Array): Uint8Array {
  const order = ITEM_SIZE[dtype] === 1 ? '|' : big ? '>' : '<';
  const dict = `{'descr': '${order}${DESCR[dtype]}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pre = version === 1 ? 10 : 12;
  const padded = dict + ' '.repeat((64 - ((pre + dict.length + 1) % 64)) % 64) + '\n';
  const head = new Uint8Array(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(head.buffer);
  if (version === 1) dv.setUint16(8, padded.length, true);
  else dv.setUint32(8, padded.length, true);
  const text = new TextEncoder().encode(padded);
  const out = new Uint8Array(pre + text.length + data.length);
  out.set(head);
  out.set(text, pre);
  out.set(data, pre + text.length);
  return out;
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 4 });

export const npyArb = fc
  .record({
    dtype: fc.constantFrom(...NPY_DTYPES),
    shape: shapeArb,
    version: fc.constantFrom(1 as const, 2 as const, 3 as const),
    big: fc.boolean(),
    fortran: fc.boolean(),
    seed: fc.integer(),
  })
  .map(({ dtype, shape, version, big, fortran, seed }) => {
    const n = shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype];
    const data = new Uint8Array(n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) data[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
    if (dtype === 'bool') for (let i = 0; i < n; i++) data[i]! &= 1;
    return npyBytes(dtype, shape, version, big, fortran, data);
  });

export const safetensorsArb = fc
  .array(fc.record({ code: fc.constantFrom(...ST_CODES), shape: shapeArb }), { minLength: 0, maxLength: 4 })
  .map((tensors) => {
    let offset = 0;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    tensors.forEach((t, i) => {
      const n = t.shape.reduce((a, b) => a * b, 1) * ST_SIZE[t.code]!;
      header[`t${i}`] = { dtype: t.code, shape: t.shape, data_offsets: [offset, offset + n] };
      offset += n;
    });
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + offset);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  });

/**
 * Zip size fields forged consistently in the central directory and the local header (what an
 * archive bomb or a lying archive looks like): the reader must refuse before allocating them.
 */
export function forgeZipSizes(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(base, fc.constantFrom(0xffffffff, 0x7fffffff, 0x40000000, 0x10000000, 0x01000000, 12345), fc.boolean()).map(([b, size, both]) => {
    const out = b.slice();
    const dv = new DataView(out.buffer);
    for (let i = 0; i + 46 <= out.length; i++) {
      if (dv.getUint32(i, true) !== 0x02014b50) continue; // central directory header
      dv.setUint32(i + 24, size, true); // uncompressed size
      if (both) {
        const local = dv.getUint32(i + 42, true);
        if (local + 30 <= out.length && dv.getUint32(local, true) === 0x04034b50) dv.setUint32(local + 22, size, true);
      }
    }
    return out;
  });
}

export const npzArb = fc
  .record({ members: fc.array(npyArb, { minLength: 0, maxLength: 4 }), compress: fc.boolean() })
  .map(({ members, compress }) => zipSync(Object.fromEntries(members.map((m, i) => [`arr_${i}.npy`, [m, { level: compress ? 6 : 0 }]]))));

/** Mutations of a valid file: the usual corruptions and the forged headers readers must survive. */
export function mutate(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const truncate = fc.tuple(base, fc.double({ min: 0, max: 1, noNaN: true })).map(([b, f]) => b.slice(0, Math.floor(b.length * f)));
  const flip = fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 })).map(([b, flips]) => {
    const out = b.slice();
    if (out.length) for (const [i, x] of flips) out[i % out.length]! ^= x;
    return out;
  });
  // Header text forged: numbers replaced by huge ones, dtype codes swapped, quotes dropped.
  const forge = fc
    .tuple(base, fc.constantFrom('9'.repeat(12), '4294967295', '18446744073709551616', '-1', '1e308', "'|O'", "'<c16'", "[('a', '<f4')]", '', '(', "'"), fc.nat())
    .map(([b, repl, where]) => {
      const text = new TextDecoder('latin1').decode(b.subarray(0, Math.min(b.length, 512)));
      const spots = [...text.matchAll(/\d+|'[^']*'|\(|\)/g)];
      if (!spots.length) return b;
      const m = spots[where % spots.length]!;
      const forged = text.slice(0, m.index) + repl + text.slice(m.index! + m[0].length);
      const head = Uint8Array.from(forged, (c) => c.charCodeAt(0) & 0xff);
      const out = new Uint8Array(head.length + Math.max(0, b.length - 512));
      out.set(head);
      out.set(b.subarray(Math.min(b.length, 512)), head.length);
      return out;
    });
  // Length fields (npy header length, safetensors u64, zip sizes) set to extreme values.
  const lengths = fc.tuple(base, fc.nat(), fc.constantFrom(0xffffffff, 0x7fffffff, 0, 1, 0x10000)).map(([b, at, v]) => {
    const out = b.slice();
    if (out.length >= 4) new DataView(out.buffer).setUint32(at % (out.length - 3), v, true);
    return out;
  });
  return fc.oneof(base, truncate, flip, forge, lengths);
}

/** Allowed growth of external memory per input: the limits above plus slack. */
const MAX_GROWTH = 64 * 1024 * 1024;

export interface FuzzOutcome {
  ok: number;
  typedErrors: number;
}

/**
 * Reads every array of `bytes` as `format`. Throws (a property failure) if anything but a
 * consistent array or a TensorReadError comes out, or if it takes longer than `maxMs`.
 */
export async function checkInput(bytes: Uint8Array, format: TensorFormat, outcome: FuzzOutcome, maxMs = 2000): Promise<void> {
  const t0 = performance.now();
  // External memory (ArrayBuffers) before: a reader that allocates what a header merely claims
  // shows up here even if it then fails (nothing is collected in between).
  const mem0 = process.memoryUsage().arrayBuffers;
  const src = memorySource(`fuzz.${format}`, bytes);
  try {
    const listing = await listArrays(src, format, FUZZ_LIMITS);
    for (const a of listing) {
      const t = await readArray(src, format, a.key, FUZZ_LIMITS);
      const n = t.shape.reduce((x, y) => x * y, 1);
      if (t.size !== n || t.data.length !== n) throw new Error(`inconsistent array: shape [${t.shape}] but ${t.data.length} elements`);
      if (t.dtype !== a.header.dtype || t.shape.join() !== a.header.shape.join()) throw new Error('the array differs from its header');
    }
    outcome.ok++;
  } catch (e) {
    if (!isTensorReadError(e)) throw new Error(`not a typed error: ${(e as Error)?.stack ?? e}`);
    if (!e.message.startsWith('fuzz.')) throw new Error(`the error does not name the file: ${e.message}`);
    outcome.typedErrors++;
  }
  const ms = performance.now() - t0;
  if (ms > maxMs) throw new Error(`took ${ms.toFixed(0)} ms`);
  const grew = process.memoryUsage().arrayBuffers - mem0;
  if (grew > MAX_GROWTH) throw new Error(`allocated ${(grew / 2 ** 20).toFixed(0)} MB for a ${bytes.length}-byte ${format} input`);
}

export function fuzzProperties(outcome: FuzzOutcome) {
  return [
    fc.asyncProperty(mutate(npyArb), (b) => checkInput(b, 'npy', outcome)),
    fc.asyncProperty(fc.oneof(mutate(npzArb), forgeZipSizes(npzArb)), (b) => checkInput(b, 'npz', outcome)),
    fc.asyncProperty(mutate(safetensorsArb), (b) => checkInput(b, 'safetensors', outcome)),
    // Random bytes behind each format's magic.
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }).map((b) => Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, ...b])), (b) => checkInput(b, 'npy', outcome)),
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }).map((b) => Uint8Array.from([0x50, 0x4b, 0x03, 0x04, ...b])), (b) => checkInput(b, 'npz', outcome)),
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), (b) => checkInput(b, 'safetensors', outcome)),
  ];
}
