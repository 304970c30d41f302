// Cross-check against an independent reader: npyjs 1.2.0 (devDependency), on every valid .npy
// fixture it can parse.
//
// What npyjs 1.2.0 does (read in node_modules/npyjs/dist/index.js):
//  - parse(buf: ArrayBuffer) only; views are made with `new XArray(buf, dataOffset)`, i.e. to the
//    END of the buffer (so a Uint8Array view must be passed as its own ArrayBuffer: bytes.slice().buffer).
//  - Big-endian ('>') descrs throw "Unsupported dtype" (the byte-order prefix is not stripped).
//  - fortran_order is reported but the data is left in file (column-major) order.
//  - '|b1' becomes a boolean[]; float16 is widened to float32 by its own conversion.
//  - The header is matched with regexes, so e.g. a Python 2 `2L` dimension becomes NaN.
// Files npyjs cannot read, and why (asserted below so the list stays honest):
//  - every big-endian multi-byte file (*_be_*, special_*_be, scalar_i8_be, ...): unsupported dtype;
//  - misaligned_f8.npy: its data offset is not a multiple of 8, and a Float64Array view needs one
//    (RangeError). We copy in that case;
//  - double_quoted_header.npy: its regexes only match single-quoted keys ("Malformed .npy header");
//  - question_mark_bool.npy: descr '?' (no byte-order character) is "Unsupported dtype".
// Files npyjs reads but differently from numpy (we compare only what is comparable):
//  - appended_two_arrays.npy: npyjs's view runs to the end of the file, so it includes the second
//    array's bytes; the first `size` elements must still agree;
//  - py2_long_shape.npy: npyjs reports the shape as [NaN, NaN]; the data still agrees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as npyjsParse } from 'npyjs';
import { readTensorFile } from '../../src/tensor/tensorFile';
import { fixture, manifest } from './tensorTestUtil';

/** C-order flat index -> the flat index of the same element in Fortran (file) order. */
function fortranIndex(shape: readonly number[], c: number): number {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = c % shape[k]!;
    c = Math.floor(c / shape[k]!);
  }
  let f = 0;
  let stride = 1;
  for (let k = 0; k < shape.length; k++) {
    f += idx[k]! * stride;
    stride *= shape[k]!;
  }
  return f;
}

const NPYJS_CANNOT_PARSE = new Set(['misaligned_f8.npy', 'double_quoted_header.npy', 'question_mark_bool.npy']);
const SHAPE_QUIRKS = new Set(['py2_long_shape.npy']);
const LENGTH_QUIRKS = new Set(['appended_two_arrays.npy']);

test('npyjs 1.2.0 agrees element-wise with our reader on every fixture it can parse', async () => {
  const unreadable: string[] = [];
  let compared = 0;
  for (const e of manifest().npy) {
    const bytes = new Uint8Array(readFileSync(fixture(e.file)));
    let theirs: ReturnType<typeof npyjsParse>;
    try {
      theirs = npyjsParse(bytes.slice().buffer);
    } catch {
      unreadable.push(e.file);
      continue;
    }
    const ours = await readTensorFile(fixture(e.file));
    // Typed arrays per the .d.ts, but boolean[] for '|b1' at run time.
    const data = theirs.data as unknown as ArrayLike<number | bigint | boolean>;
    if (!SHAPE_QUIRKS.has(e.file)) assert.deepEqual(theirs.shape, ours.shape, e.file);
    assert.equal(theirs.fortranOrder, e.order === 'F', e.file);
    if (!LENGTH_QUIRKS.has(e.file)) assert.equal(data.length, ours.size, e.file);
    for (let i = 0; i < ours.size; i++) {
      const j = e.order === 'F' ? fortranIndex(ours.shape, i) : i;
      const t = data[j]!;
      const theirsValue = typeof t === 'boolean' ? (t ? 1 : 0) : t;
      assert.ok(Object.is(theirsValue, ours.data[i]), `${e.file}[${i}]: npyjs ${String(theirsValue)} vs ours ${String(ours.data[i])}`);
    }
    compared++;
  }
  const expectedUnreadable = manifest()
    .npy.filter((e) => e.endian === 'big' || NPYJS_CANNOT_PARSE.has(e.file))
    .map((e) => e.file);
  assert.deepEqual(unreadable.sort(), expectedUnreadable.sort());
  assert.equal(compared + unreadable.length, manifest().npy.length, 'every fixture is either compared or listed');
  assert.ok(compared >= 80, `compared ${compared} files`);
});
