/**
 * CornerNet's AELoss on in-memory inputs: focal + w_pull pull + w_push push + w_regr regr, each
 * summed over stacks, divided by the number of stacks; with the breakdown and the warnings.
 */
import type { FloatArray, LossInputs } from './batch';
import { InputError } from './errors';
import type { DType } from '../tensor/dtype';
import { MAX_TOP_PIXELS, checkObjectLimits } from './limits';
import { boundsFor } from './pixel';
import { embeddingLoss, type Arithmetic, type EmbeddingResult } from './embedding';
import { clampedSigmoid, focalFromSums, focalSums, scanTargets, type FocalSums, type TargetScan } from './focal';
import { offsetLoss, type OffsetResult } from './offset';
import { FocalWorkers, resolveThreadCount, type HeatmapJob } from './parallel';
import { arrayHeatValues, type HeatValues } from './stream';
import {
  CORNERNET_WEIGHTS,
  num,
  type ClassReport,
  type ImageReport,
  type LossReport,
  type LossWeights,
  type ObjectReport,
  type PixelReport,
  type StackReport,
} from './report';
import { CORNERS, type Corner } from './roles';
import type { LossWarning } from './warnings';

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

/** The sampler's `max_tag_len`: more objects per image raise IndexError in CornerNet. */
const MAX_TAG_LEN = 128;

/** Fraction of clamped logits in one heatmap above which `saturated-logits` is raised. */
const SATURATION_WARN_FRACTION = 1e-3;

export { boundsFor } from './pixel';

export function computeLoss(inputs: LossInputs, options: LossOptions = {}): LossReport {
  const t0 = performance.now();
  const weights: LossWeights = { ...CORNERNET_WEIGHTS, ...options.weights };
  const arithmetic = options.arithmetic ?? 'original';
  const topN = options.topPixels ?? 20;
  const { S, B, C, H, W, K } = inputs.dims;
  const HW = H * W;
  const planes = B * C;
  const progress = options.onProgress ?? (() => undefined);
  const warnings: LossWarning[] = [];
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

  // Per-image focal: each plane's sums normalised like the stack's.
  const planeFocal = (corner: Corner, s: number, plane: number) => {
    const r = sums[corner][s]!;
    const v = r.pos[plane]! + r.neg[plane]!;
    const n = scans[corner].positives;
    return n === 0 ? v : v / Math.fround(n);
  };
  const imageFocal = (corner: Corner, s: number, b: number) => {
    let v = 0;
    for (let c = 0; c < C; c++) v += planeFocal(corner, s, b * C + c);
    return v;
  };

  const objectCount = Array.from({ length: B }, (_, b) => ae[0]?.images[b]?.objects ?? 0);
  const planePositives = (corner: Corner, b: number) => {
    let n = 0;
    for (let c = 0; c < C; c++) n += scans[corner].planePositives[b * C + c]!;
    return n;
  };

  const perStack: StackReport[] = [];
  for (let s = 0; s < S; s++) {
    const st = {
      focalTl: focal.tl[s]!,
      focalBr: focal.br[s]!,
      pull: ae[s]!.pull,
      push: ae[s]!.push,
      regrTl: regr.tl[s]!.loss,
      regrBr: regr.br[s]!.loss,
    };
    const focalS = st.focalTl + st.focalBr;
    const regrS = st.regrTl + st.regrBr;
    perStack.push({
      stack: s,
      focalTl: num(st.focalTl),
      focalBr: num(st.focalBr),
      focal: num(focalS),
      pull: num(st.pull),
      push: num(st.push),
      regrTl: num(st.regrTl),
      regrBr: num(st.regrBr),
      regr: num(regrS),
      total: num((focalS + weights.pull * st.pull + weights.push * st.push + weights.regr * regrS) / S),
      clamped: {
        tl: { low: sums.tl[s]!.clampedLow, high: sums.tl[s]!.clampedHigh, positives: sums.tl[s]!.clampedPositives },
        br: { low: sums.br[s]!.clampedLow, high: sums.br[s]!.clampedHigh, positives: sums.br[s]!.clampedPositives },
      },
      images: Array.from({ length: B }, (_, b) => ({
        focalTl: num(imageFocal('tl', s, b)),
        focalBr: num(imageFocal('br', s, b)),
        pull: num(ae[s]!.images[b]!.pull),
        push: num(ae[s]!.images[b]!.push),
        regrTl: num(regr.tl[s]!.perImage[b]!),
        regrBr: num(regr.br[s]!.perImage[b]!),
      })),
    });
  }

  const perImage: ImageReport[] = Array.from({ length: B }, (_, b) => {
    let f = 0;
    let pl = 0;
    let ps = 0;
    let rg = 0;
    for (let s = 0; s < S; s++) {
      f += imageFocal('tl', s, b) + imageFocal('br', s, b);
      pl += ae[s]!.images[b]!.pull;
      ps += ae[s]!.images[b]!.push;
      rg += regr.tl[s]!.perImage[b]! + regr.br[s]!.perImage[b]!;
    }
    return {
      image: b,
      objects: objectCount[b]!,
      positives: { tl: planePositives('tl', b), br: planePositives('br', b) },
      focal: num(f),
      focalShare: focalTotal !== 0 ? num(f / focalTotal) : null,
      pull: num(pl),
      push: num(ps),
      regr: num(rg),
      total: num((f + weights.pull * pl + weights.push * ps + weights.regr * rg) / S),
    };
  });

  const perClass: ClassReport[] = Array.from({ length: C }, (_, c) => {
    const fc = { tl: 0, br: 0 };
    const pos = { tl: 0, br: 0 };
    for (const corner of CORNERS) {
      for (let b = 0; b < B; b++) {
        pos[corner] += scans[corner].planePositives[b * C + c]!;
        for (let s = 0; s < S; s++) fc[corner] += planeFocal(corner, s, b * C + c);
      }
    }
    return {
      class: c,
      positives: pos,
      focalTl: num(fc.tl),
      focalBr: num(fc.br),
      focal: num(fc.tl + fc.br),
      focalShare: focalTotal !== 0 ? num((fc.tl + fc.br) / focalTotal) : null,
    };
  });

  const objects: ObjectReport[] = [];
  for (let s = 0; s < S; s++) {
    const byObject = {
      tl: new Map(regr.tl[s]!.objects.map((o) => [o.image * K + o.slot, o.loss])),
      br: new Map(regr.br[s]!.objects.map((o) => [o.image * K + o.slot, o.loss])),
    };
    const offsetOf = (corner: Corner, b: number, k: number) => byObject[corner].get(b * K + k) ?? 0;
    for (let b = 0; b < B; b++) {
      for (const item of ae[s]!.images[b]!.items) {
        const i = (b * K + item.slot) * 2;
        const pair = (a: Float64Array): [number | null, number | null] => [num(a[i]!), num(a[i + 1]!)];
        const o: ObjectReport = {
          stack: s,
          image: b,
          slot: item.slot,
          tlTag: num(item.tl),
          brTag: num(item.br),
          mean: num(item.mean),
          pull: num(item.pull),
          push: num(item.push),
          tlOffset: pair(inputs.regr.tl[s]!),
          brOffset: pair(inputs.regr.br[s]!),
          tlOffsetTarget: pair(inputs.gtRegr.tl),
          brOffsetTarget: pair(inputs.gtRegr.br),
          regrTl: num(offsetOf('tl', b, item.slot)),
          regrBr: num(offsetOf('br', b, item.slot)),
        };
        for (const corner of CORNERS) {
          const ind = inputs.ind?.[corner];
          if (ind) {
            const p = ind[b * K + item.slot]!;
            o[corner === 'tl' ? 'tlCorner' : 'brCorner'] = { x: p % W, y: Math.floor(p / W) };
          }
        }
        if (o.tlCorner && o.brCorner) {
          // The class is the target channel holding an exact 1 at both corners (tl first).
          const at = (corner: Corner, c: number) => {
            const q = corner === 'tl' ? o.tlCorner! : o.brCorner!;
            return values.isPositive(corner, ((b * C + c) * H + q.y) * W + q.x);
          };
          let cls = -1;
          for (let c = 0; c < C && cls < 0; c++) if (at('tl', c) && at('br', c)) cls = c;
          for (let c = 0; c < C && cls < 0; c++) if (at('tl', c) || at('br', c)) cls = c;
          if (cls >= 0) o.class = cls;
          const gt = (corner: Corner, xy: 0 | 1) => inputs.gtRegr[corner][(b * K + item.slot) * 2 + xy]!;
          o.box = [o.tlCorner.x + gt('tl', 0), o.tlCorner.y + gt('tl', 1), o.brCorner.x + gt('br', 0), o.brCorner.y + gt('br', 1)];
        }
        objects.push(o);
      }
    }
  }

  const topPixels: PixelReport[] = [];
  for (const corner of CORNERS) {
    const n = scans[corner].positives;
    for (let s = 0; s < S; s++) {
      const heat = inputs.heat[corner][s]!;
      for (const { value, index } of sums[corner][s]!.top.sorted()) {
        const plane = Math.floor(index / HW);
        const pix = index % HW;
        const target = values.gt(corner, index);
        const logit = values.logit(corner, s, index);
        topPixels.push({
          stack: s,
          corner,
          image: Math.floor(plane / C),
          class: plane % C,
          x: pix % W,
          y: Math.floor(pix / W),
          logit: num(logit),
          probability: num(clampedSigmoid(logit, boundsFor(heat.dtype))),
          target: num(target),
          positive: target === 1,
          loss: num(n === 0 ? value : value / Math.fround(n)),
        });
      }
    }
  }
  topPixels.sort((a, b) => (b.loss ?? -Infinity) - (a.loss ?? -Infinity));
  topPixels.length = Math.min(topPixels.length, topN);

  collectWarnings();

  const report: LossReport = {
    version: 1,
    total: num(total),
    weights,
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
    planeFocal: {
      tl: Array.from({ length: planes }, (_, i) => num(focal.tl.reduce((a, _f, st) => a + planeFocal('tl', st, i), 0))),
      br: Array.from({ length: planes }, (_, i) => num(focal.br.reduce((a, _f, st) => a + planeFocal('br', st, i), 0))),
    },
    objects,
    topPixels,
    inputs: { roles: [], unused: [] },
    warnings,
    timings: { readMs: 0, computeMs: 0 },
  };
  progress(1, 'done');
  report.timings.computeMs = performance.now() - t0;
  return report;

  function collectWarnings(): void {
    const warn = (w: LossWarning) => warnings.push(w);
    const fmt = (x: number) => (x === 0 ? '0' : Number.isFinite(x) ? x.toPrecision(6) : String(x));
    const at = (index: number) => {
      const plane = Math.floor(index / HW);
      const pix = index % HW;
      return `image ${Math.floor(plane / C)}, class ${plane % C}, y ${Math.floor(pix / W)}, x ${pix % W}`;
    };

    if (B === 1) {
      warn({
        code: 'batch-size-one',
        message:
          'Batch size 1: the original AELoss raises here (IndexError: Dimension out of range, from tag.squeeze() in _ae_loss). Reported: the intended value, as if the batch were padded with an empty image.',
        roles: ['tl_tag', 'br_tag', 'gt_mask'],
      });
    } else if (K === 1) {
      warn({
        code: 'single-slot',
        message: 'K = 1 object slot with batch size > 1: the original AELoss raises here (squeeze drops the slot axis). Reported: the intended value.',
        roles: ['gt_mask'],
      });
    }

    const ones = objectCount.map((n, b) => (n === 1 ? b : -1)).filter((b) => b >= 0);
    if (ones.length) {
      const extra = sum(ae.map((a) => sum(ones.map((b) => a.images[b]!.push))));
      warn({
        code: 'single-object-push',
        message: `${ones.length === 1 ? 'Image' : 'Images'} ${ones.join(', ')} ${ones.length === 1 ? 'has' : 'have'} exactly one object: in the original each adds about 1.000166 to push per stack (here ${fmt(extra)} of the unweighted push ${fmt(pushTotal)}, ${fmt((weights.push * extra) / S)} of the total); mmdetection would give 0. Reported: the original's value.`,
        roles: ['gt_mask'],
      });
    }

    const original = ae.find((a) => a.original)?.original;
    if (inputs.maskDType === 'bool') {
      const origPush = sum(ae.map((a) => a.original?.push ?? 0));
      warn({
        code: 'bool-mask',
        message: `gt_mask is bool: the original selects push pairs with mask_j + mask_k == 2, never true for bool, so it would report push = ${fmt(origPush)} instead of ${fmt(pushTotal)} (pull is unaffected). Reported: the mask as a valid-slot mask. Keep masks uint8.`,
        roles: ['gt_mask'],
      });
    } else {
      let odd = -1;
      for (let i = 0; i < inputs.mask.length; i++) {
        if (inputs.mask[i] !== 0 && inputs.mask[i] !== 1) {
          odd = i;
          break;
        }
      }
      if (odd >= 0 || original) {
        const detail =
          original && original.pull !== null
            ? `the original would report pull = ${fmt(sum(ae.map((a) => a.original!.pull!)))} and push = ${fmt(sum(ae.map((a) => a.original!.push!)))}`
            : original
              ? original.reason
              : '';
        warn({
          code: 'mask-values',
          message: `gt_mask ${odd >= 0 ? `holds values other than 0/1 (${inputs.mask[odd]} at image ${Math.floor(odd / K)}, slot ${odd % K})` : `is ${inputs.maskDType}`}: ${detail}. Reported: nonzero slots as objects, each counted once.`,
          roles: ['gt_mask'],
        });
      }
    }

    for (const corner of CORNERS) {
      const sc = scans[corner];
      if (sc.positives === 0) {
        warn({
          code: 'no-positives',
          message: `gt_${corner}_heat has no value exactly 1 in the whole batch: the original does not normalise the ${corner} focal loss and reports the raw negative sum (${fmt(sum(focal[corner]))} here, summed over stacks). Reported: the original's value.`,
          roles: [`gt_${corner}_heat`],
        });
      }
      if (sc.nearOne) {
        warn({
          code: 'near-one-peak',
          message: `gt_${corner}_heat has ${sc.nearOne} value(s) in (0.999, 1), first ${values.gt(corner, sc.firstNearOne!).toPrecision(9)} at ${at(sc.firstNearOne!)}: the original counts only gt == 1 as positives, so these peaks are negatives with ~0 weight. Keep exact 1.0 peaks (float16 or resampling can break them).`,
          roles: [`gt_${corner}_heat`],
        });
      }
      if (sc.aboveOne) {
        warn({
          code: 'gt-above-one',
          message: `gt_${corner}_heat has ${sc.aboveOne} value(s) above 1, first ${fmt(values.gt(corner, sc.firstAboveOne!))} at ${at(sc.firstAboveOne!)}: the original ignores these pixels (neither gt == 1 nor gt < 1).`,
          roles: [`gt_${corner}_heat`],
        });
      }
    }

    const nonFinite: string[] = [];
    const nf = (name: string, count: number) => count > 0 && nonFinite.push(`${name} (${count})`);
    for (const corner of CORNERS) {
      sums[corner].forEach((r, s) => nf(`${corner}_heat${S > 1 ? ` stack ${s}` : ''}`, r.nonFinite));
      nf(`gt_${corner}_heat`, scans[corner].nonFinite);
      inputs.tag[corner].forEach((a, s) => nf(`${corner}_tag${S > 1 ? ` stack ${s}` : ''}`, countNonFinite(a)));
      inputs.regr[corner].forEach((a, s) => nf(`${corner}_regr${S > 1 ? ` stack ${s}` : ''}`, countNonFinite(a)));
      nf(`gt_${corner}_regr`, countNonFinite(inputs.gtRegr[corner]));
    }
    nf('gt_mask', countNonFinite(inputs.mask));
    if (nonFinite.length) {
      warn({
        code: 'non-finite',
        message: `NaN or Inf values in ${nonFinite.join(', ')}. NaN logits make the focal loss NaN; NaN targets are ignored; NaN embeddings or offsets make their terms NaN.`,
        roles: nonFinite.map((n) => n.split(' ')[0]!),
      });
    }

    const integerHeat = CORNERS.flatMap((corner) =>
      inputs.heat[corner].map((h, s) => (isIntegerDType(h.dtype) ? `${corner}_heat${S > 1 ? ` stack ${s}` : ''} (${h.dtype})` : '')).filter(Boolean),
    );
    if (integerHeat.length) {
      warn({
        code: 'integer-logits',
        message: `${integerHeat.join(', ')}: integer heatmap logits. The original's in-place sigmoid_ raises on an integer tensor (RuntimeError: result type Float can't be cast to the desired output type); the value reported reads the integers as float32 logits. Were probabilities or class ids saved instead of logits?`,
        roles: [...new Set(integerHeat.map((n) => n.split(' ')[0]!))],
      });
    }

    for (const corner of CORNERS) {
      sums[corner].forEach((r, s) => {
        const clamped = r.clampedLow + r.clampedHigh;
        if (clamped / (planes * HW) >= SATURATION_WARN_FRACTION || r.clampedPositives > 0) {
          warn({
            code: 'saturated-logits',
            message: `${corner}_heat${S > 1 ? ` stack ${s}` : ''}: ${clamped} of ${planes * HW} logits (${((100 * clamped) / (planes * HW)).toPrecision(3)}%) are beyond the clamp (${r.clampedLow} at p = 1e-4, ${r.clampedHigh} at p = 1-1e-4)${r.clampedPositives ? `, ${r.clampedPositives} of them at positives, each costing the maximum -log(1e-4) = 9.21` : ''}. Clamped pixels give no gradient.`,
            roles: [`${corner}_heat`],
          });
        }
      });
    }

    const crowded = objectCount.map((n, b) => (n > MAX_TAG_LEN ? `image ${b}: ${n}` : '')).filter(Boolean);
    if (crowded.length) {
      warn({
        code: 'too-many-objects',
        message: `More than ${MAX_TAG_LEN} objects (${crowded.join('; ')}): CornerNet's sampler (max_tag_len = 128) raises IndexError on such images, so the original never computes this loss.`,
        roles: ['gt_mask'],
      });
    }

    const bad = (['focal', 'pull', 'push', 'regr'] as const).filter((k) => !Number.isFinite(weighted[k]));
    if (bad.length || !Number.isFinite(total)) {
      warn({
        code: 'non-finite-result',
        message: `${bad.length ? bad.join(', ') : 'the total'} ${bad.length > 1 ? 'are' : 'is'} not finite (reported as null in JSON).`,
      });
    }
  }
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

export function countNonFinite(a: FloatArray): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    if (x - x !== 0) n++;
  }
  return n;
}

function isIntegerDType(d: DType): boolean {
  return d === 'bool' || /^u?int\d+$/.test(d);
}
