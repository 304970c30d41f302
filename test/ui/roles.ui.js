// UI test of role picking (issue 15) as a user meets it: three files of a batch whose gt_mask was
// never saved (and whose tl_tag has an unusual name) are selected in the explorer; "Compute
// CornerNet Loss" takes the other roles from the files next to them (a notification says which),
// then asks in numbered steps: "gt_mask is missing (1/2)" offers "All slots valid" and "Derive from
// the indices" (7 of 32 slots, offered first) and no index array; Back returns to it from step 2; "which array is tl_tag? (2/2)"
// lists only arrays that fit, with size and modification time. The panel's total equals the CLI's
// with --mask all and the synthetic-mask warning is shown; "Change roles…" on gt_mask offers the
// two synthesized choices and no index array, and "Derive from the indices" gives the CLI's total.
// Writes test/ui/shots/roles-missing-mask.png, roles-tl-tag-step.png, roles-table.png,
// roles-result.png and roles-change-mask.png.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');

exports.run = async ({ page, workspaceDir, helpers, log }) => {
  // A batch without gt_mask.npy, tl_tag saved as emb_top.npy (no role's name).
  const dir = path.join(workspaceDir, 'roles_case');
  fs.cpSync(path.join(workspaceDir, 'sample'), dir, { recursive: true });
  fs.rmSync(path.join(dir, 'gt_mask.npy'));
  fs.renameSync(path.join(dir, 'tl_tag.npy'), path.join(dir, 'emb_top.npy'));

  // The expected numbers from the CLI, by another route: explicit --role and --mask all.
  const cli = JSON.parse(
    execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--json', '--no-findings', '--no-ablation', '--mask', 'all', '--role', `tl_tag=${path.join(dir, 'emb_top.npy')}`, dir], { encoding: 'utf8' }),
  );
  log(`CLI total with --mask all: ${cli.total}`);
  const cliDerived = JSON.parse(
    execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--json', '--no-findings', '--no-ablation', '--mask', 'from-indices', '--role', `tl_tag=${path.join(dir, 'emb_top.npy')}`, dir], { encoding: 'utf8' }),
  );
  log(`CLI total with --mask from-indices: ${cliDerived.total}`);
  assert.notEqual(cliDerived.total, cli.total);

  const title = page.locator('.quick-input-widget .quick-input-title');
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  // A row's first .label-name is its label (the detail line has one too).
  const rowLabels = async () => rows.evaluateAll((rs) => rs.map((r) => (r.querySelector('.label-name')?.textContent ?? '').trim()));

  // 1) three files selected, Compute from the context menu
  await helpers.explorerSelect(['roles_case/tl_heat.npy', 'roles_case/br_heat.npy', 'roles_case/gt_tl_heat.npy']);
  await helpers.contextMenu('Compute CornerNet Loss');

  // 2) step 1 of 2: the missing mask, named as missing
  await title.filter({ hasText: 'gt_mask is missing' }).waitFor({ timeout: 60000 });
  const t1 = (await title.textContent()).trim();
  log(`picker 1: ${t1}`);
  assert.match(t1, /CornerNet: gt_mask is missing \(1\/2\)/);
  await rows.first().waitFor({ timeout: 10000 });
  const items1 = await rowLabels();
  log(`items: ${items1.join(' | ')}`);
  // 7 of the 32 slots have indices: the derived mask is offered first, both explicitly.
  assert.deepEqual(items1.slice(0, 2), ['Derive from the indices', 'All slots valid']);
  const deriveDesc = (await rows.first().locator('.label-description').textContent()).trim();
  log(`Derive from the indices: ${deriveDesc}`);
  assert.match(deriveDesc, /7 of 32 slots/);
  assert.ok(!items1.some((l) => /_ind\.npy/.test(l)), 'no index array is offered as the mask');
  const placeholder = await page.locator('.quick-input-widget .quick-input-box input').getAttribute('placeholder');
  assert.match(placeholder, /No object-slot mask/);
  // The notification says which roles were taken from the files next to the selection.
  await page.locator('.notifications-toasts .notification-list-item-message', { hasText: 'from the files next to the selection' }).waitFor({ timeout: 20000 });
  const note = (await helpers.notifications()).find((n) => n.includes('next to the selection'));
  log(`notification: ${note}`);
  assert.match(note, /tl_ind/);
  assert.match(note, /gt_br_heat/);
  await helpers.screenshot('roles-missing-mask');

  // 3) "All slots valid"; step 2 of 2 asks for tl_tag among the arrays that fit, with size and mtime
  await helpers.pickItem('All slots valid');
  await title.filter({ hasText: 'which array is tl_tag?' }).waitFor({ timeout: 30000 });
  const t2 = (await title.textContent()).trim();
  log(`picker 2: ${t2}`);
  assert.match(t2, /which array is tl_tag\? \(2\/2\)/);
  await rows.first().waitFor({ timeout: 10000 });
  const items2 = await rowLabels();
  log(`items: ${items2.join(' | ')}`);
  assert.equal(items2[0], 'emb_top.npy');
  assert.ok(!items2.includes('tl_ind.npy') && !items2.includes('gt_tl_heat.npy'), 'arrays of another shape are not listed');
  const desc = (await rows.first().locator('.label-description').textContent()).trim();
  log(`emb_top.npy: ${desc}`);
  assert.match(desc, /\[2, 2, 1, 64, 64\] float32 · \d+(\.\d)? KB · modified \d{4}-\d\d-\d\d \d\d:\d\d/);
  await helpers.screenshot('roles-tl-tag-step');

  // 4) Back returns to step 1, which is answered again
  await page.locator('.quick-input-widget .quick-input-left-action-bar .action-label').first().click();
  await title.filter({ hasText: 'gt_mask is missing (1/2)' }).waitFor({ timeout: 30000 });
  log('Back: step 1 again');
  await helpers.pickItem('All slots valid');
  await title.filter({ hasText: 'which array is tl_tag? (2/2)' }).waitFor({ timeout: 30000 });
  await helpers.pickItem('emb_top.npy');

  // 5) the panel: the CLI's total, the warning that the mask was synthesized
  const frame = helpers.webviewFrame();
  const total = frame.locator('[data-metric="total"]');
  await total.waitFor({ timeout: 90000 });
  const value = Number(await total.getAttribute('data-value'));
  log(`panel total ${value}`);
  assert.equal(value, cli.total);
  const warning = frame.locator('[data-warning="synthetic-mask"]');
  await warning.waitFor({ timeout: 10000 });
  const text = await warning.locator('.message').textContent();
  log(`warning: ${text}`);
  assert.match(text, /all 2×16 slots valid/);
  // The roles table lists the mask as synthesized.
  const summary = (await frame.locator('#roles summary').textContent()).trim();
  log(`roles: ${summary}`);
  assert.match(summary, /Roles \(12 arrays, gt_mask synthesized\)/);
  await frame.locator('#roles summary').click();
  assert.match(await frame.locator('#roles tr[data-role="gt_mask"]').textContent(), /synthesized: all slots valid.*\[2, 16\]uint8/);
  await frame.locator('#roles tr[data-role="gt_mask"]').scrollIntoViewIfNeeded();
  await helpers.screenshot('roles-table');
  await warning.scrollIntoViewIfNeeded();
  // The offer to remember the choice names the mask.
  await page.locator('.notifications-toasts .notification-list-item-message', { hasText: 'gt_mask = all slots valid' }).waitFor({ timeout: 20000 });
  await helpers.screenshot('roles-result');

  // 6) "Change roles…" on gt_mask: the two synthesized choices, mask arrays only (no index array)
  await frame.locator('#change-roles').click();
  await helpers.pickItem('gt_mask', { title: 'change which role?' });
  await title.filter({ hasText: 'which array is gt_mask?' }).waitFor({ timeout: 30000 });
  await rows.first().waitFor({ timeout: 10000 });
  const items3 = await rowLabels();
  log(`change gt_mask: ${items3.join(' | ')}`);
  assert.deepEqual(items3, ['Derive from the indices', 'All slots valid']);
  await helpers.screenshot('roles-change-mask');
  await helpers.pickItem('Derive from the indices');
  await page
    .waitForFunction(
      (want) => {
        const docs = [...document.querySelectorAll('iframe.webview.ready')].map((f) => f.contentDocument?.querySelector('iframe#active-frame')?.contentDocument);
        return docs.some((d) => d?.querySelector('[data-metric="total"]')?.getAttribute('data-value') === String(want));
      },
      cliDerived.total,
      { timeout: 60000 },
    )
    .catch(() => {});
  const derived = Number(await frame.locator('[data-metric="total"]').getAttribute('data-value'));
  log(`after "Derive from the indices": total ${derived}`);
  assert.equal(derived, cliDerived.total);
  assert.match(await frame.locator('[data-warning="synthetic-mask"] .message').textContent(), /7 of 32 slots/);
};
