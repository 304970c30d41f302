/**
 * What survives a window reload (workspaceState): the Problems entries of the last computation
 * and of the files opened in the viewer, the files' statistics behind the explorer badges, and
 * the side view's runs. Everything read back is checked (shape, sizes) and dropped when its file
 * changed (size or mtime) or vanished since. Bounded: a few hundred files, a few runs, a few MB.
 * No `vscode` import: the checks are unit-tested under plain Node.
 */

export interface FileStamp {
  size: number;
  mtimeMs: number;
}

export interface PersistedElement {
  key?: string;
  index: number[];
}

export interface PersistedDiagnostic {
  severity: 'error' | 'warning';
  message: string;
  code: string;
  element?: PersistedElement;
}

export interface PersistedFileProblems {
  file: string;
  stamp: FileStamp;
  /** From the last computation ('run') or the file's own content ('file'). */
  from: 'run' | 'file';
  diagnostics: PersistedDiagnostic[];
}

export interface PersistedStats {
  file: string;
  stamp: FileStamp;
  /** FileStats of tensorInfo.ts (arrays with header and statistics). */
  arrays: { key?: string; header: { dtype: string; shape: number[]; fortranOrder: boolean; dataBytes: number }; stats: Record<string, unknown> }[];
}

export interface PersistedRun {
  label: string;
  time: number;
  spec: unknown;
  report: unknown;
  /** The input files as they were: a run whose inputs changed is not restored. */
  stamps: { file: string; stamp: FileStamp }[];
}

export const PERSIST_LIMITS = {
  files: 300,
  diagnosticsPerFile: 50,
  messageChars: 4000,
  statsFiles: 300,
  arraysPerFile: 64,
  runs: 10,
  /** Runs are kept, newest first, while their JSON adds up to at most this. */
  runBytes: 4 * 1024 * 1024,
} as const;

export const STATE_KEYS = { problems: 'cornernet.persist.problems.v1', stats: 'cornernet.persist.stats.v1', runs: 'cornernet.persist.runs.v1' } as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isIndex = (v: unknown): v is number[] => Array.isArray(v) && v.length <= 64 && v.every((i) => Number.isInteger(i) && i >= 0);
const isAbsPath = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length < 4096 && (v.startsWith('/') || /^[A-Za-z]:[\\/]/.test(v) || v.startsWith('\\\\'));

export function isStamp(v: unknown): v is FileStamp {
  return isObj(v) && isFiniteNum(v.size) && v.size >= 0 && isFiniteNum(v.mtimeMs);
}

function parseElement(v: unknown): PersistedElement | undefined {
  if (!isObj(v) || !isIndex(v.index) || (v.key !== undefined && typeof v.key !== 'string')) return undefined;
  return { ...(typeof v.key === 'string' ? { key: v.key } : {}), index: v.index };
}

/** The Problems entries read back: malformed entries dropped, bounds applied. */
export function parseProblems(raw: unknown): PersistedFileProblems[] {
  if (!Array.isArray(raw)) return [];
  const out: PersistedFileProblems[] = [];
  for (const e of raw.slice(0, PERSIST_LIMITS.files)) {
    if (!isObj(e) || !isAbsPath(e.file) || !isStamp(e.stamp) || (e.from !== 'run' && e.from !== 'file') || !Array.isArray(e.diagnostics)) continue;
    const diagnostics: PersistedDiagnostic[] = [];
    for (const d of e.diagnostics.slice(0, PERSIST_LIMITS.diagnosticsPerFile)) {
      if (!isObj(d) || (d.severity !== 'error' && d.severity !== 'warning') || typeof d.message !== 'string' || typeof d.code !== 'string') continue;
      const element = d.element === undefined ? undefined : parseElement(d.element);
      if (d.element !== undefined && !element) continue;
      diagnostics.push({ severity: d.severity, message: d.message.slice(0, PERSIST_LIMITS.messageChars), code: d.code.slice(0, 100), ...(element ? { element } : {}) });
    }
    if (diagnostics.length) out.push({ file: e.file, stamp: { size: e.stamp.size as number, mtimeMs: e.stamp.mtimeMs as number }, from: e.from, diagnostics });
  }
  return out;
}

/** Statistics read back (what the explorer badges show). */
export function parseStats(raw: unknown): PersistedStats[] {
  if (!Array.isArray(raw)) return [];
  const out: PersistedStats[] = [];
  for (const e of raw.slice(0, PERSIST_LIMITS.statsFiles)) {
    if (!isObj(e) || !isAbsPath(e.file) || !isStamp(e.stamp) || !Array.isArray(e.arrays) || e.arrays.length > PERSIST_LIMITS.arraysPerFile) continue;
    const ok = e.arrays.every(
      (a) =>
        isObj(a) &&
        (a.key === undefined || typeof a.key === 'string') &&
        isObj(a.header) &&
        typeof a.header.dtype === 'string' &&
        isIndex(a.header.shape) &&
        isObj(a.stats) &&
        ['count', 'nan', 'posInf', 'negInf', 'outside01', 'ones'].every((k) => isFiniteNum((a.stats as Obj)[k])) &&
        ['min', 'max', 'mean', 'std'].every((k) => (a.stats as Obj)[k] === null || isFiniteNum((a.stats as Obj)[k])),
    );
    if (ok) out.push(e as unknown as PersistedStats);
  }
  return out;
}

/** Runs read back: each with a report (total, inputs), a spec and the stamps of its inputs. */
export function parseRuns(raw: unknown, isSpec: (v: unknown) => boolean): PersistedRun[] {
  if (!Array.isArray(raw)) return [];
  const out: PersistedRun[] = [];
  for (const r of raw.slice(0, PERSIST_LIMITS.runs)) {
    if (!isObj(r) || typeof r.label !== 'string' || !isFiniteNum(r.time) || !isSpec(r.spec) || !isObj(r.report) || !Array.isArray(r.stamps)) continue;
    const rep = r.report;
    if (!(rep.total === null || typeof rep.total === 'number') || !isObj(rep.inputs) || !Array.isArray(rep.inputs.roles) || !Array.isArray(rep.warnings) || !isObj(rep.contribution)) continue;
    if (!r.stamps.every((s) => isObj(s) && isAbsPath(s.file) && isStamp(s.stamp))) continue;
    out.push(r as unknown as PersistedRun);
  }
  return out;
}

/** Runs to keep, newest first, under PERSIST_LIMITS (count and JSON size). */
export function boundRuns(runs: readonly PersistedRun[]): PersistedRun[] {
  const out: PersistedRun[] = [];
  let bytes = 0;
  for (const r of runs.slice(0, PERSIST_LIMITS.runs)) {
    const n = JSON.stringify(r).length;
    if (bytes + n > PERSIST_LIMITS.runBytes) continue;
    bytes += n;
    out.push(r);
  }
  return out;
}

/** Whether a file is as it was: same size and mtime (vanished: no). */
export async function unchanged(file: string, stamp: FileStamp, stat: (f: string) => Promise<FileStamp | undefined>): Promise<boolean> {
  const now = await stat(file);
  return !!now && now.size === stamp.size && now.mtimeMs === stamp.mtimeMs;
}

/** The entries whose file is unchanged. */
export async function freshOnly<T extends { file: string; stamp: FileStamp }>(entries: readonly T[], stat: (f: string) => Promise<FileStamp | undefined>): Promise<T[]> {
  const keep = await Promise.all(entries.map((e) => unchanged(e.file, e.stamp, stat)));
  return entries.filter((_, i) => keep[i]);
}

/** The runs whose every input is unchanged. */
export async function freshRuns(runs: readonly PersistedRun[], stat: (f: string) => Promise<FileStamp | undefined>): Promise<PersistedRun[]> {
  const keep = await Promise.all(runs.map(async (r) => (await Promise.all(r.stamps.map((s) => unchanged(s.file, s.stamp, stat)))).every(Boolean)));
  return runs.filter((_, i) => keep[i]);
}
