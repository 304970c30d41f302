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
import { isRunSpec, type RunSpec } from './protocol/panel';
import { boundRuns, freshRuns, parseRuns, STATE_KEYS, type FileStamp, type PersistedRun } from './persist';
import { stampOf } from './problems';
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

  /** The input files of each run as they were when it was computed (what a restore checks). */
  private readonly stamps = new WeakMap<Run, { file: string; stamp: FileStamp }[]>();
  /** Settles once the last window's runs were read back. */
  readonly restored: Promise<void>;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: SidebarHost,
    private readonly memento?: vscode.Memento,
  ) {
    this.restored = this.restore();
  }

  /** A new result (keeps at most 50 runs). */
  add(report: LossReport, spec: RunSpec, label: string): Run {
    const run = { id: this.nextId++, report, spec, label, time: new Date() };
    this.runs.unshift(run);
    this.runs.length = Math.min(this.runs.length, 50);
    this.currentId = run.id;
    this.postState();
    void this.stampAndSave(run);
    return run;
  }

  private async stampAndSave(run: Run): Promise<void> {
    const files = [...new Set(run.report.inputs.roles.map((r) => r.file))];
    const stamps: { file: string; stamp: FileStamp }[] = [];
    for (const f of files) {
      const stamp = await stampOf(f);
      // A run whose inputs are gone (a notebook's transfer files) cannot be checked: not kept.
      if (!stamp) return;
      stamps.push({ file: f, stamp });
    }
    this.stamps.set(run, stamps);
    await this.save();
  }

  /** The runs (newest first, the shown one's place kept) to workspaceState, bounded. */
  async save(): Promise<void> {
    if (!this.memento) return;
    const runs: PersistedRun[] = [];
    for (const r of this.runs) {
      const stamps = this.stamps.get(r);
      if (stamps) runs.push({ label: r.label, time: r.time.getTime(), spec: r.spec, report: r.report, stamps });
    }
    const kept = boundRuns(runs);
    const current = this.runs.find((r) => r.id === this.currentId);
    const currentIndex = current ? kept.findIndex((p) => p.report === current.report) : -1;
    await this.memento.update(STATE_KEYS.runs, { runs: kept, current: currentIndex });
  }

  /** The last window's runs whose inputs did not change; the one it showed is shown again. */
  private async restore(): Promise<void> {
    if (!this.memento) return;
    const raw = this.memento.get<{ runs?: unknown; current?: unknown }>(STATE_KEYS.runs);
    const parsed = parseRuns(raw?.runs, isRunSpec);
    const fresh = await freshRuns(parsed, stampOf);
    if (!fresh.length || this.runs.length) return;
    const shown = typeof raw?.current === 'number' ? parsed[raw.current] : undefined;
    for (const p of fresh) {
      const run: Run = { id: this.nextId++, report: p.report as LossReport, spec: p.spec as RunSpec, label: p.label, time: new Date(p.time) };
      this.stamps.set(run, p.stamps);
      this.runs.push(run);
      if (p === shown) this.currentId = run.id;
    }
    this.currentId ??= this.runs[0]?.id;
    this.postState();
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
    void this.save();
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
