/// <reference types="mocha" />
/**
 * The diagnostic surfaces through the VS Code API: panel sections (decode, embeddings) as the
 * webview reports them, export, hovers (vscode.executeHoverProvider), Problems
 * (languages.getDiagnostics), the tensor viewer (vscode.openWith), explorer decorations and the
 * side view.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CornerNetInspectorApi } from '../../src/extension';
import type { LossReport } from '../../src/cornernet/model/report';
import { computeLossWithInputs } from '../../src/cornernet/run';
import { decodeAndMatch } from '../../src/cornernet/views/matching';
import { encodeNpy } from '../../src/tensor/npy';
import { encodeNpz } from '../../src/tensor/npz';
import { readTensorFile } from '../../src/tensor/tensorFile';
import { tensorStats } from '../../src/tensor/stats';
import { eventually, ws } from './support';

const COMMAND = 'cornernet.computeLoss';
let api: CornerNetInspectorApi;


function copyFixture(name: string, as: string): string {
  const dst = path.join(ws(), as);
  fs.rmSync(dst, { recursive: true, force: true });
  fs.cpSync(path.join(ws(), name), dst, { recursive: true });
  return dst;
}

function hoverText(hovers: vscode.Hover[]): string {
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
}

before(async () => {
  api = await vscode.extensions.getExtension<CornerNetInspectorApi>('cornernet-inspector.cornernet-inspector')!.activate();
});

describe('results panel diagnostics', () => {
  it('decode and embeddings as drawn equal the core on the same inputs', async () => {
    const dir = path.join(ws(), 'p02_two_stacks');
    const r = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir))) as LossReport;
    const render = await api.waitForRender(60000, (x) => x.metrics['decode.objects'] !== undefined && x.canvases.some((c) => c.id === 'decode-canvas') && x.canvases.some((c) => c.id === 'tagmap-tl'));
    const { inputs } = await computeLossWithInputs({ paths: [dir] });
    const view = decodeAndMatch(inputs, r.nstack - 1, render.selection.image, { K: 100, aeThreshold: 0.5, numDets: 1000 }, 0.5);
    assert.equal(render.metrics['decode.objects'], view.targets.length);
    assert.equal(render.metrics['decode.matched'], view.targets.filter((t) => t.detection !== undefined).length);
    assert.equal(render.metrics['decode.valid'], view.validCount);
    assert.equal(render.metrics['decode.shown'], view.detections.length);
    const objs = r.objects.filter((o) => o.stack === render.selection.stack && o.image === render.selection.image);
    for (const o of objs) {
      assert.equal(render.metrics[`embed.${o.slot}.mean`], o.mean);
      assert.equal(render.metrics[`embed.${o.slot}.pull`], o.pull);
      assert.equal(render.metrics[`offset.${o.slot}.tl`], o.regrTl);
    }
    const n = objs.length;
    const violations = objs.flatMap((a, i) => objs.slice(i + 1).filter((b) => Math.abs(a.mean! - b.mean!) < 1)).length;
    assert.equal(render.metrics['embed.violations'], violations);
    for (const id of ['embed-line', 'embed-matrix', 'decode-canvas', 'tagmap-tl', 'tagmap-br']) {
      const c = render.canvases.find((x) => x.id === id);
      assert.ok(c && c.nonBlank, `${id} drawn`);
    }
    // One cell per object (diagnostics.ts: cell size min(32, 384 / n) px), plus the axis labels (36 px) and the colorbar (24 + 130 px).
    const cell = Math.max(4, Math.min(32, Math.floor(384 / n)));
    assert.equal(render.canvases.find((x) => x.id === 'embed-matrix')!.width, 36 + n * cell + 24 + 130);
  });

  it('exports the report as JSON', async () => {
    const r = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'p01_basic')))) as LossReport;
    const out = vscode.Uri.file(path.join(ws(), 'exported-report.json'));
    await vscode.commands.executeCommand('cornernet.exportReport', out);
    const json = JSON.parse(fs.readFileSync(out.fsPath, 'utf8'));
    assert.equal(json.total, r.total);
    assert.deepEqual(json.perStack, JSON.parse(JSON.stringify(r.perStack)));
  });
});

describe('hovers on tensor paths', () => {
  let npz: string;
  before(async () => {
    const t = await readTensorFile(path.join(ws(), 'p01_basic', 'gt_mask.npy'));
    const nan = { dtype: 'float32' as const, shape: [2, 3], size: 6, data: Float32Array.of(1, NaN, 3, Infinity, 0.5, 2) };
    npz = path.join(ws(), 'bundle.npz');
    fs.writeFileSync(npz, encodeNpz([{ key: 'mask', tensor: t }, { key: 'weird', tensor: nan }]));
  });

  it('Python: a relative path resolved against the document folder, header and statistics', async () => {
    const doc = await vscode.workspace.openTextDocument({ language: 'python', content: 'import numpy as np\nheat = np.load("p01_basic/tl_heat.npy")\nm = np.load("bundle.npz:weird")\n' });
    // An untitled document has no folder: the workspace folder resolves it.
    const h = (await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, new vscode.Position(1, 25))) as vscode.Hover[];
    const text = hoverText(h);
    assert.match(text, /tl\\_heat\\\.npy/);
    assert.match(text, /float32 \| \[1, 2, 3, 16, 16\] \| C/);
    const s = tensorStats(await readTensorFile(path.join(ws(), 'p01_basic', 'tl_heat.npy')));
    assert.ok(text.includes(` ${Number(s.min!.toPrecision(5))} `), `min ${s.min} in the hover`);
    assert.match(text, /command:cornernet\.openTensorViewer/);
    assert.match(text, /command:cornernet\.computeLoss/);
    const h2 = hoverText((await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, new vscode.Position(2, 20))) as vscode.Hover[]);
    assert.match(h2, /weird \| float32 \| \[2, 3\]/);
    assert.doesNotMatch(h2, /\| mask \|/, 'only the named member');
    // (markdown-escaped in the hover source)
    assert.match(h2, /1 NaN, 1 \\?\+Inf, 0 \\?-Inf of 6 values/);
  });

  it('JSON, YAML, Markdown and plain text; nothing elsewhere on the line', async () => {
    for (const [language, content, col] of [
      ['json', '{"targets": "p04_one_object/gt_mask.npy"}', 20],
      ['yaml', 'mask: p04_one_object/gt_mask.npy\n', 12],
      ['markdown', 'See `p04_one_object/gt_mask.npy` for the mask.\n', 10],
      ['plaintext', 'mask at p04_one_object/gt_mask.npy ok\n', 15],
    ] as const) {
      const doc = await vscode.workspace.openTextDocument({ language, content });
      const text = hoverText((await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, new vscode.Position(0, col))) as vscode.Hover[]);
      assert.match(text, /uint8 \| \[2, 8\]/, language);
    }
    const doc = await vscode.workspace.openTextDocument({ language: 'python', content: 'x = "nothing.npy"  # p04_one_object/gt_mask.npy\n' });
    const none = hoverText((await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, new vscode.Position(0, 7))) as vscode.Hover[]);
    assert.doesNotMatch(none, /uint8/, 'a missing file gives no tensor hover');
  });

  it('can be turned off', async () => {
    const cfg = vscode.workspace.getConfiguration('cornernet');
    await cfg.update('hover.enabled', false, vscode.ConfigurationTarget.Global);
    try {
      const doc = await vscode.workspace.openTextDocument({ language: 'python', content: 'np.load("p01_basic/tl_heat.npy")\n' });
      const text = hoverText((await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, new vscode.Position(0, 15))) as vscode.Hover[]);
      assert.doesNotMatch(text, /float32/);
    } finally {
      await cfg.update('hover.enabled', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});

describe('Problems', () => {
  const diags = (f: string) => vscode.languages.getDiagnostics(vscode.Uri.file(f)).filter((d) => d.source === 'CornerNet Inspector');

  it("a computation's warnings land on their files, and are replaced by the next computation", async () => {
    const dir = copyFixture('p01_basic', 'problems');
    const gt = await readTensorFile(path.join(dir, 'gt_tl_heat.npy'));
    (gt.data as Float32Array)[10] = 1.5;
    fs.writeFileSync(path.join(dir, 'gt_tl_heat.npy'), encodeNpy(gt));
    const mask = await readTensorFile(path.join(dir, 'gt_mask.npy'));
    fs.writeFileSync(path.join(dir, 'gt_mask.npy'), encodeNpy({ dtype: 'bool', shape: mask.shape, data: mask.data }));
    await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir));
    const onGt = await eventually('gt diagnostics', () => (diags(path.join(dir, 'gt_tl_heat.npy')).length ? diags(path.join(dir, 'gt_tl_heat.npy')) : undefined));
    assert.ok(onGt.some((d) => d.code === 'gt-above-one' && d.severity === vscode.DiagnosticSeverity.Warning));
    assert.ok(diags(path.join(dir, 'gt_mask.npy')).some((d) => d.code === 'bool-mask'));
    // Computing another folder replaces them.
    await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'p01_basic')));
    assert.equal(diags(path.join(dir, 'gt_tl_heat.npy')).length, 0);
  });

  it('a failed computation puts its error on the file; fixing it clears it', async () => {
    const dir = copyFixture('p01_basic', 'problems-ind');
    for (const f of ['tl_tag.npy', 'tl_regr.npy']) fs.rmSync(path.join(dir, f));
    const file = path.join(dir, 'tl_ind.npy');
    const good = fs.readFileSync(file);
    const ind = await readTensorFile(file);
    (ind.data as BigInt64Array)[2] = 999n;
    fs.writeFileSync(file, encodeNpy(ind));
    assert.equal(await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir)), undefined);
    const d = await eventually('index error', () => diags(file).find((x) => x.severity === vscode.DiagnosticSeverity.Error));
    assert.match(d.message, /index 999 at image 0, slot 2 is outside \[0, 256\)/);
    fs.writeFileSync(file, good);
    const r = await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir));
    assert.ok(r);
    await eventually('cleared', () => diags(file).length === 0 || undefined);
  });
});

describe('tensor viewer', () => {
  it('opens with vscode.openWith: header, statistics and a drawn slice equal the file', async () => {
    const file = path.join(ws(), 'p02_two_stacks', 'tl_heat.npy');
    const uri = vscode.Uri.file(file);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'cornernet.tensorViewer');
    const r = await api.waitForViewerRender(uri, 30000);
    const s = tensorStats(await readTensorFile(file));
    assert.equal(r.metrics['stats.min'], s.min);
    assert.equal(r.metrics['stats.max'], s.max);
    assert.equal(r.metrics['stats.nan'], 0);
    assert.ok(r.canvases.find((c) => c.id === 'viewer-canvas')?.nonBlank);
    assert.ok(r.canvases.find((c) => c.id === 'viewer-hist')?.nonBlank);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('an npz member through "Open in Tensor Viewer", NaN/Inf reported in Problems', async () => {
    const npz = path.join(ws(), 'viewer.npz');
    fs.writeFileSync(npz, encodeNpz([{ key: 'ok', tensor: { dtype: 'float32', shape: [4, 4], data: new Float32Array(16).fill(0.5) } }, { key: 'bad', tensor: { dtype: 'float64', shape: [2, 3, 4], data: Float64Array.from({ length: 24 }, (_, i) => (i === 5 ? NaN : i)) } }]));
    const uri = vscode.Uri.file(npz);
    await vscode.commands.executeCommand('cornernet.openTensorViewer', uri, 'bad');
    const r = await api.waitForViewerRender(uri, 30000, (x) => x.metrics['stats.nan'] !== undefined);
    assert.equal(r.metrics['stats.nan'], 1);
    assert.equal(r.metrics['stats.count'], 24);
    // The default slice: the last two axes at index 0 of the first, values 0..11 (NaN at 5).
    assert.equal(r.metrics['plane.hi'], 11);
    assert.equal(r.metrics['plane.lo'], 0);
    const d = await eventually('viewer diagnostics', () => vscode.languages.getDiagnostics(uri).find((x) => x.source === 'CornerNet Inspector'));
    assert.match(d.message, /bad: 1 NaN, 0 \+Inf, 0 -Inf of 24 values/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('files above cornernet.maxFileSizeMB show the header and wait for "Open anyway"', async () => {
    const big = path.join(ws(), 'big.npy');
    fs.writeFileSync(big, encodeNpy({ dtype: 'float32', shape: [600, 600], data: new Float32Array(360000) }));
    const cfg = vscode.workspace.getConfiguration('cornernet');
    await cfg.update('maxFileSizeMB', 1, vscode.ConfigurationTarget.Global);
    try {
      const uri = vscode.Uri.file(big);
      await vscode.commands.executeCommand('vscode.openWith', uri, 'cornernet.tensorViewer');
      const r = await api.waitForViewerRender(uri, 30000, (x) => x.metrics['tooLarge'] !== undefined);
      assert.equal(r.metrics['tooLarge'], 1);
      assert.equal(r.metrics['stats.min'], undefined, 'no data read');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      await cfg.update('maxFileSizeMB', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});

describe('explorer decorations', () => {
  it('tooltip with dtype and shape; a badge for NaN/Inf and for unreadable files', async () => {
    const ok = await api.decoration(vscode.Uri.file(path.join(ws(), 'p01_basic', 'gt_mask.npy')));
    assert.match(String(ok?.tooltip), /uint8 \[2, 8\]/);
    assert.equal(ok?.badge, undefined);
    const nanFile = path.join(ws(), 'nan.npy');
    fs.writeFileSync(nanFile, encodeNpy({ dtype: 'float32', shape: [3], data: Float32Array.of(1, NaN, 2) }));
    const uri = vscode.Uri.file(nanFile);
    const withStats = await eventually('statistics', async () => {
      const d = await api.decoration(uri);
      return d?.badge ? d : undefined;
    });
    assert.equal(withStats.badge, '!');
    assert.match(String(withStats.tooltip), /NaN 1/);
    const broken = path.join(ws(), 'broken.npy');
    fs.writeFileSync(broken, 'not numpy');
    const b = await api.decoration(vscode.Uri.file(broken));
    assert.equal(b?.badge, '!');
    assert.match(String(b?.tooltip), /Unreadable/);
    // Refreshed when the file changes: fixing nan.npy drops the badge.
    fs.writeFileSync(nanFile, encodeNpy({ dtype: 'float32', shape: [3], data: Float32Array.of(1, 1, 2) }));
    await eventually('badge gone', async () => ((await api.decoration(uri))?.badge === undefined ? true : undefined), 20000);
  });
});

describe('special files where tensors are expected (FIFO, /dev/zero, a symlink loop)', () => {
  let dir: string;
  before(() => {
    dir = path.join(ws(), 'special');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    execFileSync('mkfifo', [path.join(dir, 'pipe.npy')]);
    fs.symlinkSync('/dev/zero', path.join(dir, 'zero.npy'));
    fs.symlinkSync('loop.npy', path.join(dir, 'loop.npy'));
  });

  it('hovers and badges answer with the problem, at once', async () => {
    for (const [name, says] of [['pipe.npy', /FIFO/], ['zero.npy', /a device/], ['loop.npy', /symbolic link loop/]] as const) {
      const doc = await vscode.workspace.openTextDocument({ language: 'python', content: `np.load("special/${name}")\n` });
      const text = hoverText((await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, new vscode.Position(0, 14))) as vscode.Hover[]);
      assert.match(text, says, `hover of ${name}: ${text}`);
      const d = await api.decoration(vscode.Uri.file(path.join(dir, name)));
      assert.equal(d?.badge, '!', name);
      assert.match(String(d?.tooltip), says, `badge tooltip of ${name}`);
    }
  });

  it('the compute command refuses a folder whose tl_heat.npy or cornernet.json is a FIFO, naming it', async () => {
    const a = copyFixture('p01_basic', 'special-heat');
    fs.rmSync(path.join(a, 'tl_heat.npy'));
    execFileSync('mkfifo', [path.join(a, 'tl_heat.npy')]);
    await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(a)).then(() => undefined, () => undefined);
    assert.match(api.lastError?.message ?? '', /tl_heat\.npy: not a regular file: it is a FIFO/);
    const b = copyFixture('p01_basic', 'special-manifest');
    execFileSync('mkfifo', [path.join(b, 'cornernet.json')]);
    await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(b)).then(() => undefined, () => undefined);
    assert.match(api.lastError?.message ?? '', /cornernet\.json: cannot read the manifest: not a regular file: it is a FIFO/);
  });
});

describe('switches', () => {
  it('badges and Problems can be turned off', async () => {
    const cfg = vscode.workspace.getConfiguration('cornernet');
    const broken = path.join(ws(), 'broken-off.npy');
    fs.writeFileSync(broken, 'not numpy');
    const uri = vscode.Uri.file(broken);
    assert.equal((await api.decoration(uri))?.badge, '!');
    await cfg.update('decorations.enabled', false, vscode.ConfigurationTarget.Global);
    try {
      assert.equal(await api.decoration(uri), undefined);
    } finally {
      await cfg.update('decorations.enabled', undefined, vscode.ConfigurationTarget.Global);
    }
    await vscode.commands.executeCommand('vscode.openWith', uri, 'cornernet.tensorViewer');
    await eventually('diagnostic', () => vscode.languages.getDiagnostics(uri).find((d) => d.source === 'CornerNet Inspector'));
    await cfg.update('diagnostics.enabled', false, vscode.ConfigurationTarget.Global);
    try {
      await eventually('cleared', () => (vscode.languages.getDiagnostics(uri).some((d) => d.source === 'CornerNet Inspector') ? undefined : true));
    } finally {
      await cfg.update('diagnostics.enabled', undefined, vscode.ConfigurationTarget.Global);
    }
    await eventually('back', () => vscode.languages.getDiagnostics(uri).find((d) => d.source === 'CornerNet Inspector'));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});

describe('side view', () => {
  it('lists the latest loss, the runs and the tensors; a run reopens in the panel', async () => {
    const a = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'p04_one_object')))) as LossReport;
    const b = (await vscode.commands.executeCommand(COMMAND, vscode.Uri.file(path.join(ws(), 'sample')))) as LossReport;
    const s = api.sidebarState();
    assert.equal(s.latest?.total, b.total);
    assert.deepEqual(s.latest?.warnings.map((w) => w.code), b.warnings.map((w) => w.code));
    assert.ok(s.runs.length >= 2);
    assert.equal(s.runs[0]!.total, b.total);
    assert.equal(s.runs[1]!.total, a.total);
    assert.equal(s.tensors.length, b.inputs.roles.length);
    assert.ok(s.tensors.every((t) => t.nonFinite === 0));
    const sum = s.latest!.terms.reduce((x, [, v]) => x + (v ?? NaN), 0);
    assert.ok(Math.abs(sum - b.total!) <= 1e-9 * Math.abs(b.total!), `the terms add up to the total: ${sum} vs ${b.total}`);
    assert.ok(api.reopenRun(s.runs[1]!.id));
    assert.equal(api.currentReport()?.total, a.total);
    // The loss and the tensor list describe the same run: the one shown in the panel.
    const after = api.sidebarState();
    assert.equal(after.latest?.total, a.total, 'the loss shown is the reopened run');
    assert.equal(after.tensors.length, a.inputs.roles.length);
    assert.equal(after.runs[0]!.total, b.total, 'the runs list keeps its order');
    await vscode.commands.executeCommand('workbench.view.extension.cornernet');
  });
});
