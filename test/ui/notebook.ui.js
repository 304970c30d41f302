// The notebook entry point in the real workbench: "Compute CornerNet Loss from Notebook" is in the
// notebook toolbar of a Jupyter notebook; without the Jupyter extension (it cannot be installed on
// these machines) clicking it says so, and the notification's "Insert Export Cell" puts the export
// cell into the notebook (the variable names asked in an input box).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

exports.run = async ({ page, workspaceDir, helpers, log }) => {
  fs.writeFileSync(
    path.join(workspaceDir, 'training.ipynb'),
    JSON.stringify({
      cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['outs = model(images)\n', 'loss = ae_loss(outs, targets)'] }],
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
      nbformat: 4,
      nbformat_minor: 5,
    }),
  );
  await helpers.refreshExplorer();
  await helpers.openFileByName('training.ipynb');
  await page.locator('.notebook-editor .cell-list-container').first().waitFor({ timeout: 30000 });

  // The toolbar button (or its entry in the toolbar's overflow menu).
  const title = 'Compute CornerNet Loss from Notebook';
  const button = page.locator('.notebook-toolbar-container .action-item', { hasText: title }).first();
  if (await button.waitFor({ timeout: 15000 }).then(() => true, () => false)) {
    await button.click();
  } else {
    await page.locator('.notebook-toolbar-container .action-item a[aria-label="More Actions..."]').first().click();
    await page.locator('.context-view .action-label', { hasText: title }).first().click();
  }
  await helpers.screenshot('notebook-toolbar');

  // The refusal, with its way forward.
  const toast = page.locator('.notification-toast', { hasText: 'Jupyter extension (ms-toolsai.jupyter) is not installed' });
  await toast.waitFor({ timeout: 30000 });
  const text = await toast.textContent();
  assert.match(text, /insert a cell that exports the arrays/);
  await helpers.screenshot('notebook-no-jupyter');
  await toast.locator('.monaco-button', { hasText: 'Insert Export Cell' }).click();

  // The input box asks for the variables (default outs, targets): accept it.
  const box = page.locator('.quick-input-widget .quick-input-box input');
  await box.waitFor({ timeout: 20000 });
  assert.equal(await box.inputValue(), 'outs, targets');
  await page.keyboard.press('Enter');

  // The cell is in the notebook.
  const cell = page.locator('.notebook-editor .code-cell-row', { hasText: 'CornerNet Inspector: saves the arrays' });
  await cell.first().waitFor({ timeout: 30000 });
  // The notebook renders only the cells in view (the export cell is long): count from the status bar.
  await page.locator('.statusbar-item', { hasText: /Cell \d+ of 2\b/ }).first().waitFor({ timeout: 20000 });
  await helpers.screenshot('notebook-export-cell');
  log('toolbar button -> "Jupyter not installed" -> Insert Export Cell -> the cell is in the notebook');
};
