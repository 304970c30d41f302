import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TensorReadError } from '../../src/tensor/errors';
import { floatToHalf, halfToFloat, ITEM_SIZE, type DType, type TensorData } from '../../src/tensor/dtype';
import { memorySource, openFileSource, useBlockingReads, type ByteSource } from '../../src/tensor/source';
import {
  decodeNpy,
  encodeNpy,
  parseNpyHeader,
  readNpy,
  readNpyHeader,
} from '../../src/tensor/npy';
import { listArrays, readTensorFile, readTensorHeaders, tensorFormatOf } from '../../src/tensor/tensorFile';
import {
  assertSameData,
  assertTensorError,
  assertValues,
  countingSource,
  fixture,
  manifest,
  sampleTensors,
} from './tensorTestUtil';

test('every valid .npy fixture reads element by element as numpy wrote it', async () => {
  const entries = manifest().npy;
  assert.ok(entries.length > 100, 'manifest lists the dtype x order x endianness x version matrix');
  for (const e of entries) {
    const path = fixture(e.file);
    const t = await readTensorFile(path);
    assert.equal(t.dtype, e.dtype, e.file);
    assert.deepEqual(t.shape, e.shape, e.file);
    assert.equal(t.size, e.values.length, e.file);
    assertValues(t, e.values, e.file);

    // Same result from bytes already in memory (the npz member path), which also exercises the
    // misaligned copy path for misaligned_f8.npy.
    assertValues(decodeNpy(new Uint8Array(readFileSync(path)), e.file), e.values, `${e.file} (decodeNpy)`);
  }
});

test('header-only reads describe every valid fixture', async () => {
  for (const e of manifest().npy) {
    const src = await openFileSource(fixture(e.file));
    try {
      const h = await readNpyHeader(src);
      assert.equal(h.dtype, e.dtype, e.file);
      assert.deepEqual(h.shape, e.shape, e.file);
      assert.equal(h.size, e.values.length, e.file);
      assert.equal(h.fortranOrder, e.order === 'F', e.file);
      assert.equal(h.byteOrder, e.endian, e.file);
      assert.equal(h.storedType, e.descr, e.file);
      assert.deepEqual(h.npyVersion, e.version, e.file);
      assert.equal(h.dataBytes, e.values.length * ITEM_SIZE[e.dtype], e.file);
      assert.equal(h.format, 'npy');
      // parseNpyHeader on the whole file agrees with the ranged read.
      assert.deepEqual(parseNpyHeader(new Uint8Array(readFileSync(fixture(e.file))), e.file).shape, e.shape);
    } finally {
      await src.close();
    }
    const listed = await readTensorHeaders(fixture(e.file));
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.key, undefined);
    assert.deepEqual(listed[0]!.header.shape, e.shape);
  }
});

test('stored types are reported as written', async () => {
  const h = await readTensorHeaders(fixture('f8_be_f_v2.npy'));
  assert.equal(h[0]!.header.storedType, '>f8');
  const q = await readTensorHeaders(fixture('question_mark_bool.npy'));
  assert.equal(q[0]!.header.storedType, '?');
  assert.equal(q[0]!.header.dtype, 'bool');
});

test('every broken .npy fails with the expected kind, naming the file', async () => {
  const broken = manifest().broken.filter((b) => b.format === 'npy');
  assert.ok(broken.length >= 30);
  for (const b of broken) {
    const path = fixture(b.file);
    await assertTensorError(() => readTensorFile(path), b.kind, path);
    await assertTensorError(() => readTensorHeaders(path), b.kind, path);
    await assertTensorError(async () => decodeNpy(new Uint8Array(readFileSync(path)), path), b.kind, path);
  }
});

test('blocking reads (the CLI) read every file and fail on every broken one exactly as the async ones', async () => {
  const { npy, broken } = manifest();
  const npyBroken = broken.filter((b) => b.format === 'npy');
  const asyncResults = await Promise.all(npy.map((e) => readTensorFile(fixture(e.file))));
  useBlockingReads(true);
  try {
    for (let i = 0; i < npy.length; i++) {
      const t = await readTensorFile(fixture(npy[i]!.file));
      assert.deepEqual(t.shape, asyncResults[i]!.shape);
      assertSameData(t.data, asyncResults[i]!.data, npy[i]!.file);
    }
    for (const b of npyBroken) {
      await assertTensorError(() => readTensorFile(fixture(b.file)), b.kind, fixture(b.file));
      await assertTensorError(() => readTensorHeaders(fixture(b.file)), b.kind, fixture(b.file));
    }
    await assertTensorError(() => readTensorFile(fixture('no_such_file.npy')), 'io', fixture('no_such_file.npy'));
    await assertTensorError(() => openFileSource(fixture('.')), 'io', fixture('.'));
  } finally {
    useBlockingReads(false);
  }
});

test('specific refusals carry a plain explanation', async () => {
  const obj = await assertTensorError(() => readTensorFile(fixture('object_pickle.npy')), 'unsupported-dtype', fixture('object_pickle.npy'));
  assert.match(obj.problem, /pickle, which is never loaded/);
  const st = await assertTensorError(() => readTensorFile(fixture('structured.npy')), 'unsupported-dtype', fixture('structured.npy'));
  assert.match(st.problem, /structured dtype/);
  const c = await assertTensorError(() => readTensorFile(fixture('complex64.npy')), 'unsupported-dtype', fixture('complex64.npy'));
  assert.match(c.problem, /complex/);
  const tr = await assertTensorError(() => readTensorFile(fixture('truncated_data.npy')), 'truncated', fixture('truncated_data.npy'));
  assert.match(tr.problem, /needs 96 data bytes \(224 bytes in all\) but the file has 219 bytes/);
  const inj = await assertTensorError(
    () => readTensorFile(fixture('bad_header_eval_injection.npy')),
    'bad-header',
    fixture('bad_header_eval_injection.npy'),
  );
  assert.match(inj.problem, /only literals are allowed/);
  const trail = await assertTensorError(() => readTensorFile(fixture('trailing_garbage.npy')), 'size-mismatch', fixture('trailing_garbage.npy'));
  assert.match(trail.problem, /8 unexpected bytes/);
});

test('a huge declared shape is refused from the header alone, before any data read or allocation', async () => {
  for (const name of ['huge_shape_overflow.npy', 'huge_shape_over_limit.npy', 'huge_shape_tiny_file.npy', 'huge_header_length.npy']) {
    const path = fixture(name);
    const inner = await openFileSource(path);
    const src = countingSource(inner);
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    let err: unknown;
    try {
      await readNpy(src);
    } catch (e) {
      err = e;
    }
    const ms = performance.now() - t0;
    await inner.close();
    assert.ok(err instanceof TensorReadError, `${name}: ${String(err)}`);
    assert.ok(err.kind === 'truncated' || err.kind === 'too-large', `${name}: ${err.kind}`);
    assert.equal(src.ownedReads, 0, `${name}: the data range must never be read`);
    assert.ok(src.bytesRead < 256, `${name}: read ${src.bytesRead} bytes`);
    assert.ok(ms < 100, `${name}: took ${ms} ms`);
    assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, `${name}: array buffers grew`);
  }
});

test('limits are configurable', async () => {
  const path = fixture('f8_le_c_v1.npy');
  await assertTensorError(() => readTensorFile(path, undefined, { maxArrayBytes: 95 }), 'too-large', path);
  await assertTensorError(() => readTensorFile(path, undefined, { maxHeaderBytes: 100 }), 'too-large', path);
  const ok = await readTensorFile(path, undefined, { maxArrayBytes: 96 });
  assert.equal(ok.size, 12);
});

test('a header read on a big file reads only the first bytes', async () => {
  const big = encodeNpy({ dtype: 'float32', shape: [1024, 4096], data: new Float32Array(1024 * 4096) });
  const src = countingSource(memorySource('big.npy', big));
  const h = await readNpyHeader(src);
  assert.deepEqual(h.shape, [1024, 4096]);
  assert.ok(src.bytesRead <= 128 + 12, `read ${src.bytesRead} bytes`);
  assert.equal(src.reads, 2);
  const listed = await listArrays(countingSource(memorySource('big.npy', big)), 'npy');
  assert.deepEqual(listed[0]!.header.shape, [1024, 4096]);

  // A full read is one owned read of exactly the data range.
  const src2 = countingSource(memorySource('big.npy', big));
  const t = await readNpy(src2);
  assert.equal(src2.ownedReads, 1);
  assert.equal(src2.bytesRead, 140 + 1024 * 4096 * 4);
  assert.equal(t.size, 1024 * 4096);
});

test('C-order little-endian data is a zero-copy view on the owned read', async () => {
  const bytes = encodeNpy({ dtype: 'float64', shape: [4], data: Float64Array.of(1, 2, 3, 4) });
  const t = decodeNpy(bytes, 'x.npy');
  assert.equal(t.data.buffer, bytes.buffer, 'view, not a copy');
  assert.equal((t.data as Float64Array).byteOffset, 128);
});

test('encode -> decode round trips every dtype and version; output is byte-identical to numpy', async () => {
  for (const s of sampleTensors()) {
    for (const version of [1, 2, 3] as const) {
      const bytes = encodeNpy(s, { version });
      assert.equal(bytes[6], version);
      const t = decodeNpy(bytes, `${s.dtype}.npy`);
      assert.equal(t.dtype, s.dtype);
      assert.deepEqual(t.shape, s.shape);
      assertSameData(t.data, s.data, `${s.dtype} v${version}`);
      const viaSource = await readNpy(memorySource(`${s.dtype}.npy`, bytes));
      assertSameData(viaSource.data, s.data, `${s.dtype} v${version} (source)`);
    }
  }
  // numpy's own files for the manifest's C-order little-endian matrices: same bytes.
  const codes: Partial<Record<DType, string>> = {
    float16: 'f2_le', float32: 'f4_le', float64: 'f8_le', int8: 'i1_na', int16: 'i2_le', int32: 'i4_le',
    int64: 'i8_le', uint8: 'u1_na', uint16: 'u2_le', uint32: 'u4_le', uint64: 'u8_le', bool: 'b1_na',
  };
  for (const [dtype, code] of Object.entries(codes)) {
    for (const v of [1, 2, 3] as const) {
      const name = `${code}_c_v${v}.npy`;
      const numpyBytes = new Uint8Array(readFileSync(fixture(name)));
      const t = decodeNpy(numpyBytes.slice(), name);
      assert.equal(t.dtype, dtype);
      assert.deepEqual(encodeNpy(t, { version: v }), numpyBytes, `${name}: encodeNpy must reproduce numpy's bytes`);
    }
  }
  // numpy picks 1.0 by default, and so do we.
  assert.equal(encodeNpy({ dtype: 'uint8', shape: [], data: Uint8Array.of(7) })[6], 1);
});

test('encodeNpy refuses what numpy cannot hold or what does not match', () => {
  assert.throws(() => encodeNpy({ dtype: 'bfloat16', shape: [1], data: Float32Array.of(1) }), /bfloat16/);
  assert.throws(() => encodeNpy({ dtype: 'float32', shape: [3], data: Float32Array.of(1) }), /elements/);
  assert.throws(() => encodeNpy({ dtype: 'int32', shape: [1], data: Float32Array.of(1) }), /Int32Array/);
});

test('0-d, zero-size and 1-d arrays round trip', () => {
  const cases = [
    { dtype: 'float64' as const, shape: [], data: Float64Array.of(-0) },
    { dtype: 'int64' as const, shape: [], data: BigInt64Array.of(-(2n ** 62n)) },
    { dtype: 'float32' as const, shape: [0], data: new Float32Array(0) },
    { dtype: 'uint16' as const, shape: [3, 0, 2], data: new Uint16Array(0) },
    { dtype: 'float16' as const, shape: [0, 4], data: new Float32Array(0) },
    { dtype: 'int8' as const, shape: [5], data: Int8Array.of(1, 2, 3, 4, 5) },
  ];
  for (const c of cases) {
    const t = decodeNpy(encodeNpy(c), 'x.npy');
    assert.deepEqual(t.shape, c.shape);
    assert.equal(t.size, c.data.length);
    assertSameData(t.data, c.data, JSON.stringify(c.shape));
  }
});

// ---- Fortran order and byte order, on shapes beyond the fixtures ----

/** C-order index -> Fortran-order index of the same element. */
function fortranIndex(shape: readonly number[], c: number): number {
  let f = 0;
  let stride = 1;
  const idx: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = c % shape[k]!;
    c = Math.floor(c / shape[k]!);
  }
  for (let k = 0; k < shape.length; k++) {
    f += idx[k]! * stride;
    stride *= shape[k]!;
  }
  return f;
}

/** The same array as encodeNpy(c) but stored Fortran-ordered and/or big-endian (header patched in place). */
function reLayout(c: Uint8Array, shape: readonly number[], itemSize: number, fortran: boolean, bigEndian: boolean): Uint8Array {
  const out = c.slice();
  let header = new TextDecoder().decode(out.subarray(10, 128));
  if (fortran) header = header.replace("'fortran_order': False,", "'fortran_order': True, ");
  if (bigEndian) header = header.replace("'descr': '<", "'descr': '>");
  out.set(new TextEncoder().encode(header), 10);
  const data = c.subarray(128);
  const n = data.length / itemSize;
  for (let i = 0; i < n; i++) {
    const dst = 128 + (fortran ? fortranIndex(shape, i) : i) * itemSize;
    for (let b = 0; b < itemSize; b++) out[dst + b] = data[i * itemSize + (bigEndian ? itemSize - 1 - b : b)]!;
  }
  return out;
}

test('Fortran-order and big-endian data of any rank become C-order native arrays', () => {
  const shapes = [[2, 3], [33, 2, 34], [1, 5, 1, 7], [3, 1], [4, 5, 6, 7], [0, 3], [65, 70], [2, 3, 4, 5, 3], [1, 1, 40]];
  const makers: [DType, (n: number) => TensorData][] = [
    ['uint8', (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff)],
    ['int16', (n) => Int16Array.from({ length: n }, (_, i) => i * 31 - 500)],
    ['float32', (n) => Float32Array.from({ length: n }, (_, i) => i / 3 - 10)],
    ['float64', (n) => Float64Array.from({ length: n }, (_, i) => i * 1e-3 - 0.5)],
    ['uint64', (n) => BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * 0x0102030405060708n)],
    ['float16', (n) => Float32Array.from({ length: n }, (_, i) => halfToFloat((i * 13) & 0x7bff))],
  ];
  for (const shape of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (const [dtype, make] of makers) {
      const data = make(n);
      const c = encodeNpy({ dtype, shape, data });
      for (const fortran of [false, true]) {
        for (const big of ITEM_SIZE[dtype] > 1 ? [false, true] : [false]) {
          const bytes = reLayout(c, shape, ITEM_SIZE[dtype], fortran, big);
          const h = parseNpyHeader(bytes, 'x.npy');
          assert.equal(h.fortranOrder, fortran);
          assert.equal(h.byteOrder, big ? 'big' : ITEM_SIZE[dtype] === 1 ? 'none' : 'little');
          const t = decodeNpy(bytes, 'x.npy');
          assertSameData(t.data, data, `${dtype} ${JSON.stringify(shape)} F=${fortran} BE=${big}`);
        }
      }
    }
  }
});

// ---- The header dict parser ----

function withHeader(text: string, data = new Uint8Array(24)): Uint8Array {
  const body = new TextEncoder().encode(text + '\n');
  const out = new Uint8Array(10 + body.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, body.length, true);
  out.set(body, 10);
  out.set(data, 10 + body.length);
  return out;
}

test('the header parser accepts the Python literal spellings numpy files use', () => {
  const ok: [string, number[]][] = [
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", [2, 3]],
    ["{'descr':'<f4','fortran_order':False,'shape':(6,)}", [6]],
    ['{"descr": "<f4", "fortran_order": False, "shape": (2, 3)}', [2, 3]],
    ["{ 'shape' : ( 2 , 3 , ) ,\t'descr' : '<f4' , 'fortran_order' : False }", [2, 3]],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", [2, 3]],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 6), }", [1, 1, 6]],
    ["{'descr': '=f4', 'fortran_order': False, 'shape': (6,), }", [6]],
    ["{'descr': '|f4', 'fortran_order': False, 'shape': (6,), }", [6]],
    ["{'descr': 'f4', 'fortran_order': False, 'shape': (6,), }", [6]],
  ];
  for (const [text, shape] of ok) {
    const h = parseNpyHeader(withHeader(text), 'h.npy');
    assert.deepEqual(h.shape, shape, text);
    assert.equal(h.dtype, 'float32', text);
    assert.equal(h.byteOrder, 'little', text);
  }
  const scalar = parseNpyHeader(withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", new Uint8Array(8)), 's.npy');
  assert.deepEqual(scalar.shape, []);
  assert.equal(scalar.size, 1);
});

test('the header parser refuses anything but the three keys with literal values', () => {
  const bad = [
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", // an int, not a tuple
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (0x6,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (06,), }",
    "{'descr': '<f4', 'fortran_order': false, 'shape': (6,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'shape': (6,)}",
    "{'descr': '<f4' 'fortran_order': False, 'shape': (6,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }}",
    "{'descr': '<f4, 'fortran_order': False, 'shape': (6,), }",
    "{'descr': '<f4', 'fortran_order': None, 'shape': (6,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (True,), }",
    "{1: '<f4', 'fortran_order': False, 'shape': (6,), }",
    '{' + "'descr': ".repeat(1) + '('.repeat(100) + ')'.repeat(100) + ", 'fortran_order': False, 'shape': (6,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } # comment",
    '',
  ];
  for (const text of bad) {
    assert.throws(
      () => parseNpyHeader(withHeader(text), 'h.npy'),
      (e: unknown) => e instanceof TensorReadError && e.kind === 'bad-header' && e.message.startsWith('h.npy: '),
      text,
    );
  }
});

// ---- float16 rounding ----

test('floatToHalf inverts halfToFloat for every half and rounds ties to even', () => {
  for (let h = 0; h < 0x10000; h++) {
    const f = halfToFloat(h);
    if (Number.isNaN(f)) {
      assert.equal(floatToHalf(f) & 0x7c00, 0x7c00);
      continue;
    }
    assert.equal(floatToHalf(f), h, `half 0x${h.toString(16)}`);
    // Midpoint to the next half away from zero: ties go to the even mantissa.
    const next = h + 1;
    if ((h & 0x7fff) < 0x7c00 && (next & 0x7fff) <= 0x7c00) {
      // Rounding treats infinity as the "next" value after the largest half, at 2^16.
      const nextValue = (next & 0x7fff) === 0x7c00 ? Math.sign(f || 1) * 65536 : halfToFloat(next);
      const mid = (f + nextValue) / 2;
      const even = (h & 1) === 0 ? h : next;
      assert.equal(floatToHalf(mid), even, `tie between 0x${h.toString(16)} and 0x${next.toString(16)}`);
      const below = f + (nextValue - f) * 0.49;
      const above = f + (nextValue - f) * 0.51;
      assert.equal(floatToHalf(below), h);
      assert.equal(floatToHalf(above), next);
    }
  }
  assert.equal(floatToHalf(65519.99), 0x7bff);
  assert.equal(floatToHalf(65520), 0x7c00);
  assert.equal(floatToHalf(-1e10), 0xfc00);
  assert.equal(floatToHalf(2 ** -25), 0); // tie between 0 and the smallest subnormal -> 0 (even)
  assert.equal(floatToHalf(2 ** -25 * 1.0001), 1);
  assert.equal(floatToHalf(-0), 0x8000);
});

// ---- Robustness ----

test('foreign exceptions from a ByteSource become TensorReadErrors', async () => {
  const failing: ByteSource = {
    name: 'flaky.npy',
    size: 1000,
    read: async () => {
      throw new Error('EIO: the disk went away');
    },
    readOwned: async () => {
      throw new Error('EIO');
    },
    close: async () => {},
  };
  const e = await assertTensorError(() => readNpy(failing), 'io', 'flaky.npy');
  assert.match(e.problem, /disk went away/);
});

test('fuzzed headers and truncations never throw anything but TensorReadError', () => {
  const base = encodeNpy({ dtype: 'int16', shape: [3, 5], data: Int16Array.from({ length: 15 }, (_, i) => i) });
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 3000; i++) {
    const b = base.slice(0, i % 7 === 0 ? rand(base.length) : base.length);
    for (let k = 0; k < 3; k++) if (b.length) b[rand(Math.min(b.length, 128))] = rand(256);
    try {
      decodeNpy(b, 'fuzz.npy');
    } catch (e) {
      assert.ok(e instanceof TensorReadError, `non-TensorReadError: ${String(e)}`);
    }
  }
});

test('tensorFormatOf recognises the extensions, case-insensitively', () => {
  assert.equal(tensorFormatOf('/a/b/x.npy'), 'npy');
  assert.equal(tensorFormatOf('C:\\data\\Y.NPZ'), 'npz');
  assert.equal(tensorFormatOf('file:///m/model.SafeTensors'), 'safetensors');
  assert.equal(tensorFormatOf('vscode-remote://host/x.npy?query#frag'), 'npy');
  assert.equal(tensorFormatOf('x.npy.txt'), undefined);
  assert.equal(tensorFormatOf('npy'), undefined);
});
