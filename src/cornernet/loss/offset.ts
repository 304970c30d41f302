/**
 * Offset loss (`_regr_loss`): smooth-L1 over both coordinates of every object of the batch,
 * divided by the number of objects in the whole batch (+1e-4, a float32 constant in the original).
 */
import { countConstants, type Arithmetic } from './embedding';

export function smoothL1(d: number): number {
  const a = Math.abs(d);
  return a < 1 ? 0.5 * d * d : a - 0.5;
}

export interface OffsetObject {
  image: number;
  slot: number;
  /** Smooth-L1 of x and y, divided by the batch's object count: this object's share of the term. */
  loss: number;
}

export interface OffsetResult {
  loss: number;
  perImage: Float64Array;
  objects: OffsetObject[];
}

/** `regr`, `gt`: [B*K*2]; `mask` [B*K], nonzero = object. */
export function offsetLoss(
  regr: Float64Array,
  gt: Float64Array,
  mask: Float64Array,
  B: number,
  K: number,
  arithmetic: Arithmetic = 'original',
): OffsetResult {
  let num = 0;
  for (let i = 0; i < B * K; i++) if (mask[i] !== 0) num++;
  const denom = countConstants(num, arithmetic).nEps;
  const perImage = new Float64Array(B);
  const objects: OffsetObject[] = [];
  let loss = 0;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      if (mask[b * K + k] === 0) continue;
      const i = (b * K + k) * 2;
      const v = (smoothL1(regr[i]! - gt[i]!) + smoothL1(regr[i + 1]! - gt[i + 1]!)) / denom;
      objects.push({ image: b, slot: k, loss: v });
      perImage[b] += v;
      loss += v;
    }
  }
  return { loss, perImage, objects };
}
