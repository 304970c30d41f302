// UI test of the results panel as an instrument (issue 15), in code-server + Chromium:
// 1) a copy of the sample with one NaN and one Inf logit: the non-finite finding jumps to the
//    plane, the plane says how many and where the first is, the pixel is drawn magenta and the
//    readout reads NaN;
// 2) the sample: zoom (buttons, wheel), pan by dragging, fit; each data pixel a solid square; the
//    crosshair drawn on the other maps; the readout names stack, image, class and both corners;
// 3) following an object: a row of the offsets table selects it: its card (focal loss at its
//    corners equals the readout there), its row highlighted, its corners drawn on the maps, the
//    decode box under the cursor described;
// 4) "Copy numpy index", "Save figure…" (a labelled PNG in the data folder, confirmed) and
//    "Export JSON…" (data folder, confirmed).
// Screenshots: test/ui/shots/panel-{nan,zoom,object,decode-hover}.png and panel-figure.png (the
// saved figure itself).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

/** A little-endian float32 .npy's data as a Float32Array view on its bytes, with its shape. */
function npyFloat32(buf) {
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  assert.match(header, /'descr': '<f4'/);
  const shape = /'shape': \(([^)]*)\)/.exec(header)[1].split(',').filter((x) => x.trim()).map(Number);
  return Object.assign(new Float32Array(buf.buffer, buf.byteOffset + start, (buf.length - start) / 4), { shape });
}

/** Reads pixels of a canvas in the webview (device pixels). */
async function pixels(frame, id, points) {
  return frame.locator(`#${id}`).evaluate((c, pts) => {
    const ctx = c.getContext('2d');
    return pts.map(([x, y]) => Array.from(ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data));
  }, points);
}

/** The linked maps' viewport (data pixels) and the canvas's device-pixel size. */
async function viewport(frame) {
  const [x0, y0, span] = (await frame.locator('#zoom-label').getAttribute('data-viewport')).split(',').map(Number);
  const zoom = Number(await frame.locator('#zoom-label').getAttribute('data-zoom'));
  return { x0, y0, span, zoom };
}

exports.run = async ({ page, helpers, workspaceDir, shotsDir, log }) => {
  // ---- 1) NaN and Inf in the last stack's top-left logits, image 1, class 2.
  const nanDir = path.join(workspaceDir, 'sample_nan');
  fs.cpSync(path.join(workspaceDir, 'sample'), nanDir, { recursive: true });
  const file = path.join(nanDir, 'tl_heat.npy');
  const bytes = fs.readFileSync(file);
  const heat = npyFloat32(bytes);
  const [S, B, C, H, W] = heat.shape;
  const at = (s, b, c, y, x) => (((s * B + b) * C + c) * H + y) * W + x;
  const bad = { s: S - 1, b: 1, c: 2, y: 20, x: 30 };
  heat[at(bad.s, bad.b, bad.c, bad.y, bad.x)] = NaN;
  heat[at(bad.s, bad.b, bad.c, bad.y + 1, bad.x + 1)] = Infinity;
  fs.writeFileSync(file, bytes);
  // Every embedding 0: every pair of objects is a push violation.
  for (const corner of ['tl', 'br']) {
    const tagFile = path.join(nanDir, `${corner}_tag.npy`);
    const tagBytes = fs.readFileSync(tagFile);
    npyFloat32(tagBytes).fill(0);
    fs.writeFileSync(tagFile, tagBytes);
  }

  await helpers.explorerSelect(['sample_nan']);
  await helpers.contextMenu('Compute CornerNet Loss');
  let frame = helpers.webviewFrame();
  await frame.locator('[data-metric="total"]').waitFor({ timeout: 60000 });
  const finding = frame.locator('#findings-list li[data-code="non-finite"]');
  await finding.waitFor({ timeout: 60000 });
  // The non-finite warning names the first location, with a jump (grouped warnings: one entry per code).
  const first = frame.locator('#warnings #nonfinite-first');
  await first.waitFor({ timeout: 30000 });
  const firstText = await first.textContent();
  log(`warning: ${firstText}`);
  assert.match(firstText, new RegExp(`stack ${bad.s}, image ${bad.b}, class ${bad.c}, y ${bad.y}, x ${bad.x}`));
  const place = finding.locator('button.jump').first();
  log(`non-finite finding: ${(await finding.locator('.title').textContent()).trim()}; first place: ${(await place.textContent()).trim()}`);
  await place.click();
  const note = frame.locator('#plane-nonfinite button.jump');
  await note.first().waitFor({ timeout: 20000 });
  const sel = async () => Promise.all(['sel-stack', 'sel-image', 'sel-class'].map((id) => frame.locator(`#${id}`).evaluate((s) => Number(s.value))));
  assert.deepEqual(await sel(), [bad.s, bad.b, bad.c], 'the finding jumps to the plane with the NaN');
  const noteText = (await note.first().textContent()).trim();
  log(`plane note: ${noteText}`);
  assert.match(noteText, new RegExp(`top-left logit: 1 NaN, 1 Inf, first at \\(x ${bad.x}, y ${bad.y}\\)`));
  // The NaN logit gives a NaN probability; the +Inf one is clamped to 1 - 1e-4 (as the original's clamp does).
  assert.equal(await frame.locator('#canvas-tl-prob').getAttribute('data-nonfinite'), '1');
  assert.equal(await frame.locator('#canvas-tl-target').getAttribute('data-nonfinite'), '0');
  await note.first().click();
  await frame.locator('#readout [data-metric="hover.logit"]').waitFor({ timeout: 10000 });
  assert.equal(await frame.locator('#readout [data-metric="hover.logit"]').getAttribute('data-value'), 'NaN');
  assert.equal(Number(await frame.locator('#readout [data-metric="hover.x"]').getAttribute('data-value')), bad.x);
  // The NaN pixel is magenta on the probability map (the view is centred on it).
  {
    const vp = await viewport(frame);
    const cw = await frame.locator('#canvas-tl-prob').evaluate((c) => c.width);
    const k = cw / vp.span;
    const [rgba] = await pixels(frame, 'canvas-tl-prob', [[(bad.x + 0.5 - vp.x0) * k, (bad.y + 0.5 - vp.y0) * k]]);
    log(`NaN pixel rgba ${rgba} (zoom ${vp.zoom})`);
    assert.deepEqual(rgba.slice(0, 3), [255, 0, 255], 'NaN drawn magenta');
  }
  await frame.locator('#heatmaps').scrollIntoViewIfNeeded();
  await helpers.screenshot('panel-nan');

  // Push violations of this image (all embeddings 0): a list, worst first, sortable, filterable.
  const objectsHere = Number(await frame.locator(`[data-metric="image${bad.b}.objects"]`).getAttribute('data-value'));
  const vrows = frame.locator('#violations-table tbody tr');
  await vrows.first().waitFor({ timeout: 20000 });
  assert.equal(await vrows.count(), (objectsHere * (objectsHere - 1)) / 2, 'every pair listed');
  assert.equal(Number(await frame.locator('[data-metric="embed.violations"]').getAttribute('data-value')), (objectsHere * (objectsHere - 1)) / 2);
  const firstPair = await vrows.first().getAttribute('data-pair');
  await frame.locator('#violations-table th[data-sort="pair"]').click();
  await frame.locator('#violations-table th[data-sort="pair"]').click();
  const pairs = await vrows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-pair').split('-').map(Number)));
  assert.ok(pairs.every((p, i) => i === 0 || p[0] * 1e6 + p[1] <= pairs[i - 1][0] * 1e6 + pairs[i - 1][1]), 'sorted by pair, descending after a second click');
  const slotA = Number(firstPair.split('-')[0]);
  await frame.locator('#violations-filter').fill(String(slotA));
  const filtered = await vrows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-pair')));
  log(`violations: ${(objectsHere * (objectsHere - 1)) / 2} pairs; filter "${slotA}" keeps ${filtered.length}`);
  assert.equal(filtered.length, objectsHere - 1, 'the pairs of one object');
  assert.ok(filtered.every((p) => p.split('-').map(Number).includes(slotA)));
  await frame.locator('#embed-matrix').scrollIntoViewIfNeeded();
  await helpers.screenshot('panel-violations');
  await frame.locator(`#violations-table button.link[data-object="${slotA}"]`).first().click();
  await frame.locator(`#object-card[data-object="${slotA}"]`).waitFor({ timeout: 10000 });

  // ---- 2) The healthy sample: zoom, pan, crosshair, readout.
  await helpers.explorerSelect(['sample']);
  await helpers.contextMenu('Compute CornerNet Loss');
  frame = helpers.webviewFrame();
  await frame.locator('#plane-nonfinite[hidden]').waitFor({ state: 'attached', timeout: 60000 });
  await frame.locator('#canvas-tl-prob').waitFor({ timeout: 60000 });
  await frame.locator('[data-metric="total"]').waitFor({ timeout: 60000 });
  // A new result starts at its top.
  assert.ok((await frame.locator('body').evaluate(() => window.scrollY)) < 5, 'a new result is shown from its top');
  // The default plane's class is the strip's worst (the strip ranks the stack shown).
  await frame.locator('.thumb-item').first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(500);
  const strip = await frame.locator('.thumb-item').evaluateAll((items) =>
    items.map((i) => ({ cls: Number(/class (\d+)/.exec(i.querySelector('.class-name').textContent)[1]), loss: Number(i.title.split('focal loss ')[1]), selected: i.classList.contains('selected') })),
  );
  const worst = strip.reduce((a, b) => (b.loss > a.loss ? b : a));
  log(`strip: worst class ${worst.cls} (${worst.loss}); selected ${strip.filter((x) => x.selected).map((x) => x.cls)}`);
  assert.equal(Number(await frame.locator('#sel-class').evaluate((s) => s.value)), worst.cls, "the default class is the strip's worst");
  assert.deepEqual(strip.filter((x) => x.selected).map((x) => x.cls), [worst.cls]);
  await frame.locator('#zoom-label[data-zoom]').waitFor({ state: 'attached', timeout: 20000 });
  const tlProb = frame.locator('#canvas-tl-prob');
  const cssWidth = (await tlProb.boundingBox()).width;
  log(`map width ${cssWidth.toFixed(0)} CSS px for a ${W}-pixel plane`);
  assert.ok(cssWidth >= 300, 'the maps use the width of the panel (fit to width)');
  assert.equal((await viewport(frame)).zoom, 1);
  await frame.locator('#zoom-in').click();
  await frame.locator('#zoom-in').click();
  let vp = await viewport(frame);
  assert.equal(vp.zoom, 4, 'two clicks on + zoom 4x');
  // Nearest neighbour: every data pixel a solid square (points inside one cell have one colour).
  {
    const cw = await tlProb.evaluate((c) => c.width);
    const k = cw / vp.span;
    const cells = [0, 1, 2, 3, 4, 5].map((i) => [Math.floor(vp.x0) + 2 + i, Math.floor(vp.y0) + 2]);
    let uniform = 0;
    for (const [cx, cy] of cells) {
      const pts = [[0.3, 0.3], [0.7, 0.3], [0.3, 0.7], [0.5, 0.5]].map(([dx, dy]) => [(cx + dx - vp.x0) * k, (cy + dy - vp.y0) * k]);
      const px = await pixels(frame, 'canvas-tl-target', pts);
      if (px.every((p) => p.join() === px[0].join())) uniform++;
    }
    log(`${uniform} of ${cells.length} cells drawn as solid squares at zoom ${vp.zoom} (${k.toFixed(1)} device px per data pixel)`);
    assert.ok(uniform >= cells.length - 1, 'pixel-exact rendering (at most one cell crossed by a marker)');
  }
  // Hover: the readout names the pixel under the cursor in the zoomed view, and the crosshair shows on the other maps.
  const brTargetBefore = await frame.locator('#canvas-br-target').evaluate((c) => c.toDataURL());
  const box = await tlProb.boundingBox();
  const hx = 0.6;
  const hy = 0.35;
  await tlProb.hover({ position: { x: hx * box.width, y: hy * box.height } });
  await frame.locator('#readout [data-metric="hover.x"]').waitFor({ timeout: 10000 });
  const readX = Number(await frame.locator('#readout [data-metric="hover.x"]').getAttribute('data-value'));
  const readY = Number(await frame.locator('#readout [data-metric="hover.y"]').getAttribute('data-value'));
  assert.equal(readX, Math.floor(vp.x0 + hx * vp.span));
  assert.equal(readY, Math.floor(vp.y0 + hy * vp.span));
  const readoutText = await frame.locator('#readout').textContent();
  log(`readout: ${readoutText.replace(/\s+/g, ' ').trim()}`);
  assert.match(readoutText, /stack 1 · image \d+ · class \d+/);
  assert.match(readoutText, /top-left: logit/);
  assert.match(readoutText, /bottom-right: p/);
  assert.notEqual(await frame.locator('#canvas-br-target').evaluate((c) => c.toDataURL()), brTargetBefore, 'the crosshair is drawn on the other maps');
  // Wheel zooms in at the cursor, a drag pans, double-click fits.
  await page.mouse.wheel(0, -200);
  await page.waitForTimeout(300);
  const afterWheel = await viewport(frame);
  assert.ok(afterWheel.zoom > vp.zoom, `wheel zooms in (${vp.zoom} -> ${afterWheel.zoom})`);
  const b2 = await tlProb.boundingBox();
  await page.mouse.move(b2.x + b2.width * 0.5, b2.y + b2.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(b2.x + b2.width * 0.8, b2.y + b2.height * 0.6, { steps: 5 });
  await page.mouse.up();
  const afterDrag = await viewport(frame);
  log(`viewport after wheel ${JSON.stringify(afterWheel)}, after drag ${JSON.stringify(afterDrag)}`);
  assert.ok(afterDrag.x0 < afterWheel.x0, 'dragging right shows what is left of the view');
  // The class changes: the readout and crosshair clear (they described another plane).
  await helpers.screenshot('panel-zoom');
  await tlProb.dblclick();
  assert.equal((await viewport(frame)).zoom, 1, 'double-click fits');

  // ---- 3) Follow an object from the offsets table.
  const row = frame.locator('#offset-table tbody tr').first();
  await row.waitFor({ timeout: 30000 });
  const slot = Number(await row.getAttribute('data-object'));
  await row.click();
  const card = frame.locator('#object-card');
  await card.locator('h3').waitFor({ timeout: 20000 });
  assert.equal(await card.getAttribute('data-object'), String(slot));
  const title = await card.locator('h3').textContent();
  log(`card: ${title}`);
  const cls = Number(/class (\d+)/.exec(title)[1]);
  assert.equal((await sel())[2], cls, "the maps show the object's class");
  assert.equal(await frame.locator(`#embed-table tr[data-object="${slot}"].selected-object`).count(), 1, 'its row in the embeddings table is highlighted');
  await frame.locator('[data-metric="object.tl.loss"]').waitFor({ timeout: 20000 });
  const cardText = await card.textContent();
  const [, cx, cy] = /top-left \(x (\d+), y (\d+)\)/.exec(cardText).map(Number);
  const cardLoss = Number(await frame.locator('[data-metric="object.tl.loss"]').getAttribute('data-value'));
  assert.match(await frame.locator('#object-decode').textContent(), /^decode: (matched|missed)/);
  // Its corner is drawn in the selection colour on the map.
  const cyan = await tlProb.evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 0 && d[i + 1] === 229 && d[i + 2] === 255) n++;
    return n;
  });
  assert.ok(cyan > 20, `the followed object's corner is drawn (${cyan} px)`);
  // The readout at the corner gives the card's focal loss.
  const b3 = await tlProb.boundingBox();
  await tlProb.hover({ position: { x: ((cx + 0.5) / W) * b3.width, y: ((cy + 0.5) / H) * b3.height } });
  await frame.locator('#readout [data-metric="hover.loss"]').waitFor({ timeout: 10000 });
  assert.equal(Number(await frame.locator('#readout [data-metric="hover.loss"]').getAttribute('data-value')), cardLoss, 'card focal loss = readout at the corner');
  await frame.locator('#heatmaps').scrollIntoViewIfNeeded();
  await helpers.screenshot('panel-object');
  // The decode box of the object: hovering it describes it, clicking keeps it followed.
  const decode = frame.locator('#decode-canvas');
  await decode.waitFor({ timeout: 30000 });
  const boxText = /box \(([^)]*)\)/.exec(title)[1].split(',').map(Number);
  const db = await decode.boundingBox();
  await decode.scrollIntoViewIfNeeded();
  const db2 = await decode.boundingBox();
  await decode.hover({ position: { x: (((boxText[0] + boxText[2]) / 2) / W) * db2.width, y: (((boxText[1] + boxText[3]) / 2) / H) * db2.height } });
  const tip = frame.locator('#decode-tip');
  await frame.locator('#decode-tip[data-hit]').waitFor({ state: 'attached', timeout: 10000 });
  log(`decode tip: ${await tip.textContent()} (canvas ${db.width.toFixed(0)} px)`);
  assert.match(await tip.textContent(), /object|detection/);
  await helpers.screenshot('panel-decode-hover');
  // The duplicates have their own list (possibly empty on the sample).
  assert.equal(await frame.locator('#decode-out h3', { hasText: 'Duplicates' }).count(), 1);

  // ---- 4) Copy numpy index, Save figure, Export JSON.
  await frame.locator('#heatmaps').scrollIntoViewIfNeeded();
  const b4 = await tlProb.boundingBox();
  await tlProb.hover({ position: { x: ((cx + 0.5) / W) * b4.width, y: ((cy + 0.5) / H) * b4.height } });
  await frame.locator('#copy-index:not([disabled])').click();
  const status = page.locator('.statusbar', { hasText: 'Copied numpy index' });
  await status.waitFor({ timeout: 15000 });
  const statusText = await status.textContent();
  log(`status: ${statusText.replace(/\s+/g, ' ').trim()}`);
  assert.ok(statusText.includes(`tl_heat.npy')[1, `) && statusText.includes(`, ${cls}, ${cy}, ${cx}]`), 'np.load(...)[stack, image, class, y, x]');

  const [stackNow, imageNow, classNow] = await sel();
  await frame.locator('#save-heatmaps').click();
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ timeout: 20000 });
  // The simple dialog fills the folder first, then the file name.
  const proposal = async (ext) => {
    for (let i = 0; i < 50; i++) {
      const v = await input.inputValue();
      if (v.endsWith(ext)) return v;
      await page.waitForTimeout(100);
    }
    return input.inputValue();
  };
  const proposed = await proposal('.png');
  log(`save dialog proposes ${proposed}`);
  assert.ok(proposed.endsWith(`sample/sample-heatmaps-s${stackNow}-i${imageNow}-c${classNow}.png`), 'the data folder, named after the case and plane');
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
  const figure = path.join(workspaceDir, 'sample', `sample-heatmaps-s${stackNow}-i${imageNow}-c${classNow}.png`);
  for (let i = 0; i < 50 && !fs.existsSync(figure); i++) await page.waitForTimeout(200);
  const png = fs.readFileSync(figure);
  assert.equal(png.readUInt32BE(0), 0x89504e47);
  const [pw, ph] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  log(`figure ${pw}x${ph}, ${png.length} bytes`);
  assert.ok(pw >= 600 && ph >= 4 * 300, 'two columns of four labelled maps');
  fs.mkdirSync(shotsDir, { recursive: true });
  fs.copyFileSync(figure, path.join(shotsDir, 'panel-figure.png'));
  // The title band holds dark text on white (the labels are drawn into the figure).
  const dark = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = 44;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, 44).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 80 && d[i + 1] < 80 && d[i + 2] < 80) n++;
    return n;
  }, png.toString('base64'));
  assert.ok(dark > 200, `the figure has a title (${dark} dark px)`);
  await page.locator('.notifications-toasts', { hasText: 'figure written to' }).waitFor({ timeout: 15000 });

  await frame.locator('#export-report').click();
  await input.waitFor({ timeout: 20000 });
  const proposedJson = await proposal('.json');
  log(`export dialog proposes ${proposedJson}`);
  assert.ok(proposedJson.endsWith('sample/sample-cornernet-loss-report.json'));
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
  await page.locator('.notifications-toasts', { hasText: 'loss report written to' }).waitFor({ timeout: 15000 });
  const json = JSON.parse(fs.readFileSync(path.join(workspaceDir, 'sample', 'sample-cornernet-loss-report.json'), 'utf8'));
  assert.equal(typeof json.total, 'number');
};
