/// <reference types="mocha" />
/**
 * "Compute CornerNet Loss from Notebook" in a real extension host, with a REAL Python kernel
 * (ipykernel through jupyter_client, test/support) in place of the Jupyter extension, which cannot
 * be installed here: outs/targets and per-role variables (numpy and torch) give the fixture's
 * numbers in the panel, through a real QuickPick too; every refusal; cancellation; the Jupyter
 * Variables view command; the export cell run for real; the Jupyter API glue against stubs typed
 * by the published @vscode/jupyter-extension typings.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Jupyter, Kernel, KernelStatus } from '@vscode/jupyter-extension';
import type { CornerNetInspectorApi } from '../../src/extension';
import type { LossReport } from '../../src/cornernet/model/report';
import { checkAgainstFixture as checkReport } from './fixtureCheck';
import { JupyterKernelSource } from '../../src/jupyterKernels';
import { KernelError, type NotebookKernel } from '../../src/notebook/kernel';
import { JupyterClientKernel } from '../support/jupyterClientKernel';
import { sleep, ws } from './support';

const EXTENSION_ID = 'cornernet-inspector.cornernet-inspector';
let api: CornerNetInspectorApi;
let kernel: JupyterClientKernel;
let notebook: vscode.NotebookDocument;
/** Transfer folders made since the suite started (another process's are not ours to judge). */
let preexisting = new Set<string>();
const transferDirs = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('cornernet-kernel-') && !preexisting.has(n));

function checkAgainstFixture(r: LossReport | undefined, name: string): void {
  checkReport(r, name, api.lastError);
}

const OUT_ROLES = ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr'];
function loadCase(name: string, lib: 'numpy' | 'torch'): string {
  const dir = JSON.stringify(path.join(ws(), name));
  const wrap = lib === 'torch' ? 'torch.from_numpy' : '';
  return `import numpy as np, os, torch
f = {n[:-4]: np.load(os.path.join(${dir}, n)) for n in os.listdir(${dir}) if n.endswith('.npy')}
S = f['tl_heat'].shape[0]
outs = [${wrap}(f[r][s]) for s in range(S) for r in ${JSON.stringify(OUT_ROLES)}]
targets = [${wrap}(f[r]) for r in ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']]
del f
`;
}

/** The kernel as the Jupyter extension would hand it, with another language. */
function withLanguage(k: NotebookKernel, language: string): NotebookKernel {
  return { language, executeCode: (code, token) => k.executeCode(code, token) };
}

async function lastErrorAfter(run: () => Thenable<unknown> | Promise<unknown>): Promise<{ kind: string; message: string }> {
  const r = await run();
  assert.equal(r, undefined, 'no report');
  assert.ok(api.lastError, 'an error was reported');
  return api.lastError!;
}

describe('notebook kernel', function () {
  this.timeout(180000);

  before(async () => {
    api = (await vscode.extensions.getExtension(EXTENSION_ID)!.activate()) as CornerNetInspectorApi;
    preexisting = new Set(fs.readdirSync(os.tmpdir()));
    const file = path.join(ws(), 'analysis.ipynb');
    fs.writeFileSync(
      file,
      JSON.stringify({
        cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['outs, targets = model(batch)'] }],
        metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    notebook = await vscode.workspace.openNotebookDocument(vscode.Uri.file(file));
    await vscode.window.showNotebookDocument(notebook);
    kernel = await JupyterClientKernel.start();
    api.useKernelSource({ getKernel: async () => kernel });
  });

  after(async () => {
    api?.useKernelSource(undefined);
    await kernel?.shutdown();
  });

  it('outs + targets (torch, with grad) from the kernel: the fixture numbers, variables as the inputs, nothing left on disk', async () => {
    await kernel.run(loadCase('p02_two_stacks', 'torch') + 'outs = [x.clone().requires_grad_(x.is_floating_point()) for x in outs]\n');
    const r = await api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'pair', outs: 'outs', targets: 'targets' } });
    checkAgainstFixture(r, 'p02_two_stacks');
    assert.equal(api.lastTransfer?.mode, 'file', 'a local kernel writes files');
    const shown = api.currentReport()!;
    assert.equal(shown.total, r!.total);
    const first = shown.inputs.roles.find((u) => u.role === 'tl_heat')!;
    assert.equal(first.file, notebook.uri.fsPath);
    assert.equal(first.variable, 'outs[0]');
    const render = await api.waitForRender(60000, (x) => x.metrics.total === r!.total);
    assert.equal(render.metrics.total, r!.total);
    const side = api.sidebarState();
    assert.ok(side.tensors.some((t) => t.variable === 'targets[2]' && t.label.endsWith('analysis.ipynb: targets[2]')), 'the side view lists the variables');
    assert.deepEqual(transferDirs(), [], 'the transfer folder is gone once the worker holds the arrays');
  });

  it('through the real QuickPick: the outs/targets pair is offered first', async () => {
    await kernel.run(loadCase('p01_basic', 'numpy'));
    let settled = false;
    const pending = Promise.resolve(vscode.commands.executeCommand<LossReport | undefined>('cornernet.computeLossFromNotebook', notebook.uri)).finally(() => (settled = true));
    // Accept the first item once the QuickPick is up (accepting before it shows does nothing).
    for (let i = 0; i < 120 && !settled; i++) {
      await sleep(500);
      if (api.notebookRunningCount + api.runningCount === 0) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    }
    checkAgainstFixture(await pending, 'p01_basic');
  });

  it('a variable per role (a list of stacks, list elements, dict entries); computing again sees the kernel as it is now', async () => {
    await kernel.run(`${loadCase('p02_two_stacks', 'numpy')}
f = {n[:-4]: np.load(os.path.join(${JSON.stringify(path.join(ws(), 'p02_two_stacks'))}, n)) for n in os.listdir(${JSON.stringify(path.join(ws(), 'p02_two_stacks'))}) if n.endswith('.npy')}
tl_heats = [f['tl_heat'][s] for s in range(2)]
batch = {k: f[k] for k in ('gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr')}
`);
    const arrays = [
      { path: ['tl_heats', 0], role: 'tl_heat', stackIndex: 0 },
      { path: ['tl_heats', 1], role: 'tl_heat', stackIndex: 1 },
      ...[0, 1].flatMap((s) => ['br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr'].map((role, i) => ({ path: ['outs', 6 * s + i + 1], role, stackIndex: s }))),
      ...['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr'].map((k) => ({ path: ['batch', k], role: k })),
    ] as { path: [string, ...(string | number)[]]; role: string; stackIndex?: number }[];
    const r = await api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'roles', arrays } });
    checkAgainstFixture(r, 'p02_two_stacks');
    assert.equal(api.currentReport()!.inputs.roles.find((u) => u.role === 'gt_mask')!.variable, 'batch["gt_mask"]');
    // Computing again asks the kernel again.
    await kernel.run(`batch['gt_mask'] = batch['gt_mask'] * 0`);
    const again = await vscode.commands.executeCommand('cornernet.computeLossFromNotebook', { notebook: notebook.uri, choice: { kind: 'roles', arrays } });
    assert.ok(again && (again as LossReport).total !== r!.total, 'the changed mask changes the loss');
  });

  it('hostile variable names (a dict key with HTML, quotes, a newline, 900 characters) travel as text; longer keys are left out', async () => {
    const key = `<img src=x onerror="alert(1)">\n'"$(alert)` + 'x'.repeat(900);
    await kernel.run(`${loadCase('p01_basic', 'numpy')}
import json
weird = {json.loads(${JSON.stringify(JSON.stringify(key))}): targets[2], 'y' * 5000: targets[2]}
`);
    try {
      const arrays = [
        ...OUT_ROLES.map((role, i) => ({ path: ['outs', i], role })),
        ...['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr'].map((role, i) => (role === 'gt_mask' ? { path: ['weird', key], role } : { path: ['targets', i], role })),
      ] as { path: [string, ...(string | number)[]]; role: string }[];
      const r = await api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'roles', arrays } });
      checkAgainstFixture(r, 'p01_basic');
      const label = `weird[${JSON.stringify(key)}]`;
      assert.equal(api.currentReport()!.inputs.roles.find((u) => u.role === 'gt_mask')!.variable, label, 'the name exactly, escaped as a Python literal (the newline as \\n)');
      assert.ok(api.sidebarState().tensors.some((t) => t.variable === label));
      const render = await api.waitForRender(60000, (x) => x.metrics.total === r!.total);
      assert.equal(render.metrics.total, r!.total, 'the panel renders the run');
      // The 5,000-character key is not offered (nothing else is affected); a path naming it is refused.
      const tooLong = await api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'roles', arrays: [{ path: ['weird', 'y'.repeat(5000)], role: 'gt_mask' }] } });
      assert.equal(tooLong, undefined);
      assert.equal(api.lastError?.kind, 'protocol');
    } finally {
      await kernel.run("globals().pop('weird', None)");
    }
  });

  it('base64 (the remote path) through the extension gives the same numbers', async () => {
    await kernel.run(loadCase('p02_two_stacks', 'torch'));
    const r = await api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'pair', outs: 'outs', targets: 'targets' }, transfer: 'base64' });
    checkAgainstFixture(r, 'p02_two_stacks');
    assert.equal(api.lastTransfer?.mode, 'base64');
  });

  it('refusals: not Python, no tensors, not an array, a vanished variable; each a clear message', async () => {
    api.useKernelSource({ getKernel: async () => withLanguage(kernel, 'julia') });
    let e = await lastErrorAfter(() => api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'pair', outs: 'outs', targets: 'targets' } }));
    assert.equal(e.kind, 'language');
    assert.match(e.message, /analysis\.ipynb runs a julia kernel: only Python kernels/);
    api.useKernelSource({ getKernel: async () => kernel });

    await kernel.run(loadCase('p01_basic', 'torch') + `outs[3] = 'a string'\nn = 3`);
    e = await lastErrorAfter(() => api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'pair', outs: 'outs', targets: 'targets' } }));
    assert.equal(e.kind, 'not-array');
    assert.match(e.message, /outs is not a list of 6 arrays per stack/);
    e = await lastErrorAfter(() => api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'roles', arrays: [{ path: ['n'], role: 'tl_heat' }] } }));
    assert.equal(e.kind, 'not-array');
    assert.match(e.message, /^n is not a numpy array or a torch tensor/);
    e = await lastErrorAfter(() => api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'pair', outs: 'gone', targets: 'targets' } }));
    assert.match(e.message, /gone: no such variable/);

    // Nothing to offer: the QuickPick is not even shown.
    await kernel.run(`for _k in [k for k, v in globals().items() if hasattr(v, 'shape') or isinstance(v, (list, dict))]:\n    globals().pop(_k)`);
    e = await lastErrorAfter(() => vscode.commands.executeCommand('cornernet.computeLossFromNotebook', notebook.uri));
    assert.equal(e.kind, 'no-variables');
    assert.match(e.message, /holds no numpy array or torch tensor \(it has .*n \(int\)/);
    assert.deepEqual(transferDirs(), []);
  });

  it('cancel during a transfer: the kernel is interrupted, the folder removed, the kernel still answers', async () => {
    await kernel.run(`import numpy as np
outs = [np.random.default_rng(0).standard_normal((2, 80, 256, 256)).astype(np.float32) for _ in range(6)]
targets = [np.zeros((2, 80, 256, 256), np.float32)] * 2 + [np.zeros((2, 128), np.uint8), np.zeros((2, 128, 2), np.float32), np.zeros((2, 128, 2), np.float32)]
outs[2] = outs[3] = np.zeros((2, 128, 1), np.float32)
outs[4] = outs[5] = np.zeros((2, 128, 2), np.float32)`);
    await vscode.workspace.getConfiguration('cornernet.notebook').update('transfer', 'base64', vscode.ConfigurationTarget.Global);
    try {
      const pending = api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'pair', outs: 'outs', targets: 'targets' } });
      const t0 = Date.now();
      while (api.notebookRunningCount === 0 && Date.now() - t0 < 20000) await sleep(20);
      await sleep(300);
      assert.equal(api.cancelNotebook(), 1, 'one transfer was under way');
      assert.equal(await pending, undefined);
      assert.equal(api.lastError?.kind, 'cancelled');
    } finally {
      await vscode.workspace.getConfiguration('cornernet.notebook').update('transfer', undefined, vscode.ConfigurationTarget.Global);
    }
    assert.deepEqual(transferDirs(), [], 'the transfer folder is removed');
    assert.equal((await kernel.run('print(6 * 7)')).trim(), '42', 'the kernel answers after the interrupt');
    await kernel.run('del outs, targets');
  });

  it('"Open in CornerNet Inspector" from the Jupyter Variables view: the variable in the tensor viewer, the file gone when it closes', async () => {
    await kernel.run(`import torch\nheat16 = torch.linspace(-3, 3, 2 * 3 * 5 * 7).reshape(2, 3, 5, 7).half()`);
    const file = await vscode.commands.executeCommand<string | undefined>('cornernet.openKernelVariable', { name: 'heat16', type: 'Tensor', fileName: { path: notebook.uri.fsPath, scheme: 'file' } });
    assert.ok(file, JSON.stringify(api.lastError));
    assert.equal(path.basename(file), 'heat16.npy');
    const render = await api.waitForViewerRender(vscode.Uri.file(file), 30000, (x) => x.metrics['stats.count'] !== undefined);
    // float16 values of linspace(-3, 3, 210): the viewer's statistics are those of the kernel's tensor.
    assert.equal(render.metrics['stats.count'], 210);
    assert.equal(render.metrics['stats.min'], -3);
    assert.equal(render.metrics['stats.max'], 3);
    assert.deepEqual(api.kernelVariableFiles(), [file]);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    const t0 = Date.now();
    while (fs.existsSync(file) && Date.now() - t0 < 10000) await sleep(100);
    assert.ok(!fs.existsSync(file), 'the file is removed with its editor');
    const e = await lastErrorAfter(() => vscode.commands.executeCommand('cornernet.openKernelVariable', { name: 'n', type: 'int', fileName: { path: notebook.uri.fsPath } }));
    assert.equal(e.kind, 'not-array');
  });

  it('Jupyter missing: the error offers the export cell; the cell, run in the kernel, leads to the same loss', async () => {
    api.useKernelSource(undefined); // the real Jupyter API glue: the extension is not installed here
    const e = await lastErrorAfter(() => api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'pair', outs: 'outs', targets: 'targets' } }));
    assert.equal(e.kind, 'no-jupyter');
    assert.match(e.message, /Jupyter extension \(ms-toolsai\.jupyter\) is not installed/);
    api.useKernelSource({ getKernel: async () => kernel });

    const cells = notebook.cellCount;
    const inserted = await vscode.commands.executeCommand<{ folder: string; code: string }>('cornernet.insertExportCell', notebook.uri, ['outs', 'targets']);
    assert.ok(inserted);
    assert.equal(notebook.cellCount, cells + 1);
    const cell = notebook.getCells().find((c) => c.document.getText() === inserted.code);
    assert.ok(cell, 'the cell is in the notebook');
    // The user runs the cell: here, in the real kernel. The extension computes once it wrote the files.
    await kernel.run(loadCase('p02_two_stacks', 'torch'));
    await kernel.run(inserted.code);
    assert.ok(fs.existsSync(path.join(inserted.folder, 'outs.npz')) && fs.existsSync(path.join(inserted.folder, 'targets.npz')));
    const fromExport = () => api.currentReport()?.inputs.roles.some((u) => u.file.startsWith(inserted.folder));
    const t0 = Date.now();
    while (!fromExport() && Date.now() - t0 < 60000) await sleep(200);
    checkAgainstFixture(api.currentReport(), 'p02_two_stacks');
    assert.equal(api.currentReport()!.inputs.roles.find((u) => u.role === 'tl_heat')!.file, path.join(inserted.folder, 'outs.npz'));
    const names = (await kernel.run(`print(sorted(k for k in globals() if k.startswith('_cn')))`)).trim();
    assert.equal(names, '[]', 'the cell leaves no helpers behind');
  });
});

describe('Jupyter API glue (stubs typed by @vscode/jupyter-extension)', () => {
  const nb = () => notebook;
  function source(ext: Partial<vscode.Extension<Jupyter>> | undefined) {
    return new JupyterKernelSource({ getExtension: (() => ext) as typeof vscode.extensions.getExtension });
  }
  function jupyter(getKernel: (uri: vscode.Uri) => Thenable<Kernel | undefined>): Partial<vscode.Extension<Jupyter>> {
    const api: Jupyter = { kernels: { getKernel }, createJupyterServerCollection: () => { throw new Error('unused'); } };
    return { isActive: true, exports: api, activate: async () => api };
  }
  function fakeKernel(status: KernelStatus): Kernel {
    return { status, language: 'python', onDidChangeStatus: () => ({ dispose() {} }), executeCode: () => (async function* () {})() };
  }
  async function kindOf(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return 'none';
    } catch (e) {
      assert.ok(e instanceof KernelError, String(e));
      return `${e.kind}: ${e.message}`;
    }
  }

  it('maps each way of not getting a kernel to what the user can do', async () => {
    assert.match(await kindOf(source(undefined).getKernel(nb())), /^no-jupyter: .*not installed/);
    assert.match(await kindOf(source({ isActive: false, activate: async () => { throw new Error('boom'); } }).getKernel(nb())), /^no-jupyter: .*failed to start: boom/);
    const revoked = Object.assign(new Error('denied'), { name: 'vscode.jupyter.apiAccessRevoked' });
    assert.match(await kindOf(source(jupyter(() => Promise.reject(revoked))).getKernel(nb())), /^access: .*Manage Access To Jupyter Kernels/);
    // undefined: never run -> no kernel; cells ran -> access (the API does not say which).
    assert.match(await kindOf(source(jupyter(async () => undefined)).getKernel(nb())), /^no-kernel: no kernel is running for .*analysis\.ipynb: run a cell/);
    assert.match(await kindOf(source(jupyter(async () => fakeKernel('dead'))).getKernel(nb())), /^no-kernel: the kernel of .* is dead/);
    const live = fakeKernel('idle');
    assert.equal(await source(jupyter(async (uri) => (uri.toString() === nb().uri.toString() ? live : undefined))).getKernel(nb()), live);
  });

  it('a notebook whose cells ran, and no kernel given: the access message, with its action in the command', async () => {
    const edit = new vscode.WorkspaceEdit();
    edit.set(nb().uri, [vscode.NotebookEdit.replaceCells(new vscode.NotebookRange(0, 1), [Object.assign(new vscode.NotebookCellData(vscode.NotebookCellKind.Code, 'x = 1', 'python'), { executionSummary: { executionOrder: 1, success: true } })])]);
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.match(await kindOf(source(jupyter(async () => undefined)).getKernel(nb())), /^access: /);
    api.useKernelSource(source(jupyter(async () => undefined)));
    try {
      const e = await lastErrorAfter(() => api.computeLossFromNotebook({ notebook: nb().uri, choice: { kind: 'pair', outs: 'outs', targets: 'targets' } }));
      assert.equal(e.kind, 'access');
    } finally {
      api.useKernelSource(undefined);
    }
  });
});
