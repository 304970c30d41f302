import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { TensorReadError } from '../../src/tensor/errors';
import { memorySource, openFileSource } from '../../src/tensor/source';
import { crc32 } from '../../src/tensor/crc32';
import { encodeNpy } from '../../src/tensor/npy';
import { encodeNpz, listNpz, readNpzMember, readNpzMemberHeader } from '../../src/tensor/npz';
import { listArrays, readArray, readTensorFile, readTensorHeaders } from '../../src/tensor/tensorFile';
import {
  assertSameData,
  assertTensorError,
  assertValues,
  countingSource,
  fixture,
  manifest,
  sampleTensors,
} from './tensorTestUtil';

test('every npz fixture lists its members and reads each one element by element', async () => {
  const entries = manifest().npz;
  assert.ok(entries.length >= 6);
  for (const e of entries) {
    const path = fixture(e.file);
    const src = await openFileSource(path);
    try {
      const members = await listNpz(src);
      const arrays = members.filter((m) => m.isArray);
      assert.deepEqual(arrays.map((m) => m.key), e.members.map((m) => m.key), e.file);
      assert.deepEqual(arrays.map((m) => m.fileName), e.members.map((m) => m.fileName), e.file);
      assert.deepEqual(members.filter((m) => !m.isArray).map((m) => m.fileName), e.nonArrays, e.file);
      for (const m of arrays) {
        assert.equal(m.method, e.compressed ? 'deflated' : 'stored', `${e.file}:${m.key}`);
        const h = await readNpzMemberHeader(src, m);
        const want = e.members.find((x) => x.key === m.key)!;
        assert.equal(h.dtype, want.dtype, `${e.file}:${m.key}`);
        assert.deepEqual(h.shape, want.shape, `${e.file}:${m.key}`);
        assert.equal(h.fortranOrder, want.order === 'F', `${e.file}:${m.key}`);
        assert.equal(h.byteOrder, want.endian, `${e.file}:${m.key}`);
        assert.equal(h.format, 'npz');
      }
    } finally {
      await src.close();
    }
    const listed = await readTensorHeaders(path);
    assert.deepEqual(listed.map((l) => l.key), e.members.map((m) => m.key), e.file);
    for (const m of e.members) {
      const t = await readTensorFile(path, m.key);
      assert.equal(t.dtype, m.dtype, `${e.file}:${m.key}`);
      assert.deepEqual(t.shape, m.shape, `${e.file}:${m.key}`);
      assertValues(t, m.values, `${e.file}:${m.key}`);
    }
  }
});

test('np.savez writes ZIP64 local extras; path-like keys keep their slashes', async () => {
  const src = await openFileSource(fixture('savez_basic.npz'));
  try {
    const members = await listNpz(src);
    const sub = members.find((m) => m.key === 'sub/dir/offsets');
    assert.ok(sub, 'path-like key listed');
    assert.equal(sub.fileName, 'sub/dir/offsets.npy');
    // The local header's sizes are 0xffffffff with a ZIP64 extra field (numpy's force_zip64).
    const local = await src.read(sub.localHeaderOffset, 30);
    assert.equal(new DataView(local.buffer, local.byteOffset).getUint32(18, true), 0xffffffff);
    const t = await readNpzMember(src, 'sub/dir/offsets');
    assert.deepEqual(Array.from(t.data as Float32Array), [0.25, -0.75]);
  } finally {
    await src.close();
  }
});

test('every broken npz fails with the expected kind, naming the file (and the member)', async () => {
  const broken = manifest().broken.filter((b) => b.format === 'npz');
  assert.ok(broken.length >= 10);
  for (const b of broken) {
    const path = fixture(b.file);
    if (b.key !== undefined) {
      const member = `${b.key}.npy`;
      await assertTensorError(() => readTensorFile(path, b.key), b.kind, path, member);
      if (b.stage === 'header') await assertTensorError(() => readTensorHeaders(path), b.kind, path, member);
      else await readTensorHeaders(path); // the directory and headers are fine; only the data is bad
    } else {
      await assertTensorError(() => readTensorHeaders(path), b.kind, path);
      await assertTensorError(() => readTensorFile(path, 'a'), b.kind, path);
    }
  }
});

test('a CRC mismatch is reported with both checksums', async () => {
  const path = fixture('npz_bad_crc_stored.npz');
  const e = await assertTensorError(() => readTensorFile(path, 'heatmap'), 'corrupt', path, 'heatmap.npy');
  assert.match(e.problem, /CRC-32 mismatch: data has 0x[0-9a-f]{8}, the archive records 0x[0-9a-f]{8}/);
  // Other members of the same archive still read.
  const ok = await readTensorFile(path, 'mask');
  assert.deepEqual(Array.from(ok.data as Uint8Array), [1, 0, 1, 1]);
});

test('missing keys and non-array members are refused clearly', async () => {
  const path = fixture('mixed_members.npz');
  const missing = await assertTensorError(() => readTensorFile(path, 'nope'), 'missing-member', path);
  assert.match(missing.problem, /no array named 'nope' \(available: values\)/);
  await assertTensorError(() => readTensorFile(path, 'README.txt'), 'unsupported-format', path, 'README.txt');
  await assertTensorError(() => readTensorFile(path), 'missing-member', path);
});

test('encodeNpz round trips every dtype, stored and deflated', async () => {
  const samples = sampleTensors();
  for (const compress of [false, true]) {
    const bytes = encodeNpz(samples.map((t) => ({ key: `${t.dtype}`, tensor: t })), { compress });
    const src = memorySource('rt.npz', bytes);
    const members = await listNpz(src);
    assert.deepEqual(members.map((m) => m.key), samples.map((s) => s.dtype));
    assert.ok(members.every((m) => m.method === (compress ? 'deflated' : 'stored')));
    for (const s of samples) {
      const t = await readArray(src, 'npz', s.dtype);
      assert.equal(t.dtype, s.dtype);
      assert.deepEqual(t.shape, s.shape);
      assertSameData(t.data, s.data, `${s.dtype} compress=${compress}`);
    }
  }
  assert.throws(() => encodeNpz([{ key: 'a', tensor: samples[0]! }, { key: 'a', tensor: samples[1]! }]), /duplicate/);
});

test('stored members decode as zero-copy views on one exact read', async () => {
  const data = Float64Array.from({ length: 1000 }, (_, i) => i / 7);
  const bytes = encodeNpz([{ key: 'x', tensor: { dtype: 'float64', shape: [1000], data } }]);
  const src = countingSource(memorySource('v.npz', bytes));
  const t = await readNpzMember(src, 'x');
  assert.equal(src.ownedReads, 1);
  const npyLen = encodeNpy({ dtype: 'float64', shape: [1000], data }).length;
  assert.equal((t.data as Float64Array).byteOffset, 128, 'a view after the npy header');
  assert.equal(t.data.buffer.byteLength, npyLen, 'the buffer is the one owned read of the member');
  assertSameData(t.data, data, 'x');
});

test('listing and member headers read only a few bytes of a big archive', async () => {
  const big = new Float32Array(4 * 1024 * 1024).map((_, i) => (i % 1000) / 10);
  for (const compress of [false, true]) {
    const bytes = encodeNpz(
      [
        { key: 'a', tensor: { dtype: 'float32', shape: [2048, 2048], data: big } },
        { key: 'b', tensor: { dtype: 'float32', shape: [4096, 1024], data: big } },
      ],
      { compress },
    );
    const src = countingSource(memorySource('big.npz', bytes));
    const listed = await listArrays(src, 'npz');
    assert.deepEqual(listed.map((l) => l.header.shape), [[2048, 2048], [4096, 1024]]);
    assert.ok(src.bytesRead < 8192, `compress=${compress}: read ${src.bytesRead} of ${bytes.length} bytes`);
    assert.equal(src.ownedReads, 0);
  }
});

test('declared sizes that disagree with the deflate stream are corrupt, without growing the buffer', async () => {
  const tensor = { dtype: 'int32' as const, shape: [64], data: Int32Array.from({ length: 64 }, (_, i) => i) };
  const good = encodeNpz([{ key: 'a', tensor }], { compress: true });
  const cdPos = good.length - 22 - 46 - 'a.npy'.length;
  const dv = new DataView(good.buffer);
  const size = dv.getUint32(cdPos + 24, true);
  for (const delta of [-1, 1]) {
    const bad = good.slice();
    const bdv = new DataView(bad.buffer);
    bdv.setUint32(22, size + delta, true); // local header
    bdv.setUint32(cdPos + 24, size + delta, true); // central directory
    const e = await assertTensorError(() => readNpzMember(memorySource('sz.npz', bad), 'a'), 'corrupt', 'sz.npz', 'a.npy');
    assert.match(e.problem, delta < 0 ? /more than/ : /only/);
  }
  // A declared size no deflate stream could reach is refused before allocating for it.
  const bomb = good.slice();
  const bdv = new DataView(bomb.buffer);
  bdv.setUint32(22, 0xfffffff0, true);
  bdv.setUint32(cdPos + 24, 0xfffffff0, true);
  const e = await assertTensorError(() => readNpzMember(memorySource('bomb.npz', bomb), 'a'), 'corrupt', 'bomb.npz', 'a.npy');
  assert.match(e.problem, /impossible for \d+ deflated bytes/);
  await assertTensorError(
    () => readNpzMember(memorySource('bomb.npz', bomb), 'a', { maxArrayBytes: 2 ** 30 }),
    'too-large',
    'bomb.npz',
    'a.npy',
  );
});

test('archive limits: member count and total uncompressed size', async () => {
  const t = { dtype: 'uint8' as const, shape: [100], data: new Uint8Array(100) };
  const bytes = encodeNpz([1, 2, 3].map((i) => ({ key: `m${i}`, tensor: t })));
  await assertTensorError(() => listNpz(memorySource('n.npz', bytes), { maxMembers: 2 }), 'too-large', 'n.npz');
  await assertTensorError(() => listNpz(memorySource('n.npz', bytes), { maxTotalUncompressedBytes: 500 }), 'too-large', 'n.npz');
  assert.equal((await listNpz(memorySource('n.npz', bytes), { maxMembers: 3 })).length, 3);
});

test('crc32 matches zlib', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const zcrc = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32; // Node >= 20.15
  let seed = 7;
  for (const n of [1, 7, 8, 9, 63, 64, 1000, 65537]) {
    const b = Uint8Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
    if (zcrc) assert.equal(crc32(b), zcrc(b) >>> 0, `n=${n}`);
    // Incremental use gives the same result.
    assert.equal(crc32(b.subarray(n >> 1), crc32(b.subarray(0, n >> 1))), crc32(b));
    // Views starting at every alignment (the word loop starts after an unaligned head).
    for (let off = 1; off < 8 && off < n; off++) {
      const v = b.subarray(off);
      if (zcrc) assert.equal(crc32(v), zcrc(v) >>> 0, `n=${n} offset=${off}`);
      assert.equal(crc32(v), crc32(v.slice()), `n=${n} offset=${off} (copy)`);
    }
  }
});

test('fuzzed archives never throw anything but TensorReadError', async () => {
  const base = new Uint8Array(readFileSync(fixture('savez_compressed_basic.npz')));
  let seed = 99;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 400; i++) {
    const b = base.slice(0, i % 5 === 0 ? rand(base.length) : base.length);
    for (let k = 0; k < 4; k++) if (b.length) b[rand(b.length)] = rand(256);
    const src = memorySource('fuzz.npz', b);
    try {
      for (const l of await listArrays(src, 'npz')) await readArray(src, 'npz', l.key);
    } catch (e) {
      assert.ok(e instanceof TensorReadError, `non-TensorReadError: ${String(e)}`);
    }
  }
});

test('archives with a comment (end record not at the very end) are found by the backwards search', async () => {
  const t = { dtype: 'int16' as const, shape: [3], data: Int16Array.of(1, -2, 3) };
  const base = encodeNpz([{ key: 'k', tensor: t }]);
  const comment = new TextEncoder().encode('PK\x05\x06 a comment that even contains an end-record signature');
  const withComment = new Uint8Array(base.length + comment.length);
  withComment.set(base);
  withComment.set(comment, base.length);
  new DataView(withComment.buffer).setUint16(base.length - 2, comment.length, true);
  const got = await readNpzMember(memorySource('c.npz', withComment), 'k');
  assertSameData(got.data, t.data, 'commented archive');

  // Junk appended after the record (comment length 0) is tolerated, as Python's zipfile does.
  const junk = new Uint8Array(base.length + 5);
  junk.set(base);
  const got2 = await readNpzMember(memorySource('j.npz', junk), 'k');
  assertSameData(got2.data, t.data, 'trailing junk');
});
