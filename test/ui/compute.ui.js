// UI test of "Compute CornerNet Loss" as a user runs it: select tensor files in the explorer,
// right-click, run the command, wait for the results panel, read the total from inside the
// webview, hover a heatmap pixel and read the readout, check the canvases are drawn, jump to a
// class from the thumbnail strip. Writes test/ui/shots/panel.png and panel-heatmaps.png.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

exports.run = async ({ page, workspaceDir, helpers, log }) => {
  const fixture = 'p01_basic';
  const expected = JSON.parse(fs.readFileSync(path.join(workspaceDir, fixture, 'expected.json'), 'utf8'));
  const files = fs
    .readdirSync(path.join(workspaceDir, fixture))
    .filter((f) => f.endsWith('.npy'))
    .sort()
    .map((f) => `${fixture}/${f}`);

  // 1) multi-select the 17 arrays and run the command from the explorer's context menu
  await helpers.explorerSelect(files);
  await helpers.contextMenu('Compute CornerNet Loss');

  // 2) the panel opens; its total is the original's float32 value
  const frame = helpers.webviewFrame();
  const total = frame.locator('[data-metric="total"]');
  await total.waitFor({ timeout: 60000 });
  const value = Number(await total.getAttribute('data-value'));
  log(`panel total ${value}, fixture ${expected.float32.total}`);
  assert.ok(Math.abs(value - expected.float32.total) <= 1e-5 * expected.float32.total, `total ${value}`);
  for (const t of ['focal', 'pull', 'push', 'regr']) {
    const v = Number(await frame.locator(`[data-metric="${t}"]`).getAttribute('data-value'));
    const want = expected.float32.unweighted[t];
    assert.ok(Math.abs(v - want) <= Math.max(1e-5 * Math.abs(want), 2e-5), `${t} ${v} vs ${want}`);
  }

  // 3) the heatmaps are drawn and not blank (read back from the canvases inside the webview)
  const canvas = frame.locator('#canvas-tl-prob');
  await canvas.waitFor({ timeout: 30000 });
  await frame.locator('canvas.thumb').first().waitFor({ timeout: 30000 });
  const stats = await frame.locator('canvas.heatmap[id^="canvas-"]').evaluateAll((cs) =>
    cs.map((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const colours = new Set();
      for (let i = 0; i < d.length; i += 4 * 7) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return { id: c.id, w: c.width, h: c.height, colours: colours.size };
    }),
  );
  log(`canvases: ${stats.map((s) => `${s.id} ${s.w}x${s.h} ${s.colours} colours`).join(', ')}`);
  assert.equal(stats.length, 8); // tl and br: probability, target, loss, gradient
  for (const s of stats) assert.ok(s.colours > 1, `${s.id} is blank`);

  // 4) hovering a pixel shows its coordinates and values; p is the clamped sigmoid of the logit
  const box = await canvas.boundingBox();
  const W = expected.sizes.width;
  const H = expected.sizes.height;
  const px = { x: 5, y: 9 };
  await canvas.hover({ position: { x: ((px.x + 0.5) * box.width) / W, y: ((px.y + 0.5) * box.height) / H } });
  const read = async (name) => Number(await frame.locator(`#readout [data-metric="hover.${name}"]`).getAttribute('data-value'));
  await frame.locator('#readout [data-metric="hover.x"]').waitFor({ timeout: 10000 });
  const hover = { x: await read('x'), y: await read('y'), logit: await read('logit'), prob: await read('prob'), target: await read('target'), loss: await read('loss') };
  log(`hover readout ${JSON.stringify(hover)}`);
  assert.deepEqual([hover.x, hover.y], [px.x, px.y]);
  const p = Math.min(Math.max(1 / (1 + Math.exp(-hover.logit)), 1e-4), 1 - 1e-4);
  assert.ok(Math.abs(hover.prob - p) < 1e-6, `p ${hover.prob} vs sigmoid(logit) ${p}`);
  assert.ok(hover.target >= 0 && hover.target <= 1 && hover.loss >= 0);
  await helpers.screenshot('panel');

  // 5) the thumbnail strip jumps to another class
  const current = Number(await frame.locator('[data-metric="plane.tl"]').getAttribute('data-value'));
  const other = frame.locator('.thumb-item:not(.selected)').first();
  const label = await other.locator('span').first().textContent();
  await other.click();
  await frame.locator('.thumb-item.selected', { hasText: label }).waitFor({ timeout: 10000 });
  await page.waitForTimeout(300);
  const after = Number(await frame.locator('[data-metric="plane.tl"]').getAttribute('data-value'));
  log(`selected ${label}: plane loss tl ${current} -> ${after}`);
  assert.notEqual(after, current);
  await frame.locator('#heatmaps').scrollIntoViewIfNeeded();
  await helpers.screenshot('panel-heatmaps');

  // 6) "Change roles…": a QuickPick of roles, then of arrays; the loss is computed again
  await frame.locator('#change-roles').click();
  await helpers.pickItem('tl_heat');
  await helpers.pickItem('br_heat.npy', { title: 'which array is tl_heat?' });
  // br_heat.npy now plays tl_heat, so br_heat has no array: the picker asks; swap them.
  await helpers.pickItem('tl_heat.npy', { title: 'which array is br_heat?' });
  await page.waitForFunction(
    (old) => {
      const outer = [...document.querySelectorAll('iframe.webview.ready')].map((f) => f.contentDocument?.querySelector('iframe#active-frame')?.contentDocument);
      return outer.some((d) => d && d.querySelector('[data-metric="total"]') && d.querySelector('[data-metric="total"]').getAttribute('data-value') !== String(old));
    },
    value,
    { timeout: 60000 },
  ).catch(() => {});
  const changed = Number(await frame.locator('[data-metric="total"]').getAttribute('data-value'));
  log(`after swapping tl_heat and br_heat: total ${changed}`);
  assert.notEqual(changed, value, 'the total changed with the roles');
  const tlRow = frame.locator('#roles tr', { has: frame.locator('td', { hasText: helpers.exactly('tl_heat') }) });
  assert.match(await tlRow.textContent(), /br_heat\.npy.*override/);
  await helpers.screenshot('panel-roles');

  // 7) the panel survives a window reload (serializer + webview state), heatmaps drawn again
  await helpers.runCommand('Developer: Reload Window');
  await page.waitForTimeout(2000);
  const restored = helpers.webviewFrame().locator('[data-metric="total"]');
  await restored.waitFor({ timeout: 90000 });
  assert.equal(Number(await restored.getAttribute('data-value')), changed, 'restored total');
  const restoredCanvas = helpers.webviewFrame().locator('#canvas-br-loss');
  await restoredCanvas.waitFor({ timeout: 60000 });
  await page.waitForFunction(() => true);
  const drawn = await helpers
    .webviewFrame()
    .locator('canvas.thumb')
    .first()
    .waitFor({ timeout: 60000 })
    .then(() => true, () => false);
  assert.ok(drawn, 'heatmaps and thumbnails drawn again after the reload');
  log('panel restored after reload');
};
