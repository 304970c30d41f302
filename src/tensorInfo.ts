/**
 * What the extension knows about tensor files, for hovers, explorer badges, Problems and the side
 * view: headers (read on the host: a few hundred bytes) and statistics (read in a shared worker,
 * only for files under cornernet.maxFileSizeMB), both cached by path, size and mtime, and dropped
 * when the file changes.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeIoError, fileKind, openFileSource } from './tensor/source';
import { listArrays, tensorFormatOf, type ArrayListing } from './tensor/tensorFile';
import { isTensorReadError } from './tensor/errors';
import { unravelIndex } from './tensor/planes';
import { freshOnly, parseStats, PERSIST_LIMITS, STATE_KEYS, type FileStamp, type PersistedStats } from './persist';
import type { ArrayStats } from './worker/protocol';
import { WorkerClient } from './workerClient';
import * as settings from './settings';

export interface FileHeaders {
  path: string;
  size: number;
  mtimeMs: number;
  arrays?: ArrayListing[];
  /** The reader's message when the file cannot be read. */
  error?: string;
}

export interface FileStats {
  arrays?: ArrayStats[];
  error?: string;
  /** Not computed: the file is larger than the cap. */
  tooLarge?: boolean;
}

interface Entry {
  key: string;
  headers?: Promise<FileHeaders>;
  stats?: Promise<FileStats>;
}

/** Problems a file's own content shows (independent of any computation). */
export interface FileProblem {
  severity: 'error' | 'warning';
  message: string;
  /** The offending element (the first NaN/Inf): its array and index. */
  element?: { key?: string; index: number[] };
}

export function fileProblems(h: FileHeaders, s: FileStats | undefined): FileProblem[] {
  if (h.error) return [{ severity: 'error', message: h.error }];
  if (s?.error) return [{ severity: 'error', message: s.error }];
  const out: FileProblem[] = [];
  for (const a of s?.arrays ?? []) {
    const bad = a.stats.nan + a.stats.posInf + a.stats.negInf;
    if (bad) {
      const where = a.key !== undefined ? `${a.key}: ` : '';
      const first = a.stats.firstNonFinite;
      const index = first !== undefined && a.header.shape.length ? unravelIndex(first, a.header.shape) : undefined;
      out.push({
        severity: 'warning',
        message: `${where}${a.stats.nan} NaN, ${a.stats.posInf} +Inf, ${a.stats.negInf} -Inf of ${a.stats.count} values${index ? `, the first at [${index.join(', ')}]` : ''}`,
        ...(index ? { element: { ...(a.key !== undefined ? { key: a.key } : {}), index } } : {}),
      });
    }
  }
  return out;
}

export class TensorInfoService implements vscode.Disposable {
  private readonly cache = new Map<string, Entry>();
  private worker: WorkerClient | undefined;
  private readonly changed = new vscode.EventEmitter<vscode.Uri[]>();
  /** Files whose cached facts were dropped (changed, deleted) or whose statistics just arrived. */
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];

  /** Statistics computed (or restored), by file, in the order they came: what is saved. */
  private readonly known = new Map<string, { stamp: FileStamp; arrays: ArrayStats[] }>();
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** Settles once the last window's statistics were read back. */
  readonly restored: Promise<void>;

  constructor(
    private readonly workerScript: string,
    private readonly state?: vscode.Memento,
  ) {
    this.restored = this.restore();
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.{npy,npz,safetensors,NPY,NPZ}');
    const drop = (uri: vscode.Uri) => {
      if (this.cache.delete(uri.fsPath)) this.changed.fire([uri]);
    };
    this.disposables.push(watcher, watcher.onDidChange(drop), watcher.onDidDelete(drop), watcher.onDidCreate(drop));
  }

  static isTensorFile(p: string): boolean {
    return tensorFormatOf(p) !== undefined;
  }

  /** Header facts; never throws (the error is in the result). */
  async headers(file: string): Promise<FileHeaders> {
    let st: Awaited<ReturnType<typeof fsp.stat>>;
    try {
      st = await fsp.stat(file);
    } catch (e) {
      return { path: file, size: 0, mtimeMs: 0, error: describeIoError(e) };
    }
    if (!st.isFile()) return { path: file, size: 0, mtimeMs: 0, error: `not a regular file: it is ${fileKind(st)}` };
    const e = this.entry(file, st.size, st.mtimeMs);
    e.headers ??= (async (): Promise<FileHeaders> => {
      const format = tensorFormatOf(file);
      if (!format) return { path: file, size: st.size, mtimeMs: st.mtimeMs, error: 'not a tensor file' };
      try {
        const src = await openFileSource(file, path.basename(file));
        try {
          return { path: file, size: st.size, mtimeMs: st.mtimeMs, arrays: await listArrays(src, format, settings.readLimits()) };
        } finally {
          await src.close();
        }
      } catch (err) {
        return { path: file, size: st.size, mtimeMs: st.mtimeMs, error: isTensorReadError(err) ? err.message : String((err as Error)?.message ?? err) };
      }
    })();
    return e.headers;
  }

  /** Statistics when already computed, without starting anything (for synchronous callers). */
  async cachedStats(file: string): Promise<FileStats | undefined> {
    const h = await this.headers(file);
    const e = this.cache.get(file);
    return e && e.key === `${h.size}:${h.mtimeMs}` ? e.stats : undefined;
  }

  /** Statistics (min, max, NaN/Inf...) of every array, under the size cap unless `force`. */
  async stats(file: string, force = false): Promise<FileStats> {
    const h = await this.headers(file);
    if (h.error) return { error: h.error };
    if (!force && h.size > settings.maxFileBytes()) return { tooLarge: true };
    const e = this.entry(file, h.size, h.mtimeMs);
    e.stats ??= (async (): Promise<FileStats> => {
      try {
        this.worker ??= new WorkerClient(this.workerScript);
        const r = await this.worker.request('fileStats', { type: 'fileStats', path: file, limits: settings.readLimits() });
        const arrays = r.arrays.map((a) => ({ ...a }));
        this.remember(file, { size: h.size, mtimeMs: h.mtimeMs }, arrays);
        return { arrays };
      } catch (err) {
        if (!this.worker?.alive) this.worker = undefined;
        return { error: String((err as Error)?.message ?? err).replace(file, path.basename(file)) };
      }
    })();
    return e.stats;
  }

  /** Computes statistics in the background and signals the file when they are in. */
  warm(uri: vscode.Uri): void {
    void this.stats(uri.fsPath).then((s) => {
      if (!s.tooLarge) this.changed.fire([uri]);
    });
  }

  private remember(file: string, stamp: FileStamp, arrays: ArrayStats[]): void {
    if (!this.state || arrays.length > PERSIST_LIMITS.arraysPerFile) return;
    this.known.delete(file);
    this.known.set(file, { stamp, arrays });
    while (this.known.size > PERSIST_LIMITS.statsFiles) this.known.delete(this.known.keys().next().value!);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => void this.save(), 1000);
  }

  /** Writes the statistics known (for the explorer badges after a reload). */
  async save(): Promise<void> {
    if (!this.state) return;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const out: PersistedStats[] = [...this.known].map(([file, k]) => ({ file, stamp: k.stamp, arrays: k.arrays as unknown as PersistedStats['arrays'] }));
    await this.state.update(STATE_KEYS.stats, out);
  }

  /** The last window's statistics, for files unchanged since: badges without reading again. */
  private async restore(): Promise<void> {
    if (!this.state) return;
    const entries = await freshOnly(parseStats(this.state.get(STATE_KEYS.stats)), async (f) => {
      const st = await fsp.stat(f).catch(() => undefined);
      return st?.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : undefined;
    });
    const uris: vscode.Uri[] = [];
    for (const e of entries) {
      const entry = this.entry(e.file, e.stamp.size, e.stamp.mtimeMs);
      if (entry.stats) continue;
      const arrays = e.arrays as unknown as ArrayStats[];
      entry.stats = Promise.resolve({ arrays });
      this.known.set(e.file, { stamp: e.stamp, arrays });
      uris.push(vscode.Uri.file(e.file));
    }
    if (uris.length) this.changed.fire(uris);
  }

  private entry(file: string, size: number, mtimeMs: number): Entry {
    const key = `${size}:${mtimeMs}`;
    let e = this.cache.get(file);
    if (!e || e.key !== key) {
      e = { key };
      this.cache.set(file, e);
    }
    return e;
  }

  dispose(): void {
    if (this.saveTimer) void this.save();
    this.worker?.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

export function describeArray(a: ArrayListing): string {
  const h = a.header;
  return `${a.key !== undefined ? `${a.key}: ` : ''}${h.dtype} [${h.shape.join(', ')}]${h.fortranOrder ? ' (Fortran order)' : ''}`;
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
