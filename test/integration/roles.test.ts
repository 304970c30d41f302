/// <reference types="mocha" />
/**
 * Role picking (issue 15) in a real extension host, through real QuickPicks: two complete batch
 * folders selected offer a comparison (or a merge, then asked in numbered steps); a folder without
 * gt_mask asks for the mask as missing, never offering the index arrays, and "Derive from the
 * indices" gives the numbers of the saved mask; files selected from two folders offer "Take the
 * rest from folder X".
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CornerNetInspectorApi } from '../../src/extension';
import type { LossReport } from '../../src/cornernet/model/report';
import { sleep, ws } from './support';

const EXTENSION_ID = 'cornernet-inspector.cornernet-inspector';
const COMMAND = 'cornernet.computeLoss';

let api: CornerNetInspectorApi;
const uri = (rel: string) => vscode.Uri.file(path.join(ws(), rel));

function copyFolder(src: string, as: string, drop: string[] = []): string {
  const dst = path.join(ws(), as);
  fs.rmSync(dst, { recursive: true, force: true });
  fs.cpSync(path.join(ws(), src), dst, { recursive: true });
  for (const f of drop) fs.rmSync(path.join(dst, f), { force: true });
  return dst;
}

/** Waits for a picker whose title matches (shown after `seen` pickers) and returns its record. */
async function picker(title: RegExp, seen: number, timeoutMs = 60000) {
  const t0 = Date.now();
  for (;;) {
    const rec = api.rolePickerLog().slice(seen).find((r) => title.test(r.title));
    if (rec) {
      await sleep(300); // the QuickPick is on screen
      return rec;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`no picker ${title} (saw: ${api.rolePickerLog().map((r) => r.title).join(' | ')})`);
    await sleep(100);
  }
}

async function accept(index = 0): Promise<void> {
  for (let i = 0; i < index; i++) await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
  await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
}

before(async () => {
  const ext = vscode.extensions.getExtension<CornerNetInspectorApi>(EXTENSION_ID)!;
  api = await ext.activate();
});

describe('Role picking', () => {
  it('two complete folders selected: "Compare the two batches" opens the comparison, not a merge', async () => {
    const [a, b] = [uri('p01_basic'), uri('p04_one_object')];
    const seen = api.rolePickerLog().length;
    const run = vscode.commands.executeCommand(COMMAND, a, [a, b]) as Thenable<LossReport | undefined>;
    const rec = await picker(/two complete batches selected/, seen);
    assert.deepEqual(rec.items, ['Compare the two batches', 'Merge them as one input']);
    await accept(0);
    assert.equal(await run, undefined, 'no merged loss computed');
    const t0 = Date.now();
    const label = 'Compare: p01_basic vs p04_one_object';
    const has = () => vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.label === label));
    while (!has() && Date.now() - t0 < 30000) await sleep(200);
    assert.ok(has(), `a "${label}" tab`);
    assert.ok(!api.rolePickerLog().slice(seen).some((r) => /which array/.test(r.title)), 'no role was asked');
  });

  it('"Merge them as one input" asks each clashing role in numbered steps; Escape cancels', async () => {
    const [a, b] = [uri('p01_basic'), uri('p04_one_object')];
    const seen = api.rolePickerLog().length;
    const run = vscode.commands.executeCommand(COMMAND, a, [a, b]) as Thenable<LossReport | undefined>;
    await picker(/two complete batches selected/, seen);
    await accept(1);
    const rec = await picker(/which array is/, seen);
    assert.equal(rec.step, 1);
    assert.ok((rec.totalSteps ?? 0) >= 10, `every role is claimed twice: ${rec.totalSteps} steps`);
    assert.match(rec.title, /which array is gt_tl_heat\?/);
    assert.equal(rec.items.length, 2, 'the two arrays that claim it');
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await run, undefined, 'cancelled');
  });

  it('a folder without gt_mask: the mask is asked as missing, index arrays are not offered, "Derive from the indices" equals the saved mask', async () => {
    const dir = copyFolder('sample', 'roles_nomask', ['gt_mask.npy']);
    const saved = (await vscode.commands.executeCommand(COMMAND, uri('sample'))) as LossReport;
    const seen = api.rolePickerLog().length;
    const run = vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir)) as Thenable<LossReport | undefined>;
    const rec = await picker(/gt_mask is missing/, seen);
    assert.equal(rec.title, 'CornerNet: gt_mask is missing');
    assert.deepEqual([rec.step, rec.totalSteps], [1, 1]);
    assert.deepEqual(rec.items, ['Derive from the indices', 'All slots valid']);
    assert.ok(!rec.items.some((l) => /ind/.test(l) && l.endsWith('.npy')), 'no index array offered as the mask');
    await accept(0);
    const r = await run;
    assert.ok(r, 'computed');
    assert.equal(r.total, saved.total, "the sample's mask is its indices' non-zero slots");
    assert.deepEqual(r.unweighted, saved.unweighted);
    assert.ok(r.warnings.some((w) => w.code === 'synthetic-mask' && /from the indices/.test(w.message)));
    assert.equal(api.currentReport()?.total, r.total);
    // A mask array of the right shape is offered (under its own section) besides the two choices.
    fs.copyFileSync(path.join(ws(), 'sample', 'gt_mask.npy'), path.join(dir, 'valid_slots.npy'));
    const seen2 = api.rolePickerLog().length;
    const run2 = vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir)) as Thenable<LossReport | undefined>;
    const rec2 = await picker(/gt_mask is missing/, seen2);
    assert.deepEqual(rec2.items, ['Derive from the indices', 'All slots valid', 'valid_slots.npy']);
    assert.match(rec2.sections[0]!, /mask arrays \[2, 16\] bool or integer/);
    await accept(2);
    const r2 = await run2;
    assert.equal(r2?.total, saved.total);
    assert.ok(!r2?.warnings.some((w) => w.code === 'synthetic-mask'));
  });

  it('files selected from two folders: "Take the rest from folder X" fills the missing roles from that folder', async () => {
    const a = copyFolder('sample', 'roles_a');
    const b = copyFolder('sample', 'roles_b');
    const files = [vscode.Uri.file(path.join(a, 'tl_heat.npy')), vscode.Uri.file(path.join(b, 'br_heat.npy'))];
    const seen = api.rolePickerLog().length;
    const run = vscode.commands.executeCommand(COMMAND, files[0], files) as Thenable<LossReport | undefined>;
    const rec = await picker(/roles missing from the selection/, seen);
    assert.deepEqual(rec.items, ['Take the rest from folder roles_a', 'Take the rest from folder roles_b', 'Choose each missing role myself']);
    assert.equal(rec.step, 1);
    await accept(1);
    const r = await run;
    assert.ok(r, 'computed without further questions');
    const mask = r.inputs.roles.find((u) => u.role === 'gt_mask')!;
    assert.equal(path.dirname(mask.file), b);
    assert.equal(path.dirname(r.inputs.roles.find((u) => u.role === 'tl_heat')!.file), a, 'the selected file keeps its role');
    assert.ok(!api.rolePickerLog().slice(seen).some((x) => /which array/.test(x.title)));
  });
});
