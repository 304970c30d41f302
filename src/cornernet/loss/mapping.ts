/**
 * Conversions between the layouts of the conventions, as pure functions: the original
 * CornerNet's batch (gathered slots) <-> mmdet CornerHead's inputs (dense offset maps and
 * per-image corner lists), CenterNet's ctdet batch <-> mmdet CenterNetHead's inputs. Each returns
 * notes on what the conversion lost or changed (shared pixels keep the last box, slot order,
 * stacks dropped, sigmoid saturation), in the same {code, message} shape as loss warnings.
 *
 * Targets are converted, never rebuilt: a CornerNet sampler's gaussians (radius formula, corner
 * rounding) stay what they are, and mmdet's get_targets would have drawn slightly different ones.
 */
import { num, plural, sigmoid32, sigmoid64, type FloatArray, type IndexArray, type LossWarning, type Precision } from './dense';
import type { MmdetCornernetInputs } from './mmdetCornernet';
import type { CenternetInputs } from './centernet';
import type { MmdetCenternetInputs } from './mmdetCenternet';
import { CENTERNET_MAX_OBJS } from './centernet';

/** The original CornerNet's loss inputs: full maps per stack plus the sampler's slot targets. */
export interface CornernetBatch {
  dims: { stacks: number; B: number; C: number; H: number; W: number; K: number };
  /** Per stack [B,C,H,W] logits. */
  tlHeat: FloatArray[];
  brHeat: FloatArray[];
  /** Per stack [B,1,H,W] embedding (tag) maps. */
  tlTagMap: FloatArray[];
  brTagMap: FloatArray[];
  /** Per stack [B,2,H,W] offset maps (x, y). */
  tlRegrMap: FloatArray[];
  brRegrMap: FloatArray[];
  /** [B,C,H,W] gaussian targets. */
  gtTlHeat: FloatArray;
  gtBrHeat: FloatArray;
  /** [B,K], nonzero = slot used. */
  gtMask: ArrayLike<number>;
  /** [B,K] flat y*W + x. */
  tlInd: IndexArray;
  brInd: IndexArray;
  /** [B,K,2] offset targets (x, y). */
  gtTlRegr: FloatArray;
  gtBrRegr: FloatArray;
  precision: Precision;
}

/** A CornerNet batch rebuilt from mmdet inputs, with the values the original's model gathers. */
export interface CornernetBatchGathered extends CornernetBatch {
  gtMask: Uint8Array;
  tlInd: Int32Array;
  brInd: Int32Array;
  /** Per stack [B,K,1]: tag maps gathered at the indices (padded slots read pixel 0, as upstream). */
  tlTag: FloatArray[];
  brTag: FloatArray[];
  /** Per stack [B,K,2]: offset maps gathered at the indices. */
  tlRegr: FloatArray[];
  brRegr: FloatArray[];
}

export interface Mapped<T> {
  value: T;
  notes: LossWarning[];
}

function like(a: FloatArray, n: number): FloatArray {
  return a instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

function validIndex(v: number, HW: number): boolean {
  return Number.isInteger(v) && v >= 0 && v < HW;
}

/**
 * Scatters slot targets [B,K,2] into a dense [B,2,H,W] map at `ind` in slot order where the mask
 * is set (a later slot overwrites an earlier one on the same pixel: mmdet's last-box-wins), and
 * reports the overwritten slots.
 */
function scatterSlots(
  values: FloatArray,
  ind: IndexArray,
  mask: ArrayLike<number>,
  B: number,
  K: number,
  HW: number,
): { dense: FloatArray; overwritten: { image: number; slot: number; by: number; pixel: number; differs: boolean }[]; invalid: number } {
  const dense = like(values, B * 2 * HW);
  const owner = new Int32Array(B * HW).fill(-1);
  const overwritten: { image: number; slot: number; by: number; pixel: number; differs: boolean }[] = [];
  let invalid = 0;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      if (mask[b * K + k]! === 0) continue;
      const px = num(ind, b * K + k);
      if (!validIndex(px, HW)) {
        invalid++;
        continue;
      }
      const x = values[(b * K + k) * 2]!;
      const y = values[(b * K + k) * 2 + 1]!;
      const prev = owner[b * HW + px]!;
      if (prev >= 0) {
        const differs = dense[(b * 2) * HW + px] !== x || dense[(b * 2 + 1) * HW + px] !== y;
        overwritten.push({ image: b, slot: prev, by: k, pixel: px, differs });
      }
      owner[b * HW + px] = k;
      dense[(b * 2) * HW + px] = x;
      dense[(b * 2 + 1) * HW + px] = y;
    }
  }
  return { dense, overwritten, invalid };
}

/**
 * CornerNet batch -> mmdet CornerHead inputs, as cornernet_as_mmdet/*.json "mapping" describes:
 * maps carried over (stacks become levels), heatmaps unchanged, `gt_*_regr` scattered into dense
 * offset maps in slot order where gt_mask is set (last wins), `corner_embedding` per image from
 * the set slots' indices, in slot order.
 */
export function cornernetToMmdetCornernet(batch: CornernetBatch): Mapped<MmdetCornernetInputs> {
  const { stacks, B, C, H, W, K } = batch.dims;
  const HW = H * W;
  const notes: LossWarning[] = [];
  const tl = scatterSlots(batch.gtTlRegr, batch.tlInd, batch.gtMask, B, K, HW);
  const br = scatterSlots(batch.gtBrRegr, batch.brInd, batch.gtMask, B, K, HW);

  const perImage: [number, number, number, number][][] = [];
  let invalid = 0;
  let oddMask = 0;
  for (let b = 0; b < B; b++) {
    const list: [number, number, number, number][] = [];
    for (let k = 0; k < K; k++) {
      const m = batch.gtMask[b * K + k]!;
      if (m === 0) continue;
      if (m !== 1) oddMask++;
      const ti = num(batch.tlInd, b * K + k);
      const bi = num(batch.brInd, b * K + k);
      if (!validIndex(ti, HW) || !validIndex(bi, HW)) {
        invalid++;
        continue;
      }
      list.push([Math.floor(ti / W), ti % W, Math.floor(bi / W), bi % W]);
    }
    perImage.push(list);
  }
  const rows = Math.max(0, ...perImage.map((l) => l.length));
  const corners = new Int32Array(B * rows * 4).fill(-1);
  perImage.forEach((list, b) => list.forEach((c, k) => corners.set(c, (b * rows + k) * 4)));

  for (const [name, r] of [
    ['top-left', tl],
    ['bottom-right', br],
  ] as const) {
    for (const o of r.overwritten) {
      notes.push({
        code: 'shared-corner',
        message: `Image ${o.image}: slots ${o.slot} and ${o.by} share the ${name} pixel ${o.pixel}; the dense offset target keeps slot ${o.by}'s${o.differs ? ' (slot ' + o.slot + "'s differs and is lost)" : ''}, and mmdet counts the pixel once in the offset mask.`,
      });
    }
  }
  if (invalid + tl.invalid + br.invalid > 0) {
    notes.push({ code: 'index-out-of-range', message: `${plural(invalid, 'object')} with an index outside [0, H*W) left out (the original gather raises on them).` });
  }
  if (oddMask > 0) {
    notes.push({ code: 'mask-values', message: `${plural(oddMask, 'gt_mask value')} other than 0/1: CornerNet counts them in n (uint8 sum), mmdet lists each object once.` });
  }
  if (stacks > 1) {
    notes.push({ code: 'stacks-as-levels', message: `${stacks} stacks become ${stacks} levels: mmdet sums the levels' losses (the original divides by the number of stacks).` });
  }
  notes.push({
    code: 'targets-converted',
    message: "Targets converted, not rebuilt: mmdet's get_targets would round corners with int(min(fx, W-1)) and use the corrected radius formula.",
  });

  return {
    value: {
      dims: { levels: stacks, B, C, H, W, K: rows },
      tlHeats: batch.tlHeat,
      brHeats: batch.brHeat,
      tlEmbs: batch.tlTagMap,
      brEmbs: batch.brTagMap,
      tlOffs: batch.tlRegrMap,
      brOffs: batch.brRegrMap,
      topleftHeatmap: batch.gtTlHeat,
      bottomrightHeatmap: batch.gtBrHeat,
      topleftOffset: tl.dense,
      bottomrightOffset: br.dense,
      corners,
      precision: batch.precision,
    },
    notes,
  };
}

/**
 * mmdet CornerHead inputs -> CornerNet batch: each image's objects take slots 0..n-1 in
 * corner_embedding order, indices y*W + x, gt offsets read from the dense maps at the corner
 * pixels (so objects sharing a pixel all get the last box's offset), maps gathered at the indices
 * as CornerNet's model does (padded slots gather pixel 0). `K` defaults to CornerNet's
 * max_tag_len 128; images with more objects are truncated.
 */
export function mmdetCornernetToCornernet(inp: MmdetCornernetInputs, options: { K?: number } = {}): Mapped<CornernetBatchGathered> {
  const { levels, B, C, H, W, K: rowsIn } = inp.dims;
  const HW = H * W;
  const K = options.K ?? 128;
  const notes: LossWarning[] = [];
  const E = inp.tlEmbs[0] ? inp.tlEmbs[0].length / (B * HW) : 1;
  const gtMask = new Uint8Array(B * K);
  const tlInd = new Int32Array(B * K);
  const brInd = new Int32Array(B * K);
  const gtTlRegr = like(inp.topleftOffset, B * K * 2);
  const gtBrRegr = like(inp.bottomrightOffset, B * K * 2);
  let truncated = 0;
  let invalid = 0;
  for (let b = 0; b < B; b++) {
    let k = 0;
    const seenTl = new Map<number, number>();
    const seenBr = new Map<number, number>();
    for (let r = 0; r < rowsIn; r++) {
      const o = (b * rowsIn + r) * 4;
      const c = [0, 1, 2, 3].map((j) => num(inp.corners, o + j)) as [number, number, number, number];
      if (c.some((v) => v < 0)) continue;
      if (!(c[0] < H && c[1] < W && c[2] < H && c[3] < W)) {
        invalid++;
        continue;
      }
      if (k >= K) {
        truncated++;
        continue;
      }
      const ti = c[0] * W + c[1];
      const bi = c[2] * W + c[3];
      gtMask[b * K + k] = 1;
      tlInd[b * K + k] = ti;
      brInd[b * K + k] = bi;
      for (let ch = 0; ch < 2; ch++) {
        gtTlRegr[(b * K + k) * 2 + ch] = inp.topleftOffset[(b * 2 + ch) * HW + ti]!;
        gtBrRegr[(b * K + k) * 2 + ch] = inp.bottomrightOffset[(b * 2 + ch) * HW + bi]!;
      }
      for (const [name, seen, px] of [
        ['top-left', seenTl, ti],
        ['bottom-right', seenBr, bi],
      ] as const) {
        if (seen.has(px)) {
          notes.push({
            code: 'shared-corner',
            message: `Image ${b}: slots ${seen.get(px)} and ${k} share the ${name} pixel ${px}; mmdet's dense target kept only the last box's offset, so both slots get it.`,
          });
        }
        seen.set(px, k);
      }
      k++;
    }
  }
  const gather = (maps: FloatArray[], ind: Int32Array, ch: number) =>
    maps.map((m) => {
      const out = like(m, B * K * ch);
      const chIn = m.length / (B * HW);
      for (let b = 0; b < B; b++) {
        for (let k = 0; k < K; k++) {
          const px = ind[b * K + k]!;
          for (let c = 0; c < ch; c++) out[(b * K + k) * ch + c] = m[(b * chIn + c) * HW + px]!;
        }
      }
      return out;
    });
  // CornerNet's tags are 1-D: only channel 0 of a multi-channel embedding is carried over.
  const tagMaps = (maps: FloatArray[]) => (E === 1 ? maps : maps.map((m) => channel0(m, B, E, HW)));
  const tlTagMap = tagMaps(inp.tlEmbs);
  const brTagMap = tagMaps(inp.brEmbs);

  if (truncated > 0) notes.push({ code: 'too-many-objects', message: `${plural(truncated, 'object')} beyond K = ${K} slots dropped (CornerNet's sampler would raise).` });
  if (invalid > 0) notes.push({ code: 'index-out-of-range', message: `${plural(invalid, 'object')} with a corner outside the ${H}x${W} map dropped.` });
  if (E > 1) notes.push({ code: 'embedding-dims', message: `${E} embedding channels: CornerNet's tags are 1-D, channel 0 kept.` });
  if (levels > 1) notes.push({ code: 'stacks-as-levels', message: `${levels} levels become ${levels} stacks: the original divides the total by the number of stacks.` });
  notes.push({
    code: 'offsets-from-dense',
    message: 'gt offsets read from the dense maps at each corner: CornerNet supervises every object\'s slot, also where mmdet\'s offset mask (gt == 1 in some class) was 0.',
  });

  return {
    value: {
      dims: { stacks: levels, B, C, H, W, K },
      tlHeat: inp.tlHeats,
      brHeat: inp.brHeats,
      tlTagMap,
      brTagMap,
      tlRegrMap: inp.tlOffs,
      brRegrMap: inp.brOffs,
      gtTlHeat: inp.topleftHeatmap,
      gtBrHeat: inp.bottomrightHeatmap,
      gtMask,
      tlInd,
      brInd,
      gtTlRegr,
      gtBrRegr,
      tlTag: gather(tlTagMap, tlInd, 1),
      brTag: gather(brTagMap, brInd, 1),
      tlRegr: gather(inp.tlOffs, tlInd, 2),
      brRegr: gather(inp.brOffs, brInd, 2),
      precision: inp.precision,
    },
    notes,
  };
}

function channel0(m: FloatArray, B: number, E: number, HW: number): FloatArray {
  const out = like(m, B * HW);
  for (let b = 0; b < B; b++) out.set(m.subarray(b * E * HW, b * E * HW + HW), b * HW);
  return out;
}

/**
 * CenterNet ctdet batch -> mmdet CenterNetHead inputs. mmdet has one level: `stack` (default the
 * last, the one used at test time) is taken. Logits become probabilities through the sigmoid of
 * the run's precision; lossy in float32, where p is exactly 1 from logit ~16.6 (and 0 below
 * ~-88.7), so distinct confident logits collapse, and CenterNet's clamp is not part of mmdet's
 * loss (a saturated pixel costs 27.63 there, 9.21 in CenterNet). Slot targets are scattered into
 * dense maps in slot order where reg_mask is set (last wins), weight 1 on both channels.
 */
export function centernetToMmdetCenternet(inp: CenternetInputs, options: { stack?: number } = {}): Mapped<MmdetCenternetInputs> {
  const { stacks, B, C, H, W, K } = inp.dims;
  const HW = H * W;
  const s = options.stack ?? stacks - 1;
  if (!(s >= 0 && s < stacks)) throw new RangeError(`stack ${s} of ${stacks}`);
  const notes: LossWarning[] = [];
  const logits = inp.hm[s]!;
  const r32 = inp.precision === 'float32';
  const probs: FloatArray = r32 ? new Float32Array(logits.length) : new Float64Array(logits.length);
  let saturated = 0;
  for (let i = 0; i < logits.length; i++) {
    const p = r32 ? sigmoid32(logits[i]!) : sigmoid64(logits[i]!);
    if (p === 0 || p === 1) saturated++;
    probs[i] = p;
  }
  const t = inp.target;
  const wh = scatterSlots(t.wh, t.ind, t.regMask, B, K, HW);
  const off = scatterSlots(t.reg, t.ind, t.regMask, B, K, HW);
  const weight = like(t.wh, B * 2 * HW);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      if (t.regMask[b * K + k]! === 0) continue;
      const px = num(t.ind, b * K + k);
      if (!validIndex(px, HW)) continue;
      weight[(b * 2) * HW + px] = 1;
      weight[(b * 2 + 1) * HW + px] = 1;
    }
  }
  for (const o of wh.overwritten) {
    notes.push({
      code: 'shared-center',
      message: `Image ${o.image}: slots ${o.slot} and ${o.by} share the center pixel ${o.pixel}; the dense wh/offset targets keep slot ${o.by}'s and the pixel is weighted once (CenterNet scores both slots).`,
    });
  }
  if (wh.invalid > 0) notes.push({ code: 'index-out-of-range', message: `${plural(wh.invalid, 'slot')} with ind outside [0, H*W) left out.` });
  if (stacks > 1) notes.push({ code: 'one-level', message: `mmdet's CenterNetHead has one level: stack ${s} of ${stacks} taken, the others dropped.` });
  if (saturated > 0) {
    notes.push({
      code: 'sigmoid-saturated',
      message: `${plural(saturated, 'probability', 'probabilities')} exactly 0 or 1 after the ${inp.precision} sigmoid: their logits cannot be recovered, and mmdet (no clamp) charges up to 27.63 per pixel where CenterNet's clamp caps at 9.21.`,
    });
  }
  notes.push({
    code: 'targets-converted',
    message: "Targets converted, not rebuilt: mmdet's get_targets would use the corrected radius formula with min_overlap 0.3 on unrounded sizes, and no clipping of the center.",
  });
  return {
    value: {
      dims: { B, C, H, W },
      centerHeatmapPred: probs,
      whPred: inp.wh[s]!,
      offsetPred: inp.reg[s]!,
      centerHeatmapTarget: t.hm,
      whTarget: wh.dense,
      offsetTarget: off.dense,
      whOffsetTargetWeight: weight,
      precision: inp.precision,
    },
    notes,
  };
}

/**
 * mmdet CenterNetHead inputs -> CenterNet ctdet batch (one stack). Probabilities become logits
 * `log(p / (1 - p))`: 1 -> +Inf and 0 -> -Inf, which CenterNet's clamp maps to its bounds; float32
 * probabilities near 1 only keep ~log2(1/(1-p)) bits, so the logits are approximate (the clamped
 * loss is unaffected beyond rounding). Slots: one per pixel with a positive weight, in raster order
 * per image (the original box order is not recorded in dense maps; boxes merged on a shared pixel
 * stay merged), K defaulting to ctdet's max_objs 128.
 */
export function mmdetCenternetToCenternet(inp: MmdetCenternetInputs, options: { K?: number } = {}): Mapped<CenternetInputs> {
  const { B, C, H, W } = inp.dims;
  const HW = H * W;
  const K = options.K ?? CENTERNET_MAX_OBJS;
  const notes: LossWarning[] = [];
  const p = inp.centerHeatmapPred;
  const r32 = inp.precision === 'float32';
  const logits: FloatArray = r32 ? new Float32Array(p.length) : new Float64Array(p.length);
  let infinite = 0;
  let outOfRange = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (!(v >= 0 && v <= 1)) outOfRange++;
    else if (v === 0 || v === 1) infinite++;
    logits[i] = Math.log(v) - Math.log1p(-v);
  }
  const regMask = new Uint8Array(B * K);
  const ind = new Int32Array(B * K);
  const wh = like(inp.whTarget, B * K * 2);
  const reg = like(inp.offsetTarget, B * K * 2);
  const w = inp.whOffsetTargetWeight;
  let truncated = 0;
  let partial = 0;
  let nonUnit = 0;
  for (let b = 0; b < B; b++) {
    let k = 0;
    for (let px = 0; px < HW; px++) {
      const w0 = w[(b * 2) * HW + px]!;
      const w1 = w[(b * 2 + 1) * HW + px]!;
      if (!(w0 > 0 || w1 > 0)) continue;
      if (!(w0 > 0 && w1 > 0)) partial++;
      if (w0 !== 1 || w1 !== 1) nonUnit++;
      if (k >= K) {
        truncated++;
        continue;
      }
      regMask[b * K + k] = 1;
      ind[b * K + k] = px;
      for (let c = 0; c < 2; c++) {
        wh[(b * K + k) * 2 + c] = inp.whTarget[(b * 2 + c) * HW + px]!;
        reg[(b * K + k) * 2 + c] = inp.offsetTarget[(b * 2 + c) * HW + px]!;
      }
      k++;
    }
  }
  let multiPeak = 0;
  for (let b = 0; b < B; b++) {
    for (let px = 0; px < HW; px++) {
      let n = 0;
      for (let c = 0; c < C; c++) if (inp.centerHeatmapTarget[(b * C + c) * HW + px] === 1) n++;
      if (n > 1) multiPeak++;
    }
  }
  if (infinite > 0) {
    notes.push({ code: 'infinite-logits', message: `${plural(infinite, 'probability', 'probabilities')} exactly 0 or 1 become infinite logits (CenterNet's clamp bounds them).` });
  }
  if (outOfRange > 0) notes.push({ code: 'probabilities-out-of-range', message: `${plural(outOfRange, 'heatmap value')} outside [0, 1]: their logits are NaN.` });
  if (truncated > 0) notes.push({ code: 'too-many-objects', message: `${plural(truncated, 'center pixel')} beyond K = ${K} slots dropped (ctdet's max_objs).` });
  if (partial + nonUnit > 0) notes.push({ code: 'weights-dropped', message: `${plural(nonUnit, 'center pixel')} with weights other than (1, 1): CenterNet's reg_mask weights both channels by 1.` });
  if (multiPeak > 0) {
    notes.push({ code: 'shared-center', message: `${plural(multiPeak, 'center pixel')} with peaks of several classes become one slot: the boxes merged by mmdet's dense targets cannot be told apart.` });
  }
  notes.push({ code: 'slot-order', message: 'Slots follow raster order (y, then x) per image, not the original box order.' });
  return {
    value: {
      dims: { stacks: 1, B, C, H, W, K },
      hm: [logits],
      wh: [inp.whPred],
      reg: [inp.offsetPred],
      target: { hm: inp.centerHeatmapTarget, regMask, ind, wh, reg },
      precision: inp.precision,
    },
    notes,
  };
}
