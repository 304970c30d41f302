/**
 * "Which head limits detection": the last stack decoded as it is, then with one head's output
 * replaced by its target (CenterNet's --eval_oracle_hm / _wh / _offset idea, per batch): the target
 * heatmaps, the target offsets, a perfect grouping of the corners (CornerNet: embeddings that put
 * each object's two corners together and the objects far apart) or the target sizes (center
 * conventions), and all of them. For each: objects matched (same class, IoU >= 0.5) and a simple
 * AP@0.5 over the batch. The head whose oracle gains most is the one that limits detection.
 */
import type { FloatArray, LossInputs } from '../model/batch';
import type { Corner } from '../model/roles';
import { ctdetDecodeAndMatch } from './ctdetDecode';
import type { TopCornersCache } from './decode';
import { decodeAndMatch, type DecodeView } from './matching';
import type { Ablation, AblationRow, AblationVariant } from '../model/ablation';

const ORACLE_LOGIT = 30;

/** The inputs of one image with one head's output replaced by its target (a copy of what changes). */
function withTargets(inputs: LossInputs, stack: number, image: number, variant: AblationVariant, oracle: Map<Corner, FloatArray>): LossInputs {
  if (variant === 'as-is') return inputs;
  const { C, H, W, K } = inputs.dims;
  const HW = H * W;
  const centers = inputs.sizes !== undefined;
  const corners: Corner[] = centers ? ['tl'] : ['tl', 'br'];
  const copy: LossInputs = { ...inputs, heat: { ...inputs.heat }, ...(inputs.tagMap ? { tagMap: { ...inputs.tagMap } } : {}), ...(inputs.regrMap ? { regrMap: { ...inputs.regrMap } } : {}) };
  const replaceStack = <T>(list: T[] | undefined, value: T): T[] | undefined => (list ? list.map((x, s) => (s === stack ? value : x)) : undefined);
  const heat = variant === 'target-heatmaps' || variant === 'all-targets';
  const offsets = variant === 'target-offsets' || variant === 'all-targets';
  const grouping = !centers && (variant === 'perfect-grouping' || variant === 'all-targets');
  const sizes = centers && (variant === 'target-sizes' || variant === 'all-targets');
  for (const c of corners) {
    if (heat) {
      const h = inputs.heat[c][stack]!;
      let logits = oracle.get(c);
      if (!logits) {
        // One copy per image and corner, shared by the variants (and their decodes: the cache).
        const gt = inputs.gtHeat[c];
        logits = new Float32Array(h.logits.length);
        const base = image * C * HW;
        for (let i = 0; i < C * HW; i++) {
          const g = gt[base + i]!;
          // The target as a probability: exact peaks at 1, gaussians in between, 0 far away.
          logits[base + i] = g >= 1 ? ORACLE_LOGIT : g <= 0 ? -ORACLE_LOGIT : Math.max(-ORACLE_LOGIT, Math.min(ORACLE_LOGIT, Math.log(g / (1 - g))));
        }
        oracle.set(c, logits);
      }
      copy.heat[c] = replaceStack(inputs.heat[c], { ...h, logits })!;
    }
    const ind = inputs.ind?.[c];
    if (offsets && ind && inputs.regrMap?.[c]?.[stack]) {
      const map = Float32Array.from(inputs.regrMap[c]![stack]!);
      for (let k = 0; k < K; k++) {
        if (inputs.mask[image * K + k] === 0) continue;
        const p = ind[image * K + k]!;
        for (let xy = 0; xy < 2; xy++) map[(image * 2 + xy) * HW + p] = inputs.gtRegr[c][(image * K + k) * 2 + xy]!;
      }
      copy.regrMap![c] = replaceStack(inputs.regrMap[c], map as FloatArray)!;
    }
    if (grouping && ind && inputs.tagMap?.[c]?.[stack]) {
      const map = Float32Array.from(inputs.tagMap[c]![stack]!);
      for (let k = 0; k < K; k++) {
        if (inputs.mask[image * K + k] === 0) continue;
        // Each object its own tag, 10 apart: its corners pair, no two objects do.
        map[image * HW + ind[image * K + k]!] = 10 * (k + 1);
      }
      copy.tagMap![c] = replaceStack(inputs.tagMap[c], map as FloatArray)!;
    }
  }
  if (sizes && inputs.sizes && inputs.ind?.tl) {
    const map = Float32Array.from(inputs.sizes.map[stack]!);
    for (let k = 0; k < K; k++) {
      if (inputs.mask[image * K + k] === 0) continue;
      const p = inputs.ind.tl[image * K + k]!;
      for (let ch = 0; ch < 2; ch++) map[(image * 2 + ch) * HW + p] = inputs.sizes.target[(image * K + k) * 2 + ch]!;
    }
    copy.sizes = { ...inputs.sizes, map: replaceStack(inputs.sizes.map, map as FloatArray)! };
  }
  return copy;
}

const DESCRIPTIONS: Record<AblationVariant, string> = {
  'as-is': 'the network as it is',
  'target-heatmaps': 'the target heatmaps instead of the predicted ones',
  'target-offsets': 'the target offsets at the objects',
  'perfect-grouping': 'embeddings that group each object\'s corners perfectly',
  'target-sizes': 'the target sizes (wh) at the objects',
  'all-targets': 'every head replaced by its target',
};

/**
 * The ablation over a batch: `imageInputs(b)` gives the inputs holding image b (the whole batch,
 * or one image read from disk), with `local(b)` its index in them.
 */
export function ablation(
  dims: { B: number; S: number; C: number; H: number; W: number },
  centers: boolean,
  imageInputs: (b: number) => { inputs: LossInputs; image: number },
  options: { K?: number } = {},
): Ablation {
  const stack = dims.S - 1;
  // The original's K (100), or every pixel of a smaller heatmap.
  const K = Math.min(options.K ?? 100, dims.C * dims.H * dims.W);
  const variants: AblationVariant[] = centers ? ['as-is', 'target-heatmaps', 'target-sizes', 'target-offsets', 'all-targets'] : ['as-is', 'target-heatmaps', 'perfect-grouping', 'target-offsets', 'all-targets'];
  // Per variant, each image's decode and its index in the batch (a view read from disk says image 0).
  const views = new Map<AblationVariant, (DecodeView & { batchImage: number })[]>(variants.map((v) => [v, []]));
  for (let b = 0; b < dims.B; b++) {
    const { inputs, image } = imageInputs(b);
    // The variants that keep a heatmap decode it once: its top corners are cached.
    const cache: TopCornersCache = new WeakMap();
    const oracle = new Map<Corner, FloatArray>();
    for (const v of variants) {
      const i = withTargets(inputs, stack, image, v, oracle);
      // Every detection (score > 0): the AP ranks them all.
      const view = centers ? ctdetDecodeAndMatch(i, stack, image, { K }, 1e-9, 0.5, cache) : decodeAndMatch(i, stack, image, { K, numDets: Math.min(1000, K * K) }, 1e-9, 0.5, cache);
      views.get(v)!.push({ ...view, batchImage: b });
    }
  }
  const rows = variants.map((variant): AblationRow => {
    const vs = views.get(variant)!;
    const objects = vs.reduce((a, v) => a + v.targets.length, 0);
    const matched = vs.reduce((a, v) => a + v.targets.filter((t) => t.detection !== undefined).length, 0);
    const dets = vs.flatMap((v) => v.detections.map((d) => ({ score: d.score, tp: d.target !== undefined })));
    const missed = vs.flatMap((v) => v.targets.filter((t) => t.detection === undefined).map((t) => ({ image: v.batchImage, slot: t.slot, class: t.class, reason: t.reason ?? 'not matched' })));
    return { variant, description: DESCRIPTIONS[variant], objects, matched, detections: dets.length, ap50: averagePrecision(dets, objects), missed: missed.slice(0, 20) };
  });
  const base = rows[0]!.ap50;
  const gains = rows.filter((r) => r.variant !== 'as-is' && r.variant !== 'all-targets').map((r) => ({ v: r.variant, gain: r.ap50 - base }));
  const best = gains.sort((a, b) => b.gain - a.gain)[0];
  return { stack, options: { K }, rows, ...(best && best.gain > 0 ? { limitingHead: best.v } : {}) };
}

/** All-point interpolated AP of detections ranked by score against `positives` objects. */
export function averagePrecision(dets: { score: number; tp: boolean }[], positives: number): number {
  if (positives === 0) return 0;
  const ranked = [...dets].sort((a, b) => b.score - a.score);
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  ranked.forEach((d, i) => {
    if (d.tp) tp++;
    precision.push(tp / (i + 1));
    recall.push(tp / positives);
  });
  // Precision made monotonic from the right, then summed over the recall steps.
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i]!, precision[i + 1]!);
  let ap = 0;
  let prev = 0;
  for (let i = 0; i < recall.length; i++) {
    if (recall[i]! > prev) {
      ap += (recall[i]! - prev) * precision[i]!;
      prev = recall[i]!;
    }
  }
  return ap;
}
