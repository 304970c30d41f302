/**
 * Explorer decorations of tensor files: a tooltip with dtype, shape and NaN/Inf counts; a "!"
 * badge in the error colour for files that cannot be read or hold NaN/Inf. Headers first (cheap),
 * statistics later in the background for files under the size cap; refreshed when a file changes.
 */
import * as vscode from 'vscode';
import { describeArray, fileProblems, TensorInfoService } from './tensorInfo';

export class TensorDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri[]>();
  readonly onDidChangeFileDecorations = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(private readonly info: TensorInfoService) {
    this.disposables.push(
      info.onDidChange((uris) => this.changed.fire(uris)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cornernet.decorations.enabled') || e.affectsConfiguration('cornernet.maxFileSizeMB')) this.changed.fire([]);
      }),
    );
  }

  async provideFileDecoration(uri: vscode.Uri): Promise<vscode.FileDecoration | undefined> {
    if (uri.scheme !== 'file' || !TensorInfoService.isTensorFile(uri.fsPath)) return undefined;
    if (!vscode.workspace.getConfiguration('cornernet').get('decorations.enabled', true)) return undefined;
    const h = await this.info.headers(uri.fsPath);
    if (h.error) return { badge: '!', color: new vscode.ThemeColor('list.errorForeground'), tooltip: `Unreadable: ${h.error}` };
    const stats = await this.info.cachedStats(uri.fsPath);
    if (!stats) this.info.warm(uri);
    const problems = fileProblems(h, stats);
    const lines = (h.arrays ?? []).slice(0, 6).map((a) => {
      const s = stats?.arrays?.find((x) => x.key === a.key)?.stats;
      const nf = s ? ` · NaN ${s.nan} · Inf ${s.posInf + s.negInf}` : '';
      return `${describeArray(a)}${nf}`;
    });
    if ((h.arrays?.length ?? 0) > 6) lines.push(`… ${h.arrays!.length - 6} more arrays`);
    if (problems.length) {
      return { badge: '!', color: new vscode.ThemeColor('list.errorForeground'), tooltip: [...lines, ...problems.map((p) => p.message)].join('\n') };
    }
    return { tooltip: lines.join('\n') };
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
