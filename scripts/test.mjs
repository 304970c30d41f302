// `npm test`: type check, build, then the unit suite (Node's test runner).
// Each suite ends with a line "N passed, N failed"; the exit code is non-zero if any suite fails.
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
console.log('> type check');
if (run('npx', ['tsc', '-p', '.', '--noEmit']) !== 0) {
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

if (!unitOnly) {
  // Integration and UI suites are added by the VS Code harness (scripts/ci-vscode).
}
process.exit(failed ? 1 : 0);
