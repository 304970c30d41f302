/**
 * mmdet 3.x `CenterNetHead.loss_by_feat` (GaussianFocalLoss on the head's PROBABILITIES, L1Loss
 * for wh and offset on dense maps) + mmengine `parse_losses`, on targets already built by
 * `CenterNetHead.get_targets`. See docs/conventions.md section 4.
 */
import { TopK } from '../focal/focal';
import {
  anyNonFinite,
  expectLength,
  gaussianFocalSums,
  mmdetCountDivisor,
  mmdetDoubledCountDivisor,
  plural,
  pyScalar,
  scanHeatTargets,
  type FloatArray,
  type LossWarning,
  type Precision,
} from './dense';

export interface MmdetCenternetDims {
  B: number;
  C: number;
  H: number;
  W: number;
}

export interface MmdetCenternetInputs {
  dims: MmdetCenternetDims;
  /** [B,C,H,W] heatmap PROBABILITIES (forward_single applies the sigmoid; the loss does not). */
  centerHeatmapPred: FloatArray;
  /** [B,2,H,W] (w, h) and (x, y) offsets. */
  whPred: FloatArray;
  offsetPred: FloatArray;
  /** [B,C,H,W] gaussian targets, peaks exactly 1. */
  centerHeatmapTarget: FloatArray;
  /** [B,2,H,W] targets at center pixels (the last box's where a pixel is shared). */
  whTarget: FloatArray;
  offsetTarget: FloatArray;
  /** [B,2,H,W] 1 at center pixels (both channels). */
  whOffsetTargetWeight: FloatArray;
  precision: Precision;
}

export interface MmdetCenternetWeights {
  heatmap: number;
  wh: number;
  offset: number;
}

/** CenterNetHead's defaults (and the r18 config): heatmap 1, wh 0.1, offset 1. */
export const MMDET_CENTERNET_WEIGHTS: Readonly<MmdetCenternetWeights> = { heatmap: 1, wh: 0.1, offset: 1 };

export interface MmdetCenternetObject {
  image: number;
  x: number;
  y: number;
  /** Classes with a peak (gt == 1) at this pixel. */
  peakClasses: number[];
  weight: [number, number];
  whPred: [number, number];
  whTarget: [number, number];
  /** sum over w, h of |pred - target| * weight, unnormalised and unweighted. */
  whL1: number;
  offPred: [number, number];
  offTarget: [number, number];
  offL1: number;
}

export interface MmdetCenternetResult {
  convention: 'mmdet_centernet';
  precision: Precision;
  weights: MmdetCenternetWeights;
  /** The loss dict, weighted as `loss_by_feat` returns it. */
  terms: { loss_center_heatmap: number; loss_wh: number; loss_offset: number };
  /** parse_losses' sum of the three. */
  loss: number;
  total: number;
  perImage: { objects: number; loss_center_heatmap: number; loss_wh: number; loss_offset: number; total: number }[];
  perClass: { loss_center_heatmap: number }[];
  /** loss_center_heatmap per (image, class) plane [B*C]. */
  planes: Float64Array;
  /** The pixels with the largest shares of loss_center_heatmap (flat index in [B,C,H,W]), largest first. */
  top: { index: number; loss: number }[];
  /** One entry per weighted pixel (mmdet keeps one wh/offset target per center pixel). */
  objects: MmdetCenternetObject[];
  /** #(target == 1): the A of avg_factor = max(1, A). */
  positives: number;
  positivesPerImage: number[];
  weightedPixels: number;
  divisors: { heatmap: number; whOffset: number };
  warnings: LossWarning[];
}

export function computeMmdetCenternet(inp: MmdetCenternetInputs, options: { weights?: Partial<MmdetCenternetWeights>; topK?: number } = {}): MmdetCenternetResult {
  const { B, C, H, W } = inp.dims;
  const HW = H * W;
  const precision = inp.precision;
  const r32 = precision === 'float32';
  const f = r32 ? Math.fround : (v: number) => v;
  const weights = { ...MMDET_CENTERNET_WEIGHTS, ...options.weights };
  const wHeat = pyScalar(weights.heatmap, precision);
  const wWh = pyScalar(weights.wh, precision);
  const wOff = pyScalar(weights.offset, precision);
  expectLength('centerHeatmapPred', inp.centerHeatmapPred, B * C * HW);
  expectLength('centerHeatmapTarget', inp.centerHeatmapTarget, B * C * HW);
  for (const k of ['whPred', 'offsetPred', 'whTarget', 'offsetTarget', 'whOffsetTargetWeight'] as const) expectLength(k, inp[k], B * 2 * HW);

  const warnings: LossWarning[] = [];
  const scan = scanHeatTargets(inp.centerHeatmapTarget, B * C, HW);
  const A = scan.positives;
  // avg_factor = max(1, #peaks): an int64 tensor or the Python int 1; wh/offset use avg_factor * 2.
  const divHeat = mmdetCountDivisor(A);
  const divWhOff = mmdetDoubledCountDivisor(A, precision);

  const topK = new TopK(options.topK ?? 0);
  const sums = gaussianFocalSums(inp.centerHeatmapPred, inp.centerHeatmapTarget, B * C, HW, 'probabilities', precision, topK);
  let heatSum = 0;
  const perClass = Array.from({ length: C }, () => ({ loss_center_heatmap: 0 }));
  const planes = new Float64Array(B * C);
  const perImage = Array.from({ length: B }, () => ({ objects: 0, loss_center_heatmap: 0, loss_wh: 0, loss_offset: 0, total: 0 }));
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const s = sums.pos[b * C + c]! + sums.neg[b * C + c]!;
      heatSum += s;
      const v = (wHeat * s) / divHeat;
      perImage[b]!.loss_center_heatmap += v;
      perClass[c]!.loss_center_heatmap += v;
      planes[b * C + c] = v;
    }
  }
  const lossHeat = (wHeat * heatSum) / divHeat;

  const weight = inp.whOffsetTargetWeight;
  let anyPositiveWeight = false;
  for (let i = 0; i < weight.length; i++) {
    if (weight[i]! > 0) {
      anyPositiveWeight = true;
      break;
    }
  }
  const whR = l1Loss(inp.whPred, inp.whTarget, weight, anyPositiveWeight, divWhOff, wWh, B, HW, f);
  const offR = l1Loss(inp.offsetPred, inp.offsetTarget, weight, anyPositiveWeight, divWhOff, wOff, B, HW, f);
  for (let b = 0; b < B; b++) {
    perImage[b]!.loss_wh = whR.perImage[b]!;
    perImage[b]!.loss_offset = offR.perImage[b]!;
  }

  // Objects: one per pixel with a positive weight (that is all the dense targets keep of the boxes).
  const objects: MmdetCenternetObject[] = [];
  let weightedPixels = 0;
  let sharedPixels = 0;
  let peakPixels = 0;
  let peaksWithoutWeight = 0;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < HW; i++) {
      const w0 = weight[(b * 2) * HW + i]!;
      const w1 = weight[(b * 2 + 1) * HW + i]!;
      const peakClasses: number[] = [];
      for (let c = 0; c < C; c++) if (inp.centerHeatmapTarget[(b * C + c) * HW + i] === 1) peakClasses.push(c);
      if (peakClasses.length > 0) peakPixels++;
      if (peakClasses.length > 1) sharedPixels++;
      if (!(w0 > 0 || w1 > 0)) {
        if (peakClasses.length > 0) peaksWithoutWeight++;
        continue;
      }
      weightedPixels++;
      perImage[b]!.objects++;
      const at = (m: FloatArray, c: number) => m[(b * 2 + c) * HW + i]!;
      const whPred: [number, number] = [at(inp.whPred, 0), at(inp.whPred, 1)];
      const whTarget: [number, number] = [at(inp.whTarget, 0), at(inp.whTarget, 1)];
      const offPred: [number, number] = [at(inp.offsetPred, 0), at(inp.offsetPred, 1)];
      const offTarget: [number, number] = [at(inp.offsetTarget, 0), at(inp.offsetTarget, 1)];
      const l1 = (p: [number, number], q: [number, number]) => Math.abs(f(p[0] - q[0])) * w0 + Math.abs(f(p[1] - q[1])) * w1;
      objects.push({
        image: b,
        x: i % W,
        y: Math.floor(i / W),
        peakClasses,
        weight: [w0, w1],
        whPred,
        whTarget,
        whL1: l1(whPred, whTarget),
        offPred,
        offTarget,
        offL1: l1(offPred, offTarget),
      });
    }
  }

  const terms = { loss_center_heatmap: lossHeat, loss_wh: whR.loss, loss_offset: offR.loss };
  const loss = terms.loss_center_heatmap + terms.loss_wh + terms.loss_offset;
  for (const img of perImage) img.total = img.loss_center_heatmap + img.loss_wh + img.loss_offset;

  // --- Warnings
  if (A === 0) {
    warnings.push({
      code: 'no-positives',
      message: 'No heatmap peaks (target == 1) in the batch: avg_factor is max(1, 0) = 1, the heatmap loss is the raw negative sum / (1 + 2^-23).',
    });
  }
  if (scan.aboveOne > 0) {
    warnings.push({ code: 'gt-above-one', message: `${plural(scan.aboveOne, 'target value')} above 1: counted as negatives with weight (1 - gt)^4 (no gt < 1 filter).` });
  }
  if (scan.nearOne > 0) warnings.push({ code: 'near-one-peak', message: `${plural(scan.nearOne, 'target value')} in (0.999, 1): only target == 1 exactly is a peak.` });
  if (scan.nonFinite > 0) warnings.push({ code: 'non-finite-targets', message: `${plural(scan.nonFinite, 'target value')} NaN or infinite: the heatmap loss is NaN.` });
  if (sharedPixels > 0) {
    warnings.push({
      code: 'shared-center',
      message: `${plural(sharedPixels, 'center pixel')} with peaks of several classes: each peak counts in avg_factor (the wh/offset divisor 2A) but the pixel has one wh/offset target (the last box's) and weight 1.`,
    });
  }
  if (peakPixels !== weightedPixels || peaksWithoutWeight > 0) {
    warnings.push({
      code: 'peaks-weights-mismatch',
      message: `${plural(peakPixels, 'peak pixel')} but ${plural(weightedPixels, 'weighted pixel')}: the wh/offset divisor counts peaks (2 max(1, A)), not weighted pixels.`,
    });
  }
  if (sums.outOfRange > 0) {
    warnings.push({ code: 'probabilities-out-of-range', message: `${plural(sums.outOfRange, 'heatmap value')} outside [0, 1]: center_heatmap_pred must be probabilities (log of a negative is NaN).` });
  }
  if (sums.saturatedNegatives + sums.saturatedPositives > 0) {
    warnings.push({
      code: 'saturated-sigmoid',
      message: `${plural(sums.saturatedNegatives, 'negative')} with probability exactly 1 and ${plural(sums.saturatedPositives, 'peak')} with probability exactly 0: each costs -log(1e-12) = 27.63 (no clamp).`,
    });
  }
  if (sums.nonFinite > 0) warnings.push({ code: 'non-finite', message: `${plural(sums.nonFinite, 'heatmap value')} NaN or infinite.` });
  if (!anyPositiveWeight) {
    warnings.push({
      code: 'no-weighted-pixels',
      message: 'wh_offset_target_weight has no positive entry: L1Loss returns (pred * weight).sum() (0 for finite predictions), unweighted; the loss is the heatmap term.',
    });
  }
  const empty = perImage.map((p, b) => (p.objects === 0 ? b : -1)).filter((b) => b >= 0);
  if (empty.length > 0) warnings.push({ code: 'empty-images', message: `${plural(empty.length, 'image')} without weighted center pixels (${empty.join(', ')}).` });

  return {
    convention: 'mmdet_centernet',
    precision,
    weights,
    terms,
    loss,
    total: loss,
    perImage,
    perClass,
    planes,
    top: topK.sorted().map((t) => ({ index: t.index, loss: (wHeat * t.value) / divHeat })),
    objects,
    positives: A,
    positivesPerImage: Array.from({ length: B }, (_, b) => scan.planePositives.subarray(b * C, (b + 1) * C).reduce((a, v) => a + v, 0)),
    weightedPixels,
    divisors: { heatmap: divHeat, whOffset: divWhOff },
    warnings,
  };
}

/**
 * L1Loss(pred, target, weight, avg_factor = 2 max(1, A)): loss_weight * sum |pred - target| * w
 * / D(2A), every pixel evaluated (NaN at a weight-0 pixel still propagates). With no positive
 * weight the module returns `(pred * weight).sum()` before the loss weight.
 */
function l1Loss(
  pred: FloatArray,
  target: FloatArray,
  weight: FloatArray,
  anyPositiveWeight: boolean,
  divisor: number,
  w: number,
  B: number,
  HW: number,
  f: (v: number) => number,
): { loss: number; perImage: number[] } {
  const perImage: number[] = [];
  let total = 0;
  if (!anyPositiveWeight) {
    for (let b = 0; b < B; b++) {
      let s = 0;
      const start = b * 2 * HW;
      const end = (b + 1) * 2 * HW;
      if (anyNonFinite(pred, start, end) || anyNonFinite(weight, start, end)) s = NaN;
      else for (let i = start; i < end; i++) s += pred[i]! * weight[i]!;
      perImage.push(s);
      total += s;
    }
    return { loss: total, perImage };
  }
  for (let b = 0; b < B; b++) {
    let s = 0;
    const end = (b + 1) * 2 * HW;
    for (let i = b * 2 * HW; i < end; i++) s += Math.abs(f(pred[i]! - target[i]!)) * weight[i]!;
    perImage.push((w * s) / divisor);
    total += s;
  }
  return { loss: (w * total) / divisor, perImage };
}
