// UI test of a run's dumps over time and A/B, as a user runs them: "Show Loss Timeline" on a
// folder of step folders (uPlot chart of total and terms, the spike and the first non-finite step
// marked), a click on a step opens that batch in the results panel, the watcher adds a step
// written while the panel is open (never shown as an error while half-written), and "Compare Loss
// of Two Batches" on two selected folders (A and B side by side, tables sorted by change, the
// difference heatmap in a diverging colormap). The dumps are made here from the p01_basic fixture
// (logits shifted per step). Writes test/ui/shots/timeline.png, timeline-open-step.png,
// timeline-watch.png, compare.png, compare-diff.png.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

/** A copy of a float32 .npy with every value shifted (NaN at `nanAt` if given). */
function shiftedNpy(file, shift, nanAt) {
  const bytes = fs.readFileSync(file);
  const headerLen = bytes.readUInt16LE(8);
  const start = 10 + headerLen;
  const out = Buffer.from(bytes);
  const data = new Float32Array(out.buffer, out.byteOffset + start, (out.length - start) / 4);
  for (let i = 0; i < data.length; i++) data[i] += shift;
  if (nanAt !== undefined) data[nanAt] = NaN;
  return out;
}

/** A batch folder: p01_basic with its heatmap logits shifted by `shift`; written file by file with `gapMs` between files. */
async function writeStep(src, dir, shift, { nanAt, gapMs = 0 } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const files = fs.readdirSync(src).filter((f) => f.endsWith('.npy')).sort();
  for (const f of files) {
    const from = path.join(src, f);
    const bytes = f === 'tl_heat.npy' || f === 'br_heat.npy' ? shiftedNpy(from, shift, f === 'tl_heat.npy' ? nanAt : undefined) : fs.readFileSync(from);
    fs.writeFileSync(path.join(dir, f), bytes);
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
}

exports.run = async ({ page, helpers, workspaceDir, log }) => {
  const src = path.join(workspaceDir, 'p01_basic');
  const dumps = path.join(workspaceDir, 'dumps');
  const shifts = { 100: 0, 200: -0.5, 300: -1, 400: -1.5, 500: 2, 600: -2 };
  for (const [step, shift] of Object.entries(shifts)) await writeStep(src, path.join(dumps, `step_${String(step).padStart(6, '0')}`), shift);
  await writeStep(src, path.join(dumps, 'step_000700'), -2, { nanAt: 5 });
  // Old files: the timeline reads them at once (no waiting for them to settle).
  const old = (Date.now() - 60000) / 1000;
  for (const d of fs.readdirSync(dumps)) {
    for (const f of fs.readdirSync(path.join(dumps, d))) fs.utimesSync(path.join(dumps, d, f), old, old);
  }
  await helpers.refreshExplorer?.();

  // 1) The timeline of the folder: 7 steps, the spike at 500, the first non-finite at 700.
  await helpers.explorerSelect(['dumps']);
  await helpers.contextMenu('Show Loss Timeline');
  let frame = await helpers.webviewWith('#timeline-chart');
  assert.ok(frame, 'the timeline panel opens');
  const chart = frame.locator('#timeline-chart[data-rendered]');
  await frame.locator('#timeline-chart .u-over[data-step-x]').waitFor({ timeout: 60000 });
  const rendered = async () => JSON.parse((await frame.locator('#timeline-chart').getAttribute('data-rendered')) ?? 'null');
  for (let i = 0; i < 60; i++) {
    const r = await rendered();
    if (r && r.steps === 7 && r.waiting === 0) break;
    await page.waitForTimeout(500);
  }
  const r1 = await rendered();
  log(`timeline: ${JSON.stringify(r1)}`);
  assert.equal(r1.steps, 7);
  assert.deepEqual(r1.series.slice(0, 1), ['total']);
  assert.ok(r1.series.includes('focal_loss') && r1.series.includes('pull_loss'), `terms: ${r1.series}`);
  assert.deepEqual(r1.spikes, [500]);
  assert.equal(r1.firstNonFinite, 700);
  assert.equal(r1.errors, 0);
  assert.equal(await frame.locator('#first-nonfinite').getAttribute('data-step'), '700');
  // The chart is drawn: its canvas has more than one colour.
  const colours = await frame.locator('#timeline-chart canvas').first().evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const s = new Set();
    for (let i = 0; i < d.length; i += 4 * 13) s.add((d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3]);
    return s.size;
  });
  assert.ok(colours > 4, `chart canvas has ${colours} colours`);
  const totals = await frame.locator('tr.step [data-metric$=".0"]').evaluateAll((ms) => ms.map((m) => Number(m.getAttribute('data-value'))));
  log(`totals: ${totals.join(', ')}`);
  assert.ok(totals[4] > totals[3] * 1.25, 'step 500 is a spike');
  await chart.scrollIntoViewIfNeeded();
  await helpers.screenshot('timeline');

  // Per stack and per class on demand.
  await frame.locator('#series-view').selectOption('classes');
  for (let i = 0; i < 20 && (await rendered()).view !== 'classes'; i++) await page.waitForTimeout(250);
  const rc = await rendered();
  assert.deepEqual(rc.series.sort(), ['class 0', 'class 1', 'class 2']);
  await frame.locator('#series-view').selectOption('terms');
  for (let i = 0; i < 20 && (await rendered()).view !== 'terms'; i++) await page.waitForTimeout(250);

  // 2) A click on step 200 in the chart opens that batch in the results panel.
  const over = frame.locator('#timeline-chart .u-over');
  const xs = JSON.parse(await over.getAttribute('data-step-x'));
  const box = await over.boundingBox();
  await over.click({ position: { x: xs[1], y: box.height / 2 } });
  const panel = await helpers.webviewWith('[data-metric="total"]');
  assert.ok(panel, 'the results panel opens');
  const total = panel.locator('[data-metric="total"]');
  await total.waitFor({ timeout: 60000 });
  for (let i = 0; i < 40 && Math.abs(Number(await total.getAttribute('data-value')) - totals[1]) > 1e-9 * totals[1]; i++) await page.waitForTimeout(250);
  const opened = Number(await total.getAttribute('data-value'));
  log(`opened step 200: total ${opened} (timeline ${totals[1]})`);
  assert.equal(opened, totals[1]);
  assert.match(await panel.locator('body').textContent(), /step_000200/);
  await helpers.screenshot('timeline-open-step');

  // 3) The watch: step 800 written file by file while the timeline is open; it appears, and is
  // never shown as an error while half-written.
  await helpers.explorerSelect(['dumps']);
  await helpers.contextMenu('Show Loss Timeline');
  frame = await helpers.webviewWith('#timeline-chart');
  const writing = writeStep(src, path.join(dumps, 'step_000800'), -2.5, { gapMs: 250 });
  const seen = [];
  let done = false;
  void writing.then(() => (done = true));
  for (let i = 0; i < 240; i++) {
    const status = await frame.locator('tr.step[data-step="800"]').getAttribute('data-status', { timeout: 1000 }).catch(() => null);
    if (status && seen[seen.length - 1] !== status) seen.push(status);
    if (status === 'ok' && done) break;
    await page.waitForTimeout(250);
  }
  log(`step 800 went through: ${seen.join(' -> ')}`);
  assert.ok(!seen.includes('error'), `a half-written batch was shown as an error: ${seen.join(' -> ')}`);
  assert.equal(seen[seen.length - 1], 'ok');
  const r3 = await rendered();
  assert.equal(r3.steps, 8);
  const t800 = Number(await frame.locator('tr.step[data-step="800"] [data-metric$=".0"]').getAttribute('data-value'));
  assert.ok(Number.isFinite(t800) && t800 > 0);
  await frame.locator('#timeline-chart').scrollIntoViewIfNeeded();
  await helpers.screenshot('timeline-watch');

  // 4) Compare two step folders: A and B side by side, diff = B - A, the difference heatmap.
  await helpers.explorerSelect(['dumps/step_000100', 'dumps/step_000500']);
  await helpers.contextMenu('Compare Loss of Two Batches');
  const cmp = await helpers.webviewWith('[data-metric="diff.total"]');
  assert.ok(cmp, 'the comparison panel opens');
  const a = Number(await cmp.locator('[data-metric="a.total"]').getAttribute('data-value'));
  const b = Number(await cmp.locator('[data-metric="b.total"]').getAttribute('data-value'));
  const d = Number(await cmp.locator('[data-metric="diff.total"]').getAttribute('data-value'));
  log(`compare: A ${a}, B ${b}, B - A ${d}`);
  assert.equal(a, totals[0]);
  assert.equal(b, totals[4]);
  assert.equal(d, b - a);
  // Planes sorted by change, the first one drawn; the difference map uses both ends of the
  // diverging colormap or at least its red half (B's logits are all higher).
  const diffs = await cmp.locator('#planes [data-metric$=".diff"]').evaluateAll((ms) => ms.map((m) => Math.abs(Number(m.getAttribute('data-value')))));
  assert.ok(diffs.length === 12, `12 planes: ${diffs.length}`);
  for (let i = 1; i < diffs.length; i++) assert.ok(diffs[i] <= diffs[i - 1], 'planes sorted by change');
  await cmp.locator('#diff-loss').waitFor({ timeout: 30000 });
  const reds = await cmp.locator('#diff-loss').evaluate((c) => {
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let red = 0;
    let blue = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i] > px[i + 2] + 40) red++;
      else if (px[i + 2] > px[i] + 40) blue++;
    }
    return { red, blue };
  });
  log(`difference heatmap: ${reds.red} red, ${reds.blue} blue pixels`);
  assert.ok(reds.red > 0, 'B higher somewhere: red pixels');
  assert.match(await cmp.locator('#pixels').textContent(), /targets are identical/);
  await cmp.locator('#side-a').scrollIntoViewIfNeeded();
  await helpers.screenshot('compare');
  await cmp.locator('#diff-loss').scrollIntoViewIfNeeded();
  await helpers.screenshot('compare-diff');
};
