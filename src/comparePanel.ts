/**
 * "Compare Loss of Two Batches" (cornernet.compareBatches): two batch folders selected in the
 * explorer (or picked), scored in the run worker, shown side by side in their own webview panel:
 * the total and terms, per stack, image and class, the planes and objects that changed most
 * (tables sorted by change), and difference heatmaps (a diverging colormap) of any plane.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LossReport } from './cornernet/model/report';
import { COMPARE_VIEW_TYPE } from './ids';
import { log } from './log';
import { parseFromCompare, type CompareRendered, type CompareSide, type ToCompare } from './protocol/compare';
import { RunWorkerClient, RunWorkerError, settingsComputeOptions } from './runWorkerClient';
import { webviewHtml, webviewOptions } from './webviewHtml';

export class ComparePanels implements vscode.Disposable {
  private readonly panels = new Set<ComparePanel>();
  last: ComparePanel | undefined;

  constructor(private readonly extensionUri: vscode.Uri) {}

  /** From the explorer: (clicked, selected); exactly two selected. From the palette: two pickers. */
  async command(a?: unknown, b?: unknown): Promise<ComparePanel | undefined> {
    let paths: string[] | undefined;
    if (Array.isArray(b) && b.every((u) => u instanceof vscode.Uri)) paths = (b as vscode.Uri[]).map((u) => u.fsPath);
    else if (Array.isArray(a) && a.every((u) => u instanceof vscode.Uri || typeof u === 'string')) paths = a.map((u) => (u instanceof vscode.Uri ? u.fsPath : u));
    else if (a instanceof vscode.Uri) paths = [a.fsPath];
    if (!paths || paths.length < 2) {
      const pick = async (which: string) =>
        (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: true, canSelectMany: false, openLabel: `Use as ${which}`, title: `Compare Loss: batch ${which}` }))?.[0]?.fsPath;
      const first = paths?.[0] ?? (await pick('A'));
      if (!first) return undefined;
      const second = await pick('B');
      if (!second) return undefined;
      paths = [first, second];
    }
    if (paths.length !== 2) {
      void vscode.window.showErrorMessage(`CornerNet Inspector: Compare needs exactly two batches selected (${paths.length} are).`);
      return undefined;
    }
    const panel = new ComparePanel(this.extensionUri, paths[0]!, paths[1]!, () => {
      this.panels.delete(panel);
      if (this.last === panel) this.last = undefined;
    });
    this.panels.add(panel);
    this.last = panel;
    await panel.compute();
    return panel;
  }

  dispose(): void {
    for (const p of [...this.panels]) p.dispose();
  }
}

export class ComparePanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly worker: RunWorkerClient;
  private readonly disposables: vscode.Disposable[] = [];
  private result: Extract<ToCompare, { type: 'result' }> | undefined;
  private failure: string | undefined;
  private ready = false;
  private disposed = false;
  /** What the webview last said it drew (its chart or tables). */
  lastRendered: CompareRendered | undefined;

  constructor(
    extensionUri: vscode.Uri,
    readonly a: string,
    readonly b: string,
    private readonly onDispose: () => void,
  ) {
    this.worker = new RunWorkerClient(extensionUri);
    this.panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, `Compare: ${path.basename(a)} vs ${path.basename(b)}`, vscode.ViewColumn.Active, {
      ...webviewOptions(extensionUri),
      retainContextWhenHidden: true,
    });
    this.panel.webview.html = webviewHtml(this.panel.webview, extensionUri, 'compare', 'CornerNet Loss Comparison');
    this.disposables.push(
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((raw) => void this.receive(raw)),
    );
  }

  /** Scores both batches (progress in a notification); errors are shown and kept in the panel. */
  async compute(): Promise<void> {
    const label = `${path.basename(this.a)} and ${path.basename(this.b)}`;
    try {
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `CornerNet: comparing ${label}` }, () =>
        this.worker.request('ab', { type: 'abOpen', a: this.a, b: this.b, options: settingsComputeOptions() }),
      );
      this.result = { type: 'result', a: sideOf(r.a, this.a), b: sideOf(r.b, this.b), diff: r.diff };
      this.failure = undefined;
    } catch (e) {
      if (this.disposed) return;
      this.failure = e instanceof RunWorkerError ? e.failure.message : (e as Error).message;
      log().error(`compare ${this.a} vs ${this.b}: ${this.failure}`);
      void vscode.window.showErrorMessage(`CornerNet Inspector: ${this.failure}`);
    }
    this.post();
  }

  private async receive(raw: unknown): Promise<void> {
    const msg = parseFromCompare(raw);
    if (!msg) {
      log().warn(`compare: dropped a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.post();
        return;
      case 'plane': {
        if (!this.result) return;
        try {
          const { plane: p } = await this.worker.request('abPlane', { type: 'abPlane', ...msg.plane });
          const buf = (x: Float32Array) => x.buffer as ArrayBuffer;
          const out: ToCompare = {
            type: 'plane',
            plane: {
              corner: p.corner,
              stack: p.stack,
              image: p.image,
              class: p.class,
              width: p.width,
              height: p.height,
              aProb: buf(p.a.prob),
              aLoss: buf(p.a.loss),
              bProb: buf(p.b.prob),
              bLoss: buf(p.b.loss),
              diff: buf(p.diff),
              target: buf(p.a.target),
              aPlaneLoss: p.a.planeLoss,
              bPlaneLoss: p.b.planeLoss,
            },
          };
          void this.panel.webview.postMessage(out);
        } catch (e) {
          const message = e instanceof RunWorkerError ? e.failure.message : (e as Error).message;
          void this.panel.webview.postMessage({ type: 'error', message } satisfies ToCompare);
        }
        return;
      }
      case 'rendered':
        this.lastRendered = msg.rendered;
        return;
    }
  }

  private post(): void {
    if (this.disposed || !this.ready) return;
    if (this.result) void this.panel.webview.postMessage(this.result);
    else if (this.failure) void this.panel.webview.postMessage({ type: 'error', message: this.failure } satisfies ToCompare);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.worker.dispose();
    this.panel.dispose();
    this.onDispose();
  }
}

function sideOf(r: LossReport, input: string): CompareSide {
  return {
    label: input,
    convention: r.convention,
    heads: r.heads,
    total: r.total,
    terms: r.terms,
    sizes: r.sizes,
    nstack: r.nstack,
    warnings: [...new Set(r.warnings.map((w) => w.code))],
  };
}
