/**
 * mmdet 3.x `CornerHead.loss_by_feat` (+ `loss_by_feat_single`, GaussianFocalLoss,
 * AssociativeEmbeddingLoss, SmoothL1Loss, `weight_reduce_loss`) and mmengine's `parse_losses`,
 * on targets already built by `CornerHead.get_targets` (dense heatmaps, dense offset maps and the
 * per-image `corner_embedding` lists). See docs/conventions.md section 2 for the formulas.
 */
import { TopK } from '../focal/focal';
import { countNonFiniteValues } from '../focal/nonFinite';
import {
  anyClassPositiveMask,
  anyNonFinite,
  expectLength,
  gaussianFocalSums,
  mmdetCountDivisor,
  mmdetFloatCountDivisor,
  num,
  plural,
  pyScalar,
  scanHeatTargets,
  smoothL1,
  type FloatArray,
  type GaussianFocalSums,
  type IndexArray,
  type LossWarning,
  type Precision,
} from './dense';

export interface MmdetCornernetDims {
  levels: number;
  B: number;
  C: number;
  H: number;
  W: number;
  /** Rows of `corners` per image (objects plus -1 padding rows). */
  K: number;
}

export interface MmdetCornernetInputs {
  dims: MmdetCornernetDims;
  /** Per level [B,C,H,W] heatmap LOGITS (the loss applies a plain sigmoid). */
  tlHeats: FloatArray[];
  brHeats: FloatArray[];
  /** Per level [B,E,H,W] embedding maps; E = `corner_emb_channels` (1 in every config). */
  tlEmbs: FloatArray[];
  brEmbs: FloatArray[];
  /** Per level [B,2,H,W] offset maps, channel 0 = x, 1 = y. */
  tlOffs: FloatArray[];
  brOffs: FloatArray[];
  /** [B,C,H,W] gaussian targets (`get_targets`), positives exactly 1. */
  topleftHeatmap: FloatArray;
  bottomrightHeatmap: FloatArray;
  /** [B,2,H,W] dense offset targets (x, y) at corner pixels. */
  topleftOffset: FloatArray;
  bottomrightOffset: FloatArray;
  /** [B,K,2,2] per object `[[tl_y, tl_x], [br_y, br_x]]`; a row with a negative entry is padding. */
  corners: IndexArray;
  precision: Precision;
}

export interface MmdetCornernetWeights {
  det: number;
  pull: number;
  push: number;
  off: number;
}

/** `configs/cornernet/cornernet_hourglass104_*`: heatmap 1, embedding 0.1 / 0.1 (the class default is 0.25), offset 1. */
export const MMDET_CORNERNET_WEIGHTS: Readonly<MmdetCornernetWeights> = { det: 1, pull: 0.1, push: 0.1, off: 1 };

/** What one level returns, weighted as `loss_by_feat_single` returns it (plus the unweighted AE). */
export interface MmdetCornernetLevel {
  det_tl: number;
  det_br: number;
  det: number;
  pull: number;
  push: number;
  pull_unweighted: number;
  push_unweighted: number;
  off_tl: number;
  off_br: number;
  off: number;
}

export interface MmdetCornernetOffsetAt {
  /** Predicted offset (x, y) at the corner pixel. */
  pred: [number, number];
  /** The dense target there (the last box's when the pixel is shared). */
  target: [number, number];
  /** Smooth-L1 summed over x and y, unnormalised. */
  loss: number;
  /** Whether the pixel is in the offset mask (any class has gt == 1 there). */
  supervised: boolean;
}

export interface MmdetCornernetObject {
  image: number;
  /** Row of `corners[image]`. */
  slot: number;
  /** [y, x] of the corners. */
  tl: [number, number];
  br: [number, number];
  levels: {
    tlEmb: number[];
    brEmb: number[];
    mean: number[];
    /** Its weighted share of the image's pull: w_pull * sum_dims [(t-m)^2 + (r-m)^2] / N. */
    pull: number;
    /** Its row of the push matrix, weighted: the rows of an image add up to the image's push. */
    push: number;
    offTl: MmdetCornernetOffsetAt;
    offBr: MmdetCornernetOffsetAt;
  }[];
}

export interface MmdetCornernetImage {
  objects: number;
  /** Shares of the four terms (summed over levels, weighted); they add up to `total`. */
  det: number;
  pull: number;
  push: number;
  off: number;
  total: number;
  levels: {
    det_tl: number;
    det_br: number;
    pull: number;
    push: number;
    pull_unweighted: number;
    push_unweighted: number;
    off_tl: number;
    off_br: number;
  }[];
}

export interface MmdetCornernetResult {
  convention: 'mmdet_cornernet';
  precision: Precision;
  weights: MmdetCornernetWeights;
  /** The `loss_by_feat` dict summed over levels, in its key order (`parse_losses`). */
  terms: { det_loss: number; off_loss: number; pull_loss: number; push_loss: number };
  /** `parse_losses`' scalar: the sum of the four keys, no division by the number of levels. */
  total: number;
  levels: MmdetCornernetLevel[];
  perImage: MmdetCornernetImage[];
  /** Heat loss per class, summed over images and levels (shares of det_loss). */
  perClass: { det_tl: number; det_br: number; det: number }[];
  /** Heat loss per (image, class) plane [B*C], weighted and normalised as det_tl / det_br, summed over levels. */
  planes: { tl: Float64Array; br: Float64Array };
  /** Per level, the pixels with the largest shares of det_tl / det_br (flat index in [B,C,H,W]), largest first. */
  top: { tl: { index: number; loss: number }[]; br: { index: number; loss: number }[] }[];
  objects: MmdetCornernetObject[];
  positives: { tl: number; br: number; tlPerImage: number[]; brPerImage: number[] };
  /** Offset-mask pixels (class-agnostic positives). */
  offsetPixels: { tl: number; br: number };
  /** What each loss divides by: D(max(1, positives)), D'(max(1, offset pixels)). */
  divisors: { det_tl: number; det_br: number; off_tl: number; off_br: number };
  embeddingChannels: number;
  warnings: LossWarning[];
}

interface Corner {
  slot: number;
  ty: number;
  tx: number;
  by: number;
  bx: number;
  inRange: boolean;
}

/** The objects of each image from `corners` [B,K,2,2]; rows holding a negative are padding. */
export function parseCorners(corners: IndexArray, B: number, K: number, H: number, W: number): Corner[][] {
  const out: Corner[][] = [];
  for (let b = 0; b < B; b++) {
    const list: Corner[] = [];
    for (let k = 0; k < K; k++) {
      const o = (b * K + k) * 4;
      const ty = num(corners, o);
      const tx = num(corners, o + 1);
      const by = num(corners, o + 2);
      const bx = num(corners, o + 3);
      if (ty < 0 || tx < 0 || by < 0 || bx < 0) continue;
      const inRange = ty < H && tx < W && by < H && bx < W && [ty, tx, by, bx].every(Number.isInteger);
      list.push({ slot: k, ty, tx, by, bx, inRange });
    }
    out.push(list);
  }
  return out;
}

const relu = (x: number) => (x > 0 ? x : x === x ? 0 : NaN);

export function computeMmdetCornernet(inp: MmdetCornernetInputs, options: { weights?: Partial<MmdetCornernetWeights>; topK?: number } = {}): MmdetCornernetResult {
  const { levels: L, B, C, H, W, K } = inp.dims;
  const HW = H * W;
  const precision = inp.precision;
  const r32 = precision === 'float32';
  const f = r32 ? Math.fround : (v: number) => v;
  const weights = { ...MMDET_CORNERNET_WEIGHTS, ...options.weights };
  // Inside the loss modules the weights are Python floats times tensors: float32 in a float32 run.
  const wDet = pyScalar(weights.det, precision);
  const wPull = pyScalar(weights.pull, precision);
  const wPush = pyScalar(weights.push, precision);
  const wOff = pyScalar(weights.off, precision);

  for (const [name, arrs, ch] of [
    ['tlHeats', inp.tlHeats, C],
    ['brHeats', inp.brHeats, C],
    ['tlOffs', inp.tlOffs, 2],
    ['brOffs', inp.brOffs, 2],
  ] as const) {
    if (arrs.length !== L) throw new RangeError(`${name}: ${arrs.length} levels, expected ${L}`);
    arrs.forEach((a, l) => expectLength(`${name}[${l}]`, a, B * ch * HW));
  }
  if (inp.tlEmbs.length !== L || inp.brEmbs.length !== L) throw new RangeError(`embeddings: expected ${L} levels`);
  const E = inp.tlEmbs[0] ? inp.tlEmbs[0].length / (B * HW) : 1;
  if (!Number.isInteger(E) || E < 1) throw new RangeError(`tlEmbs[0]: ${inp.tlEmbs[0]?.length} elements is not B*E*H*W`);
  [...inp.tlEmbs, ...inp.brEmbs].forEach((a, i) => expectLength(`embeddings[${i}]`, a, B * E * HW));
  expectLength('topleftHeatmap', inp.topleftHeatmap, B * C * HW);
  expectLength('bottomrightHeatmap', inp.bottomrightHeatmap, B * C * HW);
  expectLength('topleftOffset', inp.topleftOffset, B * 2 * HW);
  expectLength('bottomrightOffset', inp.bottomrightOffset, B * 2 * HW);
  expectLength('corners', inp.corners, B * K * 4);

  const warnings: LossWarning[] = [];
  const objectsByImage = parseCorners(inp.corners, B, K, H, W);

  // Targets are built once (from the last level's shape) and shared by every level.
  const scanTl = scanHeatTargets(inp.topleftHeatmap, B * C, HW);
  const scanBr = scanHeatTargets(inp.bottomrightHeatmap, B * C, HW);
  const maskTl = anyClassPositiveMask(inp.topleftHeatmap, B, C, HW);
  const maskBr = anyClassPositiveMask(inp.bottomrightHeatmap, B, C, HW);
  const divDetTl = mmdetCountDivisor(scanTl.positives);
  const divDetBr = mmdetCountDivisor(scanBr.positives);
  const divOffTl = mmdetFloatCountDivisor(maskTl.count, precision);
  const divOffBr = mmdetFloatCountDivisor(maskBr.count, precision);

  const levels: MmdetCornernetLevel[] = [];
  const perImage: MmdetCornernetImage[] = objectsByImage.map((o) => ({ objects: o.length, det: 0, pull: 0, push: 0, off: 0, total: 0, levels: [] }));
  const perClass = Array.from({ length: C }, () => ({ det_tl: 0, det_br: 0, det: 0 }));
  const planes = { tl: new Float64Array(B * C), br: new Float64Array(B * C) };
  const top: MmdetCornernetResult['top'] = [];
  const objects: MmdetCornernetObject[] = [];
  objectsByImage.forEach((list, b) =>
    list.forEach((o) => objects.push({ image: b, slot: o.slot, tl: [o.ty, o.tx], br: [o.by, o.bx], levels: [] })),
  );
  let saturatedNeg = 0;
  let saturatedPos = 0;
  let nonFiniteHeat = 0;
  let nonFiniteOther = 0;

  for (let l = 0; l < L; l++) {
    // --- Detection (focal) loss, one call per corner type: loss_weight * sum / (avg_factor + eps).
    const topTl = new TopK(options.topK ?? 0);
    const topBr = new TopK(options.topK ?? 0);
    const sTl = gaussianFocalSums(inp.tlHeats[l]!, inp.topleftHeatmap, B * C, HW, 'logits', precision, topTl);
    const sBr = gaussianFocalSums(inp.brHeats[l]!, inp.bottomrightHeatmap, B * C, HW, 'logits', precision, topBr);
    // The pixels' shares of det_tl / det_br (weight and divisor applied).
    top.push({
      tl: topTl.sorted().map((t) => ({ index: t.index, loss: (wDet * t.value) / divDetTl })),
      br: topBr.sorted().map((t) => ({ index: t.index, loss: (wDet * t.value) / divDetBr })),
    });
    for (const s of [sTl, sBr]) {
      saturatedNeg += s.saturatedNegatives;
      saturatedPos += s.saturatedPositives;
      nonFiniteHeat += s.nonFinite;
    }
    const detTl = (wDet * planeTotal(sTl)) / divDetTl;
    const detBr = (wDet * planeTotal(sBr)) / divDetBr;
    // loss_by_feat_single averages the two corner types.
    const det = (detTl + detBr) / 2.0;

    // --- Associative embedding, per image, summed over images.
    let pullAll = 0;
    let pushAll = 0;
    let pullUnw = 0;
    let pushUnw = 0;
    const imgAe: { pull: number; push: number }[] = [];
    const tlEmb = inp.tlEmbs[l]!;
    const brEmb = inp.brEmbs[l]!;
    nonFiniteOther += countNonFiniteValues(tlEmb) + countNonFiniteValues(brEmb) + countNonFiniteValues(inp.tlOffs[l]!) + countNonFiniteValues(inp.brOffs[l]!);
    let objAt = 0;
    for (let b = 0; b < B; b++) {
      const list = objectsByImage[b]!;
      // `tl_preds.sum() * 0.`: the zero the per-image function returns for 0 objects (pull and
      // push) and for one object (push): NaN as soon as the image's tl embedding map is not finite.
      const zero = anyNonFinite(tlEmb, b * E * HW, (b + 1) * E * HW) ? NaN : 0;
      let pull: number;
      let push: number;
      if (list.length === 0) {
        pull = zero;
        push = zero;
      } else if (list.some((o) => !o.inRange)) {
        // Upstream raises an IndexError reading tl_preds[:, y, x]; the loss is undefined.
        pull = NaN;
        push = NaN;
        for (let i = 0; i < list.length; i++) objects[objAt + i]!.levels.push(emptyObjectLevel(E));
      } else {
        // `tl_preds[:, y, x].view(-1, 1)` then `cat`: with E channels every (object, channel) is
        // a separate row, so N counts rows (N = objects * E) and push pairs rows (E = 1 normally).
        const n = list.length * E;
        const t = new Float64Array(n);
        const r = new Float64Array(n);
        const m = new Float64Array(n);
        list.forEach((o, i) => {
          for (let e = 0; e < E; e++) {
            const tv = tlEmb[(b * E + e) * HW + o.ty * W + o.tx]!;
            const rv = brEmb[(b * E + e) * HW + o.by * W + o.bx]!;
            t[i * E + e] = tv;
            r[i * E + e] = rv;
            m[i * E + e] = f(tv + rv) / 2.0;
          }
        });
        const pullRow = new Float64Array(n);
        let pullSum = 0;
        for (let j = 0; j < n; j++) {
          const a = f(t[j]! - m[j]!);
          const c = f(r[j]! - m[j]!);
          pullRow[j] = a * a + c * c;
          pullSum += pullRow[j]!;
        }
        pull = pullSum / n;
        const pushRow = new Float64Array(n);
        if (n > 1) {
          let pushSum = 0;
          for (let j = 0; j < n; j++) {
            let row = 0;
            for (let k = 0; k < n; k++) {
              // conf_weight = 1 - eye(N): the diagonal is 0 * (1 - |m_j - m_j|), which only
              // matters when m_j is infinite (Inf - Inf = NaN survives the relu).
              const v = f(1 - Math.abs(f(m[j]! - m[k]!)));
              row += relu(j === k ? 0 * v : v);
            }
            pushRow[j] = row;
            pushSum += row;
          }
          push = pushSum / (n * (n - 1));
        } else {
          push = zero;
        }
        list.forEach((o, i) => {
          const lv = {
            tlEmb: Array.from(t.subarray(i * E, (i + 1) * E)),
            brEmb: Array.from(r.subarray(i * E, (i + 1) * E)),
            mean: Array.from(m.subarray(i * E, (i + 1) * E)),
            pull: 0,
            push: 0,
            offTl: offsetAt(inp.tlOffs[l]!, inp.topleftOffset, maskTl.mask, b, o.ty, o.tx, HW, W, f),
            offBr: offsetAt(inp.brOffs[l]!, inp.bottomrightOffset, maskBr.mask, b, o.by, o.bx, HW, W, f),
          };
          let pr = 0;
          let ps = 0;
          for (let e = 0; e < E; e++) {
            pr += pullRow[i * E + e]!;
            ps += pushRow[i * E + e]!;
          }
          lv.pull = (wPull * pr) / n;
          lv.push = n > 1 ? (wPush * ps) / (n * (n - 1)) : 0;
          objects[objAt + i]!.levels.push(lv);
        });
      }
      objAt += list.length;
      imgAe.push({ pull, push });
      // AssociativeEmbeddingLoss.forward: pull_all += pull_weight * pull (per image).
      pullAll += wPull * pull;
      pushAll += wPush * push;
      pullUnw += pull;
      pushUnw += push;
    }

    // --- Offsets: smooth-L1 on the dense maps, weighted by the class-agnostic positive mask.
    const oTl = offsetLoss(inp.tlOffs[l]!, inp.topleftOffset, maskTl.mask, maskTl.count, divOffTl, wOff, B, HW, f);
    const oBr = offsetLoss(inp.brOffs[l]!, inp.bottomrightOffset, maskBr.mask, maskBr.count, divOffBr, wOff, B, HW, f);
    const off = (oTl.loss + oBr.loss) / 2.0;

    levels.push({
      det_tl: detTl,
      det_br: detBr,
      det,
      pull: pullAll,
      push: pushAll,
      pull_unweighted: pullUnw,
      push_unweighted: pushUnw,
      off_tl: oTl.loss,
      off_br: oBr.loss,
      off,
    });

    for (let b = 0; b < B; b++) {
      let dTl = 0;
      let dBr = 0;
      for (let c = 0; c < C; c++) {
        const pc = b * C + c;
        const vTl = (wDet * (sTl.pos[pc]! + sTl.neg[pc]!)) / divDetTl;
        const vBr = (wDet * (sBr.pos[pc]! + sBr.neg[pc]!)) / divDetBr;
        dTl += vTl;
        dBr += vBr;
        planes.tl[pc] += vTl;
        planes.br[pc] += vBr;
        perClass[c]!.det_tl += vTl;
        perClass[c]!.det_br += vBr;
        perClass[c]!.det += (vTl + vBr) / 2;
      }
      const img = perImage[b]!;
      const ae = imgAe[b]!;
      img.levels.push({
        det_tl: dTl,
        det_br: dBr,
        pull: wPull * ae.pull,
        push: wPush * ae.push,
        pull_unweighted: ae.pull,
        push_unweighted: ae.push,
        off_tl: oTl.perImage[b]!,
        off_br: oBr.perImage[b]!,
      });
      img.det += (dTl + dBr) / 2;
      img.pull += wPull * ae.pull;
      img.push += wPush * ae.push;
      img.off += (oTl.perImage[b]! + oBr.perImage[b]!) / 2;
    }
  }

  // mmengine parse_losses: each key's list summed (levels), then the keys summed in dict order.
  const sum = (k: keyof MmdetCornernetLevel) => levels.reduce((a, lv) => a + lv[k], 0);
  const terms = { det_loss: sum('det'), off_loss: sum('off'), pull_loss: sum('pull'), push_loss: sum('push') };
  const total = terms.det_loss + terms.off_loss + terms.pull_loss + terms.push_loss;
  for (const img of perImage) img.total = img.det + img.off + img.pull + img.push;

  // --- Warnings: the quirks of conventions.md this batch hits.
  const perImagePositives = (s: { planePositives: Int32Array }) =>
    Array.from({ length: B }, (_, b) => s.planePositives.subarray(b * C, (b + 1) * C).reduce((a, v) => a + v, 0));
  for (const [name, scan] of [
    ['top-left', scanTl],
    ['bottom-right', scanBr],
  ] as const) {
    if (scan.positives === 0) {
      warnings.push({
        code: 'no-positives',
        message: `No ${name} positives (gt == 1) in the batch: avg_factor is max(1, 0) = 1, so the ${name} focal loss is the raw negative sum divided by 1 + 2^-23.`,
      });
    }
    if (scan.aboveOne > 0) {
      warnings.push({
        code: 'gt-above-one',
        message: `${plural(scan.aboveOne, `${name} target value`)} above 1: mmdet has no gt < 1 filter, so they count as negatives with weight (1 - gt)^4 (the original CornerNet ignores them).`,
      });
    }
    if (scan.nearOne > 0) {
      warnings.push({
        code: 'near-one-peak',
        message: `${plural(scan.nearOne, `${name} target value`)} in (0.999, 1): they look like peaks but only gt == 1 exactly is a positive.`,
      });
    }
    if (scan.nonFinite > 0) {
      warnings.push({ code: 'non-finite-targets', message: `${plural(scan.nonFinite, `${name} target value`)} NaN or infinite: the focal loss is NaN.` });
    }
  }
  warnBorderOffsets(warnings, inp.topleftOffset, maskTl.mask, B, HW, 'top-left');
  warnBorderOffsets(warnings, inp.bottomrightOffset, maskBr.mask, B, HW, 'bottom-right');
  for (const [name, m] of [
    ['top-left', maskTl],
    ['bottom-right', maskBr],
  ] as const) {
    if (m.count === 0) {
      warnings.push({
        code: 'no-offset-pixels',
        message: `No ${name} offset pixels (no class has gt == 1 anywhere): SmoothL1Loss returns (pred * weight).sum() before weighting, 0 for finite predictions.`,
      });
    }
  }
  objectsByImage.forEach((list, b) => {
    const groups = (key: (o: Corner) => string) => {
      const at = new Map<string, number[]>();
      for (const o of list) at.set(key(o), [...(at.get(key(o)) ?? []), o.slot]);
      return [...at.entries()].filter(([, s]) => s.length > 1);
    };
    for (const [name, key] of [
      ['top-left', (o: Corner) => `${o.ty},${o.tx}`],
      ['bottom-right', (o: Corner) => `${o.by},${o.bx}`],
    ] as const) {
      for (const [px, slots] of groups(key)) {
        warnings.push({
          code: 'shared-corner',
          message: `Image ${b}: objects ${slots.join(', ')} share the ${name} corner pixel (y, x) = (${px}): one offset target (the last box's) and one offset-mask pixel; they read the same embedding there.`,
        });
      }
    }
    for (const [px, slots] of groups((o) => `${o.ty},${o.tx},${o.by},${o.bx}`)) {
      warnings.push({
        code: 'shared-corner',
        message: `Image ${b}: objects ${slots.join(', ')} have identical corner pixels (${px}): equal mean embeddings, so each of their push pairs counts relu(1 - 0) = 1.`,
      });
    }
    if (list.some((o) => !o.inRange)) {
      warnings.push({ code: 'corner-out-of-range', message: `Image ${b}: a corner index lies outside the ${H}x${W} map; upstream raises an IndexError (pull/push are NaN here).` });
    }
    for (const o of list) {
      if (!o.inRange) continue;
      if (!maskTl.mask[b * HW + o.ty * W + o.tx] || !maskBr.mask[b * HW + o.by * W + o.bx]) {
        warnings.push({
          code: 'corner-not-positive',
          message: `Image ${b}, object ${o.slot}: a corner pixel has no gt == 1 in any class, so its offset is not supervised there.`,
        });
      }
    }
  });
  const empty = perImage.map((p, b) => (p.objects === 0 ? b : -1)).filter((b) => b >= 0);
  if (empty.length > 0) {
    warnings.push({ code: 'empty-images', message: `${plural(empty.length, 'image')} without objects (${empty.join(', ')}): pull and push are 0 there (tl_preds.sum() * 0).` });
  }
  const single = perImage.map((p, b) => (p.objects === 1 ? b : -1)).filter((b) => b >= 0);
  if (single.length > 0 && E === 1) {
    warnings.push({
      code: 'single-object-push',
      message: `${plural(single.length, 'image')} with one object (${single.join(', ')}): mmdet's push is 0 there (the original CornerNet adds ~1 per image).`,
    });
  }
  if (E > 1) {
    warnings.push({
      code: 'embedding-dims',
      message: `${E} embedding channels: ae_loss_per_image views each corner's embedding as E rows (view(-1, 1)), so N counts objects x channels and push also pairs channels of one object.`,
    });
  }
  if (saturatedNeg + saturatedPos > 0) {
    warnings.push({
      code: 'saturated-sigmoid',
      message: `${plural(saturatedNeg, 'negative')} with probability exactly 1 and ${plural(saturatedPos, 'positive')} with probability exactly 0 (${precision} sigmoid saturates${r32 ? ' from |logit| ~ 16.6' : ''}): each costs -log(1e-12) = 27.63 (times (1 - gt)^4); there is no clamp.`,
    });
  }
  if (nonFiniteHeat > 0) warnings.push({ code: 'non-finite', message: `${plural(nonFiniteHeat, 'heatmap logit')} NaN or infinite (summed over levels and corner types).` });
  if (nonFiniteOther > 0) warnings.push({ code: 'non-finite', message: `${plural(nonFiniteOther, 'embedding/offset value')} NaN or infinite: NaN reaches the loss even where masked (x * 0).` });

  return {
    convention: 'mmdet_cornernet',
    precision,
    weights,
    terms,
    total,
    levels,
    perImage,
    perClass,
    planes,
    top,
    objects,
    positives: { tl: scanTl.positives, br: scanBr.positives, tlPerImage: perImagePositives(scanTl), brPerImage: perImagePositives(scanBr) },
    offsetPixels: { tl: maskTl.count, br: maskBr.count },
    divisors: { det_tl: divDetTl, det_br: divDetBr, off_tl: divOffTl, off_br: divOffBr },
    embeddingChannels: E,
    warnings,
  };
}

function planeTotal(s: GaussianFocalSums): number {
  let t = 0;
  for (let i = 0; i < s.pos.length; i++) t += s.pos[i]! + s.neg[i]!;
  return t;
}

function emptyObjectLevel(E: number): MmdetCornernetObject['levels'][number] {
  const nan = () => Array.from({ length: E }, () => NaN);
  const off = (): MmdetCornernetOffsetAt => ({ pred: [NaN, NaN], target: [NaN, NaN], loss: NaN, supervised: false });
  return { tlEmb: nan(), brEmb: nan(), mean: nan(), pull: NaN, push: NaN, offTl: off(), offBr: off() };
}

function offsetAt(pred: FloatArray, target: FloatArray, mask: Uint8Array, b: number, y: number, x: number, HW: number, W: number, f: (v: number) => number): MmdetCornernetOffsetAt {
  const px = y * W + x;
  const p: [number, number] = [pred[(b * 2) * HW + px]!, pred[(b * 2 + 1) * HW + px]!];
  const t: [number, number] = [target[(b * 2) * HW + px]!, target[(b * 2 + 1) * HW + px]!];
  return { pred: p, target: t, loss: smoothL1(f(p[0] - t[0])) + smoothL1(f(p[1] - t[1])), supervised: mask[b * HW + px] === 1 };
}

/**
 * SmoothL1Loss(pred [B,2,H,W], target, weight [B,1,H,W], avg_factor = max(1, weight.sum())).
 * Every pixel is evaluated (loss * weight), so a NaN/Inf prediction poisons the sum even where
 * the weight is 0; an all-zero weight returns `(pred * weight).sum()` unweighted and undivided.
 */
function offsetLoss(
  pred: FloatArray,
  target: FloatArray,
  mask: Uint8Array,
  count: number,
  divisor: number,
  w: number,
  B: number,
  HW: number,
  f: (v: number) => number,
): { loss: number; perImage: number[] } {
  const perImage: number[] = [];
  if (count === 0) {
    let s = 0;
    for (let b = 0; b < B; b++) {
      const z = anyNonFinite(pred, b * 2 * HW, (b + 1) * 2 * HW) ? NaN : 0;
      perImage.push(z);
      s += z;
    }
    return { loss: s, perImage };
  }
  let total = 0;
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let c = 0; c < 2; c++) {
      const base = (b * 2 + c) * HW;
      const mb = b * HW;
      for (let i = 0; i < HW; i++) s += smoothL1(f(pred[base + i]! - target[base + i]!)) * mask[mb + i]!;
    }
    const v = (w * s) / divisor;
    perImage.push(v);
    total += s;
  }
  return { loss: (w * total) / divisor, perImage };
}

function warnBorderOffsets(warnings: LossWarning[], target: FloatArray, mask: Uint8Array, B: number, HW: number, name: string): void {
  let n = 0;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < HW; i++) if (mask[b * HW + i] && target[(b * 2 + c) * HW + i]! >= 1) n++;
    }
  }
  if (n > 0) {
    warnings.push({
      code: 'offset-at-border',
      message: `${plural(n, `${name} offset target`)} equal to 1.0 or more: a box on the far border gets index int(min(x, W-1)) = W-1 and offset x - (W-1) = 1.0 (the original CornerNet's offsets stay below 1).`,
    });
  }
}
