/** Heatmap slices, peaks and thumbnails (what the panel draws) agree with the report. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { computeLossWithInputs } from '../../src/cornernet/run';
import { classThumbnails, heatSlice, imagePeaks, worstPlane } from '../../src/cornernet/views/slices';
import { FIXTURES, assertClose, readExpected } from './helpers';
import type { LossInputs } from '../../src/cornernet/model/batch';

describe('heat slices', () => {
  it('per-pixel losses of every plane add up to the focal term, per stack and corner', async () => {
    const exp = readExpected('p02_two_stacks');
    const { report, inputs } = await computeLossWithInputs({ paths: [path.join(FIXTURES, 'p02_two_stacks')] }, { weights: exp.weights });
    const { S, B, C } = inputs.dims;
    for (let s = 0; s < S; s++) {
      for (const corner of ['tl', 'br'] as const) {
        let sum = 0;
        for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) sum += heatSlice(inputs, corner, s, b, c).planeLoss;
        const key = corner === 'tl' ? 'focal_tl' : 'focal_br';
        assertClose(sum, exp.float32.per_stack[s][key], 1e-5, 1e-6, `stack ${s} ${corner}`);
      }
    }
    const sel = worstPlane(report);
    const planeTotal = (report.planeFocal.tl[sel.image * C + sel.class] ?? 0) + (report.planeFocal.br[sel.image * C + sel.class] ?? 0);
    for (let i = 0; i < B * C; i++) assert.ok((report.planeFocal.tl[i] ?? 0) + (report.planeFocal.br[i] ?? 0) <= planeTotal);
  });

  it('positives are the pixels with target exactly 1, probabilities are clamped', async () => {
    const { inputs } = await computeLossWithInputs({ paths: [path.join(FIXTURES, 'p07_saturated')] });
    const s = heatSlice(inputs, 'tl', 0, 0, 0);
    for (const p of s.positives) assert.equal(s.target[p.y * s.width + p.x], 1);
    assert.equal(s.positives.length, Array.from(s.target).filter((v) => v === 1).length);
    const lo = Math.fround(1e-4);
    const hi = Math.fround(1 - 1e-4);
    assert.ok(Array.from(s.prob).every((p) => p >= lo && p <= hi));
    assert.ok(Array.from(s.prob).some((p) => p === lo || p === hi), 'saturated case reaches the clamp');
    assert.throws(() => heatSlice(inputs, 'tl', 5, 0, 0), /no plane/);
  });
});

function tinyInputs(logits: number[], W: number, H: number, C = 1): LossInputs {
  const HW = W * H;
  return {
    dims: { S: 1, B: 1, C, H, W, K: 1 },
    heat: { tl: [{ logits: Float32Array.from(logits), dtype: 'float32' }], br: [{ logits: Float32Array.from(logits), dtype: 'float32' }] },
    tag: { tl: [new Float64Array(1)], br: [new Float64Array(1)] },
    regr: { tl: [new Float64Array(2)], br: [new Float64Array(2)] },
    gtHeat: { tl: new Float32Array(C * HW), br: new Float32Array(C * HW) },
    mask: new Float64Array(1),
    maskDType: 'uint8',
    gtRegr: { tl: new Float64Array(2), br: new Float64Array(2) },
  };
}

describe('decode peaks (3x3 max-pool NMS, top K)', () => {
  it('keeps local maxima only, plateaus keep every equal pixel, ordered by score', () => {
    // 4x3 plane: a peak of 5 at (1,1); a plateau of two 3s at (3,0),(3,1) next to nothing higher.
    const logits = [0, 1, 0, 3, 1, 5, 1, 3, 0, 1, 0, 0];
    const peaks = imagePeaks(tinyInputs(logits, 4, 3), 'tl', 0, 0, 10);
    assert.deepEqual(peaks.map((p) => [p.x, p.y]), [[1, 1], [3, 0], [3, 1]]);
    assert.deepEqual(peaks.map((p) => p.rank), [0, 1, 2]);
    assertClose(peaks[0]!.score, 1 / (1 + Math.exp(-5)), 1e-12, 0, 'plain sigmoid');
    assert.equal(imagePeaks(tinyInputs(logits, 4, 3), 'tl', 0, 0, 1).length, 1);
  });
  it('ranks over all classes of the image', () => {
    const plane0 = [0, 0, 0, 0, 2, 0, 0, 0, 0];
    const plane1 = [0, 0, 0, 0, 4, 0, 0, 0, 0];
    const peaks = imagePeaks(tinyInputs([...plane0, ...plane1], 3, 3, 2), 'tl', 0, 0, 2);
    assert.deepEqual(peaks.map((p) => p.class), [1, 0]);
  });
});

describe('class thumbnails', () => {
  it('sorted by plane loss, which adds up to the image focal loss', async () => {
    const { report, inputs } = await computeLossWithInputs({ paths: [path.join(FIXTURES, 'p01_basic')] });
    const t = classThumbnails(inputs, 0, 1, 8);
    assert.equal(t.classes.length, 3);
    assert.deepEqual([...t.classes].sort((a, b) => b.loss - a.loss), t.classes);
    assert.equal(t.size.width, 8);
    assert.equal(t.data.length, 3 * 8 * 8);
    const sum = t.classes.reduce((a, c) => a + c.loss, 0);
    // The thumbnails' losses are per pixel in float64; the report's sums come from the SIMD kernel
    // (float32 arithmetic, ~1e-8 on sums).
    assertClose(sum, report.perStack[0]!.images[1]!.focalTl! + report.perStack[0]!.images[1]!.focalBr!, 1e-7, 1e-12, 'image focal');
  });
});

describe('class thumbnails from the SIMD module', () => {
  it('equal the per-pixel reference (heatSlice) to 2e-6: the class losses and every max-pooled cell', async () => {
    const { inputs } = await computeLossWithInputs({ paths: [path.join(FIXTURES, 'p02_two_stacks')] });
    const { S, B, H, W } = inputs.dims;
    for (let s = 0; s < S; s++) {
      for (let b = 0; b < B; b++) {
        const t = classThumbnails(inputs, s, b, 8);
        const f = Math.ceil(Math.max(H, W) / 8);
        t.classes.forEach((entry, n) => {
          const slices = (['tl', 'br'] as const).map((corner) => heatSlice(inputs, corner, s, b, entry.class));
          assertClose(entry.lossTl, slices[0]!.planeLoss, 2e-6, 1e-12, `stack ${s} image ${b} class ${entry.class} tl`);
          assertClose(entry.lossBr, slices[1]!.planeLoss, 2e-6, 1e-12, `stack ${s} image ${b} class ${entry.class} br`);
          const expected = new Float32Array(t.size.width * t.size.height);
          for (const sl of slices) {
            for (let i = 0; i < H * W; i++) {
              const cell = Math.floor(Math.floor(i / W) / f) * t.size.width + Math.floor((i % W) / f);
              if (sl.loss[i]! > expected[cell]!) expected[cell] = sl.loss[i]!;
            }
          }
          const got = t.data.subarray(n * expected.length, (n + 1) * expected.length);
          expected.forEach((v, i) => assertClose(got[i]!, v, 2e-6, 1e-12, `stack ${s} image ${b} class ${entry.class} cell ${i}`));
        });
      }
    }
  });
});
