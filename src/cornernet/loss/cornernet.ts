/**
 * CornerNet's AELoss on in-memory inputs: focal + w_pull pull + w_push push + w_regr regr, each
 * summed over stacks, divided by the number of stacks (the terms and totals here; the breakdown in
 * breakdown.ts, the quirk warnings in quirks.ts).
 */
import type { LossInputs } from '../model/batch';
import { InputError } from '../model/errors';
import { MAX_TOP_PIXELS, checkObjectLimits } from '../model/limits';
import { boundsFor } from '../model/pixel';
import { CORNERNET_WEIGHTS, num, type LossReport, type LossWeights } from '../model/report';
import { CORNERS, type Corner } from '../model/roles';
import { focalFromSums, focalSums, scanTargets, type FocalSums, type TargetScan } from '../focal/focal';
import { FocalWorkers, resolveThreadCount, type HeatmapJob } from '../focal/parallel';
import { arrayHeatValues, type HeatValues } from '../focal/stream';
import { cornernetBreakdown } from './breakdown';
import { embeddingLoss, type Arithmetic, type EmbeddingResult } from './embedding';
import { offsetLoss, type OffsetResult } from './offset';
import { cornernetQuirks } from './quirks';

export interface LossOptions {
  weights?: Partial<LossWeights>;
  /** How many of the largest per-pixel focal losses to report (default 20). */
  topPixels?: number;
  /** 'original' (default) reproduces the float32 count constants; 'exact' is pure float64. */
  arithmetic?: Arithmetic;
  /** Called between stages; throw from it to cancel. */
  onProgress?: (fraction: number, stage: string) => void;
  /**
   * Focal sums already computed (by computeLossThreaded), per corner type and stack; when absent
   * computeLoss computes them on the calling thread.
   */
  focalSums?: Record<Corner, FocalSums[]>;
  /**
   * With focalSums, for inputs whose heatmaps were not read into memory (stream.ts): the targets'
   * scans and the few pixel values the report shows.
   */
  streamed?: { scans: Record<Corner, TargetScan>; values: HeatValues };
}

export interface ThreadedLossOptions extends LossOptions {
  /** Threads for the focal loss, the calling one included (default: the machine's, 0 too). */
  threads?: number;
  /** Worker threads already started (FocalWorkers.start); left running for the caller to close. */
  workers?: FocalWorkers;
  /** Fewer heatmap pixels (all passes) than this run on the calling thread (default MIN_THREADED_PIXELS). */
  minThreadedPixels?: number;
}

/**
 * Below this many heatmap pixels (all passes) threads are not worth their start-up. A worker boots
 * in ~50-100 ms of CPU while the SIMD kernel takes ~3 ns per pixel: on the realistic case (21 M
 * pixels of passes) one thread was measured faster than two (CLI compute ~180 ms against ~220 ms);
 * at 4 times its size (84 M) two threads won (~490 ms against ~600 ms).
 */
export const MIN_THREADED_PIXELS = 1 << 25;

/**
 * The terms of AELoss.forward and everything the breakdown and the quirk warnings are derived from:
 * focal sums per corner type and stack, pull/push per stack, the offset loss per corner and stack,
 * and the totals, composed in the original's order of float additions.
 */
export interface CornerNetTerms {
  inputs: LossInputs;
  weights: LossWeights;
  arithmetic: Arithmetic;
  topN: number;
  values: HeatValues;
  scans: Record<Corner, TargetScan>;
  sums: Record<Corner, FocalSums[]>;
  /** Normalised focal loss per corner type and stack. */
  focal: Record<Corner, number[]>;
  ae: EmbeddingResult[];
  regr: Record<Corner, OffsetResult[]>;
  focalTotal: number;
  pullTotal: number;
  pushTotal: number;
  regrTotal: number;
  weighted: { focal: number; pull: number; push: number; regr: number };
  total: number;
}

export function cornernetTerms(inputs: LossInputs, options: LossOptions = {}): CornerNetTerms {
  const weights: LossWeights = { ...CORNERNET_WEIGHTS, ...options.weights };
  const arithmetic = options.arithmetic ?? 'original';
  const topN = options.topPixels ?? 20;
  const { S, B, C, H, W, K } = inputs.dims;
  const HW = H * W;
  const planes = B * C;
  const progress = options.onProgress ?? (() => undefined);
  if (inputs.heatOnDisk && !(options.streamed && options.focalSums)) throw new Error('computeLoss: heatmaps on disk need streamed focal sums');
  checkObjectLimits(inputs.mask, B, K);
  if (!Number.isSafeInteger(topN) || topN < 0 || topN > MAX_TOP_PIXELS) throw new InputError('--top', `expects 0..${MAX_TOP_PIXELS} pixels, got ${topN}`);
  const values = options.streamed?.values ?? arrayHeatValues(inputs.heat, inputs.gtHeat);

  // Focal: targets scanned once per corner type, then one fused pass per stack.
  const scans = {} as Record<Corner, TargetScan>;
  const sums: Record<Corner, FocalSums[]> = { tl: [], br: [] };
  const focal: Record<Corner, number[]> = { tl: [], br: [] };
  let step = 0;
  for (const corner of CORNERS) {
    scans[corner] = options.streamed?.scans[corner] ?? scanTargets(inputs.gtHeat[corner], planes, HW);
    for (let s = 0; s < S; s++) {
      let r = options.focalSums?.[corner][s];
      if (!r) {
        progress(step++ / (2 * S + 1), `focal loss, ${corner}, stack ${s + 1}/${S}`);
        const heat = inputs.heat[corner][s]!;
        r = focalSums(heat.logits, inputs.gtHeat[corner], planes, HW, boundsFor(heat.dtype), topN);
      }
      sums[corner].push(r);
      focal[corner].push(focalFromSums(r, scans[corner].positives));
    }
  }
  progress((2 * S) / (2 * S + 1), 'embeddings and offsets');

  const ae: EmbeddingResult[] = [];
  const regr: Record<Corner, OffsetResult[]> = { tl: [], br: [] };
  for (let s = 0; s < S; s++) {
    ae.push(embeddingLoss(inputs.tag.tl[s]!, inputs.tag.br[s]!, inputs.mask, inputs.maskDType, B, K, arithmetic));
    for (const corner of CORNERS) {
      regr[corner].push(offsetLoss(inputs.regr[corner][s]!, inputs.gtRegr[corner], inputs.mask, B, K, arithmetic));
    }
  }

  // Totals, exactly as AELoss.forward composes them.
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const focalTotal = sum(focal.tl) + sum(focal.br);
  const pullTotal = sum(ae.map((a) => a.pull));
  const pushTotal = sum(ae.map((a) => a.push));
  const regrTotal = sum(regr.tl.map((r) => r.loss)) + sum(regr.br.map((r) => r.loss));
  const weighted = {
    focal: focalTotal,
    pull: weights.pull * pullTotal,
    push: weights.push * pushTotal,
    regr: weights.regr * regrTotal,
  };
  const total = (weighted.focal + weighted.pull + weighted.push + weighted.regr) / S;

  return { inputs, weights, arithmetic, topN, values, scans, sums, focal, ae, regr, focalTotal, pullTotal, pushTotal, regrTotal, weighted, total };
}

export function computeLoss(inputs: LossInputs, options: LossOptions = {}): LossReport {
  const t0 = performance.now();
  const progress = options.onProgress ?? (() => undefined);
  const t = cornernetTerms(inputs, options);
  const { S, B, C, H, W, K } = inputs.dims;
  const { weights, arithmetic, scans, weighted, focalTotal, pullTotal, pushTotal, regrTotal, total } = t;
  const { perStack, perImage, perClass, planeFocal, objects, topPixels } = cornernetBreakdown(t);
  const warnings = cornernetQuirks(t);
  const report: LossReport = {
    version: 1,
    convention: 'cornernet',
    heads: 'corners',
    total: num(total),
    // AELoss.forward's own names: each weighted and summed over stacks; the total divides by S.
    terms: { focal_loss: num(weighted.focal), pull_loss: num(weighted.pull), push_loss: num(weighted.push), regr_loss: num(weighted.regr) },
    weights: { ...weights },
    nstack: S,
    sizes: { batch: B, classes: C, height: H, width: W, maxObjects: K },
    precision: inputs.heat.tl.every((h) => h.dtype === 'float64') ? 'float64' : 'float32',
    arithmetic,
    numPositives: { tl: scans.tl.positives, br: scans.br.positives },
    unweighted: { focal: num(focalTotal), pull: num(pullTotal), push: num(pushTotal), regr: num(regrTotal) },
    weighted: { focal: num(weighted.focal), pull: num(weighted.pull), push: num(weighted.push), regr: num(weighted.regr) },
    contribution: {
      focal: num(weighted.focal / S),
      pull: num(weighted.pull / S),
      push: num(weighted.push / S),
      regr: num(weighted.regr / S),
    },
    perStack,
    perImage,
    perClass,
    planeFocal,
    objects,
    topPixels,
    inputs: { roles: [], unused: [] },
    warnings,
    timings: { readMs: 0, computeMs: 0 },
  };
  progress(1, 'done');
  report.timings.computeMs = performance.now() - t0;
  return report;
  progress(1, 'done');
  report.timings.computeMs = performance.now() - t0;
  return report;
}


/**
 * computeLoss with the focal passes spread over threads (see parallel.ts): the same report, bit for
 * bit. Runs on the calling thread alone when one thread is asked for, when the heatmaps are small
 * (MIN_THREADED_PIXELS; workers given are used anyway) or when their arrays are not in
 * SharedArrayBuffers.
 */
export async function computeLossThreaded(inputs: LossInputs, options: ThreadedLossOptions = {}): Promise<LossReport> {
  const t0 = performance.now();
  const { S, B, C, H, W } = inputs.dims;
  const threads = options.workers ? options.workers.size + 1 : resolveThreadCount(options.threads);
  const small = 2 * S * B * C * H * W < (options.minThreadedPixels ?? MIN_THREADED_PIXELS);
  if (threads <= 1 || (small && !options.workers)) return computeLoss(inputs, options);
  const workers = options.workers ?? FocalWorkers.start(threads - 1);
  try {
    const progress = options.onProgress ?? (() => undefined);
    const jobs: HeatmapJob[] = [];
    for (const corner of CORNERS) {
      for (let s = 0; s < S; s++) {
        const heat = inputs.heat[corner][s]!;
        jobs.push({ logits: heat.logits, gt: inputs.gtHeat[corner], bounds: boundsFor(heat.dtype) });
      }
    }
    const focalShare = (2 * S) / (2 * S + 1);
    const all = await workers.heatmapSums(jobs, B * C, H * W, options.topPixels ?? 20, (done, total) =>
      progress((focalShare * done) / total, `focal loss (${workers.size + 1} threads)`),
    );
    const focal = { tl: all.slice(0, S), br: all.slice(S) };
    const report = computeLoss(inputs, { ...options, focalSums: focal });
    report.timings.computeMs = performance.now() - t0;
    return report;
  } finally {
    if (!options.workers) await workers.close();
  }
}
