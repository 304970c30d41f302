/**
 * The tensor viewer: a read-only custom editor for .npy, .npz and .safetensors ("Open With...",
 * or "Open in Tensor Viewer"). Header, statistics, archive members, and a heatmap of any 2-D slice
 * of an N-d array. The array lives in the document's own worker; files above
 * cornernet.maxFileSizeMB show their header and an "Open anyway" button first.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { log } from './log';
import type { TensorProblems } from './problems';
import { axisNaming } from './cornernet/views/axisNames';
import { isViewerElement, parseFromViewer, VIEWER_VIEW_TYPE, type FromViewer, type ToViewer, type ViewerElement } from './protocol/viewer';
import * as settings from './settings';
import type { TensorInfoService } from './tensorInfo';
import { webviewHtml, webviewOptions } from './webviewHtml';
import { WorkerClient } from './workerClient';

import { OPEN_VIEWER_COMMAND } from './ids';
export { OPEN_VIEWER_COMMAND };

type ViewerRender = Extract<FromViewer, { type: 'rendered' }>;

class TensorDocument implements vscode.CustomDocument {
  worker: WorkerClient | undefined;
  /** The array shown (npz member or safetensors key). */
  key: string | undefined;
  forceOpen = false;
  lastRender: ViewerRender | undefined;
  /** An element to show once its array is loaded ("Open in Tensor Viewer" from a Problems entry). */
  reveal: ViewerElement | undefined;
  /** The webviews showing this document (one per editor). */
  readonly posts = new Set<(m: ToViewer) => void>();
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {
    this.worker?.dispose();
    this.worker = undefined;
  }
}

export class TensorViewerProvider implements vscode.CustomReadonlyEditorProvider<TensorDocument>, vscode.Disposable {
  /** Arrays asked for by "Open in Tensor Viewer" with a key, picked up when the editor opens. */
  private readonly pendingKeys = new Map<string, string>();
  /** Elements asked for with the file, picked up when the editor opens. */
  private readonly pendingReveals = new Map<string, ViewerElement>();
  private readonly documents = new Set<TensorDocument>();
  private readonly renderListeners = new Set<(uri: vscode.Uri, r: ViewerRender) => void>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly workerScript: string,
    private readonly info: TensorInfoService,
    private readonly problems: TensorProblems,
  ) {}

  /** Options of the custom editor's registration (extension.ts). */
  static readonly options = { supportsMultipleEditorsPerDocument: true, webviewOptions: { retainContextWhenHidden: false } } as const;

  /** "Open in Tensor Viewer": a file (and an npz member or safetensors tensor to show first). */
  async openCommand(target?: vscode.Uri | string, key?: string | null, index?: unknown): Promise<void> {
    const uri = typeof target === 'string' ? vscode.Uri.parse(target) : target ?? vscode.window.activeTextEditor?.document.uri;
    if (!uri) return;
    const element = index === undefined || index === null ? undefined : { ...(typeof key === 'string' ? { key } : {}), index };
    // Arguments may come from a command link (a Problems entry): only well-formed ones are used.
    if (element !== undefined && !isViewerElement(element)) return;
    if (typeof key === 'string') this.pendingKeys.set(uri.toString(), key);
    const open = [...this.documents].find((d) => d.uri.toString() === uri.toString() && d.posts.size > 0);
    if (element) {
      if (open) {
        if (element.key !== undefined && element.key !== open.key) {
          open.reveal = element;
          open.key = element.key;
          const post = (m: ToViewer) => open.posts.forEach((p) => p(m));
          await this.sendInfo(open, post);
        } else for (const p of open.posts) p({ type: 'reveal', element });
      } else this.pendingReveals.set(uri.toString(), element);
    }
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEWER_VIEW_TYPE);
  }

  async openCustomDocument(uri: vscode.Uri): Promise<TensorDocument> {
    const doc = new TensorDocument(uri);
    doc.key = this.pendingKeys.get(uri.toString());
    this.pendingKeys.delete(uri.toString());
    // Asked for (a command link), else the file's first located problem (a Problems entry's
    // click opens the file in its default editor without saying which problem).
    doc.reveal = this.pendingReveals.get(uri.toString()) ?? this.problems.firstLocation(uri.fsPath);
    this.pendingReveals.delete(uri.toString());
    if (doc.reveal?.key !== undefined) doc.key = doc.reveal.key;
    this.documents.add(doc);
    return doc;
  }

  async resolveCustomEditor(doc: TensorDocument, panel: vscode.WebviewPanel): Promise<void> {
    panel.webview.options = webviewOptions(this.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, this.extensionUri, 'viewer', 'Tensor Viewer');
    const post = (m: ToViewer) => void panel.webview.postMessage(m);
    doc.posts.add(post);
    const subs: vscode.Disposable[] = [
      panel.webview.onDidReceiveMessage(async (raw) => {
        const msg = parseFromViewer(raw);
        if (!msg) {
          log().warn(`tensor viewer: dropped a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
          return;
        }
        try {
          await this.handle(doc, msg, post);
        } catch (e) {
          post({ type: 'failed', message: (e as Error).message });
        }
      }),
      // Reload when the file changes on disk.
      this.info.onDidChange((uris) => {
        if (uris.some((u) => u.fsPath === doc.uri.fsPath)) {
          doc.worker?.dispose();
          doc.worker = undefined;
          void this.sendInfo(doc, post);
        }
      }),
    ];
    panel.onDidDispose(() => {
      subs.forEach((d) => d.dispose());
      doc.posts.delete(post);
      this.documents.delete(doc);
      if (![...this.documents].some((d) => d.uri.fsPath === doc.uri.fsPath)) void this.problems.unwatch(doc.uri.fsPath);
    });
    void this.problems.checkFile(doc.uri.fsPath);
  }

  private async handle(doc: TensorDocument, msg: FromViewer, post: (m: ToViewer) => void): Promise<void> {
    switch (msg.type) {
      case 'ready':
        await this.sendInfo(doc, post);
        return;
      case 'openAnyway':
        doc.forceOpen = true;
        await this.load(doc, post);
        return;
      case 'selectArray':
        doc.key = msg.key;
        await this.load(doc, post);
        return;
      case 'requestPlane': {
        if (!doc.worker) return;
        const p = await doc.worker.request('plane', {
          type: 'plane',
          rowAxis: msg.rowAxis,
          colAxis: msg.colAxis,
          index: msg.index,
          bins: 64,
          ...(msg.clip ? { clip: msg.clip } : {}),
          ...(msg.maxAxis !== undefined ? { maxAxis: msg.maxAxis } : {}),
          ...(msg.sigmoid ? { sigmoid: true } : {}),
        });
        post({ type: 'plane', requestId: msg.requestId, rows: p.rows, cols: p.cols, data: p.data.buffer as ArrayBuffer, histogram: p.histogram.buffer as ArrayBuffer, lo: p.lo, hi: p.hi });
        return;
      }
      case 'findNext': {
        if (!doc.worker) return;
        // In the document's worker: the search reads every plane, never the host's main thread.
        const r = await doc.worker.request('nextPlane', {
          type: 'nextPlane',
          rowAxis: msg.rowAxis,
          colAxis: msg.colAxis,
          index: msg.index,
          threshold: msg.threshold,
          direction: msg.direction,
          ...(msg.maxAxis !== undefined ? { maxAxis: msg.maxAxis } : {}),
          ...(msg.sigmoid ? { sigmoid: true } : {}),
        });
        post({ type: 'nextPlane', requestId: msg.requestId, ...(r.found ? { found: { index: r.found.index, max: r.found.max, wrapped: r.found.wrapped } } : {}) });
        return;
      }
      case 'rendered':
        doc.lastRender = msg;
        for (const l of [...this.renderListeners]) l(doc.uri, msg);
        return;
    }
  }

  private async sendInfo(doc: TensorDocument, post: (m: ToViewer) => void): Promise<void> {
    const h = await this.info.headers(doc.uri.fsPath);
    const cap = settings.maxFileBytes();
    const tooLarge = h.size > cap && !doc.forceOpen;
    const stem = path.basename(doc.uri.fsPath).replace(/\.[^.]+$/, '');
    const arrays = (h.arrays ?? []).map((a) => {
      const naming = axisNaming(a.key ?? stem, a.header.shape);
      return {
        ...(a.key !== undefined ? { key: a.key } : {}),
        dtype: a.header.dtype,
        shape: a.header.shape,
        fortranOrder: a.header.fortranOrder,
        dataBytes: a.header.dataBytes,
        axes: naming.names,
        ...(naming.role ? { role: naming.role } : {}),
        logits: naming.logits,
      };
    });
    if (doc.key === undefined || !arrays.some((a) => a.key === doc.key)) doc.key = arrays[0]?.key;
    post({
      type: 'info',
      file: path.basename(doc.uri.fsPath),
      size: h.size,
      arrays,
      ...(doc.key !== undefined ? { selected: doc.key } : {}),
      tooLarge,
      capMB: cap / 1024 ** 2,
      ...(h.error ? { error: h.error } : {}),
      colormap: settings.colormap(),
    });
    if (!h.error && !tooLarge && arrays.length) await this.load(doc, post);
  }

  private async load(doc: TensorDocument, post: (m: ToViewer) => void): Promise<void> {
    doc.worker?.dispose();
    doc.worker = new WorkerClient(this.workerScript);
    const r = await doc.worker.request('tensor', { type: 'openTensor', path: doc.uri.fsPath, ...(doc.key !== undefined ? { key: doc.key } : {}), limits: settings.readLimits() });
    post({ type: 'array', ...(doc.key !== undefined ? { key: doc.key } : {}), stats: r.array.stats });
    const reveal = doc.reveal;
    if (reveal && reveal.key === doc.key && reveal.index.length === r.array.header.shape.length && reveal.index.every((i, a) => i < r.array.header.shape[a]!)) post({ type: 'reveal', element: reveal });
    doc.reveal = undefined;
  }

  /** For tests: the next render report of the viewer of `uri` (or the last one). */
  waitForRender(uri: vscode.Uri, timeoutMs = 30000, predicate: (r: ViewerRender) => boolean = () => true): Promise<ViewerRender> {
    const last = [...this.documents].find((d) => d.uri.fsPath === uri.fsPath)?.lastRender;
    if (last && predicate(last)) return Promise.resolve(last);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.renderListeners.delete(l);
        reject(new Error(`the tensor viewer of ${uri.fsPath} did not report a render within ${timeoutMs} ms`));
      }, timeoutMs);
      const l = (u: vscode.Uri, r: ViewerRender) => {
        if (u.fsPath !== uri.fsPath || !predicate(r)) return;
        clearTimeout(timer);
        this.renderListeners.delete(l);
        resolve(r);
      };
      this.renderListeners.add(l);
    });
  }

  dispose(): void {
    for (const d of this.documents) d.dispose();
    this.documents.clear();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

