/**
 * Reading the arrays of a dense convention's resolution (conventionRoles.ts) into the inputs of its
 * loss (loss/mmdetCornernet.ts, loss/centernet.ts, loss/mmdetCenternet.ts): one array per role and
 * stack, float32 kept as float32 (float16 widened exactly), float64 as float64.
 */
import type { ReadLimits } from '../../tensor/limits';
import { openFileSource } from '../../tensor/source';
import { readArray } from '../../tensor/tensorFile';
import { toFloatArray, type Tensor } from '../../tensor/tensor';
import { countNonFiniteValues, probabilityLike } from '../focal/nonFinite';
import type { LossWarning } from '../model/warnings';
import { refLabel } from '../model/arrays';
import { InputError } from '../model/errors';
import { checkObjectLimits } from '../model/limits';
import type { CenternetInputs } from '../loss/centernet';
import type { FloatArray, Precision } from '../loss/dense';
import type { MmdetCenternetInputs } from '../loss/mmdetCenternet';
import type { MmdetCornernetInputs } from '../loss/mmdetCornernet';
import type { DenseResolution, DenseRoleUse } from './conventionRoles';

export type DenseInputs =
  | { convention: 'mmdet-cornernet'; inputs: MmdetCornernetInputs }
  | { convention: 'centernet'; inputs: CenternetInputs }
  | { convention: 'mmdet-centernet'; inputs: MmdetCenternetInputs };

export interface LoadedDense {
  loaded: DenseInputs;
  /** NaN/Inf per array label. */
  nonFinite: Map<string, number>;
  /** dtype of the heatmap outputs as stored (the report's "input dtype"). */
  heatDType: string;
  readMs: number;
  /** What reading found: a logit heatmap holding probabilities. */
  warnings: LossWarning[];
}

export async function loadDenseInputs(
  resolution: DenseResolution,
  options: {
    limits?: Partial<ReadLimits>;
    onProgress?: (fraction: number, file: string) => void;
    /** The logit heatmap holds probabilities (saved after an in-place sigmoid): turn them back into logits. */
    heatIsProbability?: boolean;
  } = {},
): Promise<LoadedDense> {
  const t0 = performance.now();
  const dims = resolution.dims;
  if (!dims) throw new InputError('inputs', 'roles are not resolved');
  const { S, B, C, H, W, K } = dims;
  const tensors = new Map<string, Tensor>();
  const nonFinite = new Map<string, number>();
  const distinct = [...new Map(resolution.uses.map((u) => [refLabel(u.ref), u])).values()];
  let done = 0;
  for (const u of distinct) {
    options.onProgress?.(done++ / distinct.length, refLabel(u.ref));
    const src = await openFileSource(u.ref.file);
    try {
      const t = await readArray(src, u.ref.format, u.ref.key, options.limits);
      tensors.set(refLabel(u.ref), t);
      if (t.data instanceof Float32Array || t.data instanceof Float64Array) nonFinite.set(refLabel(u.ref), countNonFiniteValues(t.data));
    } finally {
      await src.close();
    }
  }
  const uses = (role: string): DenseRoleUse[] => resolution.uses.filter((u) => u.role === role);
  const heatRole = { 'mmdet-cornernet': 'tl_heats', centernet: 'hm', 'mmdet-centernet': 'center_heatmap_pred' }[resolution.convention];
  const heatDType = uses(heatRole)[0]!.ref.header.dtype;
  // float64 outputs run the float64 arithmetic of upstream; anything else (float16 upcast, as
  // training does with .float()) the float32 one.
  const precision: Precision = heatDType === 'float64' ? 'float64' : 'float32';
  const floats = (t: Tensor): FloatArray => {
    const a = toFloatArray(t);
    return precision === 'float32' && a instanceof Float64Array && t.dtype !== 'float64' ? Float32Array.from(a) : a;
  };
  /** Per stack [inner] views of a stacked output role. */
  const perStack = (role: string, inner: number): FloatArray[] => {
    const out: FloatArray[] = new Array(S);
    for (const u of uses(role)) {
      const a = floats(tensors.get(refLabel(u.ref))!);
      u.stacks.forEach((s, i) => {
        out[s] = u.stackAxis ? a.subarray(i * inner, (i + 1) * inner) : a;
      });
    }
    return out;
  };
  const one = (role: string): Tensor => tensors.get(refLabel(uses(role)[0]!.ref))!;
  const oneFloat = (role: string): FloatArray => floats(one(role));
  const HW = H * W;
  let loaded: DenseInputs;
  const warnings: LossWarning[] = [];
  switch (resolution.convention) {
    case 'mmdet-cornernet': {
      const E = dims.E;
      const corners = one('corner_embedding').data;
      loaded = {
        convention: 'mmdet-cornernet',
        inputs: {
          dims: { levels: S, B, C, H, W, K },
          tlHeats: perStack('tl_heats', B * C * HW),
          brHeats: perStack('br_heats', B * C * HW),
          tlEmbs: perStack('tl_embs', B * E * HW),
          brEmbs: perStack('br_embs', B * E * HW),
          tlOffs: perStack('tl_offs', B * 2 * HW),
          brOffs: perStack('br_offs', B * 2 * HW),
          topleftHeatmap: oneFloat('topleft_heatmap'),
          bottomrightHeatmap: oneFloat('bottomright_heatmap'),
          topleftOffset: oneFloat('topleft_offset'),
          bottomrightOffset: oneFloat('bottomright_offset'),
          corners: corners as MmdetCornernetInputs['corners'],
          precision,
        },
      };
      // Objects per image: rows without a negative entry.
      const rows = new Float64Array(B * K);
      for (let i = 0; i < B * K; i++) {
        let valid = 1;
        for (let j = 0; j < 4; j++) if (Number(corners[i * 4 + j]!) < 0) valid = 0;
        rows[i] = valid;
      }
      checkObjectLimits(rows, B, K, refLabel(uses('corner_embedding')[0]!.ref));
      break;
    }
    case 'centernet': {
      const hm = perStack('hm', B * C * HW);
      const label = refLabel(uses('hm')[0]!.ref);
      const looks = hm.map(probabilityLike);
      if (options.heatIsProbability) {
        for (let s = 0; s < S; s++) hm[s] = logitsOf(hm[s]!);
        warnings.push({
          code: 'heat-is-probability',
          message: `${label}: read as probabilities (as asked) and turned back into logits (log p - log(1 - p)) before CenterNet's _sigmoid; values at 0 or 1 become -Inf/+Inf, which the clamp maps to its bounds.`,
          roles: ['hm'],
        });
      } else if (looks.every((l) => l.all01)) {
        const bounds = looks.reduce((a, l) => a + l.atBounds, 0);
        warnings.push({
          code: 'heat-is-probability',
          message: `${label}: every value is in [0, 1] (min ${Math.min(...looks.map((l) => l.min)).toPrecision(4)}, max ${Math.max(...looks.map((l) => l.max)).toPrecision(4)}${bounds ? `, ${bounds} at the clamp bounds` : ''}): these look like probabilities, not logits. CenterNet's _sigmoid works in place, so output['hm'] saved after the loss ran holds sigmoid values; the loss above applies a second sigmoid. Save the outputs before the loss, or treat the heatmap as probabilities (--heat-is-probability, or "heatIsProbability": true in cornernet.json).`,
          roles: ['hm'],
        });
      }
      const mask = one('reg_mask');
      const maskValues = mask.data instanceof BigInt64Array || mask.data instanceof BigUint64Array ? Float64Array.from(mask.data, Number) : (mask.data as ArrayLike<number>);
      checkObjectLimits(Float64Array.from(maskValues), B, K, refLabel(uses('reg_mask')[0]!.ref));
      loaded = {
        convention: 'centernet',
        inputs: {
          dims: { stacks: S, B, C, H, W, K },
          hm,
          wh: perStack('wh', B * 2 * HW),
          reg: perStack('reg', B * 2 * HW),
          target: {
            hm: oneFloat('gt_hm'),
            regMask: maskValues,
            ind: one('ind').data as CenternetInputs['target']['ind'],
            wh: oneFloat('gt_wh'),
            reg: oneFloat('gt_reg'),
          },
          precision,
        },
      };
      break;
    }
    case 'mmdet-centernet': {
      loaded = {
        convention: 'mmdet-centernet',
        inputs: {
          dims: { B, C, H, W },
          centerHeatmapPred: perStack('center_heatmap_pred', B * C * HW)[0]!,
          whPred: perStack('wh_pred', B * 2 * HW)[0]!,
          offsetPred: perStack('offset_pred', B * 2 * HW)[0]!,
          centerHeatmapTarget: oneFloat('center_heatmap_target'),
          whTarget: oneFloat('wh_target'),
          offsetTarget: oneFloat('offset_target'),
          whOffsetTargetWeight: oneFloat('wh_offset_target_weight'),
          precision,
        },
      };
      break;
    }
  }
  options.onProgress?.(1, '');
  return { loaded, nonFinite, heatDType, readMs: performance.now() - t0, warnings };
}

/** Probabilities back to logits: log p - log(1 - p), in the array's own precision. */
export function logitsOf(p: FloatArray): FloatArray {
  const out = p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = Math.log(p[i]!) - Math.log1p(-p[i]!);
  return out;
}
