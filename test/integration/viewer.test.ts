/// <reference types="mocha" />
/**
 * The tensor viewer of issue 15 through the VS Code API: the default-editor setting writes and
 * removes workbench.editorAssociations; "Open in Tensor Viewer" with an element (what a Problems
 * entry's link runs) shows that element's plane; a NaN file's diagnostic carries the element link.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CornerNetInspectorApi } from '../../src/extension';
import { encodeNpy } from '../../src/tensor/npy';
import { eventually, sleep, ws } from './support';

let api: CornerNetInspectorApi;


before(async () => {
  api = await vscode.extensions.getExtension<CornerNetInspectorApi>('cornernet-inspector.cornernet-inspector')!.activate();
});

describe('tensor viewer (issue 15)', () => {
  it('cornernet.tensorViewer.default adds and removes the editor associations, leaving others alone', async () => {
    const wb = () => vscode.workspace.getConfiguration('workbench').inspect<Record<string, string>>('editorAssociations')?.globalValue ?? {};
    await vscode.workspace.getConfiguration('workbench').update('editorAssociations', { '*.bin': 'hexEditor.hexedit' }, vscode.ConfigurationTarget.Global);
    const cfg = vscode.workspace.getConfiguration('cornernet');
    await cfg.update('tensorViewer.default', true, vscode.ConfigurationTarget.Global);
    await eventually('associations', () => wb()['*.safetensors'] === 'cornernet.tensorViewer');
    assert.deepEqual(wb(), { '*.bin': 'hexEditor.hexedit', '*.npy': 'cornernet.tensorViewer', '*.npz': 'cornernet.tensorViewer', '*.safetensors': 'cornernet.tensorViewer' });
    await cfg.update('tensorViewer.default', false, vscode.ConfigurationTarget.Global);
    await eventually('associations removed', () => wb()['*.npy'] === undefined);
    assert.deepEqual(wb(), { '*.bin': 'hexEditor.hexedit' });
    await vscode.workspace.getConfiguration('workbench').update('editorAssociations', undefined, vscode.ConfigurationTarget.Global);
    await cfg.update('tensorViewer.default', undefined, vscode.ConfigurationTarget.Global);
  });

  it('a NaN file: the diagnostic links to its first NaN, and the link opens the viewer at that element', async () => {
    const file = path.join(ws(), 'issue15_nan.npy');
    const data = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i / 100);
    data[((1 * 3 + 2) * 4 + 1) * 5 + 3] = NaN;
    fs.writeFileSync(file, encodeNpy({ dtype: 'float32', shape: [2, 3, 4, 5], data }));
    const uri = vscode.Uri.file(file);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'cornernet.tensorViewer');
    await api.waitForViewerRender(uri, 30000);
    const d = await eventually('diagnostic', () => vscode.languages.getDiagnostics(uri).find((x) => x.source === 'CornerNet Inspector'));
    assert.match(d.message, /the first at \[1, 2, 1, 3\]/);
    const code = d.code as { value: string; target: vscode.Uri };
    assert.equal(code.value, 'non-finite');
    assert.equal(code.target.scheme, 'command');
    assert.equal(code.target.path, 'cornernet.openTensorViewer');
    const args = JSON.parse(decodeURIComponent(code.target.query)) as [string, string | null, number[]];
    assert.deepEqual(args.slice(1), [null, [1, 2, 1, 3]]);
    // What the link runs, on the open viewer: the element's plane, outlined.
    await vscode.commands.executeCommand('cornernet.openTensorViewer', ...args);
    const r = await api.waitForViewerRender(uri, 30000, (x) => x.metrics['view.focus'] === 1);
    assert.equal(r.metrics['index.0'], 1);
    assert.equal(r.metrics['index.1'], 2);
    assert.ok(Number.isNaN(r.metrics['hover.value'] as number) || r.metrics['hover.value'] === null);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('malformed element arguments from a link are ignored', async () => {
    const file = path.join(ws(), 'issue15_nan.npy');
    await vscode.commands.executeCommand('cornernet.openTensorViewer', vscode.Uri.file(file).toString(), null, [1.5, -2]);
    await sleep(500);
    assert.equal(vscode.window.tabGroups.activeTabGroup.activeTab, undefined, 'nothing opened');
  });
});
