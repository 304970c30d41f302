/**
 * What the notebook command and the debug-session command share: a kernel (a notebook's, or a
 * paused debug frame behind the DAP kernel) is inspected, the user chooses `outs` + `targets` or a
 * variable per role (the notebook command's QuickPick, src/notebookCommand.ts), the arrays are
 * pulled under a cancellable progress and the loss is computed with the variables as its inputs.
 * Each command only says where its kernel comes from and how to name it (a KernelPlace).
 */
import * as vscode from 'vscode';
import type { LossRunner } from './computeCommand';
import type { LossReport } from './cornernet/model/report';
import { log } from './log';
import type { NotebookKernel } from './notebook/kernel';
import { inspectKernel, pullInputs, relabelReport } from './notebook/pull';
import type { TransferMode } from './notebook/transfer';
import type { Inspection, TransferPlan } from './notebook/variables';
import { fractionReporter } from './progress';
import type { NotebookChoice, RunSpec } from './protocol/panel';
import * as settings from './settings';

/** Where the variables live, as titles, messages and the report name it. */
export interface KernelPlace {
  /** Titles and the panel's label: `analysis.ipynb`, `ae_loss() at train.py:45`. */
  name: string;
  /** What holds the variables: `the kernel of analysis.ipynb`, `the frame ae_loss() at train.py:45`. */
  holder: string;
  /** The file the report's inputs name (the notebook, the script). */
  file: string;
  /** What runs the snippets, in the log and in place of the (gone) transfer folder in messages: `kernel`, `debuggee`. */
  runner: string;
}

export interface KernelComputeRequest {
  kernel: NotebookKernel;
  place: KernelPlace;
  /** The choice to compute (Recompute, code); undefined: ask with `pick`. */
  choice?: NotebookChoice;
  /** The QuickPick (undefined: dismissed). */
  pick(ins: Inspection): Promise<NotebookChoice | undefined>;
  /** The plan of a choice against the inspection (refuses a variable that has gone). */
  plan(ins: Inspection, choice: NotebookChoice): TransferPlan;
  /** How to compute this run again (the panel's Recompute, a reload). */
  spec(choice: NotebookChoice): RunSpec;
  transfer?: TransferMode;
}

/** Kernel work under cancellable progress, and the compute flow on top of it. */
export class KernelRuns implements vscode.Disposable {
  private readonly running = new Set<vscode.CancellationTokenSource>();
  /** The last transfer, for the tests and the log: mode, bytes, milliseconds. */
  lastTransfer: { mode: string; bytes: number; ms: number } | undefined;

  constructor(private readonly runner: LossRunner) {}

  /**
   * Inspects, asks (unless a choice is given), pulls and computes. Undefined when the user dismissed
   * a QuickPick; a KernelError (or the core's errors) when something refused.
   */
  async compute(req: KernelComputeRequest): Promise<LossReport | undefined> {
    const { kernel, place } = req;
    const inspection = await this.withCancel(`CornerNet: looking at ${place.holder}`, false, (token) => inspectKernel(kernel, token, place.name));
    const choice = req.choice ?? (await req.pick(inspection));
    if (!choice) return undefined;
    const plan = req.plan(inspection, choice);
    const spec = req.spec(choice);
    const pulled = await this.withCancel(`CornerNet: ${plan.title} from ${place.name}`, true, (token, progress) =>
      pullInputs(kernel, plan, {
        notebook: place.name,
        mode: req.transfer ?? settings.notebookTransfer(),
        maxBytes: settings.notebookMaxTransferBytes(),
        token,
        onProgress: progress,
        onOutput: (t) => log().info(`[${place.runner}] ${t}`),
      }),
    );
    this.lastTransfer = { mode: pulled.transfer.mode, bytes: pulled.transfer.bytes, ms: pulled.transfer.ms };
    log().info(`pulled ${plan.arrays.length} arrays (${(pulled.transfer.bytes / 1024 ** 2).toFixed(1)} MB) from ${place.name} by ${pulled.transfer.mode} in ${pulled.transfer.ms.toFixed(0)} ms`);
    return this.runner.compute({ ...spec, roles: pulled.spec.roles ?? [] }, 'roles-given', undefined, [], {
      label: `${place.name}: ${plan.title}`,
      spec,
      relabel: (r) => relabelReport(r, pulled, place.file, `(${place.runner})`),
      done: () => pulled.transfer.dispose(),
    });
  }

  /**
   * Kernel work under a cancellable progress (a notification, or the status bar), listed so that
   * cancelRunning() reaches it.
   */
  async withCancel<T>(
    title: string,
    notification: boolean,
    work: (token: vscode.CancellationToken, progress: (fraction: number, message: string) => void) => Promise<T>,
  ): Promise<T> {
    return vscode.window.withProgress({ location: notification ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window, title, cancellable: true }, async (progress, token) => {
      const cts = new vscode.CancellationTokenSource();
      const sub = token.onCancellationRequested(() => cts.cancel());
      this.running.add(cts);
      try {
        return await work(cts.token, fractionReporter(progress));
      } finally {
        this.running.delete(cts);
        sub.dispose();
        cts.dispose();
      }
    });
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Cancels the inspections and transfers under way (as their notifications' Cancel does). */
  cancelRunning(): number {
    const n = this.running.size;
    for (const cts of this.running) cts.cancel();
    return n;
  }

  dispose(): void {
    this.cancelRunning();
  }
}
