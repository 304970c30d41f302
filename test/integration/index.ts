/**
 * extensionTestsPath module for the integration suite: VS Code's extension host (code-server's,
 * Node 24) loads it after the extension under development and calls run(). The promise decides the
 * extension host's exit code, which reaches scripts/vscode/run-integration.js through the workbench's
 * window.codeAutomationExit; console output reaches it through window.codeAutomationLog.
 *
 * Bundled by scripts/build.mjs into out/test/integration/index.js (mocha bundled in, `vscode`
 * external); each *.test.ts becomes a sibling *.test.js, loaded here with require at run time.
 *
 * Env (set by the runner on code-server, inherited by the extension host):
 *   HARNESS_RESULTS  file that receives {passed, failed, pending, failures} as JSON
 *   HARNESS_GREP     only run tests whose full title matches this regular expression
 *   HARNESS_UNTRUSTED the window is in Restricted Mode: run the *.untrusted.test.js files (and only
 *                    them; the trusted run loads the others)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';

/**
 * Prefix of the report lines. The workbench forwards the extension host's console and its own log
 * through one channel (window.codeAutomationLog) with no way to tell them apart, so the runner
 * prints tagged lines and keeps the rest (workbench noise, console output of tests and extension)
 * in <run dir>/automation.log, or prints it with --verbose. Lines are formatted here because mocha
 * logs printf-style ('%s (%dms)', ...), which that channel passes on unformatted.
 * (Wrapping console.log itself is not possible: VS Code's extension host defines console methods
 * with a getter and a no-op setter.)
 */
const TAG = 'EXTHOST| ';

function report(...args: unknown[]): void {
  console.log(
    format(...args)
      .split('\n')
      .map((line) => TAG + line)
      .join('\n'),
  );
}

interface Results {
  passed: number;
  failed: number;
  pending: number;
  failures: { title: string; error: string; stack?: string }[];
}

function listTestFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? listTestFiles(path.join(dir, e.name)) : e.name.endsWith('.test.js') ? [path.join(dir, e.name)] : [],
    )
    .sort();
}

export function run(): Promise<void> {
  // color: the extension host's stdout is no TTY and the output ends up in a log, keep it plain.
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', timeout: 60_000, color: false });
  if (process.env.HARNESS_GREP) mocha.grep(new RegExp(process.env.HARNESS_GREP));
  // In the bundle __dirname is out/test/integration, where the *.test.js bundles sit.
  const untrusted = process.env.HARNESS_UNTRUSTED === '1';
  for (const file of listTestFiles(__dirname)) if (file.endsWith('.untrusted.test.js') === untrusted) mocha.addFile(file);

  const results: Results = { passed: 0, failed: 0, pending: 0, failures: [] };
  // every built-in reporter writes through Base.consoleLog
  Mocha.reporters.Base.consoleLog = report;
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      const out = process.env.HARNESS_RESULTS;
      if (out) fs.writeFileSync(out, JSON.stringify(results, null, 2));
      report(`${results.passed} passed, ${results.failed} failed`);
      if (error) reject(error);
      else if (results.failed > 0) reject(new Error(`${results.failed} test(s) failed`));
      else resolve();
    };
    try {
      const runner = mocha.run(() => finish());
      runner.on('pass', () => results.passed++);
      runner.on('pending', () => results.pending++);
      // 'fail' also fires for failing hooks, which count as failures here as they do in mocha.
      runner.on('fail', (test, err: Error) => {
        results.failed++;
        results.failures.push({ title: test.fullTitle(), error: String(err?.message ?? err), stack: err?.stack });
      });
    } catch (e) {
      // e.g. a test file that throws while loading: report it instead of hanging the run
      results.failed++;
      results.failures.push({ title: '(loading test files)', error: String((e as Error)?.message ?? e), stack: (e as Error)?.stack });
      finish(e as Error);
    }
  });
}
