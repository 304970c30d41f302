// Shared helpers of the tensor reader tests: the fixture manifest written by
// scripts/gen_npy_fixtures.py, element-wise comparison, error assertions and a byte-counting source.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TensorReadError, type TensorErrorKind } from '../../src/tensor/errors';
import type { Tensor } from '../../src/tensor/tensor';
import type { DType } from '../../src/tensor/dtype';
import type { ByteSource } from '../../src/tensor/source';

export const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'npy');

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** Numbers, or strings for nan/inf and for 64-bit integers (JSON numbers would round them). */
export type ExpectedValue = number | string;

export interface NpyManifestEntry {
  file: string;
  dtype: DType;
  descr: string;
  shape: number[];
  order: 'C' | 'F';
  endian: 'little' | 'big' | 'none';
  version: [number, number];
  values: ExpectedValue[];
  note?: string;
}

export interface NpzMemberManifest {
  key: string;
  fileName: string;
  dtype: DType;
  shape: number[];
  order: 'C' | 'F';
  endian: 'little' | 'big' | 'none';
  values: ExpectedValue[];
}

export interface NpzManifestEntry {
  file: string;
  compressed: boolean;
  members: NpzMemberManifest[];
  nonArrays: string[];
}

export interface SafetensorsManifestEntry {
  file: string;
  metadata: Record<string, string>;
  tensors: { key: string; dtype: DType; stored: string; shape: number[]; values: ExpectedValue[] }[];
}

export interface BrokenEntry {
  file: string;
  format: 'npy' | 'npz' | 'safetensors';
  kind: TensorErrorKind;
  /** 'header': listing fails too; 'data': listing works, reading the array fails. */
  stage: 'header' | 'data';
  key?: string;
  why: string;
}

export interface Manifest {
  npy: NpyManifestEntry[];
  npz: NpzManifestEntry[];
  safetensors: SafetensorsManifestEntry[];
  broken: BrokenEntry[];
}

let cached: Manifest | undefined;
export function manifest(): Manifest {
  cached ??= JSON.parse(readFileSync(fixture('manifest.json'), 'utf8')) as Manifest;
  return cached;
}

function isFloat(d: DType): boolean {
  return d === 'float16' || d === 'bfloat16' || d === 'float32' || d === 'float64';
}

/** Element-wise equality with the manifest's flat C-order values: NaN-aware, -0 aware, exact for 64-bit ints. */
export function assertValues(t: Tensor, expected: readonly ExpectedValue[], label: string): void {
  assert.equal(t.data.length, expected.length, `${label}: element count`);
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    const got = t.data[i]!;
    if (typeof got === 'bigint') {
      assert.equal(got, BigInt(want), `${label}[${i}]`);
    } else if (isFloat(t.dtype)) {
      const w = want === 'nan' ? NaN : want === 'inf' ? Infinity : want === '-inf' ? -Infinity : Number(want);
      assert.ok(Object.is(got, w), `${label}[${i}]: got ${Object.is(got, -0) ? '-0' : got}, want ${Object.is(w, -0) ? '-0' : w}`);
    } else {
      assert.equal(got, Number(want), `${label}[${i}]`);
    }
  }
}

/** `fn` rejects with a TensorReadError of `kind` whose message names `file` (and `member` if given). */
export async function assertTensorError(
  fn: () => Promise<unknown>,
  kind: TensorErrorKind,
  file: string,
  member?: string,
): Promise<TensorReadError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected a ${kind} error for ${file}, but it succeeded`);
  assert.ok(caught instanceof TensorReadError, `expected a TensorReadError, got ${String(caught)}`);
  const err = caught;
  assert.equal(err.kind, kind, `${file}: expected ${kind}, got ${err.kind}: ${err.message}`);
  assert.ok(err.message.includes(file), `message should name the file: ${err.message}`);
  assert.equal(err.file, file);
  if (member !== undefined) {
    assert.equal(err.member, member, `error should name member ${member}: ${err.message}`);
    assert.ok(err.message.includes(member));
  }
  return err;
}

export interface CountingSource extends ByteSource {
  bytesRead: number;
  reads: number;
  ownedReads: number;
}

/** Wraps a source, counting every byte handed out, to prove header reads stay small. */
export function countingSource(inner: ByteSource): CountingSource {
  const s: CountingSource = {
    name: inner.name,
    size: inner.size,
    bytesRead: 0,
    reads: 0,
    ownedReads: 0,
    async read(offset, length) {
      s.bytesRead += length;
      s.reads++;
      return inner.read(offset, length);
    },
    async readOwned(offset, length) {
      s.bytesRead += length;
      s.reads++;
      s.ownedReads++;
      return inner.readOwned(offset, length);
    },
    close: () => inner.close(),
  };
  return s;
}

/** Every DType numpy has, with sample data in the typed array each expects (float16 as values). */
export function sampleTensors(): { dtype: DType; shape: number[]; data: Tensor['data'] }[] {
  const shape = [2, 3];
  return [
    { dtype: 'float16', shape, data: Float32Array.of(0, -0, 1.5, 65504, 2 ** -24, -Infinity) },
    { dtype: 'float32', shape, data: Float32Array.of(0.1, -0, NaN, Infinity, 2 ** -149, -3.4e38) },
    { dtype: 'float64', shape, data: Float64Array.of(0.1, -0, NaN, -Infinity, 5e-324, 1.7976931348623157e308) },
    { dtype: 'int8', shape, data: Int8Array.of(-128, 127, 0, -1, 1, 42) },
    { dtype: 'int16', shape, data: Int16Array.of(-32768, 32767, 0, -1, 1, 42) },
    { dtype: 'int32', shape, data: Int32Array.of(-(2 ** 31), 2 ** 31 - 1, 0, -1, 1, 42) },
    { dtype: 'int64', shape, data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -1n, 0n, 42n) },
    { dtype: 'uint8', shape, data: Uint8Array.of(0, 255, 1, 128, 7, 42) },
    { dtype: 'uint16', shape, data: Uint16Array.of(0, 65535, 1, 32768, 7, 42) },
    { dtype: 'uint32', shape, data: Uint32Array.of(0, 2 ** 32 - 1, 1, 2 ** 31, 7, 42) },
    { dtype: 'uint64', shape, data: BigUint64Array.of(0n, 2n ** 64n - 1n, 2n ** 53n + 1n, 2n ** 63n, 7n, 42n) },
    { dtype: 'bool', shape, data: Uint8Array.of(1, 0, 0, 1, 1, 0) },
  ];
}

/** Same elements, bit for bit (so NaN payloads and -0 count). */
export function assertSameData(actual: Tensor['data'], expected: Tensor['data'], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  if (expected instanceof Float32Array || expected instanceof Float64Array) {
    for (let i = 0; i < expected.length; i++) {
      assert.ok(Object.is(actual[i], expected[i]), `${label}[${i}]: ${String(actual[i])} vs ${String(expected[i])}`);
    }
  } else {
    assert.deepEqual(Array.from(actual as ArrayLike<number | bigint>), Array.from(expected as ArrayLike<number | bigint>), label);
  }
}
