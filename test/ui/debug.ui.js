// The debug entry points in the real workbench, with a real debug adapter: Debian's debugpy behind
// the test debug type `cornernet-test-python` (test/support/debugpy-test-extension; the Python
// Debugger extension cannot be installed here). train.py is debugged with a breakpoint in its
// CornerNet loss; "Compute CornerNet Loss from Debug Session" is in the debug toolbar once it stops;
// the QuickPick's first choice (outs + targets) gives the fixture's total in the panel; Continue
// to the next step and the panel offers "Compute again", which gives the next step's total; the
// Variables view's context menus hold both commands and "Open in Tensor Viewer" opens a tensor.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

exports.run = async ({ page, workspaceDir, helpers, log }) => {
  const startedAt = Date.now();
  const expectedTotal = (c) => JSON.parse(fs.readFileSync(path.join(workspaceDir, c, 'expected.json'), 'utf8')).float32.total;
  const closeTo = (got, want, what) => assert.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `${what}: ${got} vs ${want}`);
  const script = path.join(workspaceDir, 'debug', 'train.py');
  const line = fs.readFileSync(script, 'utf8').split('\n').findIndex((l) => l.trimEnd().endsWith('  # breakpoint')) + 1;

  await helpers.setSettings({ 'cornernet.debug.pythonTypes': ['debugpy', 'python', 'cornernet-test-python'] });
  fs.writeFileSync(
    path.join(workspaceDir, '.vscode', 'launch.json'),
    JSON.stringify({
      version: '0.2.0',
      configurations: [
        {
          name: 'Train (debugpy)',
          type: 'cornernet-test-python',
          request: 'launch',
          program: '${workspaceFolder}/debug/train.py',
          args: ['--torch', '${workspaceFolder}/p02_two_stacks', '${workspaceFolder}/p01_basic'],
          console: 'internalConsole',
        },
      ],
    }),
  );

  // A breakpoint in the loss function, as a user sets one: the line, then F9's command.
  await helpers.openFileByName('train.py');
  await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 20000 });
  await helpers.runCommand('Go to Line/Column...');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
  await helpers.runCommand('Debug: Toggle Breakpoint');
  await page.locator('.codicon-debug-breakpoint').first().waitFor({ timeout: 10000 });

  await helpers.runCommand('Debug: Start Debugging');
  const button = page.locator('.debug-toolbar .action-label[aria-label^="Compute CornerNet Loss from Debug Session"]');
  await button.waitFor({ timeout: 90000 });
  await page.locator('.debug-toolbar .action-label[aria-label^="Continue"]').waitFor({ timeout: 30000 });
  await button.hover();
  await page.waitForTimeout(1500);
  await helpers.screenshot('debug-toolbar');

  await button.click();
  await helpers.pickItem('outs + targets', { title: 'compute the loss of which variables', timeout: 60000 });
  let panel = await helpers.webviewWith('[data-metric="total"]');
  assert.ok(panel, 'the results panel shows a total');
  const total = () => panel.locator('[data-metric="total"]').first().getAttribute('data-value').then(Number);
  closeTo(await total(), expectedTotal('p02_two_stacks'), 'p02_two_stacks total from the paused frame');
  await panel.locator('#inputs, .inputs').first().waitFor({ timeout: 10000 });
  assert.match(await panel.locator('.inputs').first().textContent(), /ae_loss\(\) at train\.py:\d+: outs \+ targets \(AELoss\)/);
  await helpers.screenshot('debug-result');
  log(`toolbar -> outs + targets -> total ${await total()}`);

  // The next step stops at the same breakpoint: the panel offers to compute again there. (VS Code
  // shows the stopped line in the editor group, in front of the panel: back to the panel's tab.)
  await helpers.runCommand('Debug: Continue');
  await page.getByText('step 0 p02_two_stacks: focal').first().waitFor({ timeout: 60000 });
  await page.locator('.debug-toolbar .action-label[aria-label^="Continue"]').waitFor({ timeout: 60000 });
  // The floating debug toolbar lies over the tabs: dock it (in the Run and Debug view's title,
  // where the command is too), then the panel's tab is reachable.
  await helpers.setSettings({ 'debug.toolBarLocation': 'docked' });
  await page.locator('.debug-toolbar').first().waitFor({ state: 'hidden', timeout: 20000 });
  await page.locator('.pane-header .action-label[aria-label^="Compute CornerNet Loss from Debug Session"], .title-actions .action-label[aria-label^="Compute CornerNet Loss from Debug Session"]').first().waitFor({ timeout: 20000 });
  await page.locator('.tabs-container .tab', { hasText: 'CornerNet Loss' }).first().click();
  panel = await helpers.webviewWith('#offer:not([hidden])');
  assert.ok(panel, 'the panel offers to compute again');
  const offer = panel.locator('#offer:not([hidden])');
  await offer.waitFor({ timeout: 60000 });
  assert.match(await offer.textContent(), /stopped again \(breakpoint\) at ae_loss\(\) at train\.py:\d+/);
  await helpers.screenshot('debug-offer');
  await offer.locator('#offer-action').click();
  const p01 = expectedTotal('p01_basic');
  for (let i = 0; i < 120 && Math.abs((await total().catch(() => NaN)) - p01) > 1e-5 * p01; i++) await page.waitForTimeout(500);
  closeTo(await total(), p01, 'p01_basic total after "Compute again"');
  log(`Continue -> offer -> Compute again -> total ${await total()}`);

  // The Variables view: both commands on a tensor, the compute command on a list.
  await helpers.runCommand('Run and Debug: Focus on Variables View');
  // A variable's row is labelled "<name>, value <value>" for screen readers.
  const row = (name) => page.locator(`.debug-view-content .monaco-list-row[aria-label^="${name}, value"]`).first();
  await row('outs').waitFor({ timeout: 20000 });
  const listMenu = await helpers.contextMenuItems({ target: row('outs') });
  assert.ok(listMenu.includes('Compute CornerNet Loss from Debug Session'), listMenu.join(' | '));
  assert.ok(!listMenu.includes('Open in Tensor Viewer'), 'a list is not one array');
  await row('outs').locator('.monaco-tl-twistie').click();
  await row('0').waitFor({ timeout: 20000 });
  const tensorMenu = await helpers.openContextMenu(row('0'));
  assert.ok(tensorMenu.includes('Open in Tensor Viewer') && tensorMenu.includes('Compute CornerNet Loss from Debug Session'), tensorMenu.join(' | '));
  await helpers.screenshot('debug-variables-menu');
  await page.locator('.context-view .monaco-menu .action-label', { hasText: /^Open in Tensor Viewer$/ }).first().click();
  const tab = page.locator('.tabs-container .tab', { hasText: 'outs_0_.npy' });
  await tab.waitFor({ timeout: 60000 });
  const viewer = await helpers.webviewWith('[data-metric="stats.count"]');
  assert.ok(viewer, 'the tensor viewer shows statistics');
  // Its file (in a private folder of the temp directory, next to the UI test's) goes with the tab.
  const file = () => fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('cornernet-kernel-')).map((d) => path.join(os.tmpdir(), d, 'outs_0_.npy')).find((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs >= startedAt);
  assert.ok(file(), 'the viewer reads a file of the transfer');
  await helpers.runCommand('View: Close Editor');
  await tab.waitFor({ state: 'hidden', timeout: 10000 });
  for (let i = 0; i < 50 && file(); i++) await page.waitForTimeout(200);
  assert.equal(file(), undefined, 'the file went with the tab');
  log('Variables view: both commands on outs[0]; Open in Tensor Viewer shows it, its file goes with the tab');

  await helpers.runCommand('Debug: Stop');
};
