/**
 * The whole job on files: discover headers, settle roles, read, compute. Used by the CLI and the
 * extension's worker; everything else in the core is reachable from here.
 */
import type { ReadLimits } from '../tensor/limits';
import type { LossInputs } from './batch';
import type { Arithmetic } from './embedding';
import { RoleResolutionError } from './errors';
import { discoverInputs, type InputSpec } from './inputs';
import { loadInputs } from './load';
import { MIN_THREADED_PIXELS, computeLossThreaded } from './loss';
import { FocalWorkers, resolveThreadCount } from './parallel';
import type { LossReport, LossWeights, RoleReport, UnusedReport } from './report';
import { refLabel, resolveRoles, type Resolution } from './resolve';
import type { LossWarning } from './warnings';

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
}

export async function computeLossFromFiles(spec: InputSpec, options: RunOptions = {}): Promise<LossReport> {
  return (await computeLossWithInputs(spec, options)).report;
}

/** The report and the inputs it was computed from (kept by the worker to serve slices). */
export async function computeLossWithInputs(spec: InputSpec, options: RunOptions = {}): Promise<{ report: LossReport; inputs: LossInputs }> {
  const progress = options.onProgress ?? (() => undefined);
  const t0 = performance.now();
  progress(0, 'reading headers');
  const discovery = await discoverInputs(spec, options.limits);
  const resolution = resolveRoles(discovery.candidates, discovery.arrays);
  if (resolution.problems.length) throw new RoleResolutionError(resolution.problems);
  const headerMs = performance.now() - t0;
  // Worker threads start now, so that they boot while the files are read.
  const d = resolution.dims;
  const heatPixels = d ? 2 * d.S * d.B * d.C * d.H * d.W : 0;
  const threads = resolveThreadCount(options.threads);
  const workers = threads > 1 && heatPixels >= MIN_THREADED_PIXELS ? FocalWorkers.start(threads - 1) : undefined;
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
  report.inputs = describeInputs(resolution, loaded.nonFinite);
  const skipped: LossWarning[] = discovery.skipped.map((s) => ({
    code: 'skipped-file',
    message: `${s.file} was skipped: ${s.reason}`,
    files: [s.file],
  }));
  report.warnings = attachFiles([...skipped, ...loaded.warnings, ...report.warnings], resolution);
  report.timings.readMs = headerMs + loaded.readMs;
  return { report, inputs: loaded.inputs };
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
