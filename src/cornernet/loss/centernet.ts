/**
 * xingyizhou/CenterNet `CtdetLoss` (ctdet, default options: focal heatmap loss, RegL1Loss for wh
 * and reg, hm 1 / wh 0.1 / off 1, every term divided by num_stacks). See docs/conventions.md
 * section 3.
 */
import { countNonFiniteValues } from '../focal/nonFinite';
import {
  clampBoundsFor,
  clampedFocalLoss,
  clampedFocalSums,
  centernetRegDivisor,
  expectLength,
  num,
  plural,
  pyScalar,
  scanHeatTargets,
  type ClampedFocalFn,
  type FloatArray,
  type IndexArray,
  type LossWarning,
  type Precision,
} from './dense';

export interface CenternetDims {
  stacks: number;
  B: number;
  C: number;
  H: number;
  W: number;
  /** Object slots per image (`max_objs`, 128 for COCO). */
  K: number;
}

export interface CenternetTargets {
  /** [B,C,H,W] `draw_umich_gaussian` targets, peaks exactly 1. */
  hm: FloatArray;
  /** [B,K] 1 = slot used (uint8; other values weight the slot as `.float()` does). */
  regMask: ArrayLike<number>;
  /** [B,K] flat index y*W + x of the center pixel (read for every slot, used or not). */
  ind: IndexArray;
  /** [B,K,2] width, height. */
  wh: FloatArray;
  /** [B,K,2] center offsets x, y. */
  reg: FloatArray;
}

export interface CenternetInputs {
  dims: CenternetDims;
  /** Per stack [B,C,H,W] heatmap LOGITS. */
  hm: FloatArray[];
  /** Per stack [B,2,H,W] (w, h). */
  wh: FloatArray[];
  /** Per stack [B,2,H,W] (x, y offsets). */
  reg: FloatArray[];
  target: CenternetTargets;
  precision: Precision;
}

export interface CenternetWeights {
  hm: number;
  wh: number;
  off: number;
}

/** `opts.py` defaults for ctdet: hm_weight 1, wh_weight 0.1, off_weight 1. */
export const CENTERNET_WEIGHTS: Readonly<CenternetWeights> = { hm: 1, wh: 0.1, off: 1 };

/** The max_objs of ctdet on COCO: a dataset loop writing more slots would have raised. */
export const CENTERNET_MAX_OBJS = 128;

export interface CenternetOptions {
  weights?: Partial<CenternetWeights>;
  /** The `_sigmoid` + `_neg_loss` pass per stack; defaults to the plain loop of dense.ts. */
  focal?: ClampedFocalFn;
}

export interface CenternetObject {
  image: number;
  slot: number;
  ind: number;
  x: number;
  y: number;
  /** Whether another used slot of the image gathers the same pixel. */
  shared: boolean;
  /** The class whose target heatmap peaks (== 1) at the center; -1 if none does. */
  class: number;
  stacks: {
    whPred: [number, number];
    whTarget: [number, number];
    /** |pred - target| summed over w and h, times the slot's mask, unnormalised. */
    whL1: number;
    offPred: [number, number];
    offTarget: [number, number];
    offL1: number;
  }[];
}

export interface CenternetResult {
  convention: 'centernet';
  precision: Precision;
  weights: CenternetWeights;
  /** The `loss_stats` of CtdetLoss: hm_loss, wh_loss, off_loss (each already / num_stacks) and loss. */
  terms: { hm_loss: number; wh_loss: number; off_loss: number };
  loss: number;
  total: number;
  /** CtdetLoss with num_stacks = 1 on each stack: unscaled. */
  stacks: { hm: number; wh: number; off: number }[];
  /** Shares of the terms per image (summed over stacks, / num_stacks, unweighted) and of `loss`. */
  perImage: { objects: number; hm: number; wh: number; off: number; total: number }[];
  /** Shares of hm_loss per class. */
  perClass: { hm: number }[];
  /** hm_loss per (image, class) plane [B*C] (/ num_stacks, unweighted), summed over stacks. */
  planes: Float64Array;
  objects: CenternetObject[];
  positives: number;
  positivesPerImage: number[];
  /** RegL1Loss's `mask.sum() + 1e-4` (float32). */
  regDivisor: number;
  warnings: LossWarning[];
}

export function computeCenternet(inp: CenternetInputs, options: CenternetOptions = {}): CenternetResult {
  const { stacks: S, B, C, H, W, K } = inp.dims;
  const HW = H * W;
  const precision = inp.precision;
  const r32 = precision === 'float32';
  const f = r32 ? Math.fround : (v: number) => v;
  const weights = { ...CENTERNET_WEIGHTS, ...options.weights };
  const focal = options.focal ?? clampedFocalSums;
  const bounds = clampBoundsFor(precision);
  const t = inp.target;

  for (const [name, arrs, ch] of [
    ['hm', inp.hm, C],
    ['wh', inp.wh, 2],
    ['reg', inp.reg, 2],
  ] as const) {
    if (arrs.length !== S) throw new RangeError(`${name}: ${arrs.length} stacks, expected ${S}`);
    arrs.forEach((a, s) => expectLength(`${name}[${s}]`, a, B * ch * HW));
  }
  expectLength('target.hm', t.hm, B * C * HW);
  expectLength('target.regMask', t.regMask, B * K);
  expectLength('target.ind', t.ind, B * K);
  expectLength('target.wh', t.wh, B * K * 2);
  expectLength('target.reg', t.reg, B * K * 2);

  const warnings: LossWarning[] = [];
  const scan = scanHeatTargets(t.hm, B * C, HW);

  // `mask.unsqueeze(2).expand_as(pred).float()`: each slot's mask value weights both channels.
  let maskSum = 0;
  const inds = new Float64Array(B * K);
  let badIndex = 0;
  for (let i = 0; i < B * K; i++) {
    maskSum += 2 * t.regMask[i]!;
    const v = num(t.ind, i);
    inds[i] = v;
    // _transpose_and_gather_feat reads EVERY slot (unused ones too, usually pixel 0).
    if (!(Number.isInteger(v) && v >= 0 && v < HW)) badIndex++;
  }
  const regDivisor = centernetRegDivisor(maskSum);

  const stacks: CenternetResult['stacks'] = [];
  const perImage = Array.from({ length: B }, (_, b) => {
    let n = 0;
    for (let k = 0; k < K; k++) if (t.regMask[b * K + k]! !== 0) n++;
    return { objects: n, hm: 0, wh: 0, off: 0, total: 0 };
  });
  const perClass = Array.from({ length: C }, () => ({ hm: 0 }));
  const planes = new Float64Array(B * C);
  const objects: CenternetObject[] = [];
  for (let b = 0; b < B; b++) {
    // Slots of this image per center pixel (a map, not a K x K scan: K is only bounded by MAX_SLOTS).
    const slotsAt = new Map<number, number>();
    for (let k = 0; k < K; k++) if (t.regMask[b * K + k]! !== 0) slotsAt.set(inds[b * K + k]!, (slotsAt.get(inds[b * K + k]!) ?? 0) + 1);
    for (let k = 0; k < K; k++) {
      if (t.regMask[b * K + k]! === 0) continue;
      const ind = inds[b * K + k]!;
      const shared = (slotsAt.get(ind) ?? 0) > 1;
      let cls = -1;
      if (ind >= 0 && ind < HW) for (let c = 0; c < C && cls < 0; c++) if (t.hm[(b * C + c) * HW + ind] === 1) cls = c;
      objects.push({ image: b, slot: k, ind, x: ind % W, y: Math.floor(ind / W), shared, class: cls, stacks: [] });
    }
  }

  let hmLoss = 0;
  let whLoss = 0;
  let offLoss = 0;
  let clampedLow = 0;
  let clampedHigh = 0;
  let nonFiniteOut = 0;
  for (let s = 0; s < S; s++) {
    // `_sigmoid` is in place upstream (the caller's hm holds unclamped probabilities afterwards);
    // here the logits are only read.
    const sums = focal(inp.hm[s]!, t.hm, B * C, HW, bounds);
    clampedLow += sums.clampedLow ?? 0;
    clampedHigh += sums.clampedHigh ?? 0;
    nonFiniteOut += countNonFiniteValues(inp.hm[s]!) + countNonFiniteValues(inp.wh[s]!) + countNonFiniteValues(inp.reg[s]!);
    const hm = clampedFocalLoss(sums, scan.positives);
    const normaliser = scan.positives === 0 ? 1 : Math.fround(scan.positives);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const v = (sums.pos[b * C + c]! + sums.neg[b * C + c]!) / normaliser / S;
        perImage[b]!.hm += v;
        perClass[c]!.hm += v;
        planes[b * C + c] += v;
      }
    }
    const whR = regL1(inp.wh[s]!, t.regMask, inds, t.wh, B, K, HW, regDivisor, badIndex > 0, f);
    const offR = regL1(inp.reg[s]!, t.regMask, inds, t.reg, B, K, HW, regDivisor, badIndex > 0, f);
    stacks.push({ hm, wh: whR.loss, off: offR.loss });
    // CtdetLoss accumulates `x += crit(...) / num_stacks` per stack.
    hmLoss += hm / S;
    whLoss += whR.loss / S;
    offLoss += offR.loss / S;
    for (let b = 0; b < B; b++) {
      perImage[b]!.wh += whR.perImage[b]! / S;
      perImage[b]!.off += offR.perImage[b]! / S;
    }
    for (const o of objects) {
      const at = o.image * K + o.slot;
      const m = t.regMask[at]!;
      const read = (map: FloatArray, c: number) => (badIndex > 0 && !(o.ind >= 0 && o.ind < HW) ? NaN : map[(o.image * 2 + c) * HW + o.ind]!);
      const whPred: [number, number] = [read(inp.wh[s]!, 0), read(inp.wh[s]!, 1)];
      const whTarget: [number, number] = [t.wh[at * 2]!, t.wh[at * 2 + 1]!];
      const offPred: [number, number] = [read(inp.reg[s]!, 0), read(inp.reg[s]!, 1)];
      const offTarget: [number, number] = [t.reg[at * 2]!, t.reg[at * 2 + 1]!];
      const l1 = (p: [number, number], q: [number, number]) => Math.abs(f(f(p[0] * m) - f(q[0] * m))) + Math.abs(f(f(p[1] * m) - f(q[1] * m)));
      o.stacks.push({ whPred, whTarget, whL1: l1(whPred, whTarget), offPred, offTarget, offL1: l1(offPred, offTarget) });
    }
  }
  const wHm = pyScalar(weights.hm, precision);
  const wWh = pyScalar(weights.wh, precision);
  const wOff = pyScalar(weights.off, precision);
  const loss = wHm * hmLoss + wWh * whLoss + wOff * offLoss;
  for (const img of perImage) img.total = wHm * img.hm + wWh * img.wh + wOff * img.off;

  // --- Warnings
  if (scan.positives === 0) {
    warnings.push({ code: 'no-positives', message: 'No heatmap positives (hm == 1) in the batch: _neg_loss returns the unnormalised negative sum (num_pos == 0).' });
  }
  if (scan.aboveOne > 0) {
    warnings.push({ code: 'gt-above-one', message: `${plural(scan.aboveOne, 'target value')} above 1: in neither gt.eq(1) nor gt.lt(1), so ignored (mmdet would count them as negatives).` });
  }
  if (scan.nearOne > 0) {
    warnings.push({ code: 'near-one-peak', message: `${plural(scan.nearOne, 'target value')} in (0.999, 1): only hm == 1 exactly is a positive.` });
  }
  if (scan.nonFinite > 0) warnings.push({ code: 'non-finite-targets', message: `${plural(scan.nonFinite, 'target value')} NaN or infinite: the masks multiply them, so the loss is NaN.` });
  if (badIndex > 0) {
    warnings.push({ code: 'index-out-of-range', message: `${plural(badIndex, 'ind value')} outside [0, H*W): the gather raises upstream (wh/off losses are NaN here).` });
  }
  const seen = new Set<string>();
  for (const o of objects) {
    if (!o.shared) continue;
    const key = `${o.image},${o.ind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const slots = objects.filter((p) => p.image === o.image && p.ind === o.ind).map((p) => p.slot);
    warnings.push({
      code: 'shared-center',
      message: `Image ${o.image}: slots ${slots.join(', ')} gather the same center pixel (x, y) = (${o.x}, ${o.y}): each slot keeps its own wh/reg target against one prediction (one heatmap peak if the classes match).`,
    });
  }
  for (let b = 0; b < B; b++) {
    let used = 0;
    let beyond = false;
    for (let k = 0; k < K; k++) {
      if (t.regMask[b * K + k]! !== 0) {
        used++;
        if (k >= CENTERNET_MAX_OBJS) beyond = true;
      }
    }
    if (used > CENTERNET_MAX_OBJS || beyond) {
      warnings.push({
        code: 'too-many-objects',
        message: `Image ${b}: ${used} slots used${beyond ? ' (some beyond slot 127)' : ''}; ctdet's max_objs is ${CENTERNET_MAX_OBJS}, its dataset loop would not have produced this batch.`,
      });
    }
  }
  let odd = 0;
  for (let i = 0; i < B * K; i++) if (t.regMask[i] !== 0 && t.regMask[i] !== 1) odd++;
  if (odd > 0) warnings.push({ code: 'mask-values', message: `${plural(odd, 'reg_mask value')} other than 0/1: .float() keeps them as weights (and in the divisor).` });
  const empty = perImage.map((p, b) => (p.objects === 0 ? b : -1)).filter((b) => b >= 0);
  if (empty.length > 0) {
    warnings.push({
      code: 'empty-images',
      message: `${plural(empty.length, 'image')} without objects (${empty.join(', ')})${empty.length === B ? ': wh/off losses are 0 / (0 + 1e-4) = 0' : ''}.`,
    });
  }
  if (clampedLow + clampedHigh > 0) {
    warnings.push({
      code: 'saturated-logits',
      message: `${plural(clampedLow + clampedHigh, 'probability', 'probabilities')} clamped by _sigmoid to [1e-4, 1 - 1e-4] (summed over stacks): each such pixel costs at most -log(1e-4) = 9.21${r32 ? ' (float32 upper bound 0.99989998)' : ''}.`,
    });
  }
  if (nonFiniteOut > 0) warnings.push({ code: 'non-finite', message: `${plural(nonFiniteOut, 'output value')} NaN or infinite.` });

  return {
    convention: 'centernet',
    precision,
    weights,
    terms: { hm_loss: hmLoss, wh_loss: whLoss, off_loss: offLoss },
    loss,
    total: loss,
    stacks,
    perImage,
    perClass,
    planes,
    objects,
    positives: scan.positives,
    positivesPerImage: Array.from({ length: B }, (_, b) => scan.planePositives.subarray(b * C, (b + 1) * C).reduce((a, v) => a + v, 0)),
    regDivisor,
    warnings,
  };
}

/**
 * RegL1Loss: `l1_loss(pred * mask, target * mask, sum) / (mask.sum() + 1e-4)` on the slots
 * gathered at `ind`; every slot is evaluated, so NaN at a gathered pixel propagates even for an
 * unused slot (NaN * 0).
 */
function regL1(
  out: FloatArray,
  mask: ArrayLike<number>,
  inds: Float64Array,
  target: FloatArray,
  B: number,
  K: number,
  HW: number,
  divisor: number,
  anyBad: boolean,
  f: (v: number) => number,
): { loss: number; perImage: number[] } {
  const perImage: number[] = [];
  let total = 0;
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let k = 0; k < K; k++) {
      const at = b * K + k;
      const m = mask[at]!;
      const ind = inds[at]!;
      for (let c = 0; c < 2; c++) {
        const p = anyBad && !(Number.isInteger(ind) && ind >= 0 && ind < HW) ? NaN : out[(b * 2 + c) * HW + ind]!;
        s += Math.abs(f(f(p * m) - f(target[at * 2 + c]! * m)));
      }
    }
    perImage.push(s / divisor);
    total += s;
  }
  return { loss: total / divisor, perImage };
}
