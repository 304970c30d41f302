/**
 * "Show Loss Timeline" (cornernet.showTimeline): a run folder's batches over steps in a webview
 * panel (uPlot): total and terms, per stack, class or image; spikes and the first non-finite step
 * marked; a click opens that batch in the results panel. A file watcher scans the folder again as
 * training writes new steps: a batch is read only once its files have stopped changing, and a
 * recent batch that does not compute yet is shown as waiting, never as an error.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { COMPUTE_COMMAND, TIMELINE_VIEW_TYPE } from './ids';
import { log } from './log';
import { parseFromTimeline, type TimelineBatchView, type TimelineRendered, type TimelineState, type ToTimeline } from './protocol/timeline';
import { RunWorkerClient, RunWorkerError, settingsComputeOptions } from './runWorkerClient';
import { webviewHtml, webviewOptions } from './webviewHtml';
import type { ScannedBatch } from './worker/runProtocol';

/** A batch is read once its files have not changed for this long. */
const SETTLE_MS = 1500;
/** A batch that fails while its files are younger than this may still be being written. */
const GRACE_MS = 15000;
/** Scans after watcher events wait this long for more events (a step writes many files). */
const DEBOUNCE_MS = 300;

export class TimelinePanels implements vscode.Disposable {
  private readonly open = new Map<string, TimelinePanel>();

  constructor(private readonly extensionUri: vscode.Uri) {}

  /** From the explorer (a folder) or the palette (a folder picker). */
  async command(a?: unknown): Promise<TimelinePanel | undefined> {
    let folder: string | undefined;
    if (a instanceof vscode.Uri) folder = a.fsPath;
    else if (typeof a === 'string') folder = a;
    else {
      const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Show Loss Timeline', title: 'A run folder whose subfolders (or .npz files) are batches dumped during training' });
      folder = picked?.[0]?.fsPath;
    }
    if (!folder) return undefined;
    const key = path.resolve(folder);
    const existing = this.open.get(key);
    if (existing) {
      existing.reveal();
      return existing;
    }
    const p = new TimelinePanel(this.extensionUri, key, () => this.open.delete(key));
    this.open.set(key, p);
    return p;
  }

  /** For tests: what the open timelines drew last. */
  get(folder: string): TimelinePanel | undefined {
    return this.open.get(path.resolve(folder));
  }

  dispose(): void {
    for (const p of [...this.open.values()]) p.dispose();
  }
}

export class TimelinePanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly worker: RunWorkerClient;
  private readonly disposables: vscode.Disposable[] = [];
  private batches: ScannedBatch[] = [];
  private scanning: { done: number; count: number } | undefined;
  private error: string | undefined;
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;
  private ready = false;
  /** What the webview last said it drew (its chart or tables). */
  lastRendered: TimelineRendered | undefined;

  constructor(
    extensionUri: vscode.Uri,
    readonly folder: string,
    private readonly onDispose: () => void,
  ) {
    this.worker = new RunWorkerClient(extensionUri);
    this.panel = vscode.window.createWebviewPanel(TIMELINE_VIEW_TYPE, `Loss Timeline: ${path.basename(folder)}`, vscode.ViewColumn.Active, {
      ...webviewOptions(extensionUri),
      retainContextWhenHidden: true,
    });
    this.panel.webview.html = webviewHtml(this.panel.webview, extensionUri, 'timeline', 'CornerNet Loss Timeline');
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(folder), '**'));
    const changed = () => this.scheduleScan(DEBOUNCE_MS);
    this.disposables.push(
      watcher,
      watcher.onDidCreate(changed),
      watcher.onDidChange(changed),
      watcher.onDidDelete(changed),
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((raw) => this.receive(raw)),
    );
    this.scheduleScan(0);
  }

  reveal(): void {
    this.panel.reveal();
  }

  /** The batches as the panel shows them. */
  state(): TimelineState {
    return {
      folder: this.folder,
      batches: this.batches.map((b) => viewOf(b, this.folder)),
      watching: true,
      ...(this.scanning ? { scanning: this.scanning } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  private receive(raw: unknown): void {
    const msg = parseFromTimeline(raw);
    if (!msg) {
      log().warn(`timeline: dropped a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.post();
        return;
      case 'open': {
        const b = this.batches[msg.index];
        if (!b) return;
        const uris = b.paths.map((p) => vscode.Uri.file(p));
        void vscode.commands.executeCommand(COMPUTE_COMMAND, uris[0], uris);
        return;
      }
      case 'rendered': {
        this.lastRendered = msg.rendered;
        return;
      }
    }
  }

  private post(): void {
    if (this.disposed || !this.ready) return;
    const msg: ToTimeline = { type: 'state', state: this.state() };
    void this.panel.webview.postMessage(msg);
  }

  private scheduleScan(ms: number): void {
    if (this.disposed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.scan();
    }, ms);
  }

  /** One scan at a time; events during one ask for another after it. */
  private async scan(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    try {
      const reply = await this.worker.request('scanned', { type: 'scan', folder: this.folder, options: settingsComputeOptions(), settleMs: SETTLE_MS, graceMs: GRACE_MS }, (batch, index, count) => {
        this.scanning = { done: index + 1, count };
        const at = this.batches.findIndex((b) => b.input === batch.input);
        if (at >= 0) this.batches[at] = batch;
        else this.batches.splice(index, 0, batch);
        this.post();
      });
      this.batches = reply.batches;
      this.error = undefined;
    } catch (e) {
      if (this.disposed) return;
      this.error = e instanceof RunWorkerError ? e.failure.message : (e as Error).message;
      log().error(`timeline of ${this.folder}: ${this.error}`);
    } finally {
      this.running = false;
      this.scanning = undefined;
    }
    this.post();
    // Batches still being written are looked at again once they may have settled.
    if (this.again) this.scheduleScan(DEBOUNCE_MS);
    else if (this.batches.some((b) => b.status === 'waiting')) this.scheduleScan(SETTLE_MS);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.worker.dispose();
    this.panel.dispose();
    this.onDispose();
  }
}

function viewOf(b: ScannedBatch, folder: string): TimelineBatchView {
  const label = b.paths.length === 1 ? path.relative(folder, b.paths[0]!) || path.basename(b.paths[0]!) : b.paths.map((p) => path.basename(p)).join(' + ');
  const base = { label, step: b.step };
  if (b.status === 'error') return { ...base, status: 'error', message: b.failure.message };
  if (b.status === 'waiting') return { ...base, status: 'waiting', message: b.reason };
  const p = b.point;
  return {
    ...base,
    status: 'ok',
    convention: p.convention,
    total: p.total,
    terms: p.terms,
    perStack: p.perStack.map((s) => s.total),
    perImage: p.perImage,
    perClass: p.perClass,
    nonFinite: p.nonFinite,
    warnings: p.warnings,
  };
}
