/**
 * What the panels draw for a dense convention's batch: its arrays in the shape of the original
 * CornerNet's inputs (LossInputs), which the views (slices, thumbnails, decode, tag maps) take.
 * The loss itself is never computed from these: the report comes from loss/mmdet*.ts and
 * loss/centernet.ts; these only carry the same arrays, with the per-pixel rule of the convention.
 *
 * - mmdet CornerHead: levels as stacks, the corner lists as indices (mapping.ts's inverse), the
 *   heatmaps flagged `plain` (no clamp, eps 1e-12).
 * - CenterNet: the center heatmap under `tl` (and `br`, so that corner-shaped views have data),
 *   clamped as in CornerNet; the offsets gathered at the centers.
 * - mmdet CenterNetHead: probabilities turned back into logits for the views, flagged `plain`.
 */
import type { FloatArray, LossInputs } from './model/batch';
import type { DType } from '../tensor/dtype';
import type { DenseInputs } from './inputs/denseLoad';
import { mmdetCenternetToCenternet, mmdetCornernetToCornernet } from './loss/mapping';
import type { CenternetInputs } from './loss/centernet';

/** A CornerNet batch rebuilt from mmdet's layout, as the original's loss takes it. */
export function lossInputsOf(b: ReturnType<typeof mmdetCornernetToCornernet>['value'], plain = false): LossInputs {
  const { stacks: S, B, C, H, W, K } = b.dims;
  const dtype: DType = b.precision === 'float64' ? 'float64' : 'float32';
  const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
  const heat = (logits: FloatArray) => ({ logits, dtype, ...(plain ? { plain: true } : {}) });
  return {
    dims: { S, B, C, H, W, K },
    heat: { tl: b.tlHeat.map(heat), br: b.brHeat.map(heat) },
    tag: { tl: b.tlTag.map(f64), br: b.brTag.map(f64) },
    regr: { tl: b.tlRegr.map(f64), br: b.brRegr.map(f64) },
    gtHeat: { tl: b.gtTlHeat, br: b.gtBrHeat },
    mask: f64(b.gtMask),
    maskDType: 'uint8',
    gtRegr: { tl: f64(b.gtTlRegr), br: f64(b.gtBrRegr) },
    ind: { tl: f64(b.tlInd), br: f64(b.brInd) },
    tagMap: { tl: b.tlTagMap, br: b.brTagMap },
    regrMap: { tl: b.tlRegrMap, br: b.brRegrMap },
  };
}

/** CenterNet's inputs as views: centers under tl and br, offsets gathered at the centers. */
function centernetViews(c: CenternetInputs, plain: boolean): LossInputs {
  const { stacks: S, B, C, H, W, K } = c.dims;
  const HW = H * W;
  const dtype: DType = c.precision === 'float64' ? 'float64' : 'float32';
  const ind = Float64Array.from({ length: B * K }, (_, i) => Number(c.target.ind[i]!));
  const mask = Float64Array.from({ length: B * K }, (_, i) => (Number(c.target.regMask[i]!) !== 0 ? 1 : 0));
  const gather = (map: FloatArray) => {
    const out = new Float64Array(B * K * 2);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        const p = ind[b * K + k]!;
        if (!(p >= 0 && p < HW)) continue;
        for (let ch = 0; ch < 2; ch++) out[(b * K + k) * 2 + ch] = map[(b * 2 + ch) * HW + p]!;
      }
    }
    return out;
  };
  const heat = c.hm.map((logits) => ({ logits, dtype, ...(plain ? { plain: true } : {}) }));
  const zeros = () => new Float64Array(B * K);
  const regr = c.reg.map(gather);
  return {
    dims: { S, B, C, H, W, K },
    heat: { tl: heat, br: heat },
    tag: { tl: c.hm.map(zeros), br: c.hm.map(zeros) },
    regr: { tl: regr, br: regr },
    gtHeat: { tl: c.target.hm, br: c.target.hm },
    mask,
    maskDType: 'uint8',
    gtRegr: { tl: Float64Array.from(c.target.reg), br: Float64Array.from(c.target.reg) },
    ind: { tl: ind, br: ind },
    regrMap: { tl: c.reg, br: c.reg },
    sizes: { pred: c.wh.map(gather), target: Float64Array.from(c.target.wh), map: c.wh },
  };
}

export function viewInputsOf(loaded: DenseInputs): LossInputs {
  switch (loaded.convention) {
    case 'mmdet-cornernet':
      return lossInputsOf(mmdetCornernetToCornernet(loaded.inputs).value, true);
    case 'centernet':
      return centernetViews(loaded.inputs, false);
    case 'mmdet-centernet':
      return centernetViews(mmdetCenternetToCenternet(loaded.inputs).value, true);
  }
}
