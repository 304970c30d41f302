/**
 * Decode against what the ORIGINAL `_decode` returned on every fixture (decode.json: last stack,
 * K=20, kernel 3, ae_threshold 0.5, num_dets 100). Where scores tie, the original's order (and at
 * the K boundary its choice of corners) is undefined: those cases compare the untied detections
 * as sets, as the fixtures' README says.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { computeLossWithInputs } from '../../src/cornernet/run';
import { decodeImage } from '../../src/cornernet/views/decode';
import { FIXTURES, fixtureCases } from './helpers';

const TOL = 1e-5;
type Row = number[];
const near = (a: Row, b: Row) => a.every((v, i) => Math.abs(v - b[i]!) <= TOL);

for (const name of fixtureCases()) {
  it(`decode ${name} equals the original's`, async () => {
    const d = JSON.parse(readFileSync(path.join(FIXTURES, name, 'decode.json'), 'utf8'));
    // Maps are needed to decode: the folder has them (and the gathered values, used by the loss).
    const { inputs } = await computeLossWithInputs({ paths: [path.join(FIXTURES, name)] });
    const stack = inputs.dims.S - 1;
    const s = d.settings;
    d.detections.forEach((want: Row[], image: number) => {
      const got = decodeImage(inputs, stack, image, { K: s.K, kernel: s.kernel, aeThreshold: s.ae_threshold, numDets: s.num_dets }).detections.map(
        (x): Row => [x.x1, x.y1, x.x2, x.y2, x.score, x.tlScore, x.brScore, x.class],
      );
      if (d.score_ties === 0) {
        assert.equal(got.length, want.length, `image ${image}: number of detections`);
        want.forEach((w, i) => assert.ok(near(got[i]!, w), `image ${image} #${i}: got ${got[i]}, want ${w}`));
      } else {
        const tied = (rows: Row[]) => rows.filter((r) => rows.filter((q) => Math.abs(q[4]! - r[4]!) <= 1e-7).length > 1);
        const untied = (rows: Row[]) => rows.filter((r) => !tied(rows).includes(r));
        for (const w of untied(want)) assert.ok(got.some((g) => near(g, w)), `image ${image}: missing ${w}`);
        for (const g of untied(got)) assert.ok(want.some((w) => near(g, w)), `image ${image}: extra ${g}`);
      }
    });
  });
}

describe('decode options', () => {
  it('refuses K*K below num_dets, like the original topk', async () => {
    const { inputs } = await computeLossWithInputs({ paths: [path.join(FIXTURES, 'p01_basic')] });
    assert.throws(() => decodeImage(inputs, 0, 0, { K: 20, numDets: 1000 }), /K\*K = 400 pairs cannot cover 1000/);
    assert.throws(() => decodeImage(inputs, 0, 0, { kernel: 2 }), /odd/);
  });
  it('needs the maps', async () => {
    const { inputs } = await computeLossWithInputs({ paths: [path.join(FIXTURES, 'p01_basic')] });
    assert.throws(() => decodeImage({ ...inputs, tagMap: undefined }, 0, 0, { K: 32 }), /maps/);
  });
});
