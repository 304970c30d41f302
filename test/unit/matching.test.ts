/** Detections against targets, and the reason a target has no detection. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { LossInputs } from '../../src/cornernet/model/batch';
import { decodeAndMatch, iou, matchDetections, targetBoxes, type DetectionMatch, type TargetMatch } from '../../src/cornernet/views/matching';
import { computeLossWithInputs } from '../../src/cornernet/run';
import { FIXTURES } from './helpers';

const W = 8, H = 8, K = 4;
/** One image, one class; objects given by their corner pixels, logits and embeddings. */
function scene(objects: { tl: [number, number]; br: [number, number]; tlLogit: number; brLogit: number; tlTag: number; brTag: number }[]): LossInputs {
  const HW = W * H;
  const heat = { tl: new Float32Array(HW).fill(-5), br: new Float32Array(HW).fill(-5) };
  const tag = { tl: new Float32Array(HW), br: new Float32Array(HW) };
  const gt = { tl: new Float32Array(HW), br: new Float32Array(HW) };
  const ind = { tl: new Float64Array(K), br: new Float64Array(K) };
  const mask = new Float64Array(K);
  objects.forEach((o, k) => {
    const p = (q: [number, number]) => q[1] * W + q[0];
    heat.tl[p(o.tl)] = o.tlLogit;
    heat.br[p(o.br)] = o.brLogit;
    tag.tl[p(o.tl)] = o.tlTag;
    tag.br[p(o.br)] = o.brTag;
    gt.tl[p(o.tl)] = 1;
    gt.br[p(o.br)] = 1;
    ind.tl[k] = p(o.tl);
    ind.br[k] = p(o.br);
    mask[k] = 1;
  });
  return {
    dims: { S: 1, B: 1, C: 1, H, W, K },
    heat: { tl: [{ logits: heat.tl, dtype: 'float32' }], br: [{ logits: heat.br, dtype: 'float32' }] },
    tag: { tl: [new Float64Array(K)], br: [new Float64Array(K)] },
    regr: { tl: [new Float64Array(2 * K)], br: [new Float64Array(2 * K)] },
    gtHeat: gt,
    mask,
    maskDType: 'uint8',
    gtRegr: { tl: new Float64Array(2 * K), br: new Float64Array(2 * K) },
    ind,
    tagMap: { tl: [tag.tl], br: [tag.br] },
    regrMap: { tl: [new Float32Array(2 * HW)], br: [new Float32Array(2 * HW)] },
  };
}

describe('decode matched with targets', () => {
  it('matches, and explains each miss', () => {
    const inputs = scene([
      { tl: [1, 1], br: [5, 5], tlLogit: 4, brLogit: 4, tlTag: 0.1, brTag: 0.15 },
      { tl: [6, 0], br: [7, 3], tlLogit: 3, brLogit: 3, tlTag: 0, brTag: 2 },
      { tl: [0, 6], br: [3, 7], tlLogit: 2, brLogit: -10, tlTag: 0.5, brTag: 0.5 },
    ]);
    const v = decodeAndMatch(inputs, 0, 0, { K: 3, numDets: 9, aeThreshold: 0.5 }, 0.3);
    const [a, b, c] = v.targets;
    assert.equal(a!.detection, 0);
    assert.equal(a!.iou, 1);
    assert.equal(v.detections[0]!.target, 0);
    assert.match(b!.reason!, /embeddings 0 and 2 are 2 apart \(> 0\.5\)/);
    assert.match(c!.reason!, /tl found \(rank 3, score 0\.881\), but the br corner is not among the top 3/);
  });

  it('iou', () => {
    assert.equal(iou([0, 0, 2, 2], [1, 1, 3, 3]), 1 / 7);
    assert.equal(iou([0, 0, 1, 1], [2, 2, 3, 3]), 0);
  });

  it('target boxes come from indices, offsets and the class with the exact 1s', async () => {
    const { inputs, report } = await computeLossWithInputs({ paths: [path.join(FIXTURES, 'p01_basic')] });
    const boxes = targetBoxes(inputs, 0);
    assert.equal(boxes.length, 3);
    const objs = report.objects.filter((o) => o.stack === 0 && o.image === 0);
    assert.deepEqual(boxes.map((b) => b.class), objs.map((o) => o.class));
    assert.deepEqual(boxes.map((b) => b.box), objs.map((o) => o.box));
    const v = decodeAndMatch(inputs, 0, 0, { K: 20, numDets: 100 }, 0);
    assert.equal(v.validCount, v.detections.length);
    for (const t of v.targets) assert.ok(t.detection !== undefined || t.reason, `object ${t.slot} matched or explained`);
  });

  it('a second detection on an already matched object is its duplicate, not a detection of nothing', () => {
    const det = (x1: number, y1: number, x2: number, y2: number, score: number, cls = 0): DetectionMatch => ({ x1, y1, x2, y2, score, tlScore: score, brScore: score, class: cls, tl: 0, br: 0 });
    const targets: TargetMatch[] = [
      { slot: 4, class: 0, tl: { x: 0, y: 0 }, br: { x: 10, y: 10 }, box: [0, 0, 10, 10] },
      { slot: 7, class: 0, tl: { x: 20, y: 0 }, br: { x: 30, y: 10 }, box: [20, 0, 30, 10] },
    ];
    const dets = [
      det(0, 0, 10, 10, 0.9), // matches 4
      det(0, 0, 10, 9.7, 0.8), // IoU 0.97 with 4, taken: duplicate of 4
      det(20, 0, 30, 10, 0.7, 1), // other class: nothing
      det(5, 0, 15, 10, 0.6), // IoU 1/3 with 4: a poor box, not a duplicate
      det(20, 0, 30, 10, 0.5), // matches 7 (free)
    ];
    matchDetections(dets, targets, 0.5);
    assert.equal(dets[0]!.target, 4);
    assert.equal(dets[1]!.target, undefined);
    assert.equal(dets[1]!.duplicateOf, 4);
    assert.ok(Math.abs(dets[1]!.bestIoU! - 0.97) < 1e-9);
    assert.equal(dets[2]!.duplicateOf, undefined);
    assert.equal(dets[2]!.bestTarget, undefined);
    assert.equal(dets[3]!.duplicateOf, undefined);
    assert.equal(dets[3]!.bestTarget, 4);
    assert.equal(dets[4]!.target, 7);
    assert.equal(targets[0]!.detection, 0);
    assert.equal(targets[1]!.detection, 4);
  });
});
