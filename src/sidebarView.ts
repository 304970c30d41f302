/**
 * The "CornerNet" side view (activity bar): the latest loss terms and warnings, the runs since the
 * window opened (click: show again in the results panel), and the tensors of the current inputs
 * with role, shape, dtype and NaN/Inf counts (click: open in the tensor viewer). Its webview is
 * torn down when hidden; the state is posted again whenever it becomes visible.
 */
import { CONVENTIONS } from './cornernet/model/conventions';
import * as vscode from 'vscode';
import type { LossReport } from './cornernet/model/report';
import { log } from './log';
import { parseFromSidebar, type SidebarState, type ToSidebar } from './protocol/sidebar';
import type { RunSpec } from './protocol/panel';
import { webviewHtml, webviewOptions } from './webviewHtml';

export interface Run {
  id: number;
  report: LossReport;
  spec: RunSpec;
  label: string;
  time: Date;
}

export interface SidebarHost {
  reopen(run: Run): void;
  openTensor(file: string, key?: string): Promise<void>;
}

export class SidebarView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly runs: Run[] = [];
  private nextId = 1;
  /** The run the results panel shows now (its tensors are listed). */
  private currentId: number | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: SidebarHost,
  ) {}

  /** A new result (keeps at most 50 runs). */
  add(report: LossReport, spec: RunSpec, label: string): Run {
    const run = { id: this.nextId++, report, spec, label, time: new Date() };
    this.runs.unshift(run);
    this.runs.length = Math.min(this.runs.length, 50);
    this.currentId = run.id;
    this.postState();
    return run;
  }

  get history(): readonly Run[] {
    return this.runs;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, 'sidebar', 'CornerNet');
    this.disposables.push(
      view.webview.onDidReceiveMessage((raw) => {
        const msg = parseFromSidebar(raw);
        if (!msg) {
          log().warn(`side view: dropped a malformed message ${JSON.stringify(raw)?.slice(0, 200)}`);
          return;
        }
        switch (msg.type) {
          case 'ready':
            this.postState();
            return;
          case 'compute':
            void vscode.commands.executeCommand('cornernet.computeLoss');
            return;
          case 'openRun':
            this.reopen(msg.id);
            return;
          case 'openTensor':
            // Only files of the listed inputs: the webview cannot make us open anything else.
            if (this.state().tensors.some((t) => t.file === msg.file && t.key === msg.key && t.variable === undefined)) void this.host.openTensor(msg.file, msg.key);
            return;
        }
      }),
      view.onDidChangeVisibility(() => {
        if (view.visible) this.postState();
      }),
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
      }),
    );
  }

  /** Shows a listed run in the results panel; its tensors become the listed ones. */
  reopen(id: number): boolean {
    const run = this.runs.find((r) => r.id === id);
    if (!run) return false;
    this.currentId = run.id;
    this.host.reopen(run);
    this.postState();
    return true;
  }

  state(): SidebarState {
    const latest = this.runs[0];
    const current = this.runs.find((r) => r.id === this.currentId) ?? latest;
    // The loss shown is the run shown in the results panel, so that it and the tensor list below
    // describe the same run (the newest, unless an older one was clicked).
    const l = current?.report;
    const r = current?.report;
    return {
      ...(current && l
        ? {
            latest: {
              runId: current.id,
              label: current.label,
              total: l.total,
              convention: CONVENTIONS[l.convention ?? 'cornernet'].label,
              terms: sidebarTerms(l),
              warnings: l.warnings.map((w) => ({ code: w.code, message: w.message })),
            },
          }
        : {}),
      currentRunId: current?.id,
      runs: this.runs.map((x) => ({ id: x.id, label: x.label, time: x.time.toLocaleTimeString(), total: x.report.total, warnings: x.report.warnings.length })),
      tensors: (r?.inputs.roles ?? []).map((u) => ({
        role: u.role,
        file: u.file,
        label: u.variable !== undefined ? `${vscode.workspace.asRelativePath(u.file)}: ${u.variable}` : vscode.workspace.asRelativePath(u.file),
        ...(u.key !== undefined ? { key: u.key } : {}),
        ...(u.variable !== undefined ? { variable: u.variable } : {}),
        shape: u.shape,
        dtype: u.dtype,
        ...(u.form ? { form: u.form } : {}),
        purpose: u.purpose,
        nonFinite: u.nonFinite ?? null,
      })),
    };
  }

  private postState(): void {
    const msg: ToSidebar = { type: 'state', state: this.state() };
    if (this.view) void this.view.webview.postMessage(msg);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/**
 * Terms that add up to the total: CornerNet's contributions (weighted, / stacks), mmdetection's
 * loss-dict entries, CenterNet's weighted terms.
 */
function sidebarTerms(r: LossReport): [string, number | null][] {
  switch (r.convention ?? 'cornernet') {
    case 'cornernet':
      return [
        ['focal', r.contribution.focal],
        ['pull', r.contribution.pull],
        ['push', r.contribution.push],
        ['regr', r.contribution.regr],
      ];
    case 'centernet': {
      const w = r.weights;
      const t = (k: string, wk: string) => (r.terms[k] === null || r.terms[k] === undefined ? null : (w[wk] ?? 1) * r.terms[k]!);
      return [
        ['hm', t('hm_loss', 'hm')],
        ['wh', t('wh_loss', 'wh')],
        ['off', t('off_loss', 'off')],
      ];
    }
    default:
      return Object.entries(r.terms).filter(([k]) => k !== 'loss') as [string, number | null][];
  }
}
