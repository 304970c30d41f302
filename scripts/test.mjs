// `npm test`: type check, build, then the suites: unit (Node's test runner), integration (mocha
// in code-server's real extension host; once trusted, once in Restricted Mode) and UI (Debian's
// chromium driving the workbench).
// Each suite ends with a line "<suite>: N passed, N failed"; the exit code is non-zero if any fails.
// `--unit` runs the unit suite only. First it installs what is missing (scripts/setup-test-env.sh:
// Debian packages as root, code-server from the npm registry), so that a fresh machine needs
// nothing but `npm ci` before it; `--no-setup` skips that step.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');

function run(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', ...opts });
  return r.status ?? 1;
}

function listJs(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listJs(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}

let failed = false;
if (!args.includes('--no-setup')) {
  console.log('> setup (scripts/setup-test-env.sh)');
  if (run('bash', ['scripts/setup-test-env.sh', ...(unitOnly ? ['--unit'] : [])]) !== 0) {
    console.log('setup failed: see the message above');
    process.exit(1);
  }
}
console.log('> type check');
if (run('npx', ['tsc', '-p', '.', '--noEmit']) !== 0 || run('npx', ['tsc', '-p', 'webview', '--noEmit']) !== 0) {
  console.log('type check failed');
  process.exit(1);
}
console.log('> build');
if (run('node', ['scripts/build.mjs']) !== 0) process.exit(1);

console.log('> unit suite');
const files = listJs('out/test/unit');
const r = spawnSync('node', ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', '--test-reporter-destination=out/unit.tap', ...files], {
  stdio: 'inherit',
});
const { readFileSync } = await import('node:fs');
const tap = existsSync('out/unit.tap') ? readFileSync('out/unit.tap', 'utf8') : '';
const pass = Number(/^# pass (\d+)/m.exec(tap)?.[1] ?? 0);
const fail = Number(/^# fail (\d+)/m.exec(tap)?.[1] ?? 0) + Number(/^# cancelled (\d+)/m.exec(tap)?.[1] ?? 0);
console.log(`unit: ${pass} passed, ${fail} failed`);
if (r.status !== 0 || fail > 0 || pass === 0) failed = true;

/**
 * A suite run by a harness script whose last line is "<suite>: N passed, N failed". The harness
 * fails loudly (exit non-zero, with the install command) when chromium or code-server is missing.
 */
function runSuite(name, script, extra = []) {
  console.log(`> ${name} suite`);
  const r = spawnSync('node', [script, '--no-build', ...extra], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  process.stdout.write(r.stdout ?? '');
  const m = new RegExp(`^${name}: (\\d+) passed, (\\d+) failed$`, 'm').exec(r.stdout ?? '');
  const counts = m ? { pass: Number(m[1]), fail: Number(m[2]) } : { pass: 0, fail: 1 };
  if (!m) console.log(`${name}: 0 passed, 1 failed (the suite did not report; exit ${r.status})`);
  if (r.status !== 0 || counts.fail > 0 || counts.pass === 0) failed = true;
  return counts;
}

const summary = [`unit: ${pass} passed, ${fail} failed`];
if (!unitOnly) {
  // Real VS Code suites, one after the other (each drives code-server and chromium on 2 cores).
  const it = runSuite('integration', 'scripts/vscode/run-integration.js');
  summary.push(`integration: ${it.pass} passed, ${it.fail} failed`);
  // The same extension host in Restricted Mode (workspace trust on, folder not trusted).
  const untrusted = runSuite('integration', 'scripts/vscode/run-integration.js', ['--untrusted']);
  summary.push(`integration (untrusted workspace): ${untrusted.pass} passed, ${untrusted.fail} failed`);
  const ui = runSuite('ui', 'scripts/vscode/run-ui.js');
  summary.push(`ui: ${ui.pass} passed, ${ui.fail} failed`);
}
console.log(`\n${summary.join('\n')}`);
process.exit(failed ? 1 : 0);
