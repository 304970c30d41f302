/// <reference types="mocha" />
/**
 * "Compute CornerNet Loss" in a real extension host: fixture folders and explorer-style
 * multi-selections give the original's numbers, the panel draws what the report says, ambiguous
 * roles go through a real QuickPick, cancel stops the worker, a bad file leaves the old result.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CornerNetInspectorApi } from '../../src/extension';
import type { LossReport } from '../../src/cornernet/model/report';
import { REALISTIC_SPEC, makeSyntheticBatch } from '../support/synthetic';
import { encodeNpy } from '../../src/tensor/npy';
import { sleep, ws } from './support';

const EXTENSION_ID = 'cornernet-inspector.cornernet-inspector';
const COMMAND = 'cornernet.computeLoss';

let api: CornerNetInspectorApi;
const expected = (name: string) => JSON.parse(fs.readFileSync(path.join(ws(), name, 'expected.json'), 'utf8'));

function close(actual: number | null | undefined, want: number, what: string, rtol = 1e-5, atol = 2e-5): void {
  assert.ok(typeof actual === 'number', `${what}: got ${actual}`);
  assert.ok(Math.abs(actual - want) <= Math.max(rtol * Math.abs(want), atol), `${what}: got ${actual}, expected ${want}`);
}

function checkAgainstFixture(r: LossReport | undefined, name: string): void {
  assert.ok(r, 'the command returned a report');
  const exp = expected(name).float32;
  close(r.total, exp.total, 'total');
  for (const t of ['focal', 'pull', 'push', 'regr'] as const) close(r.unweighted[t], exp.unweighted[t], t);
  exp.per_stack.forEach((s: Record<string, number>, i: number) => {
    close(r.perStack[i]!.focalTl, s.focal_tl!, `stack ${i} focal_tl`);
    close(r.perStack[i]!.push, s.push!, `stack ${i} push`);
  });
}

/** A copy of a fixture folder inside the workspace, to modify. */
function copyFixture(name: string, as: string): string {
  const dst = path.join(ws(), as);
  fs.rmSync(dst, { recursive: true, force: true });
  fs.cpSync(path.join(ws(), name), dst, { recursive: true });
  return dst;
}

before(async () => {
  const ext = vscode.extensions.getExtension<CornerNetInspectorApi>(EXTENSION_ID)!;
  api = await ext.activate();
});

describe('Compute CornerNet Loss', () => {
  it('is a command in the palette', async () => {
    const all = await vscode.commands.getCommands(true);
    assert.ok(all.includes(COMMAND));
  });

  it('on a fixture folder returns the original values', async () => {
    const r = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'p02_two_stacks')))) as LossReport;
    checkAgainstFixture(r, 'p02_two_stacks');
    assert.equal(api.currentReport()?.total, r.total);
  });

  it('on an explorer multi-selection (clicked, selected[]) returns the original values', async () => {
    const dir = path.join(ws(), 'p01_basic');
    // The whole folder's content is selected: the json files next to the arrays are left out.
    const files = fs.readdirSync(dir).map((f) => vscode.Uri.file(path.join(dir, f)));
    assert.ok(files.some((f) => f.path.endsWith('.json')));
    const r = (await vscode.commands.executeCommand(COMMAND, files[3], files)) as LossReport;
    checkAgainstFixture(r, 'p01_basic');
    assert.equal(r.inputs.roles.length, 17);
  });

  it('the panel draws what the report says', async () => {
    const r = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'p04_one_object')))) as LossReport;
    const render = await api.waitForRender(60000, (x) => x.metrics.total === r.total);
    assert.equal(render.metrics.total, r.total);
    for (const t of ['focal', 'pull', 'push', 'regr'] as const) assert.equal(render.metrics[t], r.unweighted[t], t);
    for (let s = 0; s < r.nstack; s++) assert.equal(render.metrics[`stack${s}.focalTl`], r.perStack[s]!.focalTl);
    // Default view: the last stack and the (image, class) plane with the largest focal loss.
    assert.equal(render.selection.stack, r.nstack - 1);
    const C = r.sizes.classes;
    const planeLoss = (i: number) => (r.planeFocal.tl[i] ?? 0) + (r.planeFocal.br[i] ?? 0);
    const best = Array.from({ length: r.sizes.batch * C }, (_, i) => i).reduce((a, b) => (planeLoss(b) > planeLoss(a) ? b : a), 0);
    assert.deepEqual([render.selection.image, render.selection.class], [Math.floor(best / C), best % C]);
    const heatmaps = render.canvases.filter((c) => c.id.startsWith('canvas-'));
    assert.equal(heatmaps.length, 8, 'tl and br: probability, target, loss, gradient');
    for (const c of heatmaps) {
      assert.ok(c.width >= r.sizes.width && c.height >= r.sizes.height, `${c.id} size`);
      assert.ok(c.nonBlank, `${c.id} is not blank`);
    }
    assert.equal(render.canvases.filter((c) => c.id.startsWith('thumb-')).length, C);
    // The plane metrics equal the report's per-plane focal loss of the last stack's share... of the selected plane.
    assert.equal(typeof render.metrics['plane.tl'], 'number');
  });

  it('asks with a QuickPick when a role is ambiguous, and honours the choice', async () => {
    const dir = copyFixture('p01_basic', 'ambiguous');
    // Two candidates for tl_heat: the real one and the br logits under another tl_heat alias.
    fs.copyFileSync(path.join(dir, 'br_heat.npy'), path.join(dir, 'tl_hm.npy'));
    const run = vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir)) as Thenable<LossReport | undefined>;
    // The picker lists tl_heat.npy then tl_hm.npy: move to the second and accept it.
    await sleep(1500);
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    const r = await run;
    assert.ok(r, 'computed after the choice');
    const tl = r.inputs.roles.find((u) => u.role === 'tl_heat')!;
    assert.equal(path.basename(tl.file), 'tl_hm.npy');
    assert.equal(tl.origin, 'override');
    const exp = expected('p01_basic').float32;
    assert.notEqual(r.perStack[0]!.focalTl, exp.per_stack[0].focal_tl);
    // With the br logits as tl logits, focal_tl is the loss of br logits against the tl targets:
    // different from the fixture, and the br term is untouched.
    close(r.perStack[0]!.focalBr, exp.per_stack[0].focal_br, 'focal_br unchanged');
  });

  it('cancel stops the worker and keeps the previous result', async () => {
    const before = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'p01_basic')))) as LossReport;
    const dir = path.join(ws(), 'realistic');
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir);
      const batch = makeSyntheticBatch(REALISTIC_SPEC);
      for (const [name, t] of Object.entries(batch.arrays)) fs.writeFileSync(path.join(dir, `${name}.npy`), encodeNpy(t));
    }
    const run = vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir)) as Thenable<LossReport | undefined>;
    for (let i = 0; i < 200 && api.runningCount === 0; i++) await sleep(10);
    assert.equal(api.runningCount, 1, 'the computation started');
    assert.equal(api.cancelRunning(), 1);
    const r = await run;
    assert.equal(r, undefined);
    assert.equal(api.lastError?.kind, 'cancelled');
    assert.equal(api.runningCount, 0);
    assert.equal(api.currentReport()?.total, before.total, 'the panel keeps the previous result');
  });

  it('a bad file gives an error naming it and leaves the old result', async () => {
    const good = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'p01_basic')))) as LossReport;
    const dir = copyFixture('p01_basic', 'broken');
    const f = path.join(dir, 'tl_heat.npy');
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 700));
    const r = await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir));
    assert.equal(r, undefined);
    assert.equal(api.lastError?.kind, 'read');
    assert.match(api.lastError!.message, /tl_heat\.npy: .*truncated/);
    assert.equal(api.currentReport()?.total, good.total);
  });

  it('weights from the settings', async () => {
    const cfg = vscode.workspace.getConfiguration('cornernet.loss');
    await cfg.update('pullWeight', 1, vscode.ConfigurationTarget.Global);
    try {
      const r = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'p01_basic')))) as LossReport;
      assert.equal(r.weights.pull, 1);
      const exp = expected('p01_basic').float32.unweighted;
      close(r.total, exp.focal + exp.pull + 0.1 * exp.push + exp.regr, 'reweighted total');
    } finally {
      await cfg.update('pullWeight', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
