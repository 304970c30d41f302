// Helpers handed to every test/ui/*.ui.js as ctx.helpers: drive the code-server workbench in
// chromium the way a user does (command palette, explorer, context menus) and reach into webviews.
// Selectors are VS Code 1.139's DOM; when an upgrade breaks one, fix it here, not in the tests.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Matches an element whose whole (trimmed) text is `text`. */
const exactly = (text) => new RegExp(`^\\s*${escapeRe(text)}\\s*$`);

/**
 * @param {object} o
 * @param {import('playwright-core').Page} o.page
 * @param {string} o.workspaceDir  absolute path of the opened folder (explorer items carry it)
 * @param {string} o.shotsDir      where screenshot(name) writes (test/ui/shots, committed)
 */
function createHelpers({ page, workspaceDir, shotsDir }) {
  const quickInput = page.locator('.quick-input-widget');
  const quickInputBox = quickInput.locator('.quick-input-box input');
  const explorer = page.locator('.explorer-folders-view');
  const menu = page.locator('.context-view .monaco-menu');
  let lastSelected = null; // row of the last path given to explorerSelect

  /**
   * Runs a command by its palette label ("Category: Title"), like a user: F1, type, click the row.
   * The palette computes its list when it opens, so an F1 right after the workbench appears (before
   * the remote extension host registered its contributions) misses extension commands: close and
   * retry until the row shows (docs/vscode-testing.md pitfall 5).
   */
  async function runCommand(title, { attempts = 20, perAttemptMs = 3000 } = {}) {
    const row = quickInput
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: exactly(title) }) })
      .first();
    for (let i = 0; i < attempts; i++) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      if (!(await quickInputBox.isVisible().catch(() => false))) {
        await page.waitForTimeout(500);
        continue;
      }
      await quickInputBox.fill(`>${title}`);
      if (await row.waitFor({ timeout: perAttemptMs }).then(() => true, () => false)) {
        // click the exact row: Enter would run whatever fuzzy match is on top
        await row.click();
        await quickInput.waitFor({ state: 'hidden', timeout: 10000 }).catch(() => {});
        return;
      }
    }
    await page.keyboard.press('Escape');
    throw new Error(`command not found in the palette after ${attempts} tries: ${title}`);
  }

  /**
   * Opens a workspace file by name through Quick Open ("Go to File...", from the palette: a key
   * press would go to whichever webview has the focus), as a user does.
   */
  async function openFileByName(name) {
    await runCommand('Go to File...');
    await quickInputBox.fill(name);
    await quickInput.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 20000 });
    await page.keyboard.press('Enter');
  }

  /**
   * Picks the QuickPick item whose label is exactly `label`. The list is virtualized (rows out of
   * view are not in the DOM), so type the label into the filter first, as a user would with a
   * long list; then click the exact row (Enter would take whatever fuzzy match is on top).
   * `title`, when given, waits for that QuickPick (not the one before it) to be showing.
   */
  async function pickItem(label, { title, timeout = 15000 } = {}) {
    if (title) await quickInput.locator('.quick-input-title', { hasText: title }).waitFor({ timeout });
    await quickInputBox.waitFor({ timeout });
    await quickInputBox.fill(label);
    const row = quickInput
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: exactly(label) }) })
      .first();
    await row.click({ timeout });
  }

  /**
   * The content frame of a webview (panel or view): two nested iframes, both served by code-server
   * itself. Returns a FrameLocator; locators inside it auto-wait, e.g.
   *   await helpers.webviewFrame().locator('[data-metric="total"]').textContent()
   * index: which of the visible webviews (0 = first in DOM order).
   */
  function webviewFrame({ index = 0 } = {}) {
    return page
      .locator('iframe.webview.ready')
      .filter({ visible: true })
      .nth(index)
      .contentFrame()
      .locator('iframe#active-frame')
      .contentFrame();
  }

  /**
   * The visible webview whose content has `selector`: webviews are overlaid on the workbench, not
   * inside their part, so a view is told from the panel by what it shows. Polls up to 30 s.
   */
  async function webviewWith(selector) {
    for (let attempt = 0; attempt < 60; attempt++) {
      const n = await page.locator('iframe.webview.ready').filter({ visible: true }).count();
      for (let i = 0; i < n; i++) {
        const f = webviewFrame({ index: i });
        if ((await f.locator(selector).count().catch(() => 0)) > 0) return f;
      }
      await page.waitForTimeout(500);
    }
    return undefined;
  }

  async function showExplorer() {
    if (await explorer.isVisible().catch(() => false)) return;
    await runCommand('View: Show Explorer');
    await explorer.waitFor({ timeout: 10000 });
  }

  /**
   * The explorer's own "Refresh Explorer" button (in the folder's header, shown on hover): files a
   * test made on disk may not have reached the explorer yet (its watcher lags on a loaded machine).
   */
  async function refreshExplorer() {
    await showExplorer();
    // The workspace folder's section header ("ws"), whose actions show on hover.
    const header = page.locator('.pane-header').filter({ hasText: path.basename(workspaceDir) }).first();
    await header.hover();
    await header.locator('.action-label[aria-label*="Refresh"]').first().click({ timeout: 10000 });
    // The tree re-renders after a refresh: a click during that lands on whatever row moves under
    // the mouse. Wait for the explorer's progress bar to go, then a moment more.
    await page.locator('.explorer-viewlet .monaco-progress-container.active').waitFor({ state: 'hidden', timeout: 10000 }).catch(() => undefined);
    await page.waitForTimeout(1000);
  }

  /** Row of a workspace-relative path; its icon label's aria-label is the absolute path. */
  function explorerRow(relPath) {
    const abs = path.join(workspaceDir, relPath);
    return explorer.locator('.monaco-list-row').filter({
      // A file decoration's tooltip is appended to the label ("<path> • <tooltip>").
      has: page.locator(`.explorer-item[aria-label=${JSON.stringify(abs)}], .explorer-item[aria-label^=${JSON.stringify(`${abs} •`)}]`),
    });
  }

  /** Brings a row into the DOM: the tree is virtual, rows outside its viewport do not exist. */
  async function revealRow(relPath) {
    const row = explorerRow(relPath);
    if ((await row.count()) > 0) return row;
    const list = explorer.locator('.monaco-list').first();
    const box = await list.boundingBox();
    if (!box) throw new Error('explorer list not visible');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    // A folder just expanded may still be resolving its children (slow on a loaded machine):
    // sweep the list from the top a few times before giving up.
    for (let sweep = 0; sweep < 4; sweep++) {
      for (const dy of [-5000, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300]) {
        await page.mouse.wheel(0, dy);
        await page.waitForTimeout(100);
        if ((await row.count()) > 0) return row;
      }
      await page.waitForTimeout(1500);
      // A file made on disk by the test may not have reached the explorer (its watcher lags on a
      // loaded machine): refresh it, as a user would.
      if (sweep === 1) await refreshExplorer().catch(() => undefined);
    }
    throw new Error(`explorer item not found: ${relPath}`);
  }

  /** Expands every folder on the way to relPath (not relPath itself). */
  async function expandParents(relPath) {
    const parts = relPath.split(/[\\/]/).filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      // The tree is virtual: a row found a moment ago may have scrolled out (an editor opened and
      // the explorer revealed its file). Find it again rather than wait on a row that is gone.
      let row;
      let expanded;
      for (let attempt = 0; attempt < 3 && expanded === undefined; attempt++) {
        row = await revealRow(rel);
        expanded = await row.getAttribute('aria-expanded', { timeout: 3000 }).catch(() => undefined);
      }
      if (expanded === undefined) throw new Error(`explorer folder not found: ${rel}`);
      if (expanded === 'false') {
        await row.locator('.monaco-tl-twistie').click();
        await row.and(page.locator('[aria-expanded="true"]')).waitFor({ timeout: 20000 });
      }
    }
  }

  /**
   * Selects explorer items by workspace-relative path ("p01_basic", "p01_basic/tl_heat.npy"):
   * click on the first, ctrl-click on the rest (multi-select). Parents are expanded first.
   * Returns the row locator of the last item (the one contextMenu opens on by default).
   */
  async function explorerSelect(relPaths) {
    if (typeof relPaths === 'string') relPaths = [relPaths];
    await showExplorer();
    for (const p of relPaths) await expandParents(p);
    const isSelected = async (p) => (await explorerRow(p).and(page.locator('[aria-selected="true"]')).count()) > 0;
    const notSelected = async () => {
      const out = [];
      for (const p of relPaths) if (!(await isSelected(p))) out.push(p);
      return out;
    };
    const first = await revealRow(relPaths[0]);
    await first.click();
    // A plain click on a file opens it, and once its editor is active the explorer "auto-reveals"
    // it, i.e. selects just that file again: ctrl-clicks made before that are lost. Wait for it.
    if ((await first.getAttribute('aria-expanded')) === null) {
      const name = path.basename(relPaths[0]);
      await page.locator('.tabs-container .tab.active', { hasText: exactly(name) }).waitFor({ timeout: 5000 }).catch(() => {});
    }
    // ctrl-click the rest; repeat for any that a late re-render or reveal dropped
    for (let round = 0; round < 3; round++) {
      for (const p of round === 0 ? relPaths.slice(1) : relPaths) {
        if (await isSelected(p)) continue;
        await (await revealRow(p)).click({ modifiers: ['Control'] });
      }
      await page.waitForTimeout(200);
      if ((await notSelected()).length === 0) {
        lastSelected = explorerRow(relPaths[relPaths.length - 1]);
        return lastSelected;
      }
    }
    throw new Error(`explorer selection incomplete after 3 rounds, not selected: ${(await notSelected()).join(', ')}`);
  }

  /**
   * Opens the context menu on `target` (default: the last item explorerSelect selected, else the
   * focused explorer row) and returns the labels of its enabled entries; the menu stays open
   * (Escape closes it).
   */
  async function openContextMenu(target) {
    const on = target || lastSelected || explorer.locator('.monaco-list-row.focused').first();
    await on.click({ button: 'right' });
    await menu.waitFor({ timeout: 10000 });
    // the menu lives in a shadow root; playwright's CSS locators pierce it
    return menu.locator('.action-item:not(.disabled) .action-label').allTextContents().then((l) => l.map((s) => s.trim()).filter(Boolean));
  }

  /** Labels of the context menu on `target` (default as openContextMenu); closes it again. */
  async function contextMenuItems({ target } = {}) {
    const labels = await openContextMenu(target);
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
    return labels;
  }

  /**
   * Right-clicks `target` (default: the last item explorerSelect selected; the command receives the
   * whole selection) and clicks the menu entry `label`.
   */
  async function contextMenu(label, { target, attempts = 10 } = {}) {
    const item = menu.locator('.action-item:not(.disabled) .action-label', { hasText: exactly(label) }).first();
    // Right after the workbench appears, extension menu contributions may not be registered yet
    // (like the palette, pitfall 5): close the menu and open it again until the entry shows.
    let labels = [];
    for (let i = 0; ; i++) {
      labels = await openContextMenu(target);
      if ((await item.count()) > 0) break;
      await page.keyboard.press('Escape');
      await menu.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
      if (i + 1 >= attempts) throw new Error(`context menu has no enabled entry "${label}"; it has: ${labels.join(' | ')}`);
      await page.waitForTimeout(2000);
    }
    // Rarely (seen once in ~20 runs) a click right after the menu appears is not taken and the
    // menu stays open. The menu closes whenever an entry runs, so an open menu means "not run":
    // clicking again cannot run the command twice.
    for (let i = 0; i < 3; i++) {
      await item.click();
      if (await menu.waitFor({ state: 'hidden', timeout: 3000 }).then(() => true, () => false)) return;
    }
    throw new Error(`context menu entry "${label}" did not run (menu still open after 3 clicks)`);
  }

  /** Saves test/ui/shots/<name>.png (the committed, reviewable screenshots). */
  async function screenshot(name, { fullPage = false } = {}) {
    fs.mkdirSync(shotsDir, { recursive: true });
    const file = path.join(shotsDir, `${name.replace(/\.png$/, '')}.png`);
    // animations: 'disabled' fast-forwards running CSS transitions, so the PNG is deterministic
    await page.screenshot({ path: file, fullPage, animations: 'disabled' });
    return file;
  }

  /**
   * Merges `settings` into the workspace settings (<workspace>/.vscode/settings.json); the
   * workbench and the extension host pick the change up live (onDidChangeConfiguration fires) within
   * about a second: wait for its visible effect. Workspace, not user, settings: code-server reports
   * only the first change of the user settings.json, but every change of this file (which must
   * exist when the workbench opens: test/workspace/.vscode/settings.json). Settings that only exist
   * at user level (scope "application"/"machine") go in at server start: run-ui.js --settings.
   */
  async function setSettings(settings) {
    const file = path.join(workspaceDir, '.vscode', 'settings.json');
    // the committed file is JSONC with whole-line comments; drop them to parse it
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '') : '';
    const current = text.trim() ? JSON.parse(text) : {};
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ ...current, ...settings }, null, 2));
  }

  /** Texts of the visible notification toasts (e.g. an extension's showErrorMessage). */
  async function notifications() {
    return page.locator('.notifications-toasts .notification-list-item-message').allTextContents();
  }

  return {
    runCommand,
    refreshExplorer,
    webviewWith,
    webviewFrame,
    showExplorer,
    explorerRow,
    explorerSelect,
    openContextMenu,
    contextMenu,
    contextMenuItems,
    screenshot,
    setSettings,
    notifications,
    exactly,
    pickItem,
    openFileByName,
  };
}

module.exports = { createHelpers };
