/**
 * "Open in CornerNet Inspector" in the Jupyter Variables view (the `jupyterVariableViewers`
 * contribution, for ndarray and Tensor): pulls the variable from the notebook's kernel into a
 * private .npy and opens it in the tensor viewer. The file lives until its editor is closed.
 */
import { promises as fsp, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LossRunner } from './computeCommand';
import { notebookName } from './jupyterKernels';
import { KernelError } from './notebook/kernel';
import { inspectKernel } from './notebook/pull';
import { transferArrays, type TransferResult } from './notebook/transfer';
import { isTensor } from './notebook/variables';
import { findNotebook, type NotebookLossCommand } from './notebookCommand';
import { VIEWER_VIEW_TYPE } from './protocol/viewer';
import * as settings from './settings';

export { OPEN_VARIABLE_COMMAND } from './ids';

/** What the Jupyter extension passes to a variable viewer command (IJupyterVariable, in part). */
interface JupyterVariable {
  name?: unknown;
  type?: unknown;
  fileName?: { path?: unknown; scheme?: unknown } | unknown;
}

export class KernelVariableViewer implements vscode.Disposable {
  private readonly open = new Map<string, TransferResult>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly notebooks: NotebookLossCommand,
    private readonly runner: LossRunner,
  ) {
    this.disposables.push(
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        for (const tab of e.closed) {
          const uri = tab.input instanceof vscode.TabInputCustom ? tab.input.uri : undefined;
          if (uri && this.open.has(uri.fsPath) && !this.stillOpen(uri)) void this.release(uri.fsPath);
        }
      }),
    );
  }

  /** The command: opens `variable` (from the Variables view, or `{name, notebook}` from code). Returns the file. */
  async command(variable?: JupyterVariable & { notebook?: unknown }): Promise<string | undefined> {
    const name = typeof variable?.name === 'string' ? variable.name : undefined;
    if (!name) {
      this.runner.fail(new KernelError('protocol', 'no variable was given: use "Open in CornerNet Inspector" in the Jupyter Variables view'));
      return undefined;
    }
    const file = (variable?.fileName as { path?: unknown } | undefined)?.path;
    const notebook = await findNotebook(variable?.notebook ?? (typeof file === 'string' ? vscode.Uri.file(file) : undefined));
    if (!notebook) {
      this.runner.fail(new KernelError('no-kernel', `the notebook of ${name} is not open`));
      return undefined;
    }
    const nbName = notebookName(notebook);
    let result: TransferResult | undefined;
    try {
      const kernel = await this.notebooks.kernelFor(notebook);
      result = await this.notebooks.runs.withCancel(`CornerNet: ${name} from ${nbName}`, true, async (token, onProgress) => {
        const ins = await inspectKernel(kernel, token, nbName);
        const v = ins.variables.find((x) => x.name === name);
        if (!v || !isTensor(v.value)) {
          throw new KernelError('not-array', `${name} is ${v ? `a ${v.value.kind}` : 'not a numpy array or a torch tensor in the kernel'}: the viewer shows one array`, name);
        }
        return transferArrays(kernel, { title: name, arrays: [{ id: 0, path: [name], role: 'tl_heat', label: name, desc: v.value }] }, {
          mode: settings.notebookTransfer(),
          maxBytes: settings.notebookMaxTransferBytes(),
          token,
          onProgress,
        });
      });
      return await this.show(result, name);
    } catch (e) {
      await result?.dispose();
      this.runner.fail(e);
      return undefined;
    }
  }

  /**
   * Opens a transferred array in the tensor viewer under the variable's name; its folder is removed
   * when the editor closes. Also the debugger's Variables view (src/debugCommand.ts).
   */
  async show(result: TransferResult, name: string): Promise<string> {
    // The tab shows the variable's name.
    const target = path.join(result.dir, `${name.replace(/[^\w.-]+/g, '_')}.npy`);
    await fsp.rename(result.arrays[0]!.file, target);
    this.open.set(target, result);
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(target), VIEWER_VIEW_TYPE);
    return target;
  }

  private stillOpen(uri: vscode.Uri): boolean {
    return vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputCustom && t.input.uri.fsPath === uri.fsPath));
  }

  /** Files of variables still shown (tests). */
  openFiles(): string[] {
    return [...this.open.keys()];
  }

  private async release(file: string): Promise<void> {
    const r = this.open.get(file);
    this.open.delete(file);
    await r?.dispose();
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    // At shutdown, with viewers still open: synchronously, the extension host may end right after.
    for (const r of this.open.values()) rmSync(r.dir, { recursive: true, force: true });
    this.open.clear();
  }
}
