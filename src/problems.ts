/**
 * The Problems panel ("CornerNet Inspector"): diagnostics on tensor files from the last
 * computation (its warnings and its error, on the files they concern) and from the files' own
 * content for files opened in the tensor viewer (unreadable, NaN/Inf). A new computation replaces
 * the computation's diagnostics; a changed file loses its stale ones and is checked again.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import type { LossReport } from './cornernet/model/report';
import { fileProblems, TensorInfoService } from './tensorInfo';

const SOURCE = 'CornerNet Inspector';
const TOP = new vscode.Range(0, 0, 0, 0);

export class TensorProblems implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('cornernet');
  private readonly fromRun = new Map<string, vscode.Diagnostic[]>();
  private readonly fromFile = new Map<string, vscode.Diagnostic[]>();
  /** Files whose own content is watched (opened in the viewer). */
  private readonly watched = new Set<string>();
  /** When the computation behind `fromRun` started reading (ms since epoch). */
  private runStartedAt = 0;
  private readonly disposables: vscode.Disposable[] = [this.collection];

  constructor(private readonly info: TensorInfoService) {
    this.disposables.push(
      info.onDidChange(async (uris) => {
        for (const u of uris) {
          // File events arrive late: a write the computation already read is no reason to drop
          // its diagnostics, only a write after it started.
          const st = await fsp.stat(u.fsPath).catch(() => undefined);
          if (this.fromRun.has(u.fsPath) && (!st || st.mtimeMs > this.runStartedAt)) {
            this.fromRun.delete(u.fsPath);
            this.publish(u.fsPath);
          }
          if (this.watched.has(u.fsPath)) void this.checkFile(u.fsPath);
        }
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cornernet.diagnostics.enabled')) this.publishAll();
      }),
    );
  }

  private get enabled(): boolean {
    return vscode.workspace.getConfiguration('cornernet').get('diagnostics.enabled', true);
  }

  /** After a computation: its warnings on their files (and clears the previous computation's). */
  setReport(report: LossReport, startedAt: number): void {
    this.clearRun();
    this.runStartedAt = startedAt;
    for (const w of report.warnings) {
      for (const f of w.files ?? []) this.addRun(f, vscode.DiagnosticSeverity.Warning, `[${w.code}] ${w.message}`, w.code);
    }
    this.publishAll();
  }

  /** After a failed computation: the error on the files it names (subject "file", "role (file, file)"). */
  setError(message: string, subject: string | undefined, inputs: string[], startedAt: number): void {
    this.clearRun();
    this.runStartedAt = startedAt;
    const files = filesIn(subject).filter((f) => existsSync(f));
    for (const f of files.length ? files : inputs.filter((p) => TensorInfoService.isTensorFile(p))) {
      this.addRun(f, vscode.DiagnosticSeverity.Error, message, 'error');
    }
    this.publishAll();
  }

  /** Watches a file's own content (the tensor viewer opened it). */
  async checkFile(file: string): Promise<void> {
    this.watched.add(file);
    const h = await this.info.headers(file);
    const stats = h.error ? undefined : await this.info.stats(file);
    const diags = fileProblems(h, stats).map((p) => {
      const d = new vscode.Diagnostic(TOP, p.message, p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      d.source = SOURCE;
      d.code = p.severity === 'error' ? 'unreadable' : 'non-finite';
      return d;
    });
    if (diags.length) this.fromFile.set(file, diags);
    else this.fromFile.delete(file);
    this.publish(file);
  }

  unwatch(file: string): void {
    this.watched.delete(file);
    if (this.fromFile.delete(file)) this.publish(file);
  }

  private addRun(file: string, severity: vscode.DiagnosticSeverity, message: string, code: string): void {
    const d = new vscode.Diagnostic(TOP, message, severity);
    d.source = SOURCE;
    d.code = code;
    const list = this.fromRun.get(file) ?? [];
    list.push(d);
    this.fromRun.set(file, list);
  }

  private clearRun(): void {
    const files = [...this.fromRun.keys()];
    this.fromRun.clear();
    for (const f of files) this.publish(f);
  }

  private publish(file: string): void {
    const all = this.enabled ? [...(this.fromRun.get(file) ?? []), ...(this.fromFile.get(file) ?? [])] : [];
    this.collection.set(vscode.Uri.file(file), all.length ? all : undefined);
  }

  private publishAll(): void {
    if (!this.enabled) {
      this.collection.clear();
      return;
    }
    for (const f of new Set([...this.fromRun.keys(), ...this.fromFile.keys()])) this.publish(f);
  }

  dispose(): void {
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
