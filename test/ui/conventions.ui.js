// UI test of the conventions in the results panel: an mmdetection CornerHead batch (its own files,
// detected from the names) shows its own terms (det_loss, off_loss, pull_loss, push_loss), the
// per-level table and the heatmaps with mmdet's per-pixel rule; "Compare conventions" scores the
// same batch under the original AELoss and explains each term's gap. Writes
// test/ui/shots/conventions-mmdet.png and conventions-compare.png.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

exports.run = async ({ page, helpers, workspaceDir, log }) => {
  const folder = 'mmdet_c02';
  const expected = JSON.parse(fs.readFileSync(path.join(workspaceDir, folder, 'expected.json'), 'utf8')).float32;

  await helpers.explorerSelect([folder]);
  await helpers.contextMenu('Compute CornerNet Loss');
  const frame = helpers.webviewFrame();
  const total = frame.locator('[data-metric="total"]');
  await total.waitFor({ timeout: 60000 });
  const close = (a, b, what) => assert.ok(Math.abs(a - b) <= Math.max(1e-5 * Math.abs(b), 2e-5), `${what}: ${a} vs ${b}`);
  close(Number(await total.getAttribute('data-value')), expected.total, 'total');
  assert.match(await frame.locator('h1').first().textContent(), /mmdetection CornerHead loss/);
  assert.match(await frame.locator('#convention-reason').textContent(), /detected: .*topleft_heatmap/);
  for (const [k, v] of Object.entries(expected.loss_dict_sums)) close(Number(await frame.locator(`[data-metric="term.${k}"]`).getAttribute('data-value')), v, k);
  // Per level: det tl of level 1.
  close(Number(await frame.locator('[data-metric="stack1.focalTl"]').getAttribute('data-value')), expected.levels[1].det_tl, 'level 1 det_tl');

  // The heatmaps are drawn, and the per-pixel loss follows mmdet's rule (no clamp).
  await frame.locator('canvas.thumb').first().waitFor({ timeout: 30000 });
  const canvases = await frame.locator('canvas.heatmap[id^="canvas-"]').evaluateAll((cs) => cs.map((c) => c.id));
  assert.equal(canvases.length, 8);
  assert.match(await frame.locator('.row-head').nth(2).textContent(), /mmdet: no clamp/);
  const canvas = frame.locator('#canvas-tl-prob');
  const box = await canvas.boundingBox();
  await canvas.hover({ position: { x: box.width * 0.45, y: box.height * 0.55 } });
  await frame.locator('#readout [data-metric="hover.prob"]').waitFor({ timeout: 10000 });
  const logit = Number(await frame.locator('#readout [data-metric="hover.logit"]').getAttribute('data-value'));
  const prob = Number(await frame.locator('#readout [data-metric="hover.prob"]').getAttribute('data-value'));
  assert.ok(Math.abs(prob - 1 / (1 + Math.exp(-logit))) < 1e-6, `plain sigmoid: p ${prob}, logit ${logit}`);
  assert.match(await frame.locator('#readout').textContent(), /level \d/);
  await helpers.screenshot('conventions-mmdet');

  // "Compare conventions": the original AELoss on the same batch, the gaps term by term.
  await frame.locator('#compare-conventions').click();
  await frame.locator('#compare-table').waitFor({ timeout: 60000 });
  const original = Number(await frame.locator('[data-metric="compare.cornernet.total"]').getAttribute('data-value'));
  const own = Number(await frame.locator('[data-metric="compare.mmdet-cornernet.total"]').getAttribute('data-value'));
  log(`compare: mmdet ${own}, original ${original}`);
  close(own, expected.total, 'own total in the comparison');
  assert.ok(original > 0 && Math.abs(original - own) > 1e-3, 'the original scores it differently');
  const gaps = await frame.locator('#compare-gaps li').allTextContents();
  log(gaps.join('\n'));
  assert.equal(gaps.length, 4);
  assert.match(gaps.join('\n'), /stack\/level scaling/);
  await frame.locator('#compare').scrollIntoViewIfNeeded();
  await helpers.screenshot('conventions-compare');
};

// A CenterNet batch (output.npz + batch.npz, as np.savez(f, **output) writes them): one center
// heatmap column with the objects' target and predicted boxes, the size table, ctdet_decode.
const runMmdet = exports.run;
exports.run = async (ctx) => {
  await runMmdet(ctx);
  const { page, helpers, workspaceDir, log } = ctx;
  const folder = 'centernet_c02';
  const expected = JSON.parse(fs.readFileSync(path.join(workspaceDir, folder, 'expected.json'), 'utf8')).float32;
  await helpers.explorerSelect([folder]);
  await helpers.contextMenu('Compute CornerNet Loss');
  const frame = helpers.webviewFrame();
  await frame.locator('h1', { hasText: 'CenterNet' }).waitFor({ timeout: 60000 });
  const total = Number(await frame.locator('[data-metric="total"]').getAttribute('data-value'));
  log(`CenterNet total ${total}, fixture ${expected.loss}`);
  assert.ok(Math.abs(total - expected.loss) <= 1e-5 * expected.loss, `total ${total}`);
  for (const k of ['hm_loss', 'wh_loss', 'off_loss']) {
    const v = Number(await frame.locator(`[data-metric="term.${k}"]`).getAttribute('data-value'));
    assert.ok(Math.abs(v - expected[k]) <= Math.max(1e-5 * expected[k], 1e-6), `${k} ${v} vs ${expected[k]}`);
  }
  await frame.locator('canvas.thumb').first().waitFor({ timeout: 30000 });
  const canvases = await frame.locator('canvas.heatmap[id^="canvas-"]').evaluateAll((cs) => cs.map((c) => c.id));
  assert.deepEqual(canvases.sort(), ['canvas-tl-grad', 'canvas-tl-loss', 'canvas-tl-prob', 'canvas-tl-target'], 'one column: the center heatmap');
  assert.match(await frame.locator('.col-head').first().textContent(), /center/);
  await frame.locator('#size-table').waitFor({ timeout: 10000 });
  const sizeRows = await frame.locator('#size-table tbody tr').count();
  assert.ok(sizeRows >= 1, 'the size table lists the objects');
  await frame.locator('#decode-canvas').waitFor({ timeout: 30000 });
  const decodeNote = await frame.locator('#decode .note').first().textContent();
  assert.match(decodeNote, /ctdet_decode/);
  await frame.locator('#heatmaps').scrollIntoViewIfNeeded();
  await helpers.screenshot('conventions-centernet');
  await frame.locator('#decode').scrollIntoViewIfNeeded();
  await helpers.screenshot('conventions-centernet-decode');
};
