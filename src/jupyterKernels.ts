/**
 * The kernel of a notebook, through the Jupyter extension's public API (optional: no
 * extensionDependencies). Each way of not getting one becomes a KernelError whose kind says what
 * the user can do: install Jupyter, start the kernel, grant access. Tests put a real ipykernel
 * behind `KernelSource` instead (the Jupyter extension cannot be installed on the test machines).
 */
import type { Jupyter, Kernel } from '@vscode/jupyter-extension';
import * as vscode from 'vscode';
import { KernelError, type NotebookKernel } from './notebook/kernel';

export const JUPYTER_EXTENSION_ID = 'ms-toolsai.jupyter';

export interface KernelSource {
  getKernel(notebook: vscode.NotebookDocument): Promise<NotebookKernel>;
}

/** The error the Jupyter extension throws when the user denied this extension access. */
const ACCESS_REVOKED = 'vscode.jupyter.apiAccessRevoked';

export class JupyterKernelSource implements KernelSource {
  constructor(private readonly extensions: Pick<typeof vscode.extensions, 'getExtension'> = vscode.extensions) {}

  async getKernel(notebook: vscode.NotebookDocument): Promise<NotebookKernel> {
    const name = notebookName(notebook);
    const ext = this.extensions.getExtension<Jupyter>(JUPYTER_EXTENSION_ID);
    if (!ext) {
      throw new KernelError('no-jupyter', `the Jupyter extension (${JUPYTER_EXTENSION_ID}) is not installed: CornerNet Inspector reaches notebook kernels through it. Install it, or insert a cell that exports the arrays to a file.`);
    }
    let api: Jupyter;
    try {
      api = ext.isActive ? ext.exports : await ext.activate();
    } catch (e) {
      throw new KernelError('no-jupyter', `the Jupyter extension failed to start: ${(e as Error).message}`);
    }
    if (!api?.kernels?.getKernel) throw new KernelError('no-jupyter', 'this version of the Jupyter extension has no kernels API (update it)');
    let kernel: Kernel | undefined;
    try {
      kernel = await api.kernels.getKernel(notebook.uri);
    } catch (e) {
      if ((e as Error)?.name === ACCESS_REVOKED) throw accessError(name);
      throw new KernelError('no-kernel', `the Jupyter extension could not give the kernel of ${name}: ${(e as Error).message}`);
    }
    if (!kernel) {
      // The API answers undefined both for "no kernel started" and for "access not granted";
      // a notebook with executed cells has had a kernel, so access is the likelier cause.
      const ran = notebook.getCells().some((c) => c.executionSummary?.executionOrder !== undefined);
      if (ran) throw accessError(name);
      throw new KernelError('no-kernel', `no kernel is running for ${name}: run a cell (with the variables you want to inspect) and try again`);
    }
    if (kernel.status === 'dead' || kernel.status === 'terminating') {
      throw new KernelError('no-kernel', `the kernel of ${name} is ${kernel.status}: restart it, run the cells that make the tensors, and try again`);
    }
    return kernel;
  }
}

function accessError(name: string): KernelError {
  return new KernelError(
    'access',
    `CornerNet Inspector has no access to the kernel of ${name} (or it is not started). If it runs, allow access with "Jupyter: Manage Access To Jupyter Kernels".`,
  );
}

export function notebookName(notebook: vscode.NotebookDocument): string {
  return vscode.workspace.asRelativePath(notebook.uri, false);
}
