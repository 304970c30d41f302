/** The tensor viewer's pure logic: axis names by role, max projections, sigmoid, the next non-empty plane. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { axisNaming, offersSigmoid } from '../../src/cornernet/views/axisNames';
import { nextNonEmptyPlane, planeOf, sigmoid } from '../../src/tensor/planes';
import { plane2d } from '../../src/tensor/stats';
import type { Tensor } from '../../src/tensor/tensor';

function tensor(shape: number[], f: (i: number[]) => number): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let n = 0; n < size; n++) {
    const idx: number[] = [];
    let r = n;
    for (let a = shape.length - 1; a >= 0; a--) {
      idx[a] = r % shape[a]!;
      r = Math.floor(r / shape[a]!);
    }
    data[n] = f(idx);
  }
  return { dtype: 'float32', shape, size, data };
}

describe('axis names by role', () => {
  it('names the axes of heatmaps, stacked or not, and of targets', () => {
    assert.deepEqual(axisNaming('tl_heats', [2, 80, 128, 128]).names, ['batch', 'class', 'y', 'x']);
    assert.deepEqual(axisNaming('tl_heat', [2, 2, 4, 64, 64]).names, ['stack', 'batch', 'class', 'y', 'x']);
    assert.equal(axisNaming('tl_heat', [2, 2, 4, 64, 64]).logits, true);
    assert.equal(axisNaming('tl_heat', [2, 2, 4, 64, 64]).role, 'tl_heat');
    assert.deepEqual(axisNaming('gt_tl_heat.npy', [2, 4, 64, 64]).names, ['batch', 'class', 'y', 'x']);
    assert.equal(axisNaming('gt_tl_heat', [2, 4, 64, 64]).logits, false);
    assert.deepEqual(axisNaming('gt_mask', [2, 128]).names, ['batch', 'object']);
    assert.deepEqual(axisNaming('tl_regr', [2, 2, 128, 2]).names, ['stack', 'batch', 'object', 'offset (x, y)']);
    assert.deepEqual(axisNaming('tl_regr', [2, 2, 64, 64]).names, ['batch', 'offset (x, y)', 'y', 'x']);
    assert.deepEqual(axisNaming('tl_tag_1', [2, 1, 64, 64]).names, ['batch', 'channel', 'y', 'x']);
  });

  it('dense conventions: CenterNet hm logits, mmdetection levels, sizes', () => {
    assert.deepEqual(axisNaming('hm', [3, 2, 80, 32, 32]).names, ['stack', 'batch', 'class', 'y', 'x']);
    assert.equal(axisNaming('hm', [2, 80, 32, 32]).logits, true);
    assert.equal(axisNaming('center_heatmap_pred', [2, 80, 32, 32]).logits, false);
    assert.deepEqual(axisNaming('gt_wh', [2, 128, 2]).names, ['batch', 'object', 'size (w, h)']);
  });

  it('falls back to axis k for unknown names and shapes that fit no layout', () => {
    assert.deepEqual(axisNaming('weights', [3, 4]).names, ['axis 0', 'axis 1']);
    assert.deepEqual(axisNaming('tl_heat', [64, 64]).names, ['axis 0', 'axis 1']);
    assert.equal(axisNaming('tl_heat', [64, 64]).logits, false);
    assert.deepEqual(axisNaming('gt_mask', [2, 3, 4]).names, ['axis 0', 'axis 1', 'axis 2']);
  });

  it('offers a sigmoid for logits roles and float values outside [0, 1], never for integers', () => {
    assert.equal(offersSigmoid('float32', true, undefined), true);
    assert.equal(offersSigmoid('float32', false, { min: 0, max: 1 }), false);
    assert.equal(offersSigmoid('float32', false, { min: -3, max: 0.5 }), true);
    assert.equal(offersSigmoid('int64', false, { min: -3, max: 5 }), false);
  });
});

describe('planes', () => {
  const t = tensor([2, 3, 4, 5], ([b, c, y, x]) => b! * 1000 + c! * 100 + y! * 10 + x!);

  it('a plain plane equals plane2d', () => {
    const a = planeOf(t, { rowAxis: 2, colAxis: 3, index: [1, 2, 0, 0] });
    const b = plane2d(t, 2, 3, [1, 2, 0, 0]);
    assert.deepEqual([...a.data], [...b.data]);
  });

  it('max over the classes, and over rows seen as columns', () => {
    const p = planeOf(t, { rowAxis: 2, colAxis: 3, index: [1, 0, 0, 0], maxAxis: 1 });
    assert.equal(p.rows, 4);
    assert.equal(p.data[1 * 5 + 3], 1000 + 200 + 10 + 3);
    const q = planeOf(t, { rowAxis: 1, colAxis: 3, index: [0, 0, 0, 0], maxAxis: 2 });
    assert.equal(q.data[2 * 5 + 4], 200 + 30 + 4);
  });

  it('NaN propagates through the max; the sigmoid maps after it', () => {
    const n = tensor([2, 2, 2], ([c, y, x]) => (c === 1 && y === 0 && x === 1 ? NaN : c! - 1));
    const p = planeOf(n, { rowAxis: 1, colAxis: 2, index: [0, 0, 0], maxAxis: 0, sigmoid: true });
    assert.ok(Number.isNaN(p.data[1]));
    assert.ok(Math.abs(p.data[0]! - sigmoid(0)) < 1e-7);
  });

  it('refuses repeated axes and out-of-range indices', () => {
    assert.throws(() => planeOf(t, { rowAxis: 2, colAxis: 3, index: [0, 0, 0, 0], maxAxis: 3 }), RangeError);
    assert.throws(() => planeOf(t, { rowAxis: 2, colAxis: 3, index: [2, 0, 0, 0] }), RangeError);
  });
});

describe('next non-empty plane', () => {
  // 2 images x 6 classes of 3x3; non-empty: (0, 4) and (1, 1).
  const t = tensor([2, 6, 3, 3], ([b, c, y, x]) => ((b === 0 && c === 4 && y === 1 && x === 2) || (b === 1 && c === 1 && y === 0 && x === 0) ? 1 : 0));
  const at = (index: number[]) => ({ rowAxis: 2, colAxis: 3, index });

  it('finds the next class holding a value, across images, and wraps around', () => {
    const a = nextNonEmptyPlane(t, at([0, 0, 0, 0]), 0)!;
    assert.deepEqual(a.index.slice(0, 2), [0, 4]);
    assert.equal(a.max, 1);
    assert.equal(a.wrapped, false);
    const b = nextNonEmptyPlane(t, at(a.index), 0)!;
    assert.deepEqual(b.index.slice(0, 2), [1, 1]);
    const c = nextNonEmptyPlane(t, at(b.index), 0)!;
    assert.deepEqual(c.index.slice(0, 2), [0, 4]);
    assert.equal(c.wrapped, true);
    const back = nextNonEmptyPlane(t, at([1, 1, 0, 0]), 0, -1)!;
    assert.deepEqual(back.index.slice(0, 2), [0, 4]);
  });

  it('the only non-empty plane is found from itself; an empty array gives none', () => {
    const one = tensor([1, 5, 2, 2], ([, c]) => (c === 2 ? 0.5 : 0));
    const r = nextNonEmptyPlane(one, at([0, 2, 0, 0]), 0)!;
    assert.deepEqual(r.index, [0, 2, 0, 0]);
    assert.equal(r.wrapped, true);
    assert.equal(nextNonEmptyPlane(tensor([1, 5, 2, 2], () => 0), at([0, 0, 0, 0]), 0), undefined);
    assert.equal(nextNonEmptyPlane(one, at([0, 0, 0, 0]), 0.5), undefined, 'strictly above the threshold');
  });

  it('with the sigmoid, the threshold is a probability; with a max axis, images are scrubbed', () => {
    const logits = tensor([2, 4, 2, 2], ([b, c]) => (b === 1 && c === 3 ? 2 : -5));
    const r = nextNonEmptyPlane(logits, { ...at([0, 0, 0, 0]), sigmoid: true }, 0.5)!;
    assert.deepEqual(r.index.slice(0, 2), [1, 3]);
    assert.ok(Math.abs(r.max - sigmoid(2)) < 1e-9);
    assert.equal(nextNonEmptyPlane(logits, { ...at([0, 0, 0, 0]), sigmoid: true }, 0.9), undefined);
    const m = nextNonEmptyPlane(logits, { ...at([0, 0, 0, 0]), maxAxis: 1, sigmoid: true }, 0.5)!;
    assert.equal(m.index[0], 1);
  });
});
