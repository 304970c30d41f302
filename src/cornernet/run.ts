/**
 * The whole job on files: discover headers, settle roles, read, compute. Used by the CLI and the
 * extension's worker; everything else in the core is reachable from here.
 */
import type { ReadLimits } from '../tensor/limits';
import type { LossInputs } from './model/batch';
import type { Arithmetic } from './loss/embedding';
import { InputError, RoleResolutionError } from './model/errors';
import { MAX_THREADS, MAX_TOP_PIXELS } from './model/limits';
import { discoverInputs, unknownCornernetRole, type Discovery, type InputSpec } from './inputs/discover';
import { planStreamedMaps } from './inputs/mapStream';
import { loadInputs, type LoadedInputs } from './inputs/load';
import { MIN_THREADED_PIXELS, computeLoss, computeLossThreaded } from './loss/cornernet';
import { FocalWorkers, resolveThreadCount } from './focal/parallel';
import type { LossReport, RoleReport, UnusedReport } from './model/report';
import { CONVENTIONS, conventionWeights, type ConventionChoice, type ConventionName } from './model/conventions';
import { conventionOfRoleNames, detectConvention, resolveDenseRoles, type DenseResolution } from './inputs/conventionRoles';
import { loadDenseInputs, type DenseInputs } from './inputs/denseLoad';
import { computeDense } from './loss/denseReport';
import { viewInputsOf } from './denseViews';
import { fileHeatSource, memoryHeatSource, scanHeat, type HeatSource } from './diagnose/heatScan';
import { computeFindings } from './diagnose/findings';
import { gradientNorms } from './diagnose/gradients';
import { ablation } from './views/ablation';
import { ImageHeatReader } from './views/imageView';
import type { Ablation } from './model/ablation';
import type { ClassNames } from './model/classNames';
import { boundsFor, plainBounds } from './model/pixel';
import { focalSums } from './focal/focal';
import { parseRoleName } from './model/roles';
import { resolveRoles } from './inputs/resolve';
import { refLabel, type Resolution } from './model/arrays';
import { CORNERS, type Corner } from './model/roles';
import { type StreamPlan } from './focal/stream';
import { planStreamedHeat } from './inputs/heatPlan';
import type { LossWarning } from './model/warnings';

export interface RunOptions {
  /** Weights by the convention's names (or their aliases); checked once the convention is known. */
  weights?: Record<string, number>;
  /** Weights from the editor's settings: they override a manifest's, and names the convention
   * does not have are ignored (one setting serves every convention). */
  settingWeights?: Record<string, number>;
  /** Force a convention (`--convention`, the panel's switcher); else the manifest's, the setting's or detection. */
  convention?: ConventionName;
  /** The editor's `cornernet.convention` setting (`auto`: undefined). Below a manifest's choice. */
  settingConvention?: ConventionName;
  /** Also score the batch under every other convention its data allows, with the gaps explained. */
  compareConventions?: boolean;
  /** The logit heatmap holds probabilities (saved after an in-place sigmoid): undo the sigmoid first. */
  heatIsProbability?: boolean;
  /** Class names given explicitly (`--classes`): over a manifest's and a classes.txt's. */
  classNames?: ClassNames;
  /** The editor's `cornernet.classNames` setting: below the data's own names. */
  settingClassNames?: ClassNames;
  /** Also the ground-truth ablation (report.ablation): the last stack decoded with each head's target. */
  ablation?: boolean;
  /**
   * Diagnose the batch (report.findings, report.gradients): one more pass over the heatmaps.
   * Default true; 'later': not now, the result's `diagnose()` does it (the editor shows the total first).
   */
  findings?: boolean | 'later';
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
  checkRunOptions(options);
  const t0 = performance.now();
  options.onProgress?.(0, 'reading headers');
  const discovery = await discoverInputs(spec, options.limits);
  const choice = chooseConvention(discovery, options);
  let report: LossReport;
  if (options.ablation) {
    // The ablation decodes the last stack with the maps: the views' path keeps them.
    const computed = choice.name !== 'cornernet' ? await denseForViews(discovery, choice, options, t0) : options.stream === false ? await computeLossWithInputs(spec, options, { discovery, t0 }) : await computeStreamed(spec, options, true, { discovery, t0 });
    report = computed.report;
    const a0 = performance.now();
    const c = computed as ComputedForViews;
    const reader = c.heat ? new ImageHeatReader(c.inputs, c.heat) : undefined;
    try {
      report.ablation = ablationOf(c.inputs, reader);
    } finally {
      reader?.close();
    }
    report.timings.ablationMs = performance.now() - a0;
  } else if (choice.name !== 'cornernet') report = await computeDenseFromDiscovery(discovery, choice, options, t0);
  else if (options.stream === false) report = (await computeLossWithInputs(spec, options, { discovery, t0 })).report;
  else report = (await computeStreamed(spec, options, false, { discovery, t0 })).report;
  report.conventionChoice = choice;
  nameClasses(report, discovery, options);
  return report;
}

/**
 * Class names for the views: `--classes` over the data's own (a manifest's `"classes"`, a
 * classes.txt) over the setting. A count that differs from the heatmaps' classes is a warning.
 */
export function nameClasses(report: LossReport, discovery: Pick<Discovery, 'classes' | 'classesFrom'>, options: Pick<RunOptions, 'classNames' | 'settingClassNames'>): void {
  const given: ClassNames | undefined =
    options.classNames ?? (discovery.classes?.length ? { names: discovery.classes, from: discovery.classesFrom ?? 'cornernet.json' } : undefined) ?? options.settingClassNames;
  // Once per report (the views' path may come through computeLossWithInputs).
  if (!given?.names.length || report.classNamesFrom !== undefined) return;
  report.classNames = given.names.slice(0, report.sizes.classes);
  report.classNamesFrom = given.from;
  if (given.names.length !== report.sizes.classes) {
    report.warnings.push({
      code: 'class-names',
      message: `${given.names.length} class names (${given.from}) for ${report.sizes.classes} classes: ${given.names.length < report.sizes.classes ? `classes ${given.names.length} and up have none` : `the last ${given.names.length - report.sizes.classes} are not used`}.`,
    });
  }
}

/**
 * Which convention scores this batch: forced (`--convention`, the panel) over the manifest's
 * `"convention"` over the setting over what the names say. A forced choice that the names
 * contradict is kept (the user knows their data), and the report says what was detected.
 */
export function chooseConvention(discovery: Discovery, options: Pick<RunOptions, 'convention' | 'settingConvention'>): ConventionChoice {
  const detected = detectConvention(discovery.arrays, { cornernetRoles: new Set(discovery.candidates.map((c) => c.role)).size });
  const forced = (name: ConventionName, how: ConventionChoice['how'], why: string): ConventionChoice => ({
    name,
    how,
    reason: `${why}${detected.name !== name && detected.how === 'detected' ? ` (the names say ${detected.name}: ${detected.reason})` : ''}`,
    alternatives: [detected.name, ...detected.alternatives].filter((n, i, a) => n !== name && a.indexOf(n) === i),
  });
  if (options.convention) return forced(options.convention, 'option', `${CONVENTIONS[options.convention].label}: chosen with --convention`);
  if (discovery.convention) return forced(discovery.convention.name, 'manifest', `${CONVENTIONS[discovery.convention.name].label}: "convention" in ${discovery.convention.file}`);
  if (options.settingConvention) return forced(options.settingConvention, 'setting', `${CONVENTIONS[options.settingConvention].label}: the cornernet.convention setting`);
  // Roles assigned by name (a manifest, --role, a notebook's variables) say whose roles they are.
  const named = conventionOfRoleNames(discovery.assignments.map((a) => a.name));
  if (named && named !== detected.name && discovery.assignments.length >= discovery.arrays.length / 2) {
    return { name: named, how: 'detected', reason: `${CONVENTIONS[named].label}: the roles assigned are its own (${discovery.assignments.map((a) => a.name).slice(0, 4).join(', ')}...)`, alternatives: [detected.name, ...detected.alternatives].filter((n) => n !== named) };
  }
  return detected;
}

/** The convention's weights from the manifest and the options (options win); unknown names are bad input. */
export function weightsFor(convention: ConventionName, discovery: Discovery, options: Pick<RunOptions, 'weights' | 'settingWeights'>): Record<string, number> {
  const fromManifest = conventionWeights(convention, discovery.weights ?? {});
  if (fromManifest.unknown.length) {
    throw new InputError(discovery.manifests[0] ?? 'weights', `unknown weight(s) ${fromManifest.unknown.join(', ')} for ${CONVENTIONS[convention].label} (weights: ${Object.keys(CONVENTIONS[convention].weights).join(', ')})`);
  }
  const given = conventionWeights(convention, options.weights ?? {});
  if (given.unknown.length) {
    throw new InputError(given.unknown.map((w) => `--${w}-weight`).join(', '), `not a weight of ${CONVENTIONS[convention].label} (weights: ${Object.keys(CONVENTIONS[convention].weights).map((w) => `--${w}-weight`).join(', ')})`);
  }
  const out: Record<string, number> = { ...fromManifest.weights };
  const info = CONVENTIONS[convention];
  for (const [k, v] of Object.entries(options.settingWeights ?? {})) {
    const name = k in info.weights ? k : info.weightAliases[k];
    if (name !== undefined && Number.isFinite(v) && v >= 0) out[name] = v;
  }
  for (const [k, v] of Object.entries(options.weights ?? {})) {
    if (v === undefined) continue;
    out[k in CONVENTIONS[convention].weights ? k : CONVENTIONS[convention].weightAliases[k]!] = v;
  }
  return out;
}

/** A dense convention's report with its arrays in the views' shape. */
async function denseForViews(discovery: Discovery, choice: ConventionChoice, options: RunOptions, t0: number): Promise<ComputedForViews> {
  const { report, loaded, diagnose: later } = await computeDenseWithInputs(discovery, choice, options, t0);
  return { report, inputs: viewInputsOf(loaded), ...(later ? { diagnose: later } : {}) };
}

/** A dense convention (mmdet CornerHead, CenterNet, mmdet CenterNetHead) on discovered files. */
async function computeDenseFromDiscovery(discovery: Discovery, choice: ConventionChoice, options: RunOptions, t0: number): Promise<LossReport> {
  const computed = await computeDenseWithInputs(discovery, choice, options, t0);
  return computed.report;
}

export async function computeDenseWithInputs(
  discovery: Discovery,
  choice: ConventionChoice,
  options: RunOptions,
  t0: number,
): Promise<{ report: LossReport; resolution: DenseResolution; loaded: DenseInputs; diagnose?: () => Diagnosis }> {
  const progress = options.onProgress ?? (() => undefined);
  const convention = choice.name as Exclude<ConventionName, 'cornernet'>;
  if (discovery.mask) throw new InputError(discovery.mask.from, `a synthesized mask ("${discovery.mask.how}") is for CornerNet's gt_mask; ${CONVENTIONS[convention].label} has no such role`);
  const resolution = resolveDenseRoles(convention, discovery.arrays, discovery.assignments);
  if (resolution.problems.length) throw new RoleResolutionError(resolution.problems, discovery.skipped);
  const weights = weightsFor(convention, discovery, options);
  const headerMs = performance.now() - t0;
  const loaded = await loadDenseInputs(resolution, {
    limits: options.limits,
    onProgress: (f, file) => progress(0.5 * f, `reading ${file}`),
    heatIsProbability: options.heatIsProbability ?? discovery.heatIsProbability ?? false,
  });
  progress(0.5, `${CONVENTIONS[convention].label}: computing`);
  const { report } = computeDense(loaded.loaded, {
    weights,
    centernetFocal: (logits, gt, planes, HW, bounds, topK) => focalSums(logits, gt, planes, HW, bounds, topK),
    ...(options.topPixels !== undefined ? { topPixels: options.topPixels } : {}),
  });
  report.inputs = describeDenseInputs(resolution, loaded.nonFinite);
  const skipped: LossWarning[] = discovery.skipped.map((s) => ({ code: 'skipped-file', message: `${s.file} was skipped: ${s.reason}`, files: [s.file] }));
  report.warnings = [...skipped, ...loaded.warnings, ...report.warnings].map((w) => {
    if (w.files || !w.roles) return w;
    const files = [...new Set(resolution.uses.filter((u) => w.roles!.includes(u.role)).map((u) => u.ref.file))];
    return files.length ? { ...w, files } : w;
  });
  report.timings.readMs = headerMs + loaded.readMs;
  const later = deferDiagnosis(report, options, () => denseHeatSource(loaded.loaded));
  progress(1, 'done');
  return { report, resolution, loaded: loaded.loaded, ...(later ? { diagnose: later } : {}) };
}

function describeDenseInputs(resolution: DenseResolution, nonFinite: Map<string, number>): LossReport['inputs'] {
  return {
    roles: resolution.uses.map((u) => ({
      ...(nonFinite.has(refLabel(u.ref)) ? { nonFinite: nonFinite.get(refLabel(u.ref))! } : {}),
      role: u.role,
      file: u.ref.file,
      ...(u.ref.key !== undefined ? { key: u.ref.key } : {}),
      shape: u.ref.header.shape,
      dtype: u.ref.header.dtype,
      stacks: u.stacks,
      purpose: 'loss' as const,
      origin: u.origin,
    })),
    unused: resolution.unused.map(({ ref, reason }) => ({
      file: ref.file,
      ...(ref.key !== undefined ? { key: ref.key } : {}),
      shape: ref.header.shape,
      dtype: ref.header.dtype,
      reason,
    })),
  };
}

/**
 * What the extension's worker keeps to serve the panels: the report, the inputs (the heatmaps
 * streamed when they can be, then `heat` says where they are and `positives` holds the focal
 * normalisers; the maps read whole, since the panel draws them), or whole inputs when they cannot.
 */
export type ComputedForViews = (
  | { report: LossReport; inputs: LossInputs; heat?: undefined }
  | { report: LossReport; inputs: LossInputs; heat: StreamPlan; positives: Record<Corner, number> }
) & {
  /** With `findings: 'later'`: diagnoses the batch (adds findings and gradients to the report) and returns them. */
  diagnose?: () => Diagnosis;
};

/** What the diagnosis adds to a report. */
export type Diagnosis = Required<Pick<LossReport, 'findings' | 'gradients'>> & { diagnoseMs: number };

export async function computeLossForViews(spec: InputSpec, options: RunOptions = {}): Promise<ComputedForViews> {
  checkRunOptions(options);
  const t0 = performance.now();
  options.onProgress?.(0, 'reading headers');
  const discovery = await discoverInputs(spec, options.limits);
  const choice = chooseConvention(discovery, options);
  let computed: ComputedForViews;
  if (choice.name !== 'cornernet') computed = await denseForViews(discovery, choice, options, t0); else if (options.stream === false) computed = await computeLossWithInputs(spec, options, { discovery, t0 });
  else computed = await computeStreamed(spec, options, true, { discovery, t0 });
  computed.report.conventionChoice = choice;
  nameClasses(computed.report, discovery, options);
  return computed;
}

/** Discovered inputs, when the caller already has them. */
interface Discovered {
  discovery: Discovery;
  resolution?: Resolution;
  t0: number;
}

/** CornerNet's roles, with the assignments that name none of them refused. */
function cornernetResolution(discovery: Discovery): Resolution {
  const foreign = discovery.assignments.find((a) => !parseRoleName(a.name));
  if (foreign) throw new InputError(foreign.where, unknownCornernetRole(foreign.name));
  const resolution = resolveRoles(discovery.candidates, discovery.arrays, discovery.mask ? { mask: discovery.mask.how } : {});
  if (resolution.problems.length) throw new RoleResolutionError(resolution.problems, discovery.skipped);
  return resolution;
}

/** The streamed run; `keep`: also what the views need (else the report alone). */
async function computeStreamed(spec: InputSpec, options: RunOptions, keep: true, discovered?: Discovered): Promise<ComputedForViews>;
async function computeStreamed(spec: InputSpec, options: RunOptions, keep: false, discovered?: Discovered): Promise<{ report: LossReport }>;
async function computeStreamed(spec: InputSpec, options: RunOptions, keep: boolean, discovered?: Discovered): Promise<ComputedForViews | { report: LossReport }> {
  checkRunOptions(options);
  const progress = options.onProgress ?? (() => undefined);
  const t0 = discovered?.t0 ?? performance.now();
  const threads = resolveThreadCount(options.threads);
  const minPixels = options.minThreadedPixels ?? MIN_THREADED_PIXELS;
  let workers = FocalWorkers.start(0);
  try {
    progress(0, 'reading headers');
    const discovery = discovered?.discovery ?? (await discoverInputs(spec, options.limits));
    const resolution = cornernetResolution(discovery);
    const weights = weightsFor('cornernet', discovery, options);
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
        weights,
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
    report.conventionChoice = chooseConvention(discovery, options);
    const later = deferDiagnosis(report, options, () => fileHeatSource(dimsOf(d), plan.jobs.map((j, i) => ({ head: CORNERS[i]!, gt: j.gt, preds: j.logits }))));
    progress(1, 'done');
    if (!keep) return { report };
    return { report, inputs: loaded.inputs, heat: plan, positives: { tl: streamed.scans.tl.positives, br: streamed.scans.br.positives }, ...(later ? { diagnose: later } : {}) };
  } finally {
    void workers.close();
  }
}

/** The report and the inputs it was computed from (kept by the worker to serve slices). */
export async function computeLossWithInputs(
  spec: InputSpec,
  options: RunOptions = {},
  resolved?: Discovered,
): Promise<{ report: LossReport; inputs: LossInputs; diagnose?: () => Diagnosis }> {
  checkRunOptions(options);
  const progress = options.onProgress ?? (() => undefined);
  const t0 = resolved?.t0 ?? performance.now();
  progress(0, 'reading headers');
  const discovery = resolved?.discovery ?? (await discoverInputs(spec, options.limits));
  const resolution = resolved?.resolution ?? cornernetResolution(discovery);
  const weights = weightsFor('cornernet', discovery, options);
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
      weights,
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
  report.conventionChoice = chooseConvention(discovery, options);
  finish(report, discovery, resolution, loaded);
  nameClasses(report, discovery, options);
  const i = loaded.inputs;
  const later = deferDiagnosis(report, options, () => memoryHeatSource(dimsOf(i.dims), CORNERS, 'logits', i.gtHeat, { tl: i.heat.tl.map((h) => h.logits), br: i.heat.br.map((h) => h.logits) }));
  return { report, inputs: loaded.inputs, ...(later ? { diagnose: later } : {}) };
}

/**
 * The ground-truth ablation of a computed batch, image by image: from memory, or from the files
 * through `reader` when the heatmaps stayed there (the extension's worker holds one).
 */
export function ablationOf(inputs: LossInputs, reader?: ImageHeatReader, options: { K?: number } = {}): Ablation {
  const centers = inputs.sizes !== undefined;
  const maps = centers ? inputs.sizes?.map && inputs.regrMap?.tl : inputs.tagMap?.tl && inputs.tagMap.br && inputs.regrMap?.tl && inputs.regrMap.br;
  if (!maps) {
    const needs = centers ? 'the size (wh) and offset (reg) maps' : 'the embedding and offset maps (tl_tag/br_tag [B,1,H,W], tl_regr/br_regr [B,2,H,W])';
    return { stack: inputs.dims.S - 1, options: { K: options.K ?? 100 }, rows: [], unavailable: `decoding needs ${needs}; only gathered values were given` };
  }
  try {
    return ablation(inputs.dims, centers, (b) => (reader ? { inputs: reader.imageInputs(b), image: 0 } : { inputs, image: b }), options);
  } catch (e) {
    // The loss stands without it: the ablation says why it is missing.
    if (!(e instanceof InputError)) throw e;
    return { stack: inputs.dims.S - 1, options: { K: options.K ?? 100 }, rows: [], unavailable: e.message };
  }
}

/** Diagnoses now (the default), or returns the diagnosis for later (`findings: 'later'`), or nothing (false). */
function deferDiagnosis(report: LossReport, options: Pick<RunOptions, 'findings'>, source: () => HeatSource): (() => Diagnosis) | undefined {
  if (options.findings === false) return undefined;
  const run = () => {
    diagnose(report, source());
    return { findings: report.findings!, gradients: report.gradients!, diagnoseMs: report.timings.diagnoseMs! };
  };
  if (options.findings === 'later') return run;
  run();
  return undefined;
}

function diagnose(report: LossReport, source: HeatSource): void {
  const t0 = performance.now();
  // Each stack's per-pixel rule, for the heat gradient: CornerNet's and CenterNet's clamp by the
  // input dtype, mmdetection's plain sigmoid.
  const f64 = report.precision === 'float64';
  const plain = report.convention.startsWith('mmdet');
  const bounds = Array.from({ length: report.nstack }, () => (plain ? plainBounds(f64 ? 'float64' : 'float32') : boundsFor(f64 ? 'float64' : 'float32')));
  const scan = scanHeat(source, { bounds });
  report.findings = computeFindings(report, scan);
  report.gradients = gradientNorms(report, scan);
  report.timings.diagnoseMs = performance.now() - t0;
}

function dimsOf(d: { S: number; B: number; C: number; H: number; W: number }): HeatSource['dims'] {
  return { S: d.S, B: d.B, C: d.C, H: d.H, W: d.W };
}

/** A dense convention's heatmaps as the scan takes them (center conventions: one head, `tl`). */
function denseHeatSource(l: DenseInputs): HeatSource {
  switch (l.convention) {
    case 'mmdet-cornernet': {
      const i = l.inputs;
      return memoryHeatSource({ S: i.dims.levels, B: i.dims.B, C: i.dims.C, H: i.dims.H, W: i.dims.W }, CORNERS, 'logits', { tl: i.topleftHeatmap, br: i.bottomrightHeatmap }, { tl: i.tlHeats, br: i.brHeats });
    }
    case 'centernet': {
      const i = l.inputs;
      return memoryHeatSource({ S: i.dims.stacks, B: i.dims.B, C: i.dims.C, H: i.dims.H, W: i.dims.W }, ['tl'], 'logits', { tl: i.target.hm, br: i.target.hm }, { tl: i.hm, br: [] });
    }
    case 'mmdet-centernet': {
      const i = l.inputs;
      return memoryHeatSource({ S: 1, B: i.dims.B, C: i.dims.C, H: i.dims.H, W: i.dims.W }, ['tl'], 'probabilities', { tl: i.centerHeatmapTarget, br: i.centerHeatmapTarget }, { tl: [i.centerHeatmapPred], br: [] });
    }
  }
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
