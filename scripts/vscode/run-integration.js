#!/usr/bin/env node
// Integration suite in a real VS Code extension host (code-server's, Node 24).
//
// The web workbench reads `payload` from its URL: extensionDevelopmentPath (the repo root, i.e. the
// extension as built into dist/) and extensionTestsPath (out/test/integration/index.js, bundled by
// scripts/build.mjs). When the tests finish the extension host exits and the workbench calls
// window.codeAutomationExit(code); its log lines, including the extension host's console (mocha's
// spec reporter), go to window.codeAutomationLog. Both are exposed to the page before navigating.
//
// usage: node scripts/vscode/run-integration.js [--no-build] [--untrusted] [--grep <regexp>] [--settings <file|json>]
//                                               [--timeout-ms <n>] [--keep] [--verbose]
//   --no-build     use dist/ and out/ as they are (scripts/test.mjs builds once before all suites)
//   --grep         only tests whose full title matches (passed to mocha as HARNESS_GREP)
//   --settings     extra user settings, e.g. '{"cornernet.foo": 1}' or a JSON file
//   --untrusted    workspace trust on and the test folder not trusted (Restricted Mode): runs the
//                  *.untrusted.test.js files, which the normal (trusted) run does not load
// env: HARNESS_TIMEOUT_MS (default 180000), HARNESS_KEEP=1, HARNESS_VERBOSE=1 (browser console),
//      HARNESS_SETTINGS, HARNESS_RUN_DIR, CHROMIUM, CS_PORT, CS_NODE, CS_ENTRY.
// Last line: "integration: N passed, N failed". Exit code 0 only if all passed.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { format } = require('node:util');
const h = require('./harness');

const TESTS_ENTRY = path.join(h.ROOT, 'out/test/integration/index.js');

async function main() {
  const opts = h.parseArgs(process.argv.slice(2), ['grep', 'settings', 'timeout-ms']);
  const timeoutMs = Number(opts['timeout-ms'] || process.env.HARNESS_TIMEOUT_MS || 180000);
  const keepAlways = !!(opts.keep || process.env.HARNESS_KEEP);
  const verbose = !!(opts.verbose || process.env.HARNESS_VERBOSE);
  const settings = h.settingsFromOption(opts.settings || process.env.HARNESS_SETTINGS);
  h.checkPrerequisites();

  const t0 = Date.now();
  if (!opts['no-build']) console.log(`[integration] build ${h.build()} ms`);
  for (const f of [path.join(h.ROOT, h.PKG.main), TESTS_ENTRY]) {
    if (!fs.existsSync(f)) throw new h.HarnessSetupError(`${path.relative(h.ROOT, f)} is missing: run node scripts/build.mjs`);
  }

  const runDir = h.makeRunDir('it');
  const workspace = h.prepareTestWorkspace(runDir);
  const resultsFile = path.join(runDir, 'results.json');
  let ok = false;
  let server;
  let context;
  let exitCode = null;
  let tOpen = 0;
  let tests = 0;
  try {
    h.installTestDebugExtension(runDir);
    server = await h.startCodeServer(runDir, {
      settings,
      smokeTestDriver: true,
      untrusted: !!opts.untrusted,
      // inherited by the extension host, read by test/integration/index.ts and the tests
      env: {
        HARNESS_RESULTS: resultsFile,
        HARNESS_WORKSPACE: workspace,
        HARNESS_REPO: h.ROOT,
        ...(opts.untrusted ? { HARNESS_UNTRUSTED: '1' } : {}),
        ...(opts.grep ? { HARNESS_GREP: opts.grep } : {}),
      },
    });
    context = await h.launchChromium(path.join(runDir, 'chromium'), { verbose });

    let finish;
    const exited = new Promise((resolve) => (finish = resolve));
    await context.exposeFunction('codeAutomationLog', makeAutomationLogger(path.join(runDir, 'automation.log'), verbose));
    await context.exposeFunction('codeAutomationExit', (code) => finish(Number(code)));
    const page = context.pages()[0] || (await context.newPage());
    tOpen = Date.now();
    await page.goto(
      server.workbenchUrl({
        folder: workspace,
        payload: [
          ['extensionDevelopmentPath', server.remoteUri(h.ROOT)],
          ['extensionTestsPath', server.remoteUri(TESTS_ENTRY)],
          ['skipWelcome', 'true'],
        ],
      }),
    );
    let timer;
    const timedOut = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    tests = Date.now() - tOpen;
    if (result === 'timeout') {
      const shot = path.join(runDir, 'timeout.png');
      await page.screenshot({ path: shot }).catch(() => {});
      console.error(`[integration] TIMEOUT after ${timeoutMs} ms; screenshot ${shot}`);
    } else {
      exitCode = result;
    }
  } finally {
    if (context) await context.close().catch(() => {});
    if (server) await server.stop();
  }

  let res = null;
  try {
    res = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  } catch {
    /* no results: the tests never ran to the end */
  }
  console.log(
    `[integration] extension host exit code ${exitCode}; workbench + tests ${tests} ms, ${Date.now() - t0} ms in total`,
  );
  let passed = 0;
  let failed = 1; // a run that produced no results counts as one failure, never as green
  if (res) {
    for (const f of res.failures) console.log(`[integration] FAIL ${f.title}: ${f.error}`);
    passed = res.passed;
    failed = res.failed;
    if (passed + failed === 0) console.log('[integration] no tests ran (empty suite or --grep matched nothing)');
  } else {
    console.log(`[integration] no results file (${resultsFile}): the test module did not finish`);
  }
  ok = exitCode === 0 && res && res.failed === 0 && res.passed > 0;
  if (ok && !keepAlways) h.removeRunDir(runDir);
  else console.log(`[integration] kept ${runDir} (automation.log: workbench + extension host console; code-server.log; ud/logs/; timeout.png)`);
  if (!res) failed = Math.max(failed, 1);
  console.log(`integration: ${passed} passed, ${failed} failed`);
  process.exitCode = ok ? 0 : 1;
}

// The workbench forwards its log here as (level, [format, ...args]): its own messages (auth
// providers, the dead gallery, shutdown noise) and the extension host's console. Every line goes
// to <run dir>/automation.log; lines tagged by test/integration/index.ts (mocha's report) are
// printed, the rest only with --verbose.
const EXTHOST_TAG = 'EXTHOST| ';
function makeAutomationLogger(file, verbose) {
  const out = fs.createWriteStream(file);
  return (type, args) => {
    const text = format(...(Array.isArray(args) ? args : [args]));
    for (const line of text.split('\n')) {
      const tagged = line.startsWith(EXTHOST_TAG);
      out.write(`[${type}] ${tagged ? line.slice(EXTHOST_TAG.length) : line}\n`);
      if (tagged) console.log(line.slice(EXTHOST_TAG.length));
      else if (verbose) console.log(`[workbench ${type}] ${line}`);
    }
  };
}

main().catch((e) => {
  console.error(e instanceof h.HarnessSetupError ? e.message : e);
  console.log('integration: 0 passed, 1 failed');
  process.exitCode = 1;
});
