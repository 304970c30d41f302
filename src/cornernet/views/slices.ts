/**
 * What the heatmap views draw: one (stack, image, class) plane of a corner type with its logits,
 * clamped probabilities, targets and per-pixel focal loss; the decode's peaks; per-class
 * thumbnails. Computed on demand from the inputs (the panel asks for what it shows).
 */
import type { LossInputs } from '../model/batch';
import { boundsFor, clampedSigmoid, pixelFocalLoss, plainBounds, type ClampBounds } from '../model/pixel';
import type { HeatStack } from '../model/batch';

/** The per-pixel rule of a heatmap: CornerNet's clamp, or mmdetection's plain sigmoid. */
export function heatBounds(heat: HeatStack): ClampBounds {
  return heat.plain ? plainBounds(heat.dtype) : boundsFor(heat.dtype);
}
import type { Corner } from '../model/roles';
import { pixelLossesSimd } from '../focal/focalSimd';

export interface Peak {
  x: number;
  y: number;
  /** Plain sigmoid (decode uses no clamp). */
  score: number;
  /** Rank among the image's top-K over all classes (0 = best). */
  rank: number;
}

export interface HeatSlice {
  corner: Corner;
  stack: number;
  image: number;
  class: number;
  width: number;
  height: number;
  logit: Float32Array;
  /** Clamped sigmoid as the loss sees it. */
  prob: Float32Array;
  target: Float32Array;
  /** Per-pixel contribution to the stack's focal term of this corner type (normalised). */
  loss: Float32Array;
  /** Pixels with target exactly 1. */
  positives: { x: number; y: number }[];
  /** The original decode's top-K peaks (3x3 max-pool NMS over all classes) that fall in this class. */
  peaks: Peak[];
  /** Sum of `loss` (this plane's share of the focal term). */
  planeLoss: number;
  /** The clamp used and the normaliser of `loss` (N positives, or 1): to recompute it elsewhere. */
  bounds: ClampBounds;
  norm: number;
}

/** Focal positives of a corner type over the whole batch: the normaliser of every pixel. */
export function countPositives(gt: Float32Array | Float64Array): number {
  let n = 0;
  for (let i = 0; i < gt.length; i++) if (gt[i] === 1) n++;
  return n;
}


/**
 * `peaks`: the image's `imagePeaks(inputs, corner, stack, image, topK)` when the caller keeps them
 * (they scan every class of the image: the cost of a slice, which shows one).
 */
export function heatSlice(
  inputs: LossInputs,
  corner: Corner,
  stack: number,
  image: number,
  cls: number,
  topK = 100,
  positives?: number,
  peaks?: (Peak & { class: number })[],
): HeatSlice {
  const { B, C, H, W, S } = inputs.dims;
  if (!(stack >= 0 && stack < S && image >= 0 && image < B && cls >= 0 && cls < C)) {
    throw new RangeError(`no plane stack ${stack}, image ${image}, class ${cls} (S=${S}, B=${B}, C=${C})`);
  }
  const HW = H * W;
  const heat = inputs.heat[corner][stack]!;
  const gt = inputs.gtHeat[corner];
  const N = positives ?? countPositives(gt);
  const norm = N === 0 ? 1 : Math.fround(N);
  const bounds = heatBounds(heat);
  const base = (image * C + cls) * HW;
  const logit = new Float32Array(HW);
  const prob = new Float32Array(HW);
  const target = new Float32Array(HW);
  const loss = new Float32Array(HW);
  const pos: { x: number; y: number }[] = [];
  let planeLoss = 0;
  for (let i = 0; i < HW; i++) {
    const x = heat.logits[base + i]!;
    const g = gt[base + i]!;
    const p = clampedSigmoid(x, bounds);
    const l = pixelFocalLoss(p, g, bounds.plain) / norm;
    logit[i] = x;
    prob[i] = p;
    target[i] = g;
    loss[i] = l;
    planeLoss += l;
    if (g === 1) pos.push({ x: i % W, y: Math.floor(i / W) });
  }
  const ours = (peaks ?? imagePeaks(inputs, corner, stack, image, topK)).filter((p) => p.class === cls);
  return { corner, stack, image, class: cls, width: W, height: H, logit, prob, target, loss, positives: pos, peaks: ours, planeLoss, bounds, norm };
}

/**
 * The original decode's corner candidates for one image: sigmoid (no clamp), 3x3 max-pool NMS
 * (a pixel survives if it equals the max of its neighbourhood, plateaus keep every equal pixel),
 * then the top K over all classes and pixels.
 */
export function imagePeaks(inputs: LossInputs, corner: Corner, stack: number, image: number, K: number): (Peak & { class: number })[] {
  const { C, H, W } = inputs.dims;
  const HW = H * W;
  const logits = inputs.heat[corner][stack]!.logits;
  const base = image * C * HW;
  // The sigmoid is monotonic: NMS and ranking on logits give the same survivors and order.
  const kept: { i: number; v: number }[] = [];
  let threshold = -Infinity;
  for (let c = 0; c < C; c++) {
    const pb = base + c * HW;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = logits[pb + y * W + x]!;
        if (!(v >= threshold) && kept.length >= K) continue;
        let isMax = true;
        for (let dy = -1; dy <= 1 && isMax; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= H) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= W) continue;
            if (logits[pb + yy * W + xx]! > v) {
              isMax = false;
              break;
            }
          }
        }
        if (!isMax) continue;
        kept.push({ i: c * HW + y * W + x, v });
        if (kept.length > 4 * K) {
          kept.sort((a, b) => b.v - a.v || a.i - b.i);
          kept.length = K;
          threshold = kept[K - 1]!.v;
        }
      }
    }
  }
  kept.sort((a, b) => b.v - a.v || a.i - b.i);
  return kept.slice(0, K).map((k, rank) => {
    const c = Math.floor(k.i / HW);
    const pix = k.i % HW;
    return { class: c, x: pix % W, y: Math.floor(pix / W), score: 1 / (1 + Math.exp(-k.v)), rank };
  });
}

export interface Thumbnails {
  stack: number;
  image: number;
  size: { width: number; height: number };
  /** Classes sorted by their plane loss (tl + br), largest first. */
  classes: { class: number; loss: number; lossTl: number; lossBr: number }[];
  /** Per class in `classes` order: max(tl loss, br loss) max-pooled to size, [n * h * w]. */
  data: Float32Array;
}

/**
 * Per-class loss thumbnails of one image, max-pooled so that small hot spots stay visible.
 * `positives`: the batch's focal positives per corner type (default: counted in `inputs`, which
 * must then hold the whole batch's targets).
 */
export function classThumbnails(inputs: LossInputs, stack: number, image: number, maxSide = 32, positives?: Record<Corner, number>): Thumbnails {
  const { C, H, W } = inputs.dims;
  const HW = H * W;
  const f = Math.max(1, Math.ceil(Math.max(H, W) / maxSide));
  const th = Math.ceil(H / f);
  const tw = Math.ceil(W / f);
  const norms = {
    tl: Math.max(1, Math.fround(positives?.tl ?? countPositives(inputs.gtHeat.tl))),
    br: Math.max(1, Math.fround(positives?.br ?? countPositives(inputs.gtHeat.br))),
  };
  // countPositives of 0 means "unnormalised": dividing by 1 is exactly that.
  const perClass: { class: number; loss: number; lossTl: number; lossBr: number; map: Float32Array }[] = [];
  const pixel = new Float32Array(HW);
  // Each pixel's thumbnail cell.
  const cell = new Int32Array(HW);
  for (let i = 0; i < HW; i++) cell[i] = Math.floor(Math.floor(i / W) / f) * tw + Math.floor((i % W) / f);
  for (let c = 0; c < C; c++) {
    const map = new Float32Array(th * tw);
    const sums = { tl: 0, br: 0 };
    for (const corner of ['tl', 'br'] as const) {
      const heat = inputs.heat[corner][stack]!;
      const gt = inputs.gtHeat[corner];
      const bounds = heatBounds(heat);
      const base = (image * C + c) * HW;
      const exact = (x: number, g: number) => pixelFocalLoss(clampedSigmoid(x, bounds), g, bounds.plain);
      const logits = heat.logits.subarray(base, base + HW);
      const targets = gt.subarray(base, base + HW);
      // float32 planes through the SIMD module (~80 planes x 2 per image: ~10x faster), else per pixel.
      const simd = bounds.round32 && !bounds.plain && logits instanceof Float32Array && targets instanceof Float32Array && pixelLossesSimd(logits, targets, pixel, exact);
      if (!simd) for (let i = 0; i < HW; i++) pixel[i] = exact(logits[i]!, targets[i]!);
      const norm = norms[corner];
      let sum = 0;
      for (let i = 0; i < HW; i++) {
        const l = pixel[i]! / norm;
        sum += l;
        const t = cell[i]!;
        if (l > map[t]!) map[t] = l;
      }
      sums[corner] += sum;
    }
    perClass.push({ class: c, loss: sums.tl + sums.br, lossTl: sums.tl, lossBr: sums.br, map });
  }
  perClass.sort((a, b) => b.loss - a.loss || a.class - b.class);
  const data = new Float32Array(C * th * tw);
  perClass.forEach((p, i) => data.set(p.map, i * th * tw));
  return {
    stack,
    image,
    size: { width: tw, height: th },
    classes: perClass.map(({ class: c, loss, lossTl, lossBr }) => ({ class: c, loss, lossTl, lossBr })),
    data,
  };
}

/** The (image, class) plane with the largest focal loss (tl + br, all stacks): the default view. */
export function worstPlane(report: { sizes: { batch: number; classes: number }; planeFocal: { tl: (number | null)[]; br: (number | null)[] } }): { image: number; class: number } {
  let best = { image: 0, class: 0 };
  let bestLoss = -Infinity;
  const C = report.sizes.classes;
  for (let i = 0; i < report.sizes.batch * C; i++) {
    const l = (report.planeFocal.tl[i] ?? Infinity) + (report.planeFocal.br[i] ?? Infinity);
    if (l > bestLoss) {
      bestLoss = l;
      best = { image: Math.floor(i / C), class: i % C };
    }
  }
  return best;
}

/** Thumbnails as bytes (0..255 of `max`): what the panel draws, a quarter of the bytes to send. */
export interface QuantizedThumbnails extends Omit<Thumbnails, 'data'> {
  max: number;
  data: Uint8Array;
}

export function quantizeThumbnails(t: Thumbnails): QuantizedThumbnails {
  let max = 0;
  for (let i = 0; i < t.data.length; i++) if (t.data[i]! > max) max = t.data[i]!;
  const data = new Uint8Array(t.data.length);
  if (max > 0) for (let i = 0; i < t.data.length; i++) data[i] = Math.round((t.data[i]! / max) * 255);
  return { stack: t.stack, image: t.image, size: t.size, classes: t.classes, max, data };
}
