// UI test of the panel's diagnostics on the bundled sample: embeddings (table, number line, push
// matrix, tag maps), offsets (worst first) and decode (boxes, objects without a detection and
// why). Right-click the `sample` folder, "Compute CornerNet Loss". Screenshots:
// test/ui/shots/embeddings.png, decode.png.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

exports.run = async ({ page, workspaceDir, helpers, log }) => {
  await helpers.explorerSelect('sample');
  await helpers.contextMenu('Compute CornerNet Loss');
  const frame = helpers.webviewFrame();
  await frame.locator('[data-metric="total"]').waitFor({ timeout: 60000 });

  // Embeddings of the selected image: one table row per object, consistent with the summary.
  const section = frame.locator('#embeddings');
  await section.locator('#embed-table').waitFor({ timeout: 30000 });
  const rows = await section.locator('#embed-table tbody tr').count();
  const image = Number(await frame.locator('#sel-image').evaluate((s) => s.value));
  const objects = Number(await frame.locator(`[data-metric="image${image}.objects"]`).getAttribute('data-value'));
  log(`image ${image}: ${rows} embedding rows, ${objects} objects in the summary`);
  assert.equal(rows, objects);
  const pullSum = await section.locator('#embed-table [data-metric$=".pull"]').evaluateAll((ns) => ns.reduce((a, n) => a + Number(n.getAttribute('data-value')), 0));
  const pull = Number(await section.locator('[data-metric="embed.pull"]').getAttribute('data-value'));
  assert.ok(Math.abs(pullSum - pull) < 1e-9, `object pulls ${pullSum} add up to the image pull ${pull}`);
  await section.locator('#embed-line').waitFor();
  await section.locator('#embed-matrix').waitFor();
  await section.locator('#tagmap-tl').waitFor({ timeout: 30000 }); // the sample holds maps
  // Hovering a row of the number line names the object.
  const line = section.locator('#embed-line');
  const box = await line.boundingBox();
  await line.hover({ position: { x: box.width / 2, y: (24 + 8) * (box.height / (await line.evaluate((c) => c.height))) } });
  assert.match(await section.locator('#embed-tip').textContent(), /^object \d+, class \d+, box/);
  await section.scrollIntoViewIfNeeded();
  await helpers.screenshot('embeddings');

  // Offsets, worst first.
  const losses = await frame.locator('#offset-table [data-metric^="offset."]').evaluateAll((ns) => ns.map((n) => Number(n.getAttribute('data-value'))));
  assert.ok(losses.length >= 2);
  assert.deepEqual(losses, [...losses].sort((a, b) => b - a));

  // Decode: objects matched + reasons for the rest; changing K decodes again.
  const dec = frame.locator('#decode');
  await dec.locator('#decode-canvas').waitFor({ timeout: 30000 });
  const matched = Number(await dec.locator('[data-metric="decode.matched"]').getAttribute('data-value'));
  const total = Number(await dec.locator('[data-metric="decode.objects"]').getAttribute('data-value'));
  const missed = await dec.locator('#decode-missed tbody tr').count();
  log(`decode: ${matched} of ${total} objects matched, ${missed} listed with a reason`);
  assert.equal(matched + missed, total);
  if (missed) assert.ok((await dec.locator('#decode-missed tbody tr td').last().textContent()).length > 10, 'a reason is given');
  await dec.locator('#decode-k').fill('5');
  await dec.locator('#decode-run').click();
  await dec.locator('#decode-out', { hasText: 'K 5,' }).waitFor({ timeout: 30000 });
  const shown5 = Number(await dec.locator('[data-metric="decode.valid"]').getAttribute('data-value'));
  assert.ok(shown5 <= 25, `K=5 gives at most 25 pairs (${shown5})`);
  await dec.locator('#decode-k').fill('100');
  await dec.locator('#decode-run').click();
  await dec.locator('#decode-out', { hasText: 'K 100,' }).waitFor({ timeout: 30000 });
  await dec.scrollIntoViewIfNeeded();
  await helpers.screenshot('decode');

  // "Save PNG…": VS Code's save dialog (a quick input in the browser workbench) takes a path.
  await dec.locator('#save-decode').click();
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ timeout: 20000 });
  // It proposes the data folder, <workspace>/sample/sample-decode-image<N>.png: accept it.
  const target = path.join(workspaceDir, 'sample', `sample-decode-image${image}.png`);
  await page.waitForTimeout(500);
  await page.keyboard.press('Enter');
  for (let i = 0; i < 50 && !fs.existsSync(target); i++) await page.waitForTimeout(200);
  const png = fs.readFileSync(target);
  assert.equal(png.readUInt32BE(0), 0x89504e47, 'a PNG was written');
  log(`saved ${png.length} bytes of PNG`);
};
