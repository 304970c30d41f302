/**
 * The integration suites' check of a report against a fixture case of the test workspace: its
 * float32 block (what the original code computed on float32 tensors), rtol 1e-5.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LossReport } from '../../src/cornernet/model/report';

export function checkAgainstFixture(r: LossReport | undefined, name: string, lastError: unknown): void {
  assert.ok(r, `a report (last error: ${JSON.stringify(lastError)})`);
  const ws = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  const exp = JSON.parse(fs.readFileSync(path.join(ws, name, 'expected.json'), 'utf8')).float32;
  const close = (a: number | null, b: number, what: string) => assert.ok(a !== null && Math.abs(a - b) <= Math.max(1e-5 * Math.abs(b), 2e-5), `${what}: got ${a}, expected ${b}`);
  close(r.total, exp.total, 'total');
  for (const t of ['focal', 'pull', 'push', 'regr'] as const) close(r.unweighted[t], exp.unweighted[t], t);
  assert.equal(r.perStack.length, exp.per_stack.length);
}
