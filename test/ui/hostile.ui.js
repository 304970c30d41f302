// Hostile names are text everywhere: a file named `<img src=x onerror=...>.npy`, an npz key with
// markup, used as inputs (through cornernet.json), must show as text in the results panel, the
// side view, a hover, the tensor viewer and Problems, and run nothing: no <img>/<script> element
// appears, no dialog opens, the page title stays.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const IMG = `<img src=x onerror="document.title='pwned';alert(1)">`;
const KEY = `"><script>alert(2)</script><b onmouseover=alert(3)>k`;
/** A name that fits in a Python string literal (the one above mixes both quote kinds). */
const IMG_Q = `<img src=x onerror=alert(4)>`;

/** A stored .npz holding one .npy under `key` (built by hand: the test has no project imports). */
function npzWith(key, npy) {
  const name = Buffer.from(`${key}.npy`, 'utf8');
  const crc = crc32(npy);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0x0800, 6); // UTF-8 name
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(npy.length, 18);
  local.writeUInt32LE(npy.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x0800, 8);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(npy.length, 20);
  central.writeUInt32LE(npy.length, 24);
  central.writeUInt16LE(name.length, 28);
  const cdOffset = 30 + name.length + npy.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, name, npy, central, name, end]);
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** No element made from a name (VS Code's own `_vscodeApiScript` is injected into every webview). */
async function assertInert(frame, where) {
  const found = await frame.locator('img, script:not([nonce]):not(#_vscodeApiScript), b[onmouseover]').evaluateAll((ns) => ns.map((n) => n.outerHTML.slice(0, 200)));
  assert.deepEqual(found, [], `${where}: no element was made from a name`);
}

/**
 * The webview is locked down by its CSP, checked in the browser itself: the policy has no
 * 'unsafe-inline' or 'unsafe-eval', scripts only by nonce, nothing remote; and it works: markup
 * injected into the page cannot run an inline handler or an inline script, nor a string timer
 * (eval), and the browser reports the violations.
 */
async function assertLockedDown(frame, where) {
  const csp = await frame.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  assert.ok(csp, `${where}: a CSP`);
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(directives['default-src'], ["'none'"], `${where}: default-src 'none'`);
  assert.ok(!/unsafe-/.test(csp), `${where}: no 'unsafe-*' source in ${csp}`);
  assert.ok(directives['script-src'].every((t) => t.startsWith("'nonce-")), `${where}: scripts by nonce only (${directives['script-src']})`);
  // Sources: none, nonces, data:/blob: images, and the webview's own resource origin (cspSource).
  const own = (t) => t === "'self'" || /^(https:\/\/)?[\w*.-]*vscode-(cdn\.net|resource|webview)/.test(t) || t.startsWith('vscode-');
  const foreign = Object.values(directives).flat().filter((t) => !(t === "'none'" || t.startsWith("'nonce-") || t === 'data:' || t === 'blob:' || own(t)));
  assert.deepEqual(foreign, [], `${where}: nothing remote in ${csp}`);
  // Playwright's own evaluate runs through DevTools, which CSP does not govern: it only plants
  // markup, an inline script and a string timer, which the page itself would then run.
  const blocked = await frame.locator('body').evaluate(async (body) => {
    const w = window;
    w.__cspProbe = { handler: 0, script: 0, timer: 0, violations: 0 };
    const onViolation = () => w.__cspProbe.violations++;
    document.addEventListener('securitypolicyviolation', onViolation);
    const box = document.createElement('div');
    box.innerHTML = '<img src="data:," onerror="window.__cspProbe.handler = 1" onload="window.__cspProbe.handler = 1">';
    const script = document.createElement('script');
    script.textContent = 'window.__cspProbe.script = 1';
    box.append(script);
    body.append(box);
    try {
      setTimeout('window.__cspProbe.timer = 1', 0);
    } catch {
      // refused outright: as good as blocked
    }
    await new Promise((r) => setTimeout(r, 400));
    box.remove();
    document.removeEventListener('securitypolicyviolation', onViolation);
    const { handler, script: ran, timer } = w.__cspProbe;
    return { handler, script: ran, timer, reported: w.__cspProbe.violations > 0 };
  });
  assert.deepEqual(blocked, { handler: 0, script: 0, timer: 0, reported: true }, `${where}: the CSP blocks inline handlers, inline scripts and string eval (got ${JSON.stringify(blocked)})`);
}

exports.run = async ({ page, workspaceDir, helpers, log }) => {
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const dir = path.join(workspaceDir, 'hostile');
  fs.cpSync(path.join(workspaceDir, 'p01_basic'), dir, { recursive: true });
  fs.renameSync(path.join(dir, 'tl_heat.npy'), path.join(dir, `${IMG}.npy`));
  fs.writeFileSync(path.join(dir, 'odd.npz'), npzWith(KEY, fs.readFileSync(path.join(dir, 'br_heat.npy'))));
  fs.rmSync(path.join(dir, 'br_heat.npy'));
  fs.writeFileSync(path.join(dir, 'cornernet.json'), JSON.stringify({ roles: { tl_heat: `${IMG}.npy`, br_heat: `odd.npz:${KEY}` } }));

  // 1) The results panel: the roles table shows the names as text.
  await helpers.explorerSelect('hostile');
  await helpers.contextMenu('Compute CornerNet Loss');
  const panel = helpers.webviewFrame();
  await panel.locator('[data-metric="total"]').waitFor({ timeout: 60000 });
  await panel.locator('#roles summary').click();
  const roles = await panel.locator('#roles').textContent();
  assert.ok(roles.includes(`${IMG}.npy`), 'the file name is shown as text');
  assert.ok(roles.includes(KEY), 'the npz key is shown as text');
  await assertInert(panel, 'panel');
  await assertLockedDown(panel, 'panel');
  await helpers.screenshot('hostile-panel');

  // 2) The side view lists the tensors by name.
  await helpers.runCommand('View: Show CornerNet');
  const side = await helpers.webviewWith('#tensors');
  assert.ok(side, 'side view found');
  assert.ok((await side.locator('#tensors').textContent()).includes(IMG));
  await assertInert(side, 'side view');
  await assertLockedDown(side, 'side view');

  // 3) A hover over the name in Python: escaped markdown, no markup rendered.
  fs.copyFileSync(path.join(dir, 'gt_mask.npy'), path.join(dir, `${IMG_Q}.npy`));
  fs.writeFileSync(path.join(workspaceDir, 'hostile.py'), `x = np.load("hostile/${IMG_Q}.npy")\n`);
  await helpers.openFileByName('hostile.py');
  const line = page.locator('.monaco-editor .view-line', { hasText: 'onerror' });
  await line.waitFor({ timeout: 30000 });
  await line.locator('span', { hasText: 'img' }).first().hover();
  const hover = page.locator('.monaco-hover-content', { hasText: 'Open in Tensor Viewer' });
  await hover.waitFor({ timeout: 20000 });
  assert.ok((await hover.textContent()).includes(`${IMG_Q}.npy`), 'the hover names the file as text');
  assert.equal(await hover.locator('img').count(), 0, 'no image element in the hover');
  await helpers.screenshot('hostile-hover');
  await page.keyboard.press('Escape');

  // 4) An unreadable file with such a name: the viewer and Problems show the name as text.
  fs.writeFileSync(path.join(dir, `${IMG}2.npy`), 'not numpy');
  await helpers.explorerSelect(`hostile/${IMG}2.npy`);
  await helpers.contextMenu('Open in Tensor Viewer');
  const viewer = helpers.webviewFrame();
  await viewer.locator('h1').waitFor({ timeout: 30000 });
  assert.equal((await viewer.locator('h1').textContent()).trim(), `${IMG}2.npy`);
  await assertInert(viewer, 'viewer');
  await assertLockedDown(viewer, 'viewer');
  await helpers.runCommand('View: Focus Problems (Errors, Warnings, Infos)');
  const problem = page.locator('.markers-panel .monaco-list-row', { hasText: 'onerror' });
  await problem.first().waitFor({ timeout: 30000 });
  assert.equal(await page.locator('.markers-panel img').count(), 0);

  // 5) A QuickPick listing such names (a role left to choose): text, not icons or markup.
  const HP = '$(alert) <b onmouseover=alert(5)>bold';
  const pick = path.join(workspaceDir, 'hostile-pick');
  fs.cpSync(path.join(workspaceDir, 'p01_basic'), pick, { recursive: true });
  fs.renameSync(path.join(pick, 'tl_heat.npy'), path.join(pick, `${HP}.npy`));
  await helpers.refreshExplorer();
  await helpers.explorerSelect('hostile-pick');
  await helpers.contextMenu('Compute CornerNet Loss');
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'bold' }).first();
  await row.waitFor({ timeout: 30000 });
  const rowText = await row.textContent();
  assert.ok(rowText.includes(`${HP}.npy`), `the QuickPick shows the name literally: ${rowText}`);
  assert.equal(await page.locator('.quick-input-widget .quick-input-list .codicon-alert').count(), 0, 'no icon made from $(alert)');
  assert.equal(await page.locator('.quick-input-widget b[onmouseover], .quick-input-widget img').count(), 0, 'no markup made from the name');
  await helpers.screenshot('hostile-quickpick');
  await page.keyboard.press('Escape');

  assert.deepEqual(dialogs, [], 'no dialog was opened by a name');
  // The payload would set the title to exactly 'pwned' (the window title may show the file name).
  assert.notEqual(await page.title(), 'pwned', 'no script ran');
  log(`names shown as text in the panel, side view, hover, viewer, Problems and a QuickPick; ${dialogs.length} dialogs`);
};
