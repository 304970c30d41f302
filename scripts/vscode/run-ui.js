#!/usr/bin/env node
// UI suite: the extension installed in code-server, the workbench in Debian's chromium (playwright-
// core), every test/ui/*.ui.js run against it. A UI test is a plain CommonJS module:
//
//   exports.run = async ({ page, workbenchUrl, workspaceDir, shotsDir, helpers, log,
//                          extension: {id, displayName, version}, installMode, runDir }) => { ... }
//
// It gets a fresh browser profile and a loaded workbench on a fresh copy of the test workspace
// (test/workspace/, see its README); it fails by throwing. helpers: scripts/vscode/ui-helpers.js.
// The code-server (and the installed extension and user settings) is shared by all UI tests of a run.
//
// usage: node scripts/vscode/run-ui.js [test/ui/x.ui.js ...] [--grep <substring>]
//          [--install vsix|folder|dev] [--vsix <file>] [--no-build] [--settings <file|json>]
//          [--timeout-ms <n>] [--keep] [--verbose]
//   --install vsix    (default) build dist/, package it with `vsce package --no-dependencies`, install
//                     the VSIX with code-server's CLI: exactly what ships
//   --install folder  copy the files the VSIX would hold (package.json, README, LICENSE, dist/ without
//                     maps, media/) unpacked into the extensions dir: ~8 s faster, no vsce
//   --install dev     load the repo root as extensionDevelopmentPath (title "[Extension Development Host]")
//   --vsix <file>     install this VSIX (e.g. from npm run package) instead of packaging one
//   --no-build        use dist/ as it is
// env: HARNESS_UI_TIMEOUT_MS (per test, default 120000), HARNESS_KEEP=1, HARNESS_VERBOSE=1,
//      HARNESS_SETTINGS, HARNESS_RUN_DIR, CHROMIUM, CS_PORT, CS_NODE, CS_ENTRY.
// Last line: "ui: N passed, N failed". Exit code 0 only if all passed. On a failure the run dir is
// kept and holds fail-<test>.png and the logs.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('./harness');
const { createHelpers } = require('./ui-helpers');

const UI_DIR = path.join(h.ROOT, 'test/ui');
const SHOTS_DIR = path.join(UI_DIR, 'shots');

function selectTests(opts) {
  const files = opts._.length
    ? opts._.map((f) => path.resolve(f))
    : fs.existsSync(UI_DIR)
      ? fs.readdirSync(UI_DIR).filter((f) => f.endsWith('.ui.js')).sort().map((f) => path.join(UI_DIR, f))
      : [];
  return opts.grep ? files.filter((f) => path.basename(f).includes(opts.grep)) : files;
}

/** Puts the extension where code-server finds it; returns the payload for --install dev. */
function installExtension(runDir, opts) {
  const mode = opts.install || 'vsix';
  if (!['vsix', 'folder', 'dev'].includes(mode)) throw new h.HarnessSetupError(`--install must be vsix, folder or dev, not ${mode}`);
  const t0 = Date.now();
  if (!opts['no-build'] && !opts.vsix) h.build(['--only', 'dist']);
  if (!opts.vsix && !fs.existsSync(path.join(h.ROOT, h.PKG.main))) {
    throw new h.HarnessSetupError(`${h.PKG.main} is missing: run node scripts/build.mjs`);
  }
  let payload = null;
  // The test debug adapter, unpacked next to ours whatever the mode (before a VSIX install, which
  // then lists it in extensions.json too).
  h.installTestDebugExtension(runDir);
  if (mode === 'dev') {
    payload = (server) => [
      ['extensionDevelopmentPath', server.remoteUri(h.ROOT)],
      ['skipWelcome', 'true'],
    ];
  } else if (mode === 'folder' && !opts.vsix) {
    // The files .vscodeignore lets into the VSIX (keep in sync with it); node_modules is not
    // needed because dist/ is bundled.
    const dest = path.join(runDir, 'ext', `${h.EXTENSION_ID}-${h.PKG.version}`);
    for (const f of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist', 'media']) {
      const src = path.join(h.ROOT, f);
      if (fs.existsSync(src)) fs.cpSync(src, path.join(dest, f), { recursive: true, filter: (s) => !s.endsWith('.map') });
    }
  } else {
    let vsix = opts.vsix && path.resolve(opts.vsix);
    if (!vsix) {
      vsix = path.join(runDir, 'ext.vsix');
      // stdin closed: vsce must never wait for an answer
      execFileSync(path.join(h.ROOT, 'node_modules/.bin/vsce'), ['package', '--no-dependencies', '--allow-missing-repository', '-o', vsix], {
        cwd: h.ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    }
    h.installVsix(runDir, vsix);
  }
  console.log(`[ui] extension ready (${mode}${opts.vsix ? ' ' + opts.vsix : ''}) in ${Date.now() - t0} ms`);
  return { mode, payload };
}

async function runOne(file, i, { server, runDir, installMode, payload, timeoutMs, verbose }) {
  const name = path.basename(file, '.ui.js');
  const t0 = Date.now();
  // a fresh copy per test; also a new folder URI, so no editor state is restored from earlier tests
  const workspace = h.prepareTestWorkspace(path.join(runDir, `t${i}`));
  const context = await h.launchChromium(path.join(runDir, `t${i}`, 'chromium'), { verbose });
  const page = context.pages()[0] || (await context.newPage());
  const workbenchUrl = server.workbenchUrl({ folder: workspace, payload });
  let error = null;
  try {
    const mod = require(file);
    if (typeof mod.run !== 'function') throw new Error(`${path.relative(h.ROOT, file)} does not export run(ctx)`);
    await page.goto(workbenchUrl);
    await h.waitForWorkbench(page);
    const ctx = {
      page,
      workbenchUrl,
      workspaceDir: workspace,
      shotsDir: SHOTS_DIR,
      runDir,
      extension: { id: h.EXTENSION_ID, displayName: h.PKG.displayName, version: h.PKG.version },
      installMode, // 'vsix' | 'folder' | 'dev'
      helpers: createHelpers({ page, workspaceDir: workspace, shotsDir: SHOTS_DIR }),
      log: (...a) => console.log(`    [${name}]`, ...a),
    };
    let timer;
    await Promise.race([
      mod.run(ctx),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  } catch (e) {
    error = e;
    const shot = path.join(runDir, `fail-${name}.png`);
    await page.screenshot({ path: shot }).catch(() => {});
    console.log(`  ✖ ${name} (${Date.now() - t0} ms)\n    ${String(e && e.stack ? e.stack : e).replace(/\n/g, '\n    ')}\n    screenshot: ${shot}`);
  } finally {
    await context.close().catch(() => {});
  }
  if (!error) console.log(`  ✔ ${name} (${Date.now() - t0} ms)`);
  return !error;
}

async function main() {
  const opts = h.parseArgs(process.argv.slice(2), ['install', 'vsix', 'grep', 'settings', 'timeout-ms']);
  const timeoutMs = Number(opts['timeout-ms'] || process.env.HARNESS_UI_TIMEOUT_MS || 120000);
  const keepAlways = !!(opts.keep || process.env.HARNESS_KEEP);
  const verbose = !!(opts.verbose || process.env.HARNESS_VERBOSE);
  const settings = h.settingsFromOption(opts.settings || process.env.HARNESS_SETTINGS);
  h.checkPrerequisites();
  const tests = selectTests(opts);
  if (!tests.length) throw new h.HarnessSetupError('no UI tests selected (test/ui/*.ui.js)');

  const t0 = Date.now();
  const runDir = h.makeRunDir('ui');
  let passed = 0;
  let failed = 0;
  let server;
  try {
    const { mode, payload } = installExtension(runDir, opts);
    server = await h.startCodeServer(runDir, { settings, smokeTestDriver: mode === 'dev' });
    for (const [i, file] of tests.entries()) {
      const ok = await runOne(file, i, {
        server,
        runDir,
        installMode: mode,
        payload: payload && payload(server),
        timeoutMs,
        verbose,
      });
      ok ? passed++ : failed++;
    }
  } finally {
    if (server) await server.stop();
  }
  console.log(`[ui] ${Date.now() - t0} ms in total`);
  if (failed === 0 && !keepAlways) h.removeRunDir(runDir);
  else console.log(`[ui] kept ${runDir} (fail-*.png, code-server.log, ud/logs/)`);
  console.log(`ui: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((e) => {
  console.error(e instanceof h.HarnessSetupError ? e.message : e);
  console.log('ui: 0 passed, 1 failed');
  process.exitCode = 1;
});
