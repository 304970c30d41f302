/**
 * Extension entry point: registers every surface and loads none. The surfaces (commands, panel,
 * viewer, side view, hovers, badges, Problems, the notebook flow) are in their own bundle,
 * dist/surfaces.js, loaded the first time one of them is used: a command, a view or editor
 * opening, a hover on a line that names a tensor file, a tensor file shown in the explorer. So
 * activation costs a few milliseconds whatever the extension grows to, and the engine and the
 * tensor statistics run in worker threads started later still.
 */
import * as vscode from 'vscode';
import type { ComputeArgs, LastError } from './computeCommand';
import type { LossReport } from './cornernet/model/report';
import type { PickerRecord } from './rolePicker';
import {
  COMPUTE_COMMAND,
  DEBUG_COMMAND,
  EXPORT_CELL_COMMAND,
  EXPORT_REPORT_COMMAND,
  HOVER_LANGUAGES,
  isTensorFileName,
  mayNameTensorFile,
  NOTEBOOK_COMMAND,
  OPEN_DEBUG_VARIABLE_COMMAND,
  OPEN_VARIABLE_COMMAND,
  OPEN_VIEWER_COMMAND,
  PANEL_VIEW_TYPE,
  PYTHON_DEBUG_TYPES_KEY,
  pythonDebugTypesFrom,
  SIDEBAR_VIEW_ID,
  VIEWER_VIEW_TYPE,
  TIMELINE_COMMAND,
  COMPARE_COMMAND,
} from './ids';
import type { DebugComputeArgs } from './debugCommand';
import { DefaultEditor } from './defaultEditor';
import { STATE_KEYS } from './persist';
import type { KernelSource } from './jupyterKernels';
import type { NotebookComputeArgs } from './notebookCommand';
import type { RenderReport } from './protocol/panel';
import type { FromViewer } from './protocol/viewer';
import type { SidebarView } from './sidebarView';
import type { TensorViewerProvider } from './tensorViewer';
import type { Surfaces } from './surfaces';
import type { TensorInfoService } from './tensorInfo';
import type { KernelVariableViewer } from './variableViewer';

/** What `activate` returns: for tests and other extensions. */
export interface CornerNetInspectorApi {
  /**
   * The extension's own activation cost: evaluating its bundle, and running activate(); whether
   * activation loaded the surfaces or started a worker (it does neither).
   */
  readonly activation: { loadMs: number | null; activateMs: number; workersStarted: number; surfacesLoaded: boolean };
  /** What loading the surfaces' bundle cost, once something needed it (null before). */
  readonly surfacesLoadMs: number | null;
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
  /** The debug-session flow: compute from the selected frame of the paused session, its last transfer, cancelling. */
  computeLossFromDebugSession(args?: DebugComputeArgs): Promise<LossReport | undefined>;
  readonly lastDebugTransfer: { mode: string; bytes: number; ms: number } | undefined;
  cancelDebug(): number;
  readonly debugRunningCount: number;
  /** What the panel offers above the result ("Compute again" after the session stopped again). */
  debugOffer(): { message: string; action: string } | undefined;
  /** The role pickers shown so far (title, step n of total, items, sections), latest last. */
  rolePickerLog(): PickerRecord[];
}

/** After activation, when a workspace with tensor files gets the loss worker started. */
const PREWARM_DELAY_MS = 3000;

/** Set by the bundle's first line (scripts/build.mjs banner): when our code started loading. */
declare const globalThis: { __cnT0?: number };
const moduleLoadedAt = performance.now();

/** The custom editor's registration options: TensorViewerProvider.options, which is not loaded yet. */
const VIEWER_OPTIONS = { supportsMultipleEditorsPerDocument: true, webviewOptions: { retainContextWhenHidden: false } } as const;

export function activate(context: vscode.ExtensionContext): CornerNetInspectorApi {
  const activateStart = performance.now();
  const decorationsChanged = new vscode.EventEmitter<vscode.Uri | vscode.Uri[] | undefined>();
  let loaded: Surfaces | undefined;
  let surfacesLoadMs: number | null = null;
  const surfaces = (): Surfaces => {
    if (loaded) return loaded;
    const t0 = performance.now();
    // A runtime path: esbuild leaves this require alone, so the surfaces stay in their own bundle.
    const bundle = context.asAbsolutePath('dist/surfaces.js');
    const { createSurfaces } = require(bundle) as typeof import('./surfaces');
    loaded = createSurfaces(context);
    context.subscriptions.push(loaded, loaded.decorations.onDidChangeFileDecorations((e) => decorationsChanged.fire(e)));
    surfacesLoadMs = performance.now() - t0;
    return loaded;
  };

  context.subscriptions.push(
    decorationsChanged,
    vscode.commands.registerCommand(COMPUTE_COMMAND, (a?: unknown, b?: unknown) => surfaces().runner.command(a, b)),
    vscode.commands.registerCommand(NOTEBOOK_COMMAND, (a?: unknown) => surfaces().notebooks.command(a)),
    vscode.commands.registerCommand(EXPORT_CELL_COMMAND, (a?: unknown, names?: unknown) =>
      surfaces().notebooks.insertExportCell(a, Array.isArray(names) && names.every((n) => typeof n === 'string') ? names : undefined),
    ),
    vscode.commands.registerCommand(OPEN_VARIABLE_COMMAND, (v?: unknown) => surfaces().variables.command(v as Parameters<KernelVariableViewer['command']>[0])),
    vscode.commands.registerCommand(DEBUG_COMMAND, (a?: unknown) => surfaces().debug.command(a)),
    vscode.commands.registerCommand(OPEN_DEBUG_VARIABLE_COMMAND, (v?: unknown) => surfaces().debug.openVariable(v)),
    // Stops and resumes of Python sessions, for "Compute again" on the shown debug run. A result
    // from a debug session is only shown once the surfaces are loaded: before that, nothing to do.
    vscode.debug.registerDebugAdapterTrackerFactory('*', {
      createDebugAdapterTracker: (session) =>
        pythonDebugTypes().includes(session.type)
          ? {
              onDidSendMessage: (m: unknown) => loaded?.debug.adapterSent(session, m),
              onWillReceiveMessage: (m: unknown) => loaded?.debug.adapterReceives(session, m),
              onExit: () => loaded?.debug.adapterEnded(session),
            }
          : undefined,
    }),
    // Menus show the debug commands for these types (`debugType in cornernet.debug.pythonTypes`).
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(PYTHON_DEBUG_TYPES_KEY)) void vscode.commands.executeCommand('setContext', PYTHON_DEBUG_TYPES_KEY, pythonDebugTypes());
    }),
    vscode.commands.registerCommand(EXPORT_REPORT_COMMAND, (target?: unknown) => surfaces().exportReportCommand(target)),
    // Both return nothing to callers (a panel is not serializable): tests read their webviews.
    vscode.commands.registerCommand(TIMELINE_COMMAND, async (a?: unknown) => void (await surfaces().timelines.command(a))),
    vscode.commands.registerCommand(COMPARE_COMMAND, async (a?: unknown, b?: unknown) => void (await surfaces().comparisons.command(a, b))),
    // (uri, key, index): a Problems entry's link names an element of the array to show.
    vscode.commands.registerCommand(OPEN_VIEWER_COMMAND, (target?: vscode.Uri | string, key?: string | null, index?: unknown) => surfaces().viewer.openCommand(target, key, index)),
    new DefaultEditor(context),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, state) {
        surfaces().restorePanel(panel, state);
      },
    }),
    vscode.window.registerCustomEditorProvider(
      VIEWER_VIEW_TYPE,
      {
        openCustomDocument: (uri) => surfaces().viewer.openCustomDocument(uri),
        resolveCustomEditor: (document, panel) => surfaces().viewer.resolveCustomEditor(document as Parameters<TensorViewerProvider['resolveCustomEditor']>[0], panel),
      },
      VIEWER_OPTIONS,
    ),
    vscode.window.registerWebviewViewProvider(SIDEBAR_VIEW_ID, {
      resolveWebviewView: (view) => surfaces().sidebar.resolveWebviewView(view),
    }),
    vscode.window.registerFileDecorationProvider({
      onDidChangeFileDecorations: decorationsChanged.event,
      // Most explorer rows are not tensor files: those never load anything.
      provideFileDecoration: (uri) =>
        uri.scheme === 'file' && isTensorFileName(uri.path) ? surfaces().decorations.provideFileDecoration(uri) : undefined,
    }),
    // Without a scheme, the selectors also match notebook cells of these languages.
    vscode.languages.registerHoverProvider(
      HOVER_LANGUAGES.map((language) => ({ language })),
      {
        provideHover: (document, position, token) =>
          mayNameTensorFile(document.lineAt(position.line).text) ? surfaces().hover.provideHover(document, position, token) : undefined,
      },
    ),
  );
  void vscode.commands.executeCommand('setContext', PYTHON_DEBUG_TYPES_KEY, pythonDebugTypes());
  // After a window reload: Problems, badges and the side view's runs come back from
  // workspaceState, which takes the surfaces; loaded after activation, never during it.
  if (Object.values(STATE_KEYS).some((k) => hasContent(context.workspaceState.get(k)))) {
    setTimeout(() => {
      if (!loaded) surfaces();
    }, 0);
  }
  // A workspace that holds tensor files: a moment after start-up, the surfaces load and start the
  // first computation's worker, which warms up then rather than after the first click.
  const prewarm = setTimeout(() => {
    if (loaded) return;
    void vscode.workspace.findFiles('**/*.{npy,npz,safetensors}', '**/node_modules/**', 1).then(
      (found) => {
        if (found.length) surfaces();
      },
      () => undefined,
    );
  }, PREWARM_DELAY_MS);
  context.subscriptions.push({ dispose: () => clearTimeout(prewarm) });
  const activation = {
    loadMs: globalThis.__cnT0 === undefined ? null : moduleLoadedAt - globalThis.__cnT0,
    activateMs: performance.now() - activateStart,
    workersStarted: loaded ? (loaded as Surfaces).workersStarted() : 0,
    surfacesLoaded: loaded !== undefined,
  };
  return {
    activation,
    get surfacesLoadMs() {
      return surfacesLoadMs;
    },
    computeLoss: (args) => surfaces().api.computeLoss(args),
    get lastError() {
      return loaded?.api.lastError;
    },
    currentReport: () => loaded?.api.currentReport(),
    lastRender: () => loaded?.api.lastRender(),
    waitForRender: (timeoutMs, predicate) => surfaces().api.waitForRender(timeoutMs, predicate),
    get runningCount() {
      return loaded?.api.runningCount ?? 0;
    },
    cancelRunning: (path) => loaded?.api.cancelRunning(path) ?? 0,
    runningPaths: () => loaded?.api.runningPaths() ?? [],
    rolePickerLog: () => loaded?.api.rolePickerLog() ?? [],
    waitForViewerRender: (uri, timeoutMs, predicate) => surfaces().api.waitForViewerRender(uri, timeoutMs, predicate),
    sidebarState: () => surfaces().api.sidebarState(),
    reopenRun: (id) => surfaces().api.reopenRun(id),
    get tensorInfo() {
      return surfaces().api.tensorInfo;
    },
    decoration: (uri) => surfaces().api.decoration(uri),
    computeLossFromNotebook: (args) => surfaces().api.computeLossFromNotebook(args),
    useKernelSource: (source) => surfaces().api.useKernelSource(source),
    get lastTransfer() {
      return loaded?.api.lastTransfer;
    },
    cancelNotebook: () => loaded?.api.cancelNotebook() ?? 0,
    get notebookRunningCount() {
      return loaded?.api.notebookRunningCount ?? 0;
    },
    kernelVariableFiles: () => loaded?.api.kernelVariableFiles() ?? [],
    computeLossFromDebugSession: (args) => surfaces().api.computeLossFromDebugSession(args),
    get lastDebugTransfer() {
      return loaded?.api.lastDebugTransfer;
    },
    cancelDebug: () => loaded?.api.cancelDebug() ?? 0,
    get debugRunningCount() {
      return loaded?.api.debugRunningCount ?? 0;
    },
    debugOffer: () => loaded?.api.debugOffer(),
  };
}

function hasContent(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && v !== null) return Object.values(v).some(hasContent);
  return false;
}

/** The debug types treated as Python sessions (the setting; read without loading the surfaces). */
function pythonDebugTypes(): string[] {
  return pythonDebugTypesFrom(vscode.workspace.getConfiguration().get<unknown>(PYTHON_DEBUG_TYPES_KEY));
}

export function deactivate(): void {}
