/**
 * The Problems panel ("CornerNet Inspector"): diagnostics on tensor files from the last
 * computation (its warnings and its error, on the files they concern) and from the files' own
 * content for files opened in the tensor viewer (unreadable, NaN/Inf). A new computation replaces
 * the computation's diagnostics; a changed file loses its stale ones and is checked again.
 *
 * A problem at an element (the first NaN/Inf) carries it: the entry's code is a link that opens
 * the tensor viewer at that element, and the viewer opened on the file otherwise (a click on the
 * entry, with the viewer as the default editor) starts there too.
 *
 * Both kinds survive a window reload (workspaceState, see persist.ts), unless the file changed.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import type { LossReport } from './cornernet/model/report';
import { OPEN_VIEWER_COMMAND } from './ids';
import { freshOnly, parseProblems, PERSIST_LIMITS, STATE_KEYS, type FileStamp, type PersistedDiagnostic, type PersistedElement, type PersistedFileProblems } from './persist';
import { fileProblems, TensorInfoService } from './tensorInfo';

const SOURCE = 'CornerNet Inspector';
const TOP = new vscode.Range(0, 0, 0, 0);

type Rec = PersistedDiagnostic;

export async function stampOf(file: string): Promise<FileStamp | undefined> {
  const st = await fsp.stat(file).catch(() => undefined);
  return st?.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : undefined;
}

/** A command link that opens the viewer at an element (a Problems entry's code). */
export function elementLink(file: string, element: PersistedElement): vscode.Uri {
  const args = [vscode.Uri.file(file).toString(), element.key ?? null, element.index];
  return vscode.Uri.parse(`command:${OPEN_VIEWER_COMMAND}?${encodeURIComponent(JSON.stringify(args))}`);
}

export class TensorProblems implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('cornernet');
  private readonly fromRun = new Map<string, Rec[]>();
  private readonly fromFile = new Map<string, Rec[]>();
  /** Files whose own content is watched (opened in the viewer). */
  private readonly watched = new Set<string>();
  /** When the computation behind `fromRun` started reading (ms since epoch). */
  private runStartedAt = 0;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** Files of entries no viewer watches (restored from the last window, or closed), as they were then. */
  private readonly restoredStamps = new Map<string, FileStamp>();
  private readonly disposables: vscode.Disposable[] = [this.collection];
  /** Settles once what the last window left was read back (tests wait on it). */
  readonly restored: Promise<void>;

  constructor(
    private readonly info: TensorInfoService,
    private readonly state?: vscode.Memento,
  ) {
    this.disposables.push(
      info.onDidChange(async (uris) => {
        for (const u of uris) {
          // File events arrive late: a write the computation already read is no reason to drop
          // its diagnostics, only a write after it started.
          const st = await fsp.stat(u.fsPath).catch(() => undefined);
          if (this.fromRun.has(u.fsPath) && (!st || st.mtimeMs > this.runStartedAt)) {
            this.fromRun.delete(u.fsPath);
            this.publish(u.fsPath);
            this.scheduleSave();
          }
          if (this.watched.has(u.fsPath)) void this.checkFile(u.fsPath);
          else if (this.fromFile.has(u.fsPath)) {
            // Restored from the last window, not watched now: stale once the file changed (the
            // event also says that statistics arrived, which changes nothing).
            const was = this.restoredStamps.get(u.fsPath);
            const now = st?.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : undefined;
            if (!was || !now || was.size !== now.size || was.mtimeMs !== now.mtimeMs) {
              this.fromFile.delete(u.fsPath);
              this.restoredStamps.delete(u.fsPath);
              this.publish(u.fsPath);
              this.scheduleSave();
            }
          }
        }
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cornernet.diagnostics.enabled')) this.publishAll();
      }),
    );
    this.restored = this.restore();
  }

  private get enabled(): boolean {
    return vscode.workspace.getConfiguration('cornernet').get('diagnostics.enabled', true);
  }

  /** After a computation: its warnings on their files (and clears the previous computation's). */
  setReport(report: LossReport, startedAt: number): void {
    this.clearRun();
    this.runStartedAt = startedAt;
    for (const w of report.warnings) {
      for (const f of w.files ?? []) this.addRun(f, { severity: 'warning', message: `[${w.code}] ${w.message}`, code: w.code });
    }
    this.publishAll();
    this.scheduleSave();
  }

  /** After a failed computation: the error on the files it names (subject "file", "role (file, file)"). */
  setError(message: string, subject: string | undefined, inputs: string[], startedAt: number): void {
    this.clearRun();
    this.runStartedAt = startedAt;
    const files = filesIn(subject).filter((f) => existsSync(f));
    for (const f of files.length ? files : inputs.filter((p) => TensorInfoService.isTensorFile(p))) {
      this.addRun(f, { severity: 'error', message, code: 'error' });
    }
    this.publishAll();
    this.scheduleSave();
  }

  /** Watches a file's own content (the tensor viewer opened it). */
  async checkFile(file: string): Promise<void> {
    this.watched.add(file);
    const h = await this.info.headers(file);
    const stats = h.error ? undefined : await this.info.stats(file);
    const recs: Rec[] = fileProblems(h, stats).map((p) => ({
      severity: p.severity,
      message: p.message,
      code: p.severity === 'error' ? 'unreadable' : 'non-finite',
      ...(p.element ? { element: p.element } : {}),
    }));
    this.restoredStamps.delete(file);
    if (recs.length) this.fromFile.set(file, recs);
    else this.fromFile.delete(file);
    this.publish(file);
    this.scheduleSave();
  }

  /**
   * The viewer of a file closed: its problems stay listed (a click on one opens the viewer at its
   * element again) until the file changes.
   */
  async unwatch(file: string): Promise<void> {
    this.watched.delete(file);
    if (!this.fromFile.has(file)) return;
    const stamp = await stampOf(file);
    if (stamp && !this.watched.has(file)) this.restoredStamps.set(file, stamp);
    else if (!stamp && this.fromFile.delete(file)) {
      this.publish(file);
      this.scheduleSave();
    }
  }

  /** The element of the file's first problem that has one (where the viewer opens). */
  firstLocation(file: string): (PersistedElement & { label: string }) | undefined {
    for (const r of [...(this.fromFile.get(file) ?? []), ...(this.fromRun.get(file) ?? [])]) if (r.element) return { ...r.element, label: r.message };
    return undefined;
  }

  private addRun(file: string, rec: Rec): void {
    const list = this.fromRun.get(file) ?? [];
    list.push(rec);
    this.fromRun.set(file, list);
  }

  private clearRun(): void {
    const files = [...this.fromRun.keys()];
    this.fromRun.clear();
    for (const f of files) this.publish(f);
  }

  private diagnostic(file: string, r: Rec): vscode.Diagnostic {
    const d = new vscode.Diagnostic(TOP, r.message, r.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
    d.source = SOURCE;
    d.code = r.element ? { value: r.code, target: elementLink(file, r.element) } : r.code;
    return d;
  }

  private publish(file: string): void {
    const all = this.enabled ? [...(this.fromRun.get(file) ?? []), ...(this.fromFile.get(file) ?? [])].map((r) => this.diagnostic(file, r)) : [];
    this.collection.set(vscode.Uri.file(file), all.length ? all : undefined);
  }

  private publishAll(): void {
    if (!this.enabled) {
      this.collection.clear();
      return;
    }
    for (const f of new Set([...this.fromRun.keys(), ...this.fromFile.keys()])) this.publish(f);
  }

  /** What the last window left, for files that did not change since. */
  private async restore(): Promise<void> {
    if (!this.state) return;
    const entries = await freshOnly(parseProblems(this.state.get(STATE_KEYS.problems)), stampOf);
    for (const e of entries) {
      // Anything this window found already is newer.
      const map = e.from === 'run' ? this.fromRun : this.fromFile;
      if (!map.has(e.file)) {
        map.set(e.file, e.diagnostics);
        if (e.from === 'file') this.restoredStamps.set(e.file, e.stamp);
      }
    }
    // The restored files are as they were now: only a later write makes their entries stale.
    if (entries.some((e) => e.from === 'run') && this.runStartedAt === 0) this.runStartedAt = Date.now();
    this.publishAll();
  }

  private scheduleSave(): void {
    if (!this.state) return;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => void this.save(), 300);
  }

  /** Writes the current entries (with their files' size and mtime now) to workspaceState. */
  async save(): Promise<void> {
    if (!this.state) return;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const out: PersistedFileProblems[] = [];
    for (const [from, map] of [['run', this.fromRun], ['file', this.fromFile]] as const) {
      for (const [file, recs] of map) {
        if (out.length >= PERSIST_LIMITS.files) break;
        const stamp = await stampOf(file);
        if (stamp) out.push({ file, stamp, from, diagnostics: recs.slice(0, PERSIST_LIMITS.diagnosticsPerFile) });
      }
    }
    await this.state.update(STATE_KEYS.problems, out);
  }

  dispose(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      void this.save();
    }
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** File paths in an error subject: "path", "path:member", "role (path, path)". */
export function filesIn(subject: string | undefined): string[] {
  if (!subject) return [];
  const inner = /\(([^()]+)\)\s*$/.exec(subject);
  const parts = inner ? inner[1]!.split(', ') : [subject];
  return parts.map((p) => p.replace(/:(?!\\)[^\\/:]*$/, (m) => (/\.(npz|safetensors)$/i.test(p.slice(0, p.length - m.length)) ? '' : m)));
}
