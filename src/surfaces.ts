/**
 * Every surface of the extension, built on first use: its own bundle (dist/surfaces.js), which
 * extension.ts loads the first time a command runs, a view or editor opens, a hover is asked on a
 * line naming a tensor file, or the explorer shows one. Activation itself loads none of this.
 */
import * as vscode from 'vscode';
import { LossRunner } from './computeCommand';
import { rolePickerLog } from './rolePicker';
import { DebugLossCommand } from './debugCommand';
import { TensorDecorations } from './decorations';
import type { CornerNetInspectorApi } from './extension';
import { TensorHoverProvider } from './hover';
import { disposeLog } from './log';
import { NotebookLossCommand } from './notebookCommand';
import { TensorProblems } from './problems';
import { exportReport, ResultsPanel } from './resultsPanel';
import { SidebarView, type Run } from './sidebarView';
import { TensorInfoService } from './tensorInfo';
import { OPEN_VIEWER_COMMAND, TensorViewerProvider } from './tensorViewer';
import { KernelVariableViewer } from './variableViewer';
import { TimelinePanels } from './timelinePanel';
import { ComparePanels } from './comparePanel';
import { WorkerClient } from './workerClient';

export interface Surfaces extends vscode.Disposable {
  runner: LossRunner;
  notebooks: NotebookLossCommand;
  variables: KernelVariableViewer;
  debug: DebugLossCommand;
  viewer: TensorViewerProvider;
  sidebar: SidebarView;
  decorations: TensorDecorations;
  hover: TensorHoverProvider;
  timelines: TimelinePanels;
  comparisons: ComparePanels;
  exportReportCommand(target?: unknown): Promise<vscode.Uri | undefined>;
  restorePanel(panel: vscode.WebviewPanel, state: unknown): void;
  /** Worker threads started so far (none at activation). */
  workersStarted(): number;
  api: Omit<CornerNetInspectorApi, 'activation' | 'surfacesLoadMs'>;
}

export function createSurfaces(context: vscode.ExtensionContext): Surfaces {
  const workerScript = context.asAbsolutePath('dist/worker.js');
  const runner = new LossRunner(context);
  const info = new TensorInfoService(workerScript, context.workspaceState);
  const problems = new TensorProblems(info, context.workspaceState);
  const viewer = new TensorViewerProvider(context.extensionUri, workerScript, info, problems);
  const decorations = new TensorDecorations(info);
  const notebooks = new NotebookLossCommand(runner);
  const jupyterSource = notebooks.kernels;
  const variables = new KernelVariableViewer(notebooks, runner);
  const debug = new DebugLossCommand(runner, variables);
  const sidebar = new SidebarView(context.extensionUri, {
    reopen: (run: Run) => ResultsPanel.showDetached(runner, run.report, run.spec, run.label),
    openTensor: async (file, key) => {
      await vscode.commands.executeCommand(OPEN_VIEWER_COMMAND, vscode.Uri.file(file), key ?? null);
    },
  }, context.workspaceState);
  const hover = new TensorHoverProvider(info);
  const timelines = new TimelinePanels(context.extensionUri);
  const comparisons = new ComparePanels(context.extensionUri);
  // The surfaces load on first use (a tensor file in the explorer, a hover, a command): the first
  // computation's worker starts now and warms up while the user gets there.
  WorkerClient.prestart(workerScript);
  const disposables: vscode.Disposable[] = [
    runner,
    notebooks,
    variables,
    debug,
    info,
    problems,
    decorations,
    viewer,
    sidebar,
    timelines,
    comparisons,
    runner.onDidCompute(({ report, spec, label, startedAt }) => {
      sidebar.add(report, spec, label);
      problems.setReport(report, startedAt);
    }),
    runner.onDidFail(({ error, spec, startedAt }) => problems.setError(error.message, error.subject, spec.paths, startedAt)),
    { dispose: () => ResultsPanel.current?.dispose() },
    { dispose: () => WorkerClient.disposeSpare() },
    { dispose: disposeLog },
  ];
  return {
    runner,
    notebooks,
    variables,
    debug,
    viewer,
    sidebar,
    decorations,
    hover,
    timelines,
    comparisons,
    async exportReportCommand(target) {
      const report = ResultsPanel.current?.currentReport;
      if (!report) {
        void vscode.window.showInformationMessage('CornerNet Inspector: compute a loss first (there is no report to export).');
        return undefined;
      }
      return exportReport(report, target instanceof vscode.Uri ? target : undefined);
    },
    restorePanel: (panel, state) => ResultsPanel.revive(runner, panel, state),
    workersStarted: () => WorkerClient.startedCount,
    dispose: () => {
      for (const d of disposables.splice(0).reverse()) d.dispose();
    },
    api: {
      computeLoss: (args) => runner.command(args),
      get lastError() {
        return runner.lastError;
      },
      currentReport: () => ResultsPanel.current?.currentReport,
      lastRender: () => ResultsPanel.current?.lastRenderReport,
      waitForRender: (timeoutMs, predicate) => {
        const p = ResultsPanel.current;
        return p ? p.waitForRender(timeoutMs, predicate) : Promise.reject(new Error('no results panel'));
      },
      get runningCount() {
        return runner.runningCount;
      },
      cancelRunning: (path) => runner.cancelRunning(path),
      runningPaths: () => runner.runningPaths(),
      rolePickerLog: () => rolePickerLog(),
      waitForViewerRender: (uri, timeoutMs, predicate) => viewer.waitForRender(uri, timeoutMs, predicate),
      sidebarState: () => sidebar.state(),
      reopenRun: (id) => sidebar.reopen(id),
      tensorInfo: info,
      decoration: async (uri) => decorations.provideFileDecoration(uri),
      computeLossFromNotebook: (args) => notebooks.command(args ?? {}),
      useKernelSource: (source) => {
        notebooks.kernels = source ?? jupyterSource;
      },
      get lastTransfer() {
        return notebooks.lastTransfer;
      },
      cancelNotebook: () => notebooks.cancelRunning(),
      get notebookRunningCount() {
        return notebooks.runningCount;
      },
      kernelVariableFiles: () => variables.openFiles(),
      computeLossFromDebugSession: (args) => debug.command(args ?? {}),
      get lastDebugTransfer() {
        return debug.lastTransfer;
      },
      cancelDebug: () => debug.cancelRunning(),
      get debugRunningCount() {
        return debug.runningCount;
      },
      debugOffer: () => ResultsPanel.current?.currentOffer,
    },
  };
}
