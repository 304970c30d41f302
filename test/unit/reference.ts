/**
 * A literal re-implementation of the original code for tests: it follows kp_utils.py line by line
 * (boolean masks materialised, the K x K pair mask built as mask_j + mask_k == 2, per-element
 * division before summing), independently of the engine's fused passes.
 */
import type { LossInputs } from '../../src/cornernet/model/batch';

const F = Math.fround;

function sigmoidClamp(x: number, float64: boolean): number {
  if (float64) return Math.min(Math.max(1 / (1 + Math.exp(-x)), 1e-4), 1 - 1e-4);
  const p = F(1 / (1 + Math.exp(-x)));
  return Math.min(Math.max(p, F(1e-4)), F(1 - 1e-4));
}

export interface ReferenceResult {
  total: number;
  focal: number;
  pull: number;
  push: number;
  regr: number;
  maxPixel: number;
}

export function referenceLoss(i: LossInputs, opts: { literalMask?: boolean; weights?: { pull: number; push: number; regr: number } } = {}): ReferenceResult {
  const { S, B, K } = i.dims;
  const w = opts.weights ?? { pull: 0.1, push: 0.1, regr: 1 };
  let maxPixel = -Infinity;

  const negLoss = (corner: 'tl' | 'br') => {
    const gt = i.gtHeat[corner];
    const posInds: number[] = [];
    const negInds: number[] = [];
    for (let j = 0; j < gt.length; j++) {
      if (gt[j] === 1) posInds.push(j);
      if (gt[j]! < 1) negInds.push(j);
    }
    const negWeights = negInds.map((j) => Math.pow(1 - gt[j]!, 4));
    let loss = 0;
    for (const h of i.heat[corner]) {
      const pred = Array.from(h.logits, (x) => sigmoidClamp(x, h.dtype === 'float64'));
      const posLoss = posInds.map((j) => Math.log(pred[j]!) * Math.pow(1 - pred[j]!, 2));
      const negLossArr = negInds.map((j, n) => Math.log(1 - pred[j]!) * Math.pow(pred[j]!, 2) * negWeights[n]!);
      const numPos = F(posInds.length);
      const P = posLoss.reduce((a, b) => a + b, 0);
      const Q = negLossArr.reduce((a, b) => a + b, 0);
      const norm = posInds.length === 0 ? 1 : numPos;
      for (const v of [...posLoss, ...negLossArr]) maxPixel = Math.max(maxPixel, -v / norm);
      loss = posInds.length === 0 ? loss - Q : loss - (P + Q) / numPos;
    }
    return loss;
  };

  const maskOf = (b: number, k: number) => i.mask[b * K + k]!;
  const valid = (b: number, k: number) => maskOf(b, k) !== 0;
  const count = (b: number) => {
    let n = 0;
    for (let k = 0; k < K; k++) n += opts.literalMask ? maskOf(b, k) : valid(b, k) ? 1 : 0;
    return n;
  };
  const pairSelected = (b: number, j: number, k: number) =>
    opts.literalMask && i.maskDType === 'uint8'
      ? ((maskOf(b, j) + maskOf(b, k)) & 0xff) === 2
      : (valid(b, j) ? 1 : 0) + (valid(b, k) ? 1 : 0) === 2;

  const aeLoss = (t0: Float64Array, t1: Float64Array) => {
    let pull = 0;
    let push = 0;
    for (let b = 0; b < B; b++) {
      const num = F(count(b));
      const mean = Array.from({ length: K }, (_, k) => (t0[b * K + k]! + t1[b * K + k]!) / 2);
      const numEps = F(num + F(1e-4));
      for (let k = 0; k < K; k++) {
        if (!valid(b, k)) continue;
        pull += Math.pow(t0[b * K + k]! - mean[k]!, 2) / numEps;
        pull += Math.pow(t1[b * K + k]! - mean[k]!, 2) / numEps;
      }
      const num2 = F(F((num - 1) * num) + F(1e-4));
      for (let j = 0; j < K; j++) {
        for (let k = 0; k < K; k++) {
          if (!pairSelected(b, j, k)) continue;
          let dist = 1 - Math.abs(mean[j]! - mean[k]!);
          dist = Math.max(dist, 0);
          dist = dist - F(1 / numEps);
          push += dist / num2;
        }
      }
    }
    return { pull, push };
  };

  const regrLoss = (regr: Float64Array, gt: Float64Array) => {
    let num = 0;
    for (let b = 0; b < B; b++) num += count(b);
    let s = 0;
    for (let j = 0; j < B * K; j++) {
      if (i.mask[j] === 0) continue;
      for (const xy of [0, 1]) {
        const d = regr[j * 2 + xy]! - gt[j * 2 + xy]!;
        s += Math.abs(d) < 1 ? 0.5 * d * d : Math.abs(d) - 0.5;
      }
    }
    return s / F(F(num) + F(1e-4));
  };

  const focal = negLoss('tl') + negLoss('br');
  let pull = 0;
  let push = 0;
  let regr = 0;
  for (let s = 0; s < S; s++) {
    const ae = aeLoss(i.tag.tl[s]!, i.tag.br[s]!);
    pull += ae.pull;
    push += ae.push;
    regr += regrLoss(i.regr.tl[s]!, i.gtRegr.tl) + regrLoss(i.regr.br[s]!, i.gtRegr.br);
  }
  const total = (focal + w.pull * pull + w.push * push + w.regr * regr) / S;
  return { total, focal, pull, push, regr, maxPixel };
}
