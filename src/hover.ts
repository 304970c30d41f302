/**
 * Hovers over tensor paths in code and text (Python, JSON, YAML, Markdown, plain text, notebook
 * cells): a string or path naming a .npy/.npz/.safetensors (optionally `file.npz:key`), resolved
 * against the document's folder and the workspace folders. Shows dtype, shape, order and size from
 * the header, statistics when the file is under the size cap, the problems found, and links to the
 * tensor viewer and to "Compute CornerNet Loss" for the folder.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { fileProblems, humanBytes, TensorInfoService } from './tensorInfo';

export { HOVER_LANGUAGES } from './ids';

/** A tensor path under the cursor: quoted, or a bare path-like token. */
export function tensorPathAt(line: string, character: number): { text: string; key?: string; start: number; end: number } | undefined {
  const candidates: { text: string; start: number; end: number }[] = [];
  const quoted = /(['"`])((?:(?!\1).)*?\.(?:npy|npz|safetensors)(?::[^'"`]*)?)\1/gi;
  for (let m; (m = quoted.exec(line)); ) candidates.push({ text: m[2]!, start: m.index + 1, end: m.index + 1 + m[2]!.length });
  const bare = /[\w~./\\:-]*\.(?:npy|npz|safetensors)(?::[\w./-]+)?/gi;
  for (let m; (m = bare.exec(line)); ) candidates.push({ text: m[0], start: m.index, end: m.index + m[0].length });
  const hit = candidates.find((c) => character >= c.start && character <= c.end);
  if (!hit) return undefined;
  const km = /^(.*\.(?:npz|safetensors)):([^\\/]+)$/i.exec(hit.text);
  return km ? { text: km[1]!, key: km[2], start: hit.start, end: hit.end } : { text: hit.text, start: hit.start, end: hit.end };
}

/** The first existing file the text can name: absolute, ~, the document's folder, the workspace folders. */
export async function resolveTensorPath(text: string, document: vscode.Uri): Promise<string | undefined> {
  const t = text.replace(/^file:\/\//, '');
  const tries: string[] = [];
  if (t.startsWith('~/')) tries.push(path.join(os.homedir(), t.slice(2)));
  else if (path.isAbsolute(t)) tries.push(t);
  else {
    if (document.scheme === 'file' || document.scheme === 'vscode-notebook-cell') tries.push(path.resolve(path.dirname(document.fsPath), t));
    for (const f of vscode.workspace.workspaceFolders ?? []) tries.push(path.resolve(f.uri.fsPath, t));
  }
  for (const p of tries) {
    // Anything that exists and is not a folder gets a hover: a FIFO, a device or a symlink loop
    // named like a tensor file says what it is (the readers refuse it without blocking).
    const st = await fsp.stat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ELOOP' ? 'loop' : undefined));
    if (st === 'loop' || (st && !st.isDirectory())) return p;
  }
  return undefined;
}

/** Markdown-escapes text from files (names may hold anything): it shows as text, never as markup. */
export function md(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`)).replace(/\r?\n/g, ' ');
}

const num = (v: number | null) => (v === null ? '–' : Number.isInteger(v) ? String(v) : Number(v.toPrecision(5)).toString());

export class TensorHoverProvider implements vscode.HoverProvider {
  constructor(private readonly info: TensorInfoService) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    if (!vscode.workspace.getConfiguration('cornernet').get('hover.enabled', true)) return undefined;
    const line = document.lineAt(position.line).text;
    const found = tensorPathAt(line, position.character);
    if (!found) return undefined;
    const file = await resolveTensorPath(found.text, document.uri);
    if (!file || token.isCancellationRequested) return undefined;
    const h = await this.info.headers(file);
    const stats = h.error ? undefined : await this.info.stats(file);
    if (token.isCancellationRequested) return undefined;

    const out = new vscode.MarkdownString(undefined, true);
    out.supportHtml = false;
    out.isTrusted = { enabledCommands: ['cornernet.openTensorViewer', 'cornernet.computeLoss'] };
    out.appendMarkdown(`**${md(path.basename(file))}** · ${humanBytes(h.size)}  \n`);
    out.appendMarkdown(`${md(vscode.workspace.asRelativePath(file))}\n\n`);
    const arrays = (h.arrays ?? []).filter((a) => found.key === undefined || a.key === found.key);
    if (found.key !== undefined && !arrays.length && !h.error) out.appendMarkdown(`No array \`${md(found.key)}\` in this file.\n\n`);
    if (arrays.length) {
      out.appendMarkdown('| array | dtype | shape | order | bytes |\n|---|---|---|---|---|\n');
      for (const a of arrays.slice(0, 20)) {
        out.appendMarkdown(`| ${md(a.key ?? '(npy)')} | ${a.header.dtype} | [${a.header.shape.join(', ')}] | ${a.header.fortranOrder ? 'F' : 'C'} | ${humanBytes(a.header.dataBytes)} |\n`);
      }
      if (arrays.length > 20) out.appendMarkdown(`\n… and ${arrays.length - 20} more arrays\n`);
      out.appendMarkdown('\n');
    }
    if (stats?.arrays) {
      const rows = stats.arrays.filter((a) => found.key === undefined || a.key === found.key).slice(0, 20);
      out.appendMarkdown('| array | min | max | mean | std | NaN | Inf | outside [0, 1] |\n|---|---|---|---|---|---|---|---|\n');
      for (const a of rows) {
        const s = a.stats;
        out.appendMarkdown(`| ${md(a.key ?? '(npy)')} | ${num(s.min)} | ${num(s.max)} | ${num(s.mean)} | ${num(s.std)} | ${s.nan} | ${s.posInf + s.negInf} | ${(100 * s.outside01).toFixed(1)}% |\n`);
      }
      out.appendMarkdown('\n');
    } else if (stats?.tooLarge) {
      out.appendMarkdown(`_Statistics skipped: larger than cornernet.maxFileSizeMB._\n\n`);
    }
    for (const p of fileProblems(h, stats)) out.appendMarkdown(`${p.severity === 'error' ? '$(error)' : '$(warning)'} ${md(p.message)}\n\n`);
    const uri = vscode.Uri.file(file);
    const viewer = `command:cornernet.openTensorViewer?${encodeURIComponent(JSON.stringify([uri.toString(), found.key ?? null]))}`;
    const compute = `command:cornernet.computeLoss?${encodeURIComponent(JSON.stringify([vscode.Uri.file(path.dirname(file)).toString()]))}`;
    out.appendMarkdown(`[Open in Tensor Viewer](${viewer} "Open this array in the tensor viewer") · [Compute CornerNet Loss](${compute} "Compute the loss of the folder ${md(path.basename(path.dirname(file)))}")`);
    const range = new vscode.Range(position.line, found.start, position.line, found.end);
    return new vscode.Hover(out, range);
  }
}
