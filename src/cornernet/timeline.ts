/**
 * A training run's dumps as a timeline: the batches of a run folder (its subfolders, or groups of
 * `.npz`/`.safetensors` files sharing a step number) in step order, each one scored by run.ts
 * once its files have stopped changing, one after another (only one batch is ever held), and the
 * compact per-step summary the editor's chart draws. No vscode.
 */
import * as path from 'node:path';
import { inputFs } from '../tensor/source';
import { isTensorReadError } from '../tensor/errors';
import { tensorFormatOf } from '../tensor/tensorFile';
import { InputError, isInputError, RoleResolutionError } from './model/errors';
import { MANIFEST_NAME, readManifest } from './inputs/discover';
import type { ConventionName } from './model/conventions';
import type { LossReport, Num } from './model/report';
import { computeLossFromFiles, type RunOptions } from './run';
import { findSpikes, firstNonFinite } from './model/series';

/** One batch of a run: what to compute on (a folder, or the files of one step) and its step. */
export interface BatchEntry {
  /** As the user knows it: the folder, or the run folder's files joined by ` + `. */
  input: string;
  /** The paths given to the engine. */
  paths: string[];
  /** The trailing integer of the folder's name (a file group: the step number in the names), or
   * `"step"` of the batch's cornernet.json (which wins); null without either. */
  step: number | null;
}

/** The step number of a batch folder's name: its trailing integer (`step_000100` -> 100). */
export function stepOfFolderName(name: string): number | undefined {
  const m = /(\d+)$/.exec(name);
  return m ? safeInt(m[1]!) : undefined;
}

/** The step number in a file name: its last integer (`step_000100_outs.npz`, `outs_100.npz` -> 100). */
export function stepOfFileName(name: string): number | undefined {
  const stem = name.replace(/\.(npy|npz|safetensors)$/i, '');
  const m = /(\d+)\D*$/.exec(stem);
  return m ? safeInt(m[1]!) : undefined;
}

function safeInt(digits: string): number | undefined {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

const hidden = (name: string) => name.startsWith('.');

/** `"step"` of a folder's manifest; a manifest that cannot be read says nothing here (the batch's
 * own computation reports it). */
async function manifestStep(folder: string, names: string[]): Promise<number | undefined> {
  const m = names.find((n) => n.toLowerCase() === MANIFEST_NAME);
  if (!m) return undefined;
  try {
    return (await readManifest(path.join(folder, m))).step;
  } catch {
    return undefined;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await inputFs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether a folder is one batch (tensor files, a manifest) rather than a run of batches: a folder
 * with subfolders is a run; without, it is a run only when all its tensor files are archives
 * (`.npz`, `.safetensors`) with a step number in their names, e.g. `step_100_outs.npz` +
 * `step_100_targets.npz`.
 */
async function folderKind(folder: string, names: string[]): Promise<'batch' | 'run'> {
  for (const n of names) if (!hidden(n) && (await isDir(path.join(folder, n)))) return 'run';
  if (names.some((n) => n.toLowerCase() === MANIFEST_NAME)) return 'batch';
  const tensors = names.filter((n) => !hidden(n) && tensorFormatOf(n));
  if (!tensors.length) return 'batch';
  return tensors.every((n) => tensorFormatOf(n) !== 'npy' && stepOfFileName(n) !== undefined) ? 'run' : 'batch';
}

async function readdirSorted(folder: string): Promise<string[]> {
  try {
    return (await inputFs.readdir(folder)).sort();
  } catch (e) {
    throw new InputError(folder, `cannot list the folder: ${(e as Error).message}`);
  }
}

/** The batches of one run folder: its subfolders, and its loose archives grouped by step number. */
async function runBatches(folder: string, names: string[]): Promise<BatchEntry[]> {
  const out: BatchEntry[] = [];
  const groups = new Map<number, string[]>();
  for (const n of names) {
    if (hidden(n)) continue;
    const full = path.join(folder, n);
    if (await isDir(full)) {
      const inner = await readdirSorted(full).catch(() => [] as string[]);
      const step = (await manifestStep(full, inner)) ?? stepOfFolderName(n) ?? null;
      out.push({ input: full, paths: [full], step });
      continue;
    }
    if (!tensorFormatOf(n)) continue;
    const step = stepOfFileName(n);
    if (step === undefined) continue;
    groups.set(step, [...(groups.get(step) ?? []), full]);
  }
  for (const [step, files] of groups) out.push({ input: files.join(' + '), paths: files, step });
  return out;
}

/** Step order: by step, batches without one last, ties by name. */
export function sortBatches(batches: BatchEntry[]): BatchEntry[] {
  return [...batches].sort((a, b) => (a.step ?? Infinity) - (b.step ?? Infinity) || (a.input < b.input ? -1 : a.input > b.input ? 1 : 0));
}

/**
 * The batches of what the user gave: run folders expanded, batch folders and files as they are,
 * all in step order. A run folder without any batch, or a path that does not exist, is bad input.
 */
export async function listBatches(paths: string[]): Promise<BatchEntry[]> {
  if (!paths.length) throw new InputError('--each', 'no run folder or batch given');
  const all: BatchEntry[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await inputFs.stat(p);
    } catch {
      throw new InputError(p, 'no such file or folder');
    }
    if (!st.isDirectory()) {
      if (!tensorFormatOf(p)) throw new InputError(p, 'not a .npy, .npz or .safetensors file, nor a folder');
      all.push({ input: p, paths: [p], step: stepOfFileName(path.basename(p)) ?? null });
      continue;
    }
    const names = await readdirSorted(p);
    if ((await folderKind(p, names)) === 'batch') {
      all.push({ input: p, paths: [p], step: (await manifestStep(p, names)) ?? stepOfFolderName(path.basename(path.resolve(p))) ?? null });
      continue;
    }
    const batches = await runBatches(p, names);
    if (!batches.length) throw new InputError(p, 'no batch in the run folder (subfolders, or .npz/.safetensors files with a step number in their names)');
    all.push(...batches);
  }
  return sortBatches(all);
}

/** What a batch's files look like now: a signature of names, sizes and times, and the newest time. */
export interface BatchStamp {
  signature: string;
  /** Newest modification time (ms since the epoch) of the batch's files and folder. */
  newestMs: number;
}

export async function batchStamp(entry: BatchEntry): Promise<BatchStamp> {
  const parts: string[] = [];
  let newestMs = 0;
  const add = async (p: string, depth: number) => {
    let st;
    try {
      st = await inputFs.stat(p);
    } catch {
      parts.push(`${p}:missing`);
      return;
    }
    newestMs = Math.max(newestMs, st.mtimeMs, st.ctimeMs);
    parts.push(`${p}:${st.size}:${st.mtimeMs}`);
    if (st.isDirectory() && depth === 0) {
      const names = await inputFs.readdir(p).catch(() => [] as string[]);
      for (const n of names.sort()) if (!hidden(n)) await add(path.join(p, n), 1);
    }
  };
  for (const p of entry.paths) await add(p, 0);
  return { signature: parts.join('|'), newestMs };
}

export interface SettleOptions {
  /** The batch is complete once its files have not changed for this long (ms). Default 1000. */
  settleMs?: number;
  /** Read it anyway after this long (ms). Default 120 000. */
  timeoutMs?: number;
  /** Clock and sleep (tests). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until the batch's files have stopped changing (none modified for `settleMs`, and the same
 * stamp twice): a batch still being written is not read. Returns the stamp, and whether it timed out.
 */
export async function waitUntilSettled(entry: BatchEntry, options: SettleOptions = {}): Promise<BatchStamp & { timedOut: boolean }> {
  const settleMs = options.settleMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const start = now();
  let stamp = await batchStamp(entry);
  for (;;) {
    const age = now() - stamp.newestMs;
    if (age >= settleMs) return { ...stamp, timedOut: false };
    if (now() - start >= timeoutMs) return { ...stamp, timedOut: true };
    await sleep(Math.max(20, Math.min(settleMs - age, 250)));
    const next = await batchStamp(entry);
    if (next.signature !== stamp.signature) stamp = next;
  }
}

/** A failure as the CLI prints it: one line, and details. `internal`: not the input's fault. */
export interface RunFailure {
  message: string;
  details: string[];
  internal: boolean;
}

export function describeFailure(e: unknown): RunFailure {
  if (e instanceof RoleResolutionError) {
    const message = e.message.startsWith(`${e.subject}:`) ? e.message : `${e.subject}: ${e.message}`;
    const details =
      e.problems.length > 1 || e.skipped.length
        ? [...e.problems.map((p) => `${p.subject}: ${p.message}`), ...e.skipped.map((s) => `skipped ${s.file}: ${s.reason}`)]
        : [];
    return { message, details, internal: false };
  }
  if (isInputError(e) || isTensorReadError(e)) return { message: (e as Error).message, details: [], internal: false };
  return { message: `internal error: ${(e as Error)?.message ?? String(e)}`, details: [], internal: true };
}

export type EachResult =
  | { input: string; step: number | null; report: LossReport }
  | { input: string; step: number | null; failure: RunFailure; error: unknown };

export interface EachOptions extends RunOptions, SettleOptions {
  /** Called before a batch is waited for and read (progress). */
  onBatch?: (entry: BatchEntry, index: number, count: number) => void;
}

/**
 * The reports of the batches, in step order, one at a time: each batch is waited for until its
 * files stop changing, computed, and handed out before the next is read (so memory holds one).
 */
export async function* eachReport(batches: BatchEntry[], options: EachOptions = {}): AsyncGenerator<EachResult> {
  for (let i = 0; i < batches.length; i++) {
    const entry = batches[i]!;
    options.onBatch?.(entry, i, batches.length);
    try {
      await waitUntilSettled(entry, options);
      const report = await computeLossFromFiles({ paths: entry.paths }, options);
      yield { input: entry.input, step: entry.step, report };
    } catch (e) {
      yield { input: entry.input, step: entry.step, failure: describeFailure(e), error: e };
    }
  }
}

/** One step as the timeline draws it (a few hundred numbers, not the report). */
export interface TimelinePoint {
  input: string;
  step: number | null;
  convention: ConventionName;
  total: Num;
  /** The upstream terms (`focal_loss`, `det_loss`, `hm_loss`...). */
  terms: Record<string, Num>;
  /** Per stack: its share of the total and its unweighted terms (CornerNet's names). */
  perStack: { total: Num; focal: Num; pull: Num; push: Num; regr: Num; wh?: Num }[];
  /** Per image: its share of the total. */
  perImage: Num[];
  /** Per class: its focal loss (all stacks, both corners). */
  perClass: Num[];
  /** A NaN/Inf in the total, a term or an input. */
  nonFinite: boolean;
  warnings: string[];
}

export function timelinePoint(input: string, step: number | null, r: LossReport): TimelinePoint {
  const nonFiniteInput = r.inputs.roles.some((x) => (x.nonFinite ?? 0) > 0);
  const terms = { ...r.terms };
  return {
    input,
    step,
    convention: r.convention,
    total: r.total,
    terms,
    perStack: r.perStack.map((s) => ({ total: s.total, focal: s.focal, pull: s.pull, push: s.push, regr: s.regr, ...(s.wh !== undefined ? { wh: s.wh } : {}) })),
    perImage: r.perImage.map((i) => i.total),
    perClass: r.perClass.map((c) => c.focal),
    nonFinite: r.total === null || Object.values(terms).some((v) => v === null) || nonFiniteInput,
    warnings: [...new Set(r.warnings.map((w) => w.code))],
  };
}

/** A line of `--each`'s closing table. */
export type TimelineRow = { input: string; step: number | null } & ({ total: Num; terms: Record<string, Num> } | { error: string });

/** `--each`'s closing table: step, total, the terms (or the error), one batch a line. */
export function formatTimelineTable(rows: TimelineRow[]): string {
  const names = [...new Set(rows.flatMap((r) => ('terms' in r ? Object.keys(r.terms) : [])))];
  const cell = (v: Num | undefined) => (v === undefined ? '' : v === null ? 'NaN/Inf' : v.toPrecision(7));
  const table = [
    ['step', 'total', ...names, 'batch'],
    ...rows.map((r) => [r.step === null ? '-' : String(r.step), ...('error' in r ? ['error', ...names.map(() => ''), `${r.input}: ${r.error}`] : [cell(r.total), ...names.map((n) => cell(r.terms[n])), r.input])]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => (i < row.length - 1 ? row[i]!.length : 0))));
  const failed = rows.filter((r) => 'error' in r).length;
  const lines = table.map((row) => row.map((c, i) => (i < row.length - 1 ? c.padStart(widths[i]!) : c)).join('  '));
  const nonFinite = firstNonFinite(rows.map((r) => ({ total: 'error' in r ? 0 : r.total })));
  const totals = rows.map((r) => ('error' in r ? null : r.total));
  const spikes = findSpikes(totals).map((i) => rows[i]!.step ?? rows[i]!.input);
  return [
    `Timeline: ${rows.length} batch(es), ${failed} failed`,
    ...lines,
    ...(nonFinite >= 0 ? [`first non-finite total: step ${rows[nonFinite]!.step ?? rows[nonFinite]!.input}`] : []),
    ...(spikes.length ? [`spikes of the total: step ${spikes.join(', ')}`] : []),
  ].join('\n');
}
