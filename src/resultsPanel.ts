/**
 * The results panel (a WebviewPanel): shows one computation, serves the planes the webview asks
 * for from the computation's worker, and survives a window reload (the webview keeps the report and
 * the inputs in its state; planes are recomputed on demand).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LossReport } from './cornernet/model/report';
import { worstPlane, type HeatSlice } from './cornernet/views/slices';
import { log } from './log';
import { LossRunError, type LossSession } from './lossSession';
import {
  PANEL_VIEW_TYPE,
  isRunSpec,
  parseFromPanel,
  type FromPanel,
  type PanelState,
  type RenderReport,
  type RunSpec,
  type Selection,
  type SliceData,
  type ToPanel,
} from './protocol/panel';
import * as settings from './settings';
import { webviewHtml, webviewOptions } from './webviewHtml';
import type { RunTrace } from './perfTrace';

/** What the panel needs from the rest of the extension. */
export interface PanelHost {
  extensionUri: vscode.Uri;
  /** Computes again (same inputs, or new roles chosen by the user); undefined if it failed or was cancelled. */
  recompute(spec: RunSpec, how: 'again' | 'changeRoles' | 'restore'): Promise<LossReport | undefined>;
}

export class ResultsPanel {
  static current: ResultsPanel | undefined;
  private static runCounter = 0;

  private session: LossSession | undefined;
  private report: LossReport | undefined;
  private spec: RunSpec | undefined;
  private inputsLabel = '';
  private runId = 0;
  private restoring: Promise<unknown> | undefined;
  private restoredSelection: Selection | undefined;
  private lastRender: RenderReport | undefined;
  /** The action offered above the result (a debug session stopped again), until the next result. */
  private offered: { message: string; action: string } | undefined;
  /** The timings of the shown run until its first planes are posted (logged then). */
  private trace: { trace: RunTrace; extra: string } | undefined;
  private readonly renderListeners = new Set<(r: RenderReport) => void>();
  private readonly disposables: vscode.Disposable[] = [];

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly host: PanelHost,
  ) {
    panel.webview.options = webviewOptions(host.extensionUri);
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'cornernet.svg');
    panel.webview.html = webviewHtml(panel.webview, host.extensionUri, 'panel', 'CornerNet Loss');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m) => this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cornernet.colormap')) this.post({ type: 'colormap', colormap: settings.colormap() });
      }),
    );
  }

  /** The panel, created or revealed. */
  private static obtain(host: PanelHost): ResultsPanel {
    const p = ResultsPanel.current;
    if (p) {
      p.panel.reveal(undefined, false);
      return p;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, 'CornerNet Loss', vscode.ViewColumn.Active, { enableScripts: true, retainContextWhenHidden: false });
    return (ResultsPanel.current = new ResultsPanel(panel, host));
  }

  /** Shows a new result, in the existing panel if there is one. The panel owns the session. */
  static show(host: PanelHost, session: LossSession, spec: RunSpec, inputsLabel: string, trace?: RunTrace, traceExtra = ''): ResultsPanel {
    const p = ResultsPanel.obtain(host);
    trace?.mark(p.everReady ? 'panel (reused)' : 'panel');
    p.trace = trace ? { trace, extra: traceExtra } : undefined;
    p.setResult(session.report, spec, inputsLabel, session);
    return p;
  }

  /**
   * Before a computation: the panel, created now when there is none, so that its page loads while
   * the worker computes (a new webview takes longer to start than the computation). A created
   * panel that never gets a result is closed by `abandon()`.
   */
  static prepare(host: PanelHost): void {
    if (ResultsPanel.current) return;
    ResultsPanel.obtain(host).awaitingFirst = true;
  }

  /** The computation `prepare()` was for failed: a panel opened for it and still empty goes. */
  static abandon(): void {
    const p = ResultsPanel.current;
    if (p?.awaitingFirst && !p.report) p.dispose();
  }

  /** Opened by prepare() and not shown a result yet. */
  private awaitingFirst = false;

  /** A past result (side view's run list): shown at once; planes are computed again on demand. */
  static showDetached(host: PanelHost, report: LossReport, spec: RunSpec, inputsLabel: string): ResultsPanel {
    const p = ResultsPanel.obtain(host);
    p.setResult(report, spec, inputsLabel, undefined);
    return p;
  }

  /** After a window reload: the report comes back from the webview's state, the worker does not. */
  static revive(host: PanelHost, panel: vscode.WebviewPanel, state: unknown): ResultsPanel {
    const p = (ResultsPanel.current = new ResultsPanel(panel, host));
    const s = state as Partial<PanelState> | undefined;
    if (s?.load && isRunSpec(s.load.spec) && typeof s.load.report === 'object') {
      p.report = s.load.report;
      p.spec = s.load.spec;
      p.inputsLabel = String(s.load.inputsLabel ?? '');
      p.runId = ++ResultsPanel.runCounter;
      p.restoredSelection = s.selection;
    }
    return p;
  }

  get currentReport(): LossReport | undefined {
    return this.report;
  }

  get currentSpec(): RunSpec | undefined {
    return this.spec;
  }

  /**
   * Offers an action above the result, with its reason; the panel's button posts `recompute`.
   * Null removes it; a new result removes it too.
   */
  offer(message: string | null, action = 'Compute again'): void {
    this.offered = message === null ? undefined : { message, action };
    this.post({ type: 'offer', message, action });
  }

  get currentOffer(): { message: string; action: string } | undefined {
    return this.offered;
  }

  get lastRenderReport(): RenderReport | undefined {
    return this.lastRender;
  }

  /** Resolves with the next render report for the current run (or the last one if it is already in). */
  waitForRender(timeoutMs = 30000, predicate: (r: RenderReport) => boolean = () => true): Promise<RenderReport> {
    if (this.lastRender && this.lastRender.runId === this.runId && predicate(this.lastRender)) return Promise.resolve(this.lastRender);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.renderListeners.delete(listener);
        reject(new Error(`the panel did not report a render within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (r: RenderReport) => {
        if (r.runId !== this.runId || !predicate(r)) return;
        clearTimeout(timer);
        this.renderListeners.delete(listener);
        resolve(r);
      };
      this.renderListeners.add(listener);
    });
  }

  private setResult(report: LossReport, spec: RunSpec, inputsLabel: string, session: LossSession | undefined): void {
    this.awaitingFirst = false;
    if (this.session && this.session !== session) this.session.dispose();
    this.session = session;
    this.report = report;
    this.spec = spec;
    this.inputsLabel = inputsLabel;
    this.runId = ++ResultsPanel.runCounter;
    this.lastRender = undefined;
    this.offered = undefined;
    this.planesPosted.clear();
    clearTimeout(this.diagnosisTimer);
    // A page still loading gets the result when it says `ready`: a message posted before that is
    // delivered too, and the page would then draw the result twice (and ask its planes twice).
    if (this.everReady) this.postLoad();
    // The worker answers one request at a time: the diagnosis (a scan of every heatmap) and the
    // ablation wait until the first heatmaps and thumbnails are out, or a moment if the page does
    // not ask (hidden).
    const runId = this.runId;
    this.diagnosisTimer = setTimeout(() => this.startDiagnosis(runId), 3000);
  }

  private diagnosisTimer: ReturnType<typeof setTimeout> | undefined;
  private diagnosisStarted = -1;
  /** Which of the first planes of the run went out ('slices', 'thumbnails'). */
  private readonly planesPosted = new Set<string>();

  private startDiagnosis(runId: number): void {
    if (runId !== this.runId || this.diagnosisStarted === runId) return;
    this.diagnosisStarted = runId;
    clearTimeout(this.diagnosisTimer);
    void this.diagnose(runId);
  }

  private planePosted(runId: number, what: 'slices' | 'thumbnails'): void {
    if (runId !== this.runId) return;
    this.planesPosted.add(what);
    if (this.planesPosted.size === 2) this.startDiagnosis(runId);
  }

  /** The diagnosis after the total is on screen: the worker scans the heatmaps once more. */
  private async diagnose(runId: number): Promise<void> {
    const session = this.session;
    if (this.report?.findings) {
      this.post({ type: 'diagnosis', runId, findings: this.report.findings, gradients: this.report.gradients ?? [] });
    } else if (session) {
      try {
        const d = await session.diagnose();
        if (runId !== this.runId || !this.report) return;
        this.report = { ...this.report, findings: d.findings, gradients: d.gradients, timings: { ...this.report.timings, diagnoseMs: d.diagnoseMs } };
        this.post({ type: 'diagnosis', runId, findings: d.findings, gradients: d.gradients });
        this.diagnosisListeners.forEach((l) => l(this.report!));
      } catch (e) {
        if (e instanceof LossRunError && e.kind === 'cancelled') return;
        log().warn(`diagnosis: ${(e as Error).message}`);
      }
    }
    if (runId !== this.runId || !this.report) return;
    if (this.report.ablation) this.post({ type: 'ablation', runId, ablation: this.report.ablation });
    else await this.ablate(runId);
    // The next computation's worker starts once this one's work is done.
    if (runId === this.runId) session?.prepareNext();
  }

  /** The ground-truth ablation, last: it decodes the last stack five times. */
  private async ablate(runId: number): Promise<void> {
    const session = this.session;
    if (!session || runId !== this.runId) return;
    try {
      const a = await session.ablation();
      if (runId !== this.runId || !this.report) return;
      this.report = { ...this.report, ablation: a.ablation, timings: { ...this.report.timings, ablationMs: a.ms } };
      this.post({ type: 'ablation', runId, ablation: a.ablation });
      this.diagnosisListeners.forEach((l) => l(this.report!));
    } catch (e) {
      if (e instanceof LossRunError && e.kind === 'cancelled') return;
      log().warn(`ablation: ${(e as Error).message}`);
    }
  }

  /** Called with the report once its diagnosis arrived (the API's waitForDiagnosis). */
  readonly diagnosisListeners = new Set<(r: LossReport) => void>();

  private postLoad(): void {
    if (!this.report || !this.spec) return;
    const selectionIsDefault = !this.restoredSelection;
    const sel = this.restoredSelection ?? { stack: this.report.nstack - 1, ...worstPlane(this.report) };
    this.restoredSelection = undefined;
    this.traceMark('load posted');
    // The total first: the per-object table and top pixels (most of the bytes) follow in their own message.
    const { objects, topPixels } = this.report;
    const split = objects.length + topPixels.length > 0;
    const lean = split ? { ...this.report, objects: [], topPixels: [] } : this.report;
    this.post({ type: 'load', runId: this.runId, report: lean, inputsLabel: this.inputsLabel, spec: this.spec, selection: sel, colormap: settings.colormap(), selectionIsDefault, ...(split ? { objectsPending: true } : {}) });
    if (split) this.post({ type: 'objects', runId: this.runId, objects, topPixels });
    // A diagnosis that arrived before the webview was ready (or before a reload of it) goes again.
    if (this.report.findings) this.post({ type: 'diagnosis', runId: this.runId, findings: this.report.findings, gradients: this.report.gradients ?? [] });
    if (this.report.ablation) this.post({ type: 'ablation', runId: this.runId, ablation: this.report.ablation });
    if (this.offered) this.post({ type: 'offer', ...this.offered });
  }

  /** The webview said `ready` at least once (a reused panel; a new page says it again). */
  private everReady = false;

  private traceMark(name: string, done = false): void {
    if (!this.trace) return;
    this.trace.trace.mark(name);
    if (done || (this.trace.trace.has('slices posted') && this.trace.trace.has('thumbnails posted'))) {
      this.trace.trace.flush(this.trace.extra);
      this.trace = undefined;
    }
  }

  private post(msg: ToPanel): void {
    void this.panel.webview.postMessage(msg);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const msg = parseFromPanel(raw);
    if (!msg) {
      log().warn(`results panel: dropped a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    try {
      await this.handle(msg);
    } catch (e) {
      if (e instanceof LossRunError && e.kind === 'cancelled') return;
      log().error(`results panel: ${(e as Error).message}`);
      if ('requestId' in msg) this.post({ type: 'requestFailed', requestId: msg.requestId, message: (e as Error).message });
    }
  }

  private async handle(msg: FromPanel): Promise<void> {
    switch (msg.type) {
      case 'ready':
        this.everReady = true;
        this.traceMark('ready');
        this.postLoad();
        return;
      case 'requestSlices': {
        if (msg.runId !== this.runId) return;
        this.traceMark('slices asked');
        const session = await this.liveSession();
        if (!session || msg.runId !== this.runId) return;
        const { stack, image, class: cls } = msg.selection;
        const [tl, br] = await Promise.all([session.slice('tl', stack, image, cls), session.slice('br', stack, image, cls)]);
        this.post({ type: 'slices', requestId: msg.requestId, runId: msg.runId, selection: msg.selection, tl: sliceData(tl), br: sliceData(br) });
        this.traceMark('slices posted');
        this.planePosted(msg.runId, 'slices');
        return;
      }
      case 'requestThumbnails': {
        if (msg.runId !== this.runId) return;
        const session = await this.liveSession();
        if (!session || msg.runId !== this.runId) return;
        this.traceMark('thumbnails asked');
        const t = await session.thumbnails(msg.stack, msg.image);
        this.post({
          type: 'thumbnails',
          requestId: msg.requestId,
          runId: msg.runId,
          stack: t.stack,
          image: t.image,
          width: t.size.width,
          height: t.size.height,
          classes: t.classes,
          max: t.max,
          data: t.data.buffer as ArrayBuffer,
        });
        this.traceMark('thumbnails posted');
        this.planePosted(msg.runId, 'thumbnails');
        return;
      }
      case 'requestDecode': {
        if (msg.runId !== this.runId || !this.report) return;
        const session = await this.liveSession();
        if (!session || msg.runId !== this.runId) return;
        const stack = this.report.nstack - 1;
        // num_dets as in CornerNet's test (1000), lowered when K*K cannot cover it.
        const numDets = Math.min(1000, msg.K * msg.K);
        const { view, background } = await session.decode(stack, msg.image, { K: msg.K, aeThreshold: msg.aeThreshold, numDets, kernel: 3 }, msg.minScore);
        this.post({ type: 'decode', requestId: msg.requestId, runId: msg.runId, view, width: this.report.sizes.width, height: this.report.sizes.height, background: exactBuffer(background) });
        return;
      }
      case 'requestTagMaps': {
        if (msg.runId !== this.runId) return;
        const session = await this.liveSession();
        if (!session || msg.runId !== this.runId) return;
        const m = await session.tagMaps(msg.stack, msg.image);
        this.post({ type: 'tagMaps', requestId: msg.requestId, runId: msg.runId, stack: msg.stack, image: msg.image, width: m.width, height: m.height, tl: exactBuffer(m.tl), br: exactBuffer(m.br) });
        return;
      }
      case 'exportReport':
        if (this.report) await exportReport(this.report, undefined, true);
        return;
      case 'savePng':
        await savePng(msg.name, msg.dataUrl, this.report);
        return;
      case 'copyText': {
        const shown = msg.text.length > 120 ? `${msg.text.slice(0, 117)}...` : msg.text;
        try {
          await vscode.env.clipboard.writeText(msg.text);
          vscode.window.setStatusBarMessage(`$(clippy) Copied ${msg.what}: ${shown}`, 8000);
        } catch (e) {
          void vscode.window.showWarningMessage(`CornerNet: could not copy to the clipboard (${(e as Error).message}): ${shown}`);
        }
        return;
      }
      case 'changeRoles':
        if (this.spec) await this.host.recompute(this.spec, 'changeRoles');
        return;
      case 'recompute':
        if (this.spec) await this.host.recompute(this.spec, 'again');
        return;
      case 'heatIsProbability':
        if (this.spec) await this.host.recompute({ ...this.spec, heatIsProbability: msg.value }, 'again');
        return;
      case 'switchConvention':
        if (this.spec) await this.host.recompute({ ...this.spec, convention: msg.convention }, 'again');
        return;
      case 'compareConventions': {
        if (msg.runId !== this.runId || !this.report) return;
        const session = await this.liveSession();
        if (!session || msg.runId !== this.runId) return;
        const { conventions, gaps } = await session.compare();
        if (msg.runId !== this.runId || !this.report) return;
        // Kept in the report: Export JSON then holds the comparison too.
        this.report = { ...this.report, conventions, gaps };
        this.post({ type: 'conventions', requestId: msg.requestId, runId: msg.runId, conventions, gaps });
        return;
      }
      case 'rendered':
        this.lastRender = msg.report;
        for (const l of [...this.renderListeners]) l(msg.report);
        return;
    }
  }

  /** The worker of the shown run; after a reload, the run is computed again (once). */
  private async liveSession(): Promise<LossSession | undefined> {
    if (this.session?.alive) return this.session;
    if (!this.spec) return undefined;
    this.restoring ??= (async () => {
      this.post({ type: 'busy', message: 'Reading the inputs again to draw the heatmaps…' });
      try {
        return await this.host.recompute(this.spec!, 'restore');
      } finally {
        this.post({ type: 'busy', message: null });
        this.restoring = undefined;
      }
    })();
    await this.restoring;
    // recompute() shows the new session through show(), which posts a fresh load: requests of the
    // old run are dropped and the webview asks again.
    return undefined;
  }

  dispose(): void {
    if (ResultsPanel.current === this) ResultsPanel.current = undefined;
    clearTimeout(this.diagnosisTimer);
    this.session?.dispose();
    this.session = undefined;
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function sliceData(s: HeatSlice): SliceData {
  return {
    corner: s.corner,
    width: s.width,
    height: s.height,
    logit: exactBuffer(s.logit),
    target: exactBuffer(s.target),
    bounds: s.bounds,
    norm: s.norm,
    positives: s.positives,
    peaks: s.peaks.map(({ x, y, score, rank }) => ({ x, y, score, rank })),
    planeLoss: s.planeLoss,
  };
}

/** An ArrayBuffer holding exactly the array's bytes (views into larger buffers are copied). */
function exactBuffer(a: Float32Array): ArrayBuffer {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? (a.buffer as ArrayBuffer) : (a.slice().buffer as ArrayBuffer);
}

/**
 * Where exports go by default: the folder of the data (the first input's folder, or the notebook's),
 * else the workspace root.
 */
function defaultDir(report?: LossReport): vscode.Uri | undefined {
  const file = report?.inputs.roles.find((u) => path.isAbsolute(u.file))?.file;
  if (file) return vscode.Uri.file(path.dirname(file));
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

/** The data folder's name, to name exports after the case they show. */
function caseName(report: LossReport): string {
  const file = report.inputs.roles.find((u) => path.isAbsolute(u.file))?.file;
  const name = file ? path.basename(path.dirname(file)) : '';
  return /^[\w.-]+$/.test(name) ? name : '';
}

/** Says where a file went, with a way to it (exports never happen silently). */
async function confirmWritten(what: string, uri: vscode.Uri, open: boolean): Promise<void> {
  log().info(`${what} written to ${uri.fsPath}`);
  const actions = open ? ['Open', 'Reveal in Explorer'] : ['Reveal in Explorer'];
  const choice = await vscode.window.showInformationMessage(`CornerNet: ${what} written to ${vscode.workspace.asRelativePath(uri)}`, ...actions);
  if (choice === 'Open') await vscode.window.showTextDocument(uri);
  else if (choice === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', uri);
}

/**
 * Writes the report as JSON: to `target`, or where the user says (the data folder by default).
 * `confirm`: say where it went (the panel's button; the command with a target stays quiet).
 */
export async function exportReport(report: LossReport, target?: vscode.Uri, confirm = false): Promise<vscode.Uri | undefined> {
  const dir = defaultDir(report);
  const base = caseName(report);
  const uri =
    target ??
    (await vscode.window.showSaveDialog({
      title: 'Export the CornerNet loss report as JSON',
      saveLabel: 'Export',
      defaultUri: dir ? vscode.Uri.joinPath(dir, `${base ? `${base}-` : ''}cornernet-loss-report.json`) : undefined,
      filters: { JSON: ['json'] },
    }));
  if (!uri) return undefined;
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(JSON.stringify(report, null, 2) + '\n'));
  if (confirm) void confirmWritten('loss report', uri, true);
  else log().info(`report written to ${uri.fsPath}`);
  return uri;
}

async function savePng(name: string, dataUrl: string, report?: LossReport): Promise<void> {
  const dir = defaultDir(report);
  const base = report ? caseName(report) : '';
  const uri = await vscode.window.showSaveDialog({
    title: 'Save the figure as PNG',
    saveLabel: 'Save',
    defaultUri: dir ? vscode.Uri.joinPath(dir, `${base ? `${base}-` : ''}${name}.png`) : undefined,
    filters: { PNG: ['png'] },
  });
  if (!uri) return;
  const bytes = Buffer.from(dataUrl.slice('data:image/png;base64,'.length), 'base64');
  // A PNG starts with its 8-byte signature; anything else is not what the webview should send.
  if (bytes.length < 8 || bytes.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG image');
  await vscode.workspace.fs.writeFile(uri, bytes);
  void confirmWritten('figure', uri, false);
}
