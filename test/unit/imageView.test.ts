/**
 * The extension's worker with the heatmaps left on disk (computeLossForViews + ImageHeatReader):
 * the same report, and the same slices, thumbnails, decode and embedding maps image by image, as
 * from whole arrays; a file changed afterwards gives an error naming it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossForViews, computeLossWithInputs } from '../../src/cornernet/run';
import { ImageHeatReader } from '../../src/cornernet/views/imageView';
import { classThumbnails, countPositives, heatSlice, imagePeaks } from '../../src/cornernet/views/slices';
import { decodeAndMatch } from '../../src/cornernet/views/matching';
import { makeSyntheticBatch } from '../support/synthetic';
import { encodeNpy } from '../../src/tensor/npy';
import { TensorReadError } from '../../src/tensor/errors';
import type { LossReport } from '../../src/cornernet/model/report';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A synthetic batch; `float64`: br_heat and gt_br_heat stored as float64 (read back as such). */
function folder(seed: number, float64 = false): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cornernet-views-'));
  dirs.push(dir);
  const { arrays } = makeSyntheticBatch({ S: 2, B: 3, C: 5, H: 24, W: 20, K: 6, objectsPerImage: [3, 1, 2], seed, logitMean: -3, logitStd: 2 });
  for (const [name, t] of Object.entries(arrays)) {
    const wide = float64 && (name === 'br_heat' || name === 'gt_br_heat');
    writeFileSync(path.join(dir, `${name}.npy`), encodeNpy(wide ? { ...t, dtype: 'float64', data: Float64Array.from(t.data as Float32Array) } : t));
  }
  return dir;
}

const comparable = (r: LossReport) => ({ ...r, timings: null });

describe('views of a batch whose heatmaps stay on disk', () => {
  for (const float64 of [false, true]) it(`give the report, slices, thumbnails, decode and tag maps of whole arrays, image by image${float64 ? ' (float64 br heatmaps)' : ''}`, async () => {
    const dir = folder(3, float64);
    const whole = await computeLossWithInputs({ paths: [dir] });
    const streamed = await computeLossForViews({ paths: [dir] }, { threads: 1 });
    assert.ok(streamed.heat, 'the heatmaps were streamed');
    assert.equal(streamed.inputs.heatOnDisk, true);
    assert.deepEqual(comparable(streamed.report), comparable(whole.report));
    const positives = { tl: countPositives(whole.inputs.gtHeat.tl), br: countPositives(whole.inputs.gtHeat.br) };
    assert.deepEqual(streamed.positives, positives);
    const reader = new ImageHeatReader(streamed.inputs, streamed.heat);
    try {
      const { S, B, C } = whole.inputs.dims;
      // Images out of order and back: the reused buffers hold the image asked for.
      for (const b of [2, 0, 1, 2, 0]) {
        const view = reader.imageInputs(b);
        assert.equal(view.dims.B, 1);
        for (let s = 0; s < S; s++) {
          for (const corner of ['tl', 'br'] as const) {
            for (let c = 0; c < C; c++) {
              const a = heatSlice(view, corner, s, 0, c, 20, positives[corner]);
              const e = heatSlice(whole.inputs, corner, s, b, c, 20, positives[corner]);
              assert.deepEqual({ ...a, image: b }, e, `slice ${corner} stack ${s} image ${b} class ${c}`);
              // One plane read alone (the worker's way once the image's peaks are known): the same slice.
              const peaks = imagePeaks(whole.inputs, corner, s, b, 20).filter((k) => k.class === c).map((k) => ({ ...k, class: 0 }));
              const q = heatSlice(reader.planeInputs(b, c), corner, s, 0, 0, 20, positives[corner], peaks);
              assert.deepEqual({ ...q, image: b, class: c, peaks: q.peaks.map((k) => ({ ...k, class: c })) }, e, `plane ${corner} stack ${s} image ${b} class ${c}`);
              assert.equal(reader.holds(b), true, 'a plane read leaves the image held');
            }
          }
          const t = classThumbnails(view, s, 0, 8, positives);
          assert.deepEqual({ ...t, image: b }, classThumbnails(whole.inputs, s, b, 8), `thumbnails stack ${s} image ${b}`);
          const d = decodeAndMatch(view, s, 0, { K: 10, numDets: 100 }, 0.1);
          assert.deepEqual({ ...d, image: b }, decodeAndMatch(whole.inputs, s, b, { K: 10, numDets: 100 }, 0.1), `decode stack ${s} image ${b}`);
        }
        const H = whole.inputs.dims.H;
        const W = whole.inputs.dims.W;
        assert.deepEqual([...view.tagMap!.tl![1]!], [...whole.inputs.tagMap!.tl![1]!.subarray(b * H * W, (b + 1) * H * W)]);
      }
      assert.throws(() => reader.imageInputs(B), /no image 3/);
    } finally {
      reader.close();
    }
  });

  it('a heatmap file cut short after the computation: an error naming it, not stale values', async () => {
    const dir = folder(4);
    const r = await computeLossForViews({ paths: [dir] }, { threads: 1 });
    assert.ok(r.heat);
    const reader = new ImageHeatReader(r.inputs, r.heat);
    try {
      truncateSync(path.join(dir, 'br_heat.npy'), 200);
      const view = reader.imageInputs(1);
      assert.throws(
        () => heatSlice(view, 'br', 0, 0, 0),
        (e: unknown) => e instanceof TensorReadError && e.file.endsWith('br_heat.npy (stack 0)') && /compute again/.test(e.message),
      );
      heatSlice(view, 'tl', 0, 0, 0); // the other files still serve
      // Rewritten in place with the same size: refused too (the values would not be the report's).
      const gt = path.join(dir, 'gt_tl_heat.npy');
      const bytes = readFileSync(gt);
      bytes[bytes.length - 1] ^= 1;
      writeFileSync(gt, bytes);
      utimesSync(gt, new Date(), new Date(Date.now() + 5000));
      assert.throws(() => heatSlice(reader.imageInputs(2), 'tl', 0, 0, 0), /gt_tl_heat\.npy: the file changed since the loss was computed; compute again/);
    } finally {
      reader.close();
    }
  });

  it('inputs that cannot be streamed (stream: false, or npz) come whole, without a reader', async () => {
    const dir = folder(5);
    const r = await computeLossForViews({ paths: [dir] }, { stream: false });
    assert.equal(r.heat, undefined);
    assert.equal(r.inputs.heatOnDisk, undefined);
    assert.equal(r.inputs.gtHeat.tl.length, 3 * 5 * 24 * 20);
  });
});
