/**
 * Extension entry point: wires the surfaces. Nothing heavy happens at activation: the engine runs
 * in a worker started on first use.
 */
import * as vscode from 'vscode';
import { COMPUTE_COMMAND, LossRunner, type ComputeArgs, type LastError } from './computeCommand';
import type { LossReport } from './cornernet/report';
import { disposeLog } from './log';
import { PANEL_VIEW_TYPE, type RenderReport } from './protocol/panel';
import { ResultsPanel } from './resultsPanel';

/** What `activate` returns: for tests and other extensions. */
export interface CornerNetInspectorApi {
  computeLoss(args: ComputeArgs | vscode.Uri | vscode.Uri[]): Promise<LossReport | undefined>;
  /** The error of the last failed computation (cleared by a success). */
  readonly lastError: LastError | undefined;
  /** The report shown in the results panel. */
  currentReport(): LossReport | undefined;
  /** What the panel's webview last said it drew. */
  lastRender(): RenderReport | undefined;
  waitForRender(timeoutMs?: number, predicate?: (r: RenderReport) => boolean): Promise<RenderReport>;
  /** Computations under way, and cancelling them (what their progress notification's Cancel does). */
  readonly runningCount: number;
  cancelRunning(): number;
}

export function activate(context: vscode.ExtensionContext): CornerNetInspectorApi {
  const runner = new LossRunner(context);
  context.subscriptions.push(
    vscode.commands.registerCommand(COMPUTE_COMMAND, (a?: unknown, b?: unknown) => runner.command(a, b)),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, state) {
        ResultsPanel.revive(runner, panel, state);
      },
    }),
    runner,
    { dispose: () => ResultsPanel.current?.dispose() },
    { dispose: disposeLog },
  );
  return {
    computeLoss: (args) => runner.command(args),
    get lastError() {
      return runner.lastError;
    },
    currentReport: () => ResultsPanel.current?.currentReport,
    lastRender: () => ResultsPanel.current?.lastRenderReport,
    get runningCount() {
      return runner.runningCount;
    },
    cancelRunning: () => runner.cancelRunning(),
    waitForRender: (timeoutMs, predicate) => {
      const p = ResultsPanel.current;
      return p ? p.waitForRender(timeoutMs, predicate) : Promise.reject(new Error('no results panel'));
    },
  };
}

export function deactivate(): void {}
