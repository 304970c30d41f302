// UI test of the diagnosis in the results panel (issue 14). The bundled sample is healthy: no
// finding, a gradient row under the heatmaps, gradient norms and the ground-truth ablation. A copy
// of it with every positive corner's logit pushed to the clamp floor (the fault of CenterNet#319)
// shows `clamp-floor-positives` first, its evidence jumps to an image/class/pixel (the selects
// follow and the pixel is marked), the gradient there is 0 (the clamp kills it), and the ablation
// names the target heatmaps as the head that limits detection. Writes test/ui/shots/findings-{healthy,clamp-floor,gradient-row,ablation}.png.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

/** A little-endian float32 .npy's data as a Float32Array view on its bytes (header v1/v2). */
function npyFloat32(buf) {
  assert.equal(buf.toString('latin1', 1, 6), 'NUMPY');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  assert.match(header, /'descr': '<f4'/);
  assert.match(header, /'fortran_order': False/);
  const shape = /'shape': \(([^)]*)\)/.exec(header)[1].split(',').filter((x) => x.trim()).map(Number);
  return Object.assign(new Float32Array(buf.buffer, buf.byteOffset + start, (buf.length - start) / 4), { shape });
}

/** sample/ with the predicted logit of every target peak (gt == 1) set to -30, both stacks. */
function plantClampFloor(workspaceDir, name) {
  const dir = path.join(workspaceDir, name);
  fs.cpSync(path.join(workspaceDir, 'sample'), dir, { recursive: true });
  let planted = 0;
  let size;
  for (const corner of ['tl', 'br']) {
    const gt = npyFloat32(fs.readFileSync(path.join(dir, `gt_${corner}_heat.npy`)));
    size = { h: gt.shape[gt.shape.length - 2], w: gt.shape[gt.shape.length - 1] };
    const file = path.join(dir, `${corner}_heat.npy`);
    const bytes = fs.readFileSync(file);
    const heat = npyFloat32(bytes);
    assert.equal(heat.length % gt.length, 0, 'tl_heat is [S, ...gt_tl_heat.shape]');
    for (let s = 0; s < heat.length / gt.length; s++) {
      for (let i = 0; i < gt.length; i++) {
        if (gt[i] === 1) {
          heat[s * gt.length + i] = -30;
          planted++;
        }
      }
    }
    fs.writeFileSync(file, bytes);
  }
  // Class names beside the tensors: the panel writes `0 cat` where it wrote `0`.
  fs.writeFileSync(path.join(dir, 'classes.txt'), 'cat\ndog\nbird\nfish\n');
  return { planted, size };
}

exports.run = async ({ page, helpers, workspaceDir, log }) => {
  // 1) The healthy sample: no finding; gradient norms and the ablation arrive after the total.
  await helpers.explorerSelect(['sample']);
  await helpers.contextMenu('Compute CornerNet Loss');
  let frame = helpers.webviewFrame();
  await frame.locator('[data-metric="total"]').waitFor({ timeout: 60000 });
  await frame.locator('#findings-none').waitFor({ timeout: 60000 });
  assert.match(await frame.locator('#findings-none').textContent(), /nothing looks wrong/);
  await frame.locator('#gradient-table tbody tr').first().waitFor({ timeout: 30000 });
  const gradRows = await frame.locator('#gradient-table tbody tr').count();
  // CornerNet, 2 stacks: the focal loss w.r.t. tl and br logits, pull, push and regr per stack.
  assert.equal(gradRows, 10, 'gradient norms: 2 stacks x (focal tl, focal br, pull, push, regr)');
  await frame.locator('#ablation-table tbody tr').first().waitFor({ timeout: 60000 });
  const variants = await frame.locator('#ablation-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-variant')));
  assert.deepEqual(variants, ['as-is', 'target-heatmaps', 'perfect-grouping', 'target-offsets', 'all-targets']);
  const ap = async (v) => Number(await frame.locator(`[data-metric="ablation.${v}"]`).getAttribute('data-value'));
  for (const v of variants) {
    const x = await ap(v);
    assert.ok(x >= 0 && x <= 1, `AP@0.5 of ${v} in [0, 1]: ${x}`);
  }
  assert.equal(await ap('all-targets'), 1, 'every head replaced by its target finds every object of the sample');
  // The gradient row: drawn, not blank, with a diverging colour bar.
  const gradCanvas = frame.locator('#canvas-tl-grad');
  await gradCanvas.waitFor({ timeout: 30000 });
  const colours = await gradCanvas.evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const set = new Set();
    for (let i = 0; i < d.length; i += 4) set.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return set.size;
  });
  assert.ok(colours > 2, `the gradient heatmap is drawn (${colours} colours)`);
  await frame.locator('#ablation').scrollIntoViewIfNeeded();
  await helpers.screenshot('findings-healthy');
  log(`sample: no finding, ${gradRows} gradient norms, ablation ${variants.length} rows, gradient canvas ${colours} colours`);

  // 2) The planted fault.
  const { planted, size: dims } = plantClampFloor(workspaceDir, 'sample_floor');
  log(`planted ${planted} positive logits at -30`);
  await helpers.refreshExplorer();
  await helpers.explorerSelect(['sample_floor']);
  await helpers.contextMenu('Compute CornerNet Loss');
  frame = helpers.webviewFrame();
  await frame.locator('#findings-list').waitFor({ timeout: 60000 });
  const codes = await frame.locator('#findings-list > li').evaluateAll((lis) => lis.map((l) => l.getAttribute('data-code')));
  log(`findings: ${codes.join(', ')}`);
  assert.equal(codes[0], 'clamp-floor-positives', 'the clamp floor explains most of the loss: first');
  const finding = frame.locator('#findings-list > li[data-code="clamp-floor-positives"]');
  assert.match(await finding.locator('.title').textContent(), /probability floor/);
  assert.ok((await finding.locator('.evidence').textContent()).length > 0, 'the finding shows its numbers');

  // Its first place: the selects follow, and the pixel is marked on the heatmaps.
  const jump = finding.locator('button.jump').first();
  const label = await jump.textContent();
  const m = /stack (\d+).*image (\d+).*class (\d+) (cat|dog|bird|fish).*\((\d+), (\d+)\)/.exec(label);
  assert.ok(m, `a place with stack, image, class and pixel: ${label}`);
  await jump.click();
  await page.waitForTimeout(300);
  const selectValue = (id) => frame.locator(`#${id}`).evaluate((s) => s.value);
  assert.equal(await selectValue('sel-image'), m[2], 'the image select follows the jump');
  assert.equal(await selectValue('sel-class'), m[3], 'the class select follows the jump');
  // Hover the pixel: p at the floor, the gradient 0 (the clamp holds p at 1e-4).
  const [x, y] = [Number(m[5]), Number(m[6])];
  assert.equal(['cat', 'dog', 'bird', 'fish'][Number(m[3])], m[4], 'the place names its class');
  assert.match(await frame.locator('.sizes').first().textContent(), /4 classes \(names from classes\.txt\)/);
  const strip = await frame.locator('.thumb-item .class-name').allTextContents();
  assert.ok(strip.length === 4 && strip.every((t) => /^class \d (cat|dog|bird|fish)$/.test(t)), `the class strip names the classes: ${strip.join(', ')}`);
  const head = /\b(tl|br)\b/.exec(label)?.[1] ?? 'tl';
  const target = frame.locator(`#canvas-${head}-prob`);
  const tbox = await target.boundingBox();
  // The jump centres the linked maps on the pixel (zoomed in): hover it through the viewport shown.
  const [x0, y0, span] = (await frame.locator('#zoom-label').getAttribute('data-viewport')).split(',').map(Number);
  const spanY = (span * dims.h) / dims.w;
  assert.ok(x >= x0 && x < x0 + span && y >= y0 && y < y0 + spanY, `the jumped-to pixel is in view (${x0}, ${y0}, ${span})`);
  await target.hover({ position: { x: ((x + 0.5 - x0) / span) * tbox.width, y: ((y + 0.5 - y0) / spanY) * tbox.height } });
  await frame.locator('[data-metric="hover.grad"]').waitFor({ timeout: 10000 });
  const hoverProb = Number(await frame.locator('[data-metric="hover.prob"]').getAttribute('data-value'));
  const hoverGrad = Number(await frame.locator('[data-metric="hover.grad"]').getAttribute('data-value'));
  const hoverTarget = Number(await frame.locator('[data-metric="hover.target"]').getAttribute('data-value'));
  assert.equal(hoverTarget, 1, `the jumped-to pixel is a positive (${label})`);
  assert.ok(Math.abs(hoverProb - 1e-4) < 1e-9, `p at the clamp floor: ${hoverProb}`);
  assert.equal(hoverGrad, 0, 'no gradient through the clamp');
  await frame.locator('#canvas-tl-grad').scrollIntoViewIfNeeded();
  await helpers.screenshot('findings-gradient-row');

  // The ablation: the predicted heatmaps limit detection.
  await frame.locator('#ablation-verdict').waitFor({ timeout: 60000 });
  assert.match(await frame.locator('#ablation-verdict').textContent(), /Limiting head: target heatmaps/);
  assert.ok((await ap('target-heatmaps')) > (await ap('as-is')), 'the target heatmaps gain AP');
  await finding.scrollIntoViewIfNeeded();
  await helpers.screenshot('findings-clamp-floor');
  await frame.locator('#ablation').scrollIntoViewIfNeeded();
  await helpers.screenshot('findings-ablation');
  log(`clamp floor: jumped to ${label}, p ${hoverProb}, gradient ${hoverGrad}; ablation as-is ${await ap('as-is')} -> target heatmaps ${await ap('target-heatmaps')}`);
};
