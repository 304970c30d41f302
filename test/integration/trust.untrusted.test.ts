/// <reference types="mocha" />
/**
 * Restricted Mode (run by `run-integration.js --untrusted`: workspace trust on, the folder not
 * trusted). Reading tensor files and computing the loss still work (nothing in a data file is
 * executed); no code is ever sent to a notebook kernel, even one that is running and reachable:
 * the notebook command and the Variables view command refuse with the way forward.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CornerNetInspectorApi } from '../../src/extension';
import type { KernelCancelToken, KernelOutput, NotebookKernel } from '../../src/notebook/kernel';
import { JupyterClientKernel } from '../support/jupyterClientKernel';
import { ws } from './support';

const EXTENSION_ID = 'cornernet-inspector.cornernet-inspector';

describe('untrusted workspace (Restricted Mode)', function () {
  this.timeout(180000);
  let api: CornerNetInspectorApi;
  let kernel: JupyterClientKernel;
  let notebook: vscode.NotebookDocument;
  /** Every piece of code the extension sends to the kernel. */
  const sent: string[] = [];

  before(async () => {
    api = (await vscode.extensions.getExtension(EXTENSION_ID)!.activate()) as CornerNetInspectorApi;
    const file = path.join(ws(), 'restricted.ipynb');
    fs.writeFileSync(file, JSON.stringify({ cells: [{ cell_type: 'code', metadata: {}, outputs: [], execution_count: null, source: ['x = 1'] }], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
    notebook = await vscode.workspace.openNotebookDocument(vscode.Uri.file(file));
    await vscode.window.showNotebookDocument(notebook);
    kernel = await JupyterClientKernel.start();
    await kernel.run(`import numpy as np\nouts = [np.zeros((1, 2, 4, 4), np.float32)] * 6\ntargets = [np.zeros((1, 2, 4, 4), np.float32)] * 5\nx = np.zeros(3)`);
    const watched: NotebookKernel = {
      language: 'python',
      executeCode(code: string, token: KernelCancelToken): AsyncIterable<KernelOutput> {
        sent.push(code);
        return kernel.executeCode(code, token);
      },
    };
    api.useKernelSource({ getKernel: async () => watched });
  });

  after(async () => {
    api?.useKernelSource(undefined);
    await kernel?.shutdown();
  });

  it('the window really is in Restricted Mode', () => {
    assert.equal(vscode.workspace.isTrusted, false);
  });

  it('tensor files are still read and the loss computed (the fixture numbers)', async () => {
    const r = await api.computeLoss({ paths: [path.join(ws(), 'p01_basic')] });
    const exp = JSON.parse(fs.readFileSync(path.join(ws(), 'p01_basic', 'expected.json'), 'utf8')).float32;
    assert.ok(r && r.total !== null && Math.abs(r.total - exp.total) <= 1e-5 * Math.abs(exp.total), `total ${r?.total} vs ${exp.total}`);
  });

  it('"Compute CornerNet Loss from Notebook" refuses, names the way forward, and sends the kernel nothing', async () => {
    const r = await api.computeLossFromNotebook({ notebook: notebook.uri, choice: { kind: 'pair', outs: 'outs', targets: 'targets' } });
    assert.equal(r, undefined);
    assert.equal(api.lastError?.kind, 'untrusted');
    assert.match(api.lastError!.message, /not trusted, so no code is run in notebook kernels.*Manage Workspace Trust.*export/);
    // The QuickPick route too (no choice given): refused before any inspection.
    assert.equal(await vscode.commands.executeCommand('cornernet.computeLossFromNotebook', notebook.uri), undefined);
    assert.equal(api.lastError?.kind, 'untrusted');
    assert.deepEqual(sent, [], 'no code reached the kernel');
  });

  it('"Open in CornerNet Inspector" (Variables view) refuses the same way', async () => {
    assert.equal(await vscode.commands.executeCommand('cornernet.openKernelVariable', { name: 'x', type: 'ndarray', fileName: { path: notebook.uri.fsPath } }), undefined);
    assert.equal(api.lastError?.kind, 'untrusted');
    assert.deepEqual(sent, []);
  });

  it('"Compute CornerNet Loss from Debug Session" and its Variables-view viewer refuse before anything else, saying how to trust', async () => {
    // (No session is started here: VS Code itself asks for trust before it starts one in Restricted
    // Mode, and startDebugging waits for that answer. The refusal holds whatever session exists.)
    await vscode.workspace.getConfiguration('cornernet.debug').update('pythonTypes', ['debugpy', 'python', 'cornernet-test-python'], vscode.ConfigurationTarget.Global);
    try {
      assert.equal(await vscode.commands.executeCommand('cornernet.computeLossFromDebugSession'), undefined);
      assert.equal(api.lastError?.kind, 'untrusted', 'refused as untrusted, before "no debug session"');
      assert.match(api.lastError!.message, /not trusted, so no code is run in a debuggee\. Trust it \(Manage Workspace Trust\)/);
      assert.equal(await vscode.commands.executeCommand('cornernet.openDebugVariable', { variable: { name: 'outs', evaluateName: 'outs', type: 'list' } }), undefined);
      assert.equal(api.lastError?.kind, 'untrusted');
    } finally {
      await vscode.workspace.getConfiguration('cornernet.debug').update('pythonTypes', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('"Insert Export Cell" still works: it only edits the notebook, the user decides to run it', async () => {
    const n = notebook.cellCount;
    const inserted = await vscode.commands.executeCommand<{ folder: string; code: string }>('cornernet.insertExportCell', notebook.uri, ['outs', 'targets']);
    assert.ok(inserted);
    assert.equal(notebook.cellCount, n + 1);
    assert.deepEqual(sent, []);
  });
});
