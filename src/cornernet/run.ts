/**
 * The whole job on files: discover headers, settle roles, read, compute. Used by the CLI and the
 * extension's worker; everything else in the core is reachable from here.
 */
import type { ReadLimits } from '../tensor/limits';
import type { LossInputs } from './model/batch';
import type { Arithmetic } from './loss/embedding';
import { InputError, RoleResolutionError } from './model/errors';
import { MAX_THREADS, MAX_TOP_PIXELS } from './model/limits';
import { discoverInputs, type Discovery, type InputSpec } from './inputs/discover';
import { planStreamedMaps } from './inputs/mapStream';
import { loadInputs, type LoadedInputs } from './inputs/load';
import { MIN_THREADED_PIXELS, computeLoss, computeLossThreaded } from './loss/cornernet';
import { FocalWorkers, resolveThreadCount } from './focal/parallel';
import type { LossReport, LossWeights, RoleReport, UnusedReport } from './model/report';
import { resolveRoles } from './inputs/resolve';
import { refLabel, type Resolution } from './model/arrays';
import type { Corner } from './model/roles';
import { type StreamPlan } from './focal/stream';
import { planStreamedHeat } from './inputs/heatPlan';
import type { LossWarning } from './model/warnings';

export interface RunOptions {
  weights?: Partial<LossWeights>;
  arithmetic?: Arithmetic;
  topPixels?: number;
  limits?: Partial<ReadLimits>;
  /** Progress in [0, 1] with a stage name; throw from it to cancel. */
  onProgress?: (fraction: number, stage: string) => void;
  /**
   * Threads for the focal loss, this one included; undefined or 0: the machine's
   * (`os.availableParallelism()`). Used only when the heatmaps are large enough to pay for them.
   */
  threads?: number;
  /** Fewer heatmap pixels (all passes) than this run on this thread alone (default MIN_THREADED_PIXELS). */
  minThreadedPixels?: number;
  /**
   * computeLossFromFiles only: read the heatmaps chunk by chunk inside the focal pass instead of
   * whole (stream.ts), when they are plain .npy files. Default true; the report is the same.
   */
  stream?: boolean;
}

/** Options beyond the engine's limits are bad input, refused before any file is read. */
export function checkRunOptions(options: RunOptions): void {
  const top = options.topPixels;
  if (top !== undefined && (!Number.isSafeInteger(top) || top < 0 || top > MAX_TOP_PIXELS)) {
    throw new InputError('--top', `expects 0..${MAX_TOP_PIXELS} pixels, got ${top}`);
  }
  const t = options.threads;
  if (t !== undefined && (!Number.isSafeInteger(t) || t < 0 || t > MAX_THREADS)) {
    throw new InputError('--threads', `expects 0..${MAX_THREADS} threads, got ${t}`);
  }
}

/**
 * The report alone (the CLI). The heatmaps are streamed through the focal pass when they can be:
 * nothing needs them afterwards.
 */
export async function computeLossFromFiles(spec: InputSpec, options: RunOptions = {}): Promise<LossReport> {
  if (options.stream === false) return (await computeLossWithInputs(spec, options)).report;
  return (await computeStreamed(spec, options, false)).report;
}

/**
 * What the extension's worker keeps to serve the panels: the report, the inputs (the heatmaps
 * streamed when they can be, then `heat` says where they are and `positives` holds the focal
 * normalisers; the maps read whole, since the panel draws them), or whole inputs when they cannot.
 */
export type ComputedForViews =
  | { report: LossReport; inputs: LossInputs; heat?: undefined }
  | { report: LossReport; inputs: LossInputs; heat: StreamPlan; positives: Record<Corner, number> };

export async function computeLossForViews(spec: InputSpec, options: RunOptions = {}): Promise<ComputedForViews> {
  if (options.stream === false) return computeLossWithInputs(spec, options);
  return computeStreamed(spec, options, true);
}

/** The streamed run; `keep`: also what the views need (else the report alone). */
async function computeStreamed(spec: InputSpec, options: RunOptions, keep: true): Promise<ComputedForViews>;
async function computeStreamed(spec: InputSpec, options: RunOptions, keep: false): Promise<{ report: LossReport }>;
async function computeStreamed(spec: InputSpec, options: RunOptions, keep: boolean): Promise<ComputedForViews | { report: LossReport }> {
  checkRunOptions(options);
  const progress = options.onProgress ?? (() => undefined);
  const t0 = performance.now();
  const threads = resolveThreadCount(options.threads);
  const minPixels = options.minThreadedPixels ?? MIN_THREADED_PIXELS;
  let workers = FocalWorkers.start(0);
  try {
    progress(0, 'reading headers');
    const discovery = await discoverInputs(spec, options.limits);
    const resolution = resolveRoles(discovery.candidates, discovery.arrays);
    if (resolution.problems.length) throw new RoleResolutionError(resolution.problems, discovery.skipped);
    const plan = await planStreamedHeat(resolution, options.limits);
    if (typeof plan === 'string') {
      void workers.close();
      return computeLossWithInputs(spec, options, { discovery, resolution, t0 });
    }
    const headerMs = performance.now() - t0;
    const d = resolution.dims!;
    // Worker threads only for large batches (see MIN_THREADED_PIXELS); they boot and warm their
    // kernels up while the other arrays are read.
    if (threads > 1 && 2 * d.S * d.B * d.C * d.H * d.W >= minPixels) workers = FocalWorkers.start(threads - 1, { warm: true });
    // The arrays other than the heatmaps (a few MB); for the report alone, the maps only at the indices.
    const mapsOnDisk = keep ? undefined : await planStreamedMaps(resolution, options.limits);
    const loaded = await loadInputs(resolution, {
      limits: options.limits,
      onProgress: (f, file) => progress(0.05 * f, `reading ${file}`),
      onDisk: plan.onDisk,
      ...(mapsOnDisk ? { mapsOnDisk } : {}),
    });
    const tc = performance.now();
    const streamed = await workers.streamedSums(plan, d.B * d.C, d.H * d.W, options.topPixels ?? 20, (done, total) =>
      progress(0.05 + (0.9 * done) / total, `focal loss (${workers.size + 1} thread${workers.size ? 's' : ''}, reading the heatmaps)`),
    );
    let report: LossReport;
    try {
      report = computeLoss(loaded.inputs, {
        weights: { ...discovery.weights, ...options.weights },
        arithmetic: options.arithmetic,
        topPixels: options.topPixels,
        focalSums: streamed.focalSums,
        streamed: { scans: streamed.scans, values: streamed.values },
      });
    } finally {
      streamed.values.close();
    }
    // NaN/Inf of the streamed arrays, from the pass: per file, over its stacks.
    for (const u of plan.onDisk) {
      const label = refLabel(u.ref);
      const corner: Corner = u.role.includes('tl_') ? 'tl' : 'br';
      const n = u.role.startsWith('gt_') ? streamed.scans[corner].nonFinite : u.stacks.reduce((a, s) => a + streamed.focalSums[corner][s]!.nonFinite, 0);
      loaded.nonFinite.set(label, (loaded.nonFinite.get(label) ?? 0) + n);
    }
    report.timings.computeMs = performance.now() - tc + loaded.assembleMs;
    report.timings.readMs = headerMs + loaded.readMs;
    report.timings.heatmapReadMs = streamed.readMs / (workers.size + 1);
    finish(report, discovery, resolution, loaded);
    progress(1, 'done');
    if (!keep) return { report };
    return { report, inputs: loaded.inputs, heat: plan, positives: { tl: streamed.scans.tl.positives, br: streamed.scans.br.positives } };
  } finally {
    void workers.close();
  }
}

/** The report and the inputs it was computed from (kept by the worker to serve slices). */
export async function computeLossWithInputs(
  spec: InputSpec,
  options: RunOptions = {},
  resolved?: { discovery: Discovery; resolution: Resolution; t0: number },
): Promise<{ report: LossReport; inputs: LossInputs }> {
  checkRunOptions(options);
  const progress = options.onProgress ?? (() => undefined);
  const t0 = resolved?.t0 ?? performance.now();
  progress(0, 'reading headers');
  const discovery = resolved?.discovery ?? (await discoverInputs(spec, options.limits));
  const resolution = resolved?.resolution ?? resolveRoles(discovery.candidates, discovery.arrays);
  if (resolution.problems.length) throw new RoleResolutionError(resolution.problems, discovery.skipped);
  const headerMs = performance.now() - t0;
  // Worker threads start now, so that they boot while the files are read.
  const d = resolution.dims;
  const heatPixels = d ? 2 * d.S * d.B * d.C * d.H * d.W : 0;
  const threads = resolveThreadCount(options.threads);
  const workers = threads > 1 && heatPixels >= (options.minThreadedPixels ?? MIN_THREADED_PIXELS) ? FocalWorkers.start(threads - 1) : undefined;
  let loaded: Awaited<ReturnType<typeof loadInputs>>;
  let report: LossReport;
  try {
    loaded = await loadInputs(resolution, {
      limits: options.limits,
      onProgress: (f, file) => progress(0.05 + 0.45 * f, `reading ${file}`),
      shared: workers !== undefined,
    });
    report = await computeLossThreaded(loaded.inputs, {
      weights: { ...discovery.weights, ...options.weights },
      arithmetic: options.arithmetic,
      topPixels: options.topPixels,
      onProgress: (f, stage) => progress(0.5 + 0.5 * f, stage),
      threads: 1,
      ...(workers ? { workers } : {}),
    });
  } finally {
    void workers?.close();
  }
  report.timings.readMs = headerMs + loaded.readMs;
  report.timings.computeMs += loaded.assembleMs;
  return { report: finish(report, discovery, resolution, loaded), inputs: loaded.inputs };
}

/** The inputs' description and the warnings of reading, added to a computed report. */
function finish(report: LossReport, discovery: Discovery, resolution: Resolution, loaded: LoadedInputs): LossReport {
  report.inputs = describeInputs(resolution, loaded.nonFinite);
  const skipped: LossWarning[] = discovery.skipped.map((s) => ({
    code: 'skipped-file',
    message: `${s.file} was skipped: ${s.reason}`,
    files: [s.file],
  }));
  report.warnings = attachFiles([...skipped, ...loaded.warnings, ...report.warnings], resolution);
  return report;
}

export function describeInputs(resolution: Resolution, nonFinite?: Map<string, number>): LossReport['inputs'] {
  const roles: RoleReport[] = resolution.uses.map((u) => ({
    ...(nonFinite?.has(refLabel(u.ref)) ? { nonFinite: nonFinite.get(refLabel(u.ref))! } : {}),
    role: u.role,
    file: u.ref.file,
    ...(u.ref.key !== undefined ? { key: u.ref.key } : {}),
    shape: u.ref.header.shape,
    dtype: u.ref.header.dtype,
    stacks: u.stacks,
    ...(u.form ? { form: u.form } : {}),
    purpose: u.purpose,
    origin: u.origin,
    ...(u.note ? { note: u.note } : {}),
  }));
  const unused: UnusedReport[] = resolution.unused.map(({ ref, reason }) => ({
    file: ref.file,
    ...(ref.key !== undefined ? { key: ref.key } : {}),
    shape: ref.header.shape,
    dtype: ref.header.dtype,
    reason,
  }));
  return { roles, unused };
}

/** Warnings name roles; add the files behind them so the Problems panel can point at files. */
function attachFiles(warnings: LossWarning[], resolution: Resolution): LossWarning[] {
  return warnings.map((w) => {
    if (w.files || !w.roles) return w;
    const files = [...new Set(resolution.uses.filter((u) => w.roles!.includes(u.role)).map((u) => u.ref.file))];
    return files.length ? { ...w, files } : w;
  });
}
