/**
 * Extension entry point: wires the surfaces. Activation only registers providers; the engine and
 * the tensor statistics run in worker threads started on first use.
 */
import * as vscode from 'vscode';
import { COMPUTE_COMMAND, LossRunner, type ComputeArgs, type LastError } from './computeCommand';
import type { LossReport } from './cornernet/report';
import { TensorDecorations } from './decorations';
import { HOVER_LANGUAGES, TensorHoverProvider } from './hover';
import { disposeLog } from './log';
import { TensorProblems } from './problems';
import { PANEL_VIEW_TYPE, type RenderReport } from './protocol/panel';
import type { FromViewer } from './protocol/viewer';
import { exportReport, ResultsPanel } from './resultsPanel';
import { SidebarView, type Run } from './sidebarView';
import { TensorInfoService } from './tensorInfo';
import { OPEN_VIEWER_COMMAND, TensorViewerProvider } from './tensorViewer';
import { WorkerClient } from './workerClient';
import type { KernelSource } from './jupyterKernels';
import { EXPORT_CELL_COMMAND, NOTEBOOK_COMMAND, NotebookLossCommand, type NotebookComputeArgs } from './notebookCommand';
import { KernelVariableViewer, OPEN_VARIABLE_COMMAND } from './variableViewer';

/** What `activate` returns: for tests and other extensions. */
export interface CornerNetInspectorApi {
  /** The extension's own activation cost: evaluating its bundle, and running activate(). */
  readonly activation: { loadMs: number | null; activateMs: number; workersStarted: number };
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
  /** Inputs of the computations under way. */
  runningPaths(): string[][];
  cancelRunning(path?: string): number;
  /** What a tensor viewer drew (metrics and canvases). */
  waitForViewerRender(uri: vscode.Uri, timeoutMs?: number, predicate?: (r: Extract<FromViewer, { type: 'rendered' }>) => boolean): Promise<Extract<FromViewer, { type: 'rendered' }>>;
  /** The side view's state (what it lists). */
  sidebarState(): ReturnType<SidebarView['state']>;
  /** Shows a past run of the side view's list in the results panel. */
  reopenRun(id: number): boolean;
  /** Facts about a tensor file as hovers and badges use them. */
  readonly tensorInfo: TensorInfoService;
  /** The explorer decoration of a file. */
  decoration(uri: vscode.Uri): Promise<vscode.FileDecoration | undefined>;
  /** The notebook flow: compute from a kernel, where kernels come from (tests), the last transfer. */
  computeLossFromNotebook(args?: NotebookComputeArgs): Promise<LossReport | undefined>;
  useKernelSource(source: KernelSource | undefined): void;
  readonly lastTransfer: { mode: string; bytes: number; ms: number } | undefined;
  cancelNotebook(): number;
  readonly notebookRunningCount: number;
  kernelVariableFiles(): string[];
}

/** Set by the bundle's first line (scripts/build.mjs banner): when our code started loading. */
declare const globalThis: { __cnT0?: number };
const moduleLoadedAt = performance.now();

export function activate(context: vscode.ExtensionContext): CornerNetInspectorApi {
  const activateStart = performance.now();
  const workerScript = context.asAbsolutePath('dist/worker.js');
  const runner = new LossRunner(context);
  const info = new TensorInfoService(workerScript);
  const problems = new TensorProblems(info);
  const viewer = new TensorViewerProvider(context.extensionUri, workerScript, info, problems);
  const decorations = new TensorDecorations(info);
  const notebooks = new NotebookLossCommand(runner);
  const jupyterSource = notebooks.kernels;
  const variables = new KernelVariableViewer(notebooks, runner);
  const sidebar = new SidebarView(context.extensionUri, {
    reopen: (run: Run) => ResultsPanel.showDetached(runner, run.report, run.spec, run.label),
    openTensor: async (file, key) => {
      await vscode.commands.executeCommand(OPEN_VIEWER_COMMAND, vscode.Uri.file(file), key ?? null);
    },
  });

  context.subscriptions.push(
    runner,
    notebooks,
    variables,
    info,
    problems,
    decorations,
    vscode.commands.registerCommand(COMPUTE_COMMAND, (a?: unknown, b?: unknown) => runner.command(a, b)),
    vscode.commands.registerCommand(NOTEBOOK_COMMAND, (a?: unknown) => notebooks.command(a)),
    vscode.commands.registerCommand(EXPORT_CELL_COMMAND, (a?: unknown, names?: unknown) =>
      notebooks.insertExportCell(a, Array.isArray(names) && names.every((n) => typeof n === 'string') ? names : undefined),
    ),
    vscode.commands.registerCommand(OPEN_VARIABLE_COMMAND, (v?: unknown) => variables.command(v as Parameters<KernelVariableViewer['command']>[0])),
    vscode.commands.registerCommand('cornernet.exportReport', async (target?: vscode.Uri) => {
      const report = ResultsPanel.current?.currentReport;
      if (!report) {
        void vscode.window.showInformationMessage('CornerNet Inspector: compute a loss first (there is no report to export).');
        return undefined;
      }
      return exportReport(report, target instanceof vscode.Uri ? target : undefined);
    }),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, state) {
        ResultsPanel.revive(runner, panel, state);
      },
    }),
    ...TensorViewerProvider.register(viewer),
    ...SidebarView.register(sidebar),
    vscode.window.registerFileDecorationProvider(decorations),
    // Without a scheme, the selectors also match notebook cells of these languages.
    vscode.languages.registerHoverProvider(
      HOVER_LANGUAGES.map((language) => ({ language })),
      new TensorHoverProvider(info),
    ),
    runner.onDidCompute(({ report, spec, label, startedAt }) => {
      sidebar.add(report, spec, label);
      problems.setReport(report, startedAt);
    }),
    runner.onDidFail(({ error, spec, startedAt }) => problems.setError(error.message, error.subject, spec.paths, startedAt)),
    { dispose: () => ResultsPanel.current?.dispose() },
    { dispose: disposeLog },
  );
  const activation = {
    loadMs: globalThis.__cnT0 === undefined ? null : moduleLoadedAt - globalThis.__cnT0,
    activateMs: performance.now() - activateStart,
    workersStarted: WorkerClient.startedCount,
  };
  return {
    activation,
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
  };
}

export function deactivate(): void {}
