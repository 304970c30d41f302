/**
 * CornerNet's test-time decode (`_decode` in kp_utils.py) on one stack: sigmoid (no clamp),
 * k x k max-pool NMS, top K corners per type over all classes, offsets added, all K x K pairs
 * scored (tl + br)/2 and rejected (score -1) when the classes differ, the embeddings are further
 * apart than the threshold, or br is left of / above tl; then the top `numDets` pairs.
 * float32 inputs are decoded in float32 steps (sigmoid, offsets, scores rounded as torch does).
 */
import type { FloatArray, LossInputs } from '../model/batch';
import { InputError } from '../model/errors';
import type { Corner } from '../model/roles';

export interface DecodeOptions {
  /** Corners kept per type (CornerNet: top_k 100). */
  K?: number;
  /** NMS window (CornerNet: nms_kernel 3). */
  kernel?: number;
  /** Largest embedding distance of a pair (CornerNet: ae_threshold 0.5). */
  aeThreshold?: number;
  /** Pairs kept after scoring (CornerNet's test: 1000). */
  numDets?: number;
}

export const DECODE_DEFAULTS: Required<DecodeOptions> = { K: 100, kernel: 3, aeThreshold: 0.5, numDets: 1000 };

export interface CornerCandidate {
  /** Rank in the top K (0 = best). */
  rank: number;
  score: number;
  class: number;
  /** Integer pixel. */
  px: number;
  py: number;
  /** Pixel plus the predicted offset. */
  x: number;
  y: number;
  tag: number;
}

export type RejectReason = 'class' | 'distance' | 'geometry';

export interface Detection {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  tlScore: number;
  brScore: number;
  class: number;
  /** Indices into `tl` / `br` of the result. */
  tl: number;
  br: number;
}

export interface ImageDecode {
  image: number;
  tl: CornerCandidate[];
  br: CornerCandidate[];
  /** Valid detections (score > -1), best first, at most numDets. */
  detections: Detection[];
}

/** Top corners already found, per logits array and image (decodes of one heatmap with other maps share them). */
export type TopCornersCache = WeakMap<FloatArray, Map<string, ReturnType<typeof topCorners>>>;

export function decodeImage(inputs: LossInputs, stack: number, image: number, options: DecodeOptions = {}, cache?: TopCornersCache): ImageDecode {
  const o = { ...DECODE_DEFAULTS, ...options };
  const { C, H, W, S, B } = inputs.dims;
  if (!(stack >= 0 && stack < S) || !(image >= 0 && image < B)) throw new InputError('decode', `no stack ${stack} / image ${image}`);
  if (!Number.isInteger(o.K) || o.K < 1 || o.K > C * H * W) throw new InputError('decode', `K must be an integer in [1, ${C * H * W}] (C*H*W)`);
  if (o.K * o.K < o.numDets) throw new InputError('decode', `K*K = ${o.K * o.K} pairs cannot cover ${o.numDets} detections (the original's topk raises): raise K to at least ${Math.ceil(Math.sqrt(o.numDets))}`);
  if (!Number.isInteger(o.kernel) || o.kernel < 1 || o.kernel % 2 === 0) throw new InputError('decode', 'the NMS kernel must be an odd positive integer');
  const tagMap = inputs.tagMap;
  const regrMap = inputs.regrMap;
  if (!tagMap?.tl || !tagMap.br || !regrMap?.tl || !regrMap.br) {
    throw new InputError('decode', 'decoding needs the embedding and offset maps (tl_tag/br_tag [B,1,H,W], tl_regr/br_regr [B,2,H,W]); only gathered values were given');
  }
  const f32 = inputs.heat.tl[stack]!.dtype !== 'float64';
  const r = f32 ? Math.fround : (x: number) => x;
  const corners = (corner: Corner): CornerCandidate[] => {
    const logits = inputs.heat[corner][stack]!.logits;
    const tags = tagMap[corner]![stack]!;
    const regr = regrMap[corner]![stack]!;
    return cachedTopCorners(cache, logits, image, C, H, W, o.K, o.kernel, f32).map((c, rank) => {
      const pix = c.py * W + c.px;
      return {
        ...c,
        rank,
        x: r(c.px + regr[(image * 2) * H * W + pix]!),
        y: r(c.py + regr[(image * 2 + 1) * H * W + pix]!),
        tag: tags[image * H * W + pix]!,
      };
    });
  };
  const tl = corners('tl');
  const br = corners('br');
  const scored: { s: number; i: number; j: number }[] = [];
  for (let i = 0; i < tl.length; i++) {
    for (let j = 0; j < br.length; j++) {
      const a = tl[i]!;
      const b = br[j]!;
      const reject = rejectReason(a, b, o.aeThreshold, f32);
      scored.push({ s: reject ? -1 : r((a.score + b.score) / 2), i, j });
    }
  }
  // torch.topk leaves the order of ties undefined; ours is by pair index (tl rank, then br rank).
  scored.sort((p, q) => q.s - p.s || p.i - q.i || p.j - q.j);
  const detections: Detection[] = [];
  for (const p of scored.slice(0, o.numDets)) {
    if (!(p.s > -1)) continue;
    const a = tl[p.i]!;
    const b = br[p.j]!;
    detections.push({ x1: a.x, y1: a.y, x2: b.x, y2: b.y, score: p.s, tlScore: a.score, brScore: b.score, class: a.class, tl: p.i, br: p.j });
  }
  return { image, tl, br, detections };
}

/** Why the original gives a pair the score -1 (the first reason that applies), or undefined. */
export function rejectReason(a: CornerCandidate, b: CornerCandidate, aeThreshold: number, f32 = true): RejectReason | undefined {
  if (a.class !== b.class) return 'class';
  const d = f32 ? Math.fround(Math.abs(a.tag - b.tag)) : Math.abs(a.tag - b.tag);
  if (d > aeThreshold) return 'distance';
  if (b.x < a.x || b.y < a.y) return 'geometry';
  return undefined;
}

/** topCorners, remembered in `cache` when there is one. */
export function cachedTopCorners(cache: TopCornersCache | undefined, logits: FloatArray, image: number, C: number, H: number, W: number, K: number, kernel: number, f32: boolean): ReturnType<typeof topCorners> {
  if (!cache) return topCorners(logits, image, C, H, W, K, kernel, f32);
  const key = `${image} ${K} ${kernel} ${f32}`;
  let byKey = cache.get(logits);
  if (!byKey) cache.set(logits, (byKey = new Map()));
  let top = byKey.get(key);
  if (!top) byKey.set(key, (top = topCorners(logits, image, C, H, W, K, kernel, f32)));
  return top;
}

/**
 * The top K of the NMS'd probabilities of one image over all classes: [score, class, px, py]. A
 * pixel survives NMS when it equals the maximum of its window (plateaus keep every equal pixel),
 * in probability space, as the original compares `hmax == heat` after the sigmoid.
 */
export function topCorners(logits: FloatArray, image: number, C: number, H: number, W: number, K: number, kernel: number, f32: boolean): Omit<CornerCandidate, 'rank' | 'x' | 'y' | 'tag'>[] {
  const HW = H * W;
  const n = C * HW;
  const prob = f32 ? new Float32Array(n) : new Float64Array(n);
  const known = new Uint8Array(n);
  const base = image * n;
  // Probabilities as the original rounds them, computed when a pixel or its window is looked at.
  const p = (i: number) => {
    if (known[i]) return prob[i]!;
    known[i] = 1;
    prob[i] = 1 / (1 + Math.exp(-logits[base + i]!));
    return prob[i]!; // as stored: rounded to float32 when the heatmap is float32
  };
  const pad = (kernel - 1) >> 1;
  let kept: number[] = [];
  const survives = new Uint8Array(n);
  // Only the top K survivors matter: once 4K are kept, the K best so far set a floor, and a pixel at
  // or below it (ties go to the lower index, which came first) is neither tested nor kept; the
  // sigmoid being monotonic, a logit at or below the floor's logit is below it too. The fill-in
  // below needs every survivor only when fewer than K survive, and then nothing was pruned.
  // NaN until set: no comparison with it holds.
  let floor = NaN;
  let floorLogit = NaN;
  const byScore = (a: number, b: number) => p(b) - p(a) || a - b;
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = c * HW + y * W + x;
        if (logits[base + i]! <= floorLogit) continue;
        const v = p(i);
        if (v <= floor) continue;
        let isMax = true;
        for (let yy = Math.max(0, y - pad); yy <= Math.min(H - 1, y + pad) && isMax; yy++) {
          for (let xx = Math.max(0, x - pad); xx <= Math.min(W - 1, x + pad); xx++) {
            if (p(c * HW + yy * W + xx) > v) {
              isMax = false;
              break;
            }
          }
        }
        if (isMax) {
          kept.push(i);
          survives[i] = 1;
          if (kept.length >= 4 * K) {
            kept.sort(byScore);
            kept = kept.slice(0, K);
            floor = p(kept[K - 1]!);
            floorLogit = logits[base + kept[K - 1]!]!;
          }
        }
      }
    }
  }
  kept.sort(byScore);
  const top = kept.slice(0, K);
  // Fewer survivors than K: the original's topk then returns suppressed pixels (score 0).
  for (let i = 0; top.length < K && i < n; i++) if (!survives[i]) top.push(i);
  return top.map((i) => ({
    score: survives[i] ? p(i) : 0,
    class: Math.floor(i / HW),
    px: i % W,
    py: Math.floor((i % HW) / W),
  }));
}
