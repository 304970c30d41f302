import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TensorReadError } from '../../src/tensor/errors';
import { memorySource, openFileSource } from '../../src/tensor/source';
import {
  encodeSafetensors,
  listSafetensors,
  readSafetensorsHeader,
  readSafetensorsTensor,
} from '../../src/tensor/safetensors';
import { listArrays, readArray, readTensorFile, readTensorHeaders } from '../../src/tensor/tensorFile';
import { assertSameData, assertTensorError, assertValues, countingSource, fixture, manifest, sampleTensors } from './tensorTestUtil';

test('every safetensors fixture lists its tensors and reads them element by element', async () => {
  const entries = manifest().safetensors;
  assert.ok(entries.length >= 1);
  for (const e of entries) {
    const path = fixture(e.file);
    const listed = await readTensorHeaders(path);
    assert.deepEqual(listed.map((l) => l.key), e.tensors.map((t) => t.key), 'file order');
    for (const want of e.tensors) {
      const h = listed.find((l) => l.key === want.key)!.header;
      assert.equal(h.dtype, want.dtype, want.key);
      assert.equal(h.storedType, want.stored, want.key);
      assert.deepEqual(h.shape, want.shape, want.key);
      assert.equal(h.format, 'safetensors');
      assert.equal(h.fortranOrder, false);
      const t = await readTensorFile(path, want.key);
      assert.equal(t.dtype, want.dtype, want.key);
      assert.deepEqual(t.shape, want.shape, want.key);
      assertValues(t, want.values, `${e.file}:${want.key}`);
    }
    const src = await openFileSource(path);
    try {
      assert.deepEqual((await readSafetensorsHeader(src)).metadata, e.metadata);
    } finally {
      await src.close();
    }
  }
});

test('bf16 and f16 widen exactly to float32', async () => {
  const path = fixture('basic.safetensors');
  const bf = await readTensorFile(path, 'weights.bf16');
  assert.ok(bf.data instanceof Float32Array);
  // 3.1415927 truncated to bfloat16 is 3.140625; 1e30 keeps its top 16 bits.
  assert.equal(bf.data[2], 3.140625);
  const f16 = await readTensorFile(path, 'weights.f16');
  assert.ok(f16.data instanceof Float32Array);
  assert.equal(f16.data[3], 2 ** -24);
});

test('every broken safetensors file fails with the expected kind, naming the file', async () => {
  const broken = manifest().broken.filter((b) => b.format === 'safetensors');
  assert.ok(broken.length >= 10);
  for (const b of broken) {
    const path = fixture(b.file);
    await assertTensorError(() => readTensorHeaders(path), b.kind, path);
    await assertTensorError(() => readTensorFile(path, 'w'), b.kind, path);
  }
});

test('tensor-specific problems name the tensor', async () => {
  const path = fixture('st_size_mismatch.safetensors');
  const e = await assertTensorError(() => readTensorHeaders(path), 'size-mismatch', path, 'w');
  assert.match(e.problem, /cover 8 bytes but shape \[3\] float32 needs 12/);
  const o = await assertTensorError(() => readTensorHeaders(fixture('st_overlap.safetensors')), 'bad-header', fixture('st_overlap.safetensors'), 'b');
  assert.match(o.problem, /overlaps/);
  const m = await assertTensorError(() => readTensorFile(fixture('basic.safetensors'), 'nope'), 'missing-member', fixture('basic.safetensors'));
  assert.match(m.problem, /no tensor named 'nope'/);
  await assertTensorError(() => readTensorFile(fixture('basic.safetensors')), 'missing-member', fixture('basic.safetensors'));
});

test('encodeSafetensors round trips every dtype (bf16 as raw bits)', async () => {
  const samples = sampleTensors().filter((s) => s.dtype !== 'float16');
  const half = Uint16Array.of(0x3c00, 0x8000, 0x7c00, 0x0001); // 1, -0, inf, 2^-24
  const bf = Uint16Array.of(0x3f80, 0xc020, 0x7f80, 0x0001); // 1, -2.5, inf, the smallest bf16 subnormal
  const bytes = encodeSafetensors(
    [
      ...samples.map((s) => ({ key: s.dtype, dtype: s.dtype, shape: s.shape, data: s.data })),
      { key: 'half', dtype: 'float16', shape: [4], data: half },
      { key: 'bf', dtype: 'bfloat16', shape: [2, 2], data: bf },
    ],
    { producer: 'test' },
  );
  const src = memorySource('rt.safetensors', bytes);
  const listed = await listSafetensors(src);
  assert.equal(listed.length, samples.length + 2);
  for (const s of samples) {
    const t = await readArray(src, 'safetensors', s.dtype);
    assertSameData(t.data, s.data, s.dtype);
    assert.deepEqual(t.shape, s.shape);
  }
  assertSameData((await readSafetensorsTensor(src, 'half')).data, Float32Array.of(1, -0, Infinity, 2 ** -24), 'half');
  assertSameData((await readSafetensorsTensor(src, 'bf')).data, Float32Array.of(1, -2.5, Infinity, 2 ** -133), 'bf16');
});

test('listing reads only the 8-byte length and the JSON header', async () => {
  const big = new Float32Array(2 * 1024 * 1024);
  const bytes = encodeSafetensors([{ key: 'w', dtype: 'float32', shape: [2048, 1024], data: big }]);
  const src = countingSource(memorySource('big.safetensors', bytes));
  const listed = await listArrays(src, 'safetensors');
  assert.deepEqual(listed[0]!.header.shape, [2048, 1024]);
  const n = new DataView(bytes.buffer).getUint32(0, true);
  assert.equal(src.bytesRead, 8 + n);
  const src2 = countingSource(memorySource('big.safetensors', bytes));
  const t = await readSafetensorsTensor(src2, 'w');
  assert.equal(src2.ownedReads, 1);
  assert.equal(t.size, 2048 * 1024);
});

test('limits apply to the header and to each tensor', async () => {
  const path = fixture('basic.safetensors');
  await assertTensorError(() => readTensorHeaders(path, { maxHeaderBytes: 64 }), 'too-large', path);
  const e = await assertTensorError(() => readTensorFile(path, 'cube', { maxArrayBytes: 47 }), 'too-large', path, 'cube');
  assert.match(e.problem, /48 bytes/);
});

test('fuzzed headers never throw anything but TensorReadError', async () => {
  const base = new Uint8Array(readFileSync(fixture('basic.safetensors')));
  let seed = 4242;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 500; i++) {
    const b = base.slice(0, i % 5 === 0 ? rand(base.length) : base.length);
    for (let k = 0; k < 3; k++) if (b.length) b[rand(Math.min(b.length, 1200))] = rand(256);
    const src = memorySource('fuzz.safetensors', b);
    try {
      for (const l of await listArrays(src, 'safetensors')) await readArray(src, 'safetensors', l.key);
    } catch (e) {
      assert.ok(e instanceof TensorReadError, `non-TensorReadError: ${String(e)}`);
    }
  }
});
