// UI test of the surfaces around the panel, as a user meets them: the tensor viewer from the
// explorer, the CornerNet side view, a hover over a tensor path in Python, the explorer badge of a
// file with NaN, and the Problems panel. Screenshots: test/ui/shots/viewer.png, sidebar.png,
// hover.png, problems.png.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

/** A .npy (float32, C order) written by hand: the UI test has no access to the project's encoder. */
function npyFloat32(shape, values) {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  const padded = header + ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(padded.length, 8);
  return Buffer.concat([head, Buffer.from(padded, 'latin1'), Buffer.from(Float32Array.from(values).buffer)]);
}

exports.run = async ({ page, workspaceDir, helpers, log }) => {
  // 1) Tensor viewer from the explorer's context menu: statistics, slice, hover readout.
  await helpers.explorerSelect('p02_two_stacks/tl_heat.npy');
  await helpers.contextMenu('Open in Tensor Viewer');
  let frame = helpers.webviewFrame();
  await frame.locator('#stats [data-metric="stats.min"]').waitFor({ timeout: 60000 });
  await frame.locator('#viewer-canvas').waitFor({ timeout: 30000 });
  const before = await frame.locator('#viewer-canvas').evaluate((c) => c.toDataURL());
  const slider = frame.locator('#index-2');
  await slider.fill('3');
  await page.waitForFunction(() => true);
  await frame.locator('#viewer-canvas').waitFor();
  await page.waitForTimeout(500);
  const after = await frame.locator('#viewer-canvas').evaluate((c) => c.toDataURL());
  assert.notEqual(after, before, 'moving the class slider shows another plane');
  const canvas = frame.locator('#viewer-canvas');
  const box = await canvas.boundingBox();
  await canvas.hover({ position: { x: box.width * 0.5, y: box.height * 0.25 } });
  await frame.locator('#viewer-readout [data-metric="hover.value"]').waitFor({ timeout: 10000 });
  log(`viewer readout: ${(await frame.locator('#viewer-readout').textContent()).trim()}`);
  await helpers.screenshot('viewer');

  // 2) Compute on the sample, then the side view lists it; a tensor opens in the viewer.
  await helpers.explorerSelect('sample');
  await helpers.contextMenu('Compute CornerNet Loss');
  await helpers.webviewFrame().locator('[data-metric="total"]').waitFor({ timeout: 60000 });
  const total = Number(await helpers.webviewFrame().locator('[data-metric="total"]').getAttribute('data-value'));
  await helpers.runCommand('View: Show CornerNet');
  const side = await helpers.webviewWith('[data-metric="side.total"]');
  assert.ok(side, 'the side view shows the latest loss');
  assert.equal(Number(await side.locator('[data-metric="side.total"]').getAttribute('data-value')), total);
  const tensors = await side.locator('#tensors button').count();
  log(`side view: total ${total}, ${tensors} tensors`);
  assert.equal(tensors, 13);
  await helpers.screenshot('sidebar');
  await side.locator('#tensors button[data-role="gt_mask"]').click();
  await page.locator('.tabs-container .tab', { hasText: 'gt_mask.npy' }).waitFor({ timeout: 30000 });

  // 3) A hover over a tensor path in Python.
  fs.writeFileSync(path.join(workspaceDir, 'train.py'), 'import numpy as np\n\nheat = np.load("sample/tl_heat.npy")\n');
  await helpers.openFileByName('train.py');
  const line = page.locator('.monaco-editor .view-line', { hasText: 'sample/tl_heat.npy' });
  await line.waitFor({ timeout: 30000 });
  const word = line.locator('span', { hasText: 'tl_heat' }).last();
  await word.hover();
  const hover = page.locator('.monaco-hover-content', { hasText: 'Open in Tensor Viewer' });
  await hover.waitFor({ timeout: 20000 });
  const text = await hover.textContent();
  log(`hover: ${text.replace(/\s+/g, ' ').slice(0, 160)}`);
  assert.match(text, /\[2, 2, 4, 64, 64\]/);
  assert.match(text, /Open in Tensor Viewer/);
  await helpers.screenshot('hover');
  await page.keyboard.press('Escape');

  // 4) A file with NaN: a badge in the explorer and a warning in Problems once opened.
  fs.writeFileSync(path.join(workspaceDir, 'sample_nan.npy'), npyFloat32([2, 3], [0.1, NaN, 0.3, Infinity, 0.5, 0.6]));
  // Selecting reveals the row (the explorer's list is virtual); the badge follows the statistics.
  await helpers.explorerSelect('sample_nan.npy');
  await page.waitForFunction(
    (abs) => {
      // The badge is drawn by CSS; the decoration's tooltip is in the item's label.
      const el = [...document.querySelectorAll('.explorer-item')].find((e) => (e.getAttribute('aria-label') ?? '').startsWith(abs));
      return !!el && /NaN 1/.test(el.getAttribute('aria-label') ?? '');
    },
    path.join(workspaceDir, 'sample_nan.npy'),
    { timeout: 30000 },
  );
  const label = await page.evaluate((abs) => [...document.querySelectorAll('.explorer-item')].map((e) => e.getAttribute('aria-label') ?? '').find((l) => l.startsWith(abs)), path.join(workspaceDir, 'sample_nan.npy'));
  log(`badge row: ${label}`);
  assert.match(label, /NaN 1/);
  await helpers.screenshot('badge');
  await helpers.explorerSelect('sample_nan.npy');
  await helpers.contextMenu('Open in Tensor Viewer');
  await helpers.webviewFrame().locator('#viewer-canvas').waitFor({ timeout: 30000 }).catch(() => {});
  await helpers.runCommand('View: Focus Problems (Errors, Warnings, Infos)');
  const problem = page.locator('.markers-panel .monaco-list-row', { hasText: '1 NaN, 1 +Inf, 0 -Inf of 6 values' });
  await problem.first().waitFor({ timeout: 30000 });
  log(`problems: ${(await problem.first().textContent()).replace(/\s+/g, ' ').slice(0, 140)}`);
  await helpers.screenshot('problems');
};
