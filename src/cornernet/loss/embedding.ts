/**
 * Associative embedding loss (`_ae_loss`): pull draws an object's two corner embeddings to their
 * mean, push drives the means of different objects at least 1 apart. Summed over images.
 *
 * The original's object-count constants are float32 tensors (`num = mask.sum().float()`), even on
 * float64 inputs: n + 1e-4, 1/(n + 1e-4) and n(n-1) + 1e-4 are rounded to float32 here too. That is
 * what makes a one-object image add 1.000166 to push rather than 0.9999.
 */
import type { DType } from '../../tensor/dtype';

export type Arithmetic = 'original' | 'exact';

const F32_EPS = Math.fround(1e-4);

/** The three count constants for an image with `n` objects. */
export function countConstants(n: number, arithmetic: Arithmetic): { nEps: number; inv: number; pairs: number } {
  if (arithmetic === 'exact') {
    const nEps = n + 1e-4;
    return { nEps, inv: 1 / nEps, pairs: (n - 1) * n + 1e-4 };
  }
  const nEps = Math.fround(Math.fround(n) + F32_EPS);
  return { nEps, inv: Math.fround(1 / nEps), pairs: Math.fround(Math.fround((n - 1) * n) + F32_EPS) };
}

export interface EmbeddingObject {
  slot: number;
  tl: number;
  br: number;
  mean: number;
  /** ((tl - e)^2 + (br - e)^2) / (n + 1e-4): this object's share of the image's pull. */
  pull: number;
  /** Sum over the image's objects j (j = k included) of (relu(1 - |e_j - e_k|) - 1/(n+1e-4)) / (n(n-1) + 1e-4). */
  push: number;
}

export interface EmbeddingImage {
  /** Valid slots (mask != 0). */
  objects: number;
  pull: number;
  push: number;
  items: EmbeddingObject[];
}

export interface EmbeddingResult {
  pull: number;
  push: number;
  images: EmbeddingImage[];
  /**
   * What the original code would report when the mask is not a 0/1 uint8 mask (bool, other
   * values, float): present only then. `null` terms: the original raises.
   */
  original?: { pull: number | null; push: number | null; reason: string };
}

/**
 * Pull and push for one stack. `tl`, `br`: gathered embeddings [B*K]; `mask` [B*K]: nonzero slots
 * are objects (the intended meaning, whatever the mask's dtype).
 */
export function embeddingLoss(
  tl: Float64Array,
  br: Float64Array,
  mask: Float64Array,
  maskDType: DType,
  B: number,
  K: number,
  arithmetic: Arithmetic = 'original',
): EmbeddingResult {
  const images: EmbeddingImage[] = [];
  let pull = 0;
  let push = 0;
  for (let b = 0; b < B; b++) {
    const slots: number[] = [];
    for (let k = 0; k < K; k++) if (mask[b * K + k] !== 0) slots.push(k);
    const img = imageTerms(tl, br, b, K, slots, arithmetic);
    images.push(img);
    pull += img.pull;
    push += img.push;
  }
  const result: EmbeddingResult = { pull, push, images };
  const original = originalMaskSemantics(tl, br, mask, maskDType, B, K, arithmetic);
  if (original) result.original = original;
  return result;
}

function imageTerms(
  tl: Float64Array,
  br: Float64Array,
  b: number,
  K: number,
  slots: number[],
  arithmetic: Arithmetic,
): EmbeddingImage {
  const items: EmbeddingObject[] = [];
  if (slots.length === 0) return { objects: 0, pull: 0, push: 0, items };
  const { nEps, inv, pairs } = countConstants(slots.length, arithmetic);
  let pull = 0;
  for (const k of slots) {
    const t = tl[b * K + k]!;
    const r = br[b * K + k]!;
    const e = (t + r) / 2;
    const p = ((t - e) ** 2 + (r - e) ** 2) / nEps;
    pull += p;
    items.push({ slot: k, tl: t, br: r, mean: e, pull: p, push: 0 });
  }
  let push = 0;
  for (const a of items) {
    let row = 0;
    for (const c of items) row += (relu(1 - Math.abs(a.mean - c.mean)) - inv) / pairs;
    a.push = row;
    push += row;
  }
  return { objects: slots.length, pull, push, items };
}

/**
 * The original with a mask that is not 0/1 uint8: `n = mask.sum()` counts values, `tag[mask]`
 * selects nonzero slots, and push pairs are `mask_j + mask_k == 2` in the mask's own dtype (uint8
 * wraps; bool addition is a logical or, so no pair is ever selected).
 */
function originalMaskSemantics(
  tl: Float64Array,
  br: Float64Array,
  mask: Float64Array,
  maskDType: DType,
  B: number,
  K: number,
  arithmetic: Arithmetic,
): EmbeddingResult['original'] {
  let nonBinary = false;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0 && mask[i] !== 1) nonBinary = true;
  if (maskDType === 'float16' || maskDType === 'bfloat16' || maskDType === 'float32' || maskDType === 'float64') {
    return { pull: null, push: null, reason: `a ${maskDType} mask cannot index a tensor: the original raises IndexError` };
  }
  if (maskDType !== 'bool' && !nonBinary) return undefined;
  const wrap = (v: number): number => {
    switch (maskDType) {
      case 'uint8':
        return v & 0xff;
      case 'int8':
        return (v << 24) >> 24;
      case 'uint16':
        return v & 0xffff;
      case 'int16':
        return (v << 16) >> 16;
      default:
        return v;
    }
  };
  // Every slot pair of the image is a candidate here, padding included: a slot holding 2 pairs
  // with an empty slot (2 + 0 == 2), exactly as the original's K x K mask does.
  let pull = 0;
  let push = 0;
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let k = 0; k < K; k++) n += mask[b * K + k]!;
    if (n === 0) continue;
    const { nEps, inv, pairs } = countConstants(n, arithmetic);
    const mean = (k: number) => (tl[b * K + k]! + br[b * K + k]!) / 2;
    for (let k = 0; k < K; k++) {
      if (mask[b * K + k] === 0) continue;
      const e = mean(k);
      pull += ((tl[b * K + k]! - e) ** 2 + (br[b * K + k]! - e) ** 2) / nEps;
    }
    if (maskDType === 'bool') continue;
    for (let j = 0; j < K; j++) {
      for (let k = 0; k < K; k++) {
        if (wrap(mask[b * K + j]! + mask[b * K + k]!) !== 2) continue;
        push += (relu(1 - Math.abs(mean(j) - mean(k))) - inv) / pairs;
      }
    }
  }
  return {
    pull,
    push,
    reason:
      maskDType === 'bool'
        ? 'with a bool mask, mask_j + mask_k is a logical or and never equals 2: no push pair is selected'
        : 'the original counts each mask value v as v objects and selects push pairs by mask_j + mask_k == 2',
  };
}

/** torch's relu: NaN stays NaN. */
function relu(x: number): number {
  return x > 0 || x !== x ? x : 0;
}
