#!/usr/bin/env node
// The integration suite through @vscode/test-electron (VS Code desktop), for machines that can
// download VS Code: `npm run test:electron`. It cannot run on this project's CI machines, which
// reach only the npm registry and Debian's packages (the download of VS Code fails there); the same
// suite runs there in code-server's extension host (scripts/vscode/run-integration.js).
'use strict';

const path = require('node:path');
const h = require('./harness');

async function main() {
  const { runTests } = require('@vscode/test-electron');
  console.log(`[electron] build ${h.build()} ms`);
  const runDir = h.makeRunDir('el');
  const workspace = h.prepareTestWorkspace(runDir);
  const results = path.join(runDir, 'results.json');
  process.env.HARNESS_RESULTS = results;
  process.env.HARNESS_WORKSPACE = workspace;
  let code = 0;
  try {
    await runTests({
      extensionDevelopmentPath: h.ROOT,
      extensionTestsPath: path.join(h.ROOT, 'out/test/integration/index.js'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
      extensionTestsEnv: { HARNESS_RESULTS: results, HARNESS_WORKSPACE: workspace },
    });
  } catch (e) {
    console.error(`[electron] ${e && e.message ? e.message : e}`);
    code = 1;
  }
  let summary = { passed: 0, failed: 1 };
  try {
    summary = JSON.parse(require('node:fs').readFileSync(results, 'utf8'));
  } catch {}
  console.log(`integration: ${summary.passed} passed, ${summary.failed} failed`);
  process.exit(code || summary.failed ? 1 : 0);
}

main();
