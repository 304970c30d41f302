/**
 * Deterministic synthetic CornerNet batches: targets drawn as CornerNet's sampler draws them
 * (gaussian_radius with min_overlap 0.3, draw_gaussian, truncated corner ints, fractional offsets),
 * outputs that look like a half-trained network. Used by the bundled sample, the benchmark and
 * property tests; never by the loss itself.
 */
import type { Tensor } from '../../src/tensor/tensor';

export interface SyntheticSpec {
  S: number;
  B: number;
  C: number;
  H: number;
  W: number;
  K: number;
  objectsPerImage: number[];
  seed: number;
  /** Mean of the background logits (CornerNet initialises the bias at -2.19; trained nets sit lower). */
  logitMean?: number;
  logitStd?: number;
}

/** mulberry32: small, fast, deterministic across platforms. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normal(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** CornerNet's `gaussian_radius` (sample/utils.py): the smallest of the three quadratic roots. */
export function gaussianRadius(height: number, width: number, minOverlap = 0.3): number {
  const b1 = height + width;
  const c1 = (width * height * (1 - minOverlap)) / (1 + minOverlap);
  const r1 = (b1 - Math.sqrt(b1 * b1 - 4 * c1)) / 2;
  const b2 = 2 * (height + width);
  const c2 = (1 - minOverlap) * width * height;
  const r2 = (b2 - Math.sqrt(b2 * b2 - 16 * c2)) / 8;
  const a3 = 4 * minOverlap;
  const b3 = -2 * minOverlap * (height + width);
  const c3 = (minOverlap - 1) * width * height;
  const r3 = (b3 + Math.sqrt(b3 * b3 - 4 * a3 * c3)) / (2 * a3);
  return Math.min(r1, r2, r3);
}

/** CornerNet's `draw_gaussian`: a bump of the given radius merged with max into `plane` [H*W]. */
export function drawGaussian(plane: Float32Array, H: number, W: number, x: number, y: number, radius: number): void {
  const d = 2 * radius + 1;
  const sigma = d / 6;
  const eps = 2.220446049250313e-16; // np.finfo(float).eps, relative to the max of 1
  for (let dy = -radius; dy <= radius; dy++) {
    const yy = y + dy;
    if (yy < 0 || yy >= H) continue;
    for (let dx = -radius; dx <= radius; dx++) {
      const xx = x + dx;
      if (xx < 0 || xx >= W) continue;
      let g = Math.fround(Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)));
      if (g < eps) g = 0;
      const i = yy * W + xx;
      if (g > plane[i]!) plane[i] = g;
    }
  }
}

export interface SyntheticObject {
  image: number;
  slot: number;
  class: number;
  /** Box in output-map units (floats), before truncation. */
  box: [number, number, number, number];
}

export interface SyntheticBatch {
  /** Arrays by role file stem: the 17 arrays of a fixture folder. */
  arrays: Record<string, Tensor>;
  objects: SyntheticObject[];
}

const f32 = (shape: number[]): Tensor => {
  const size = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, size, data: new Float32Array(size) };
};

export function makeSyntheticBatch(spec: SyntheticSpec): SyntheticBatch {
  const { S, B, C, H, W, K } = spec;
  const HW = H * W;
  const rand = rng(spec.seed);
  const gauss = normal(rand);
  const mean = spec.logitMean ?? -4.6;
  const std = spec.logitStd ?? 1;

  const gt = { tl: f32([B, C, H, W]), br: f32([B, C, H, W]) };
  const mask: Tensor = { dtype: 'uint8', shape: [B, K], size: B * K, data: new Uint8Array(B * K) };
  const gtRegr = { tl: f32([B, K, 2]), br: f32([B, K, 2]) };
  const ind = {
    tl: { dtype: 'int64', shape: [B, K], size: B * K, data: new BigInt64Array(B * K) } as Tensor,
    br: { dtype: 'int64', shape: [B, K], size: B * K, data: new BigInt64Array(B * K) } as Tensor,
  };
  const objects: SyntheticObject[] = [];

  for (let b = 0; b < B; b++) {
    const n = Math.min(spec.objectsPerImage[b] ?? 0, K);
    for (let k = 0; k < n; k++) {
      const w = 2 + rand() * (W * 0.6);
      const h = 2 + rand() * (H * 0.6);
      const x1 = rand() * (W - w - 0.001);
      const y1 = rand() * (H - h - 0.001);
      const x2 = x1 + w;
      const y2 = y1 + h;
      const cls = Math.floor(rand() * C);
      objects.push({ image: b, slot: k, class: cls, box: [x1, y1, x2, y2] });
      const radius = Math.max(0, Math.floor(gaussianRadius(Math.ceil(h), Math.ceil(w), 0.3)));
      const corners = { tl: [x1, y1], br: [x2, y2] } as const;
      for (const c of ['tl', 'br'] as const) {
        const [fx, fy] = corners[c];
        const ix = Math.trunc(fx);
        const iy = Math.trunc(fy);
        drawGaussian((gt[c].data as Float32Array).subarray((b * C + cls) * HW, (b * C + cls + 1) * HW), H, W, ix, iy, radius);
        (gtRegr[c].data as Float32Array)[(b * K + k) * 2] = fx - ix;
        (gtRegr[c].data as Float32Array)[(b * K + k) * 2 + 1] = fy - iy;
        (ind[c].data as BigInt64Array)[b * K + k] = BigInt(iy * W + ix);
      }
      (mask.data as Uint8Array)[b * K + k] = 1;
    }
  }

  // Outputs: background logits plus a response near the target bumps that grows with the stack
  // (later stacks are better), some false-positive blobs, embeddings that roughly separate objects.
  const heat = { tl: f32([S, B, C, H, W]), br: f32([S, B, C, H, W]) };
  const tagMap = { tl: f32([S, B, 1, H, W]), br: f32([S, B, 1, H, W]) };
  const regrMap = { tl: f32([S, B, 2, H, W]), br: f32([S, B, 2, H, W]) };
  for (const c of ['tl', 'br'] as const) {
    const hd = heat[c].data as Float32Array;
    const g = gt[c].data as Float32Array;
    for (let s = 0; s < S; s++) {
      const quality = 3 + (4 * (s + 1)) / S;
      const off = s * B * C * HW;
      for (let i = 0; i < B * C * HW; i++) {
        hd[off + i] = mean + std * gauss() + (g[i]! > 0 ? quality * g[i]! * (0.6 + 0.6 * rand()) : 0);
      }
      for (let blob = 0; blob < B * 2; blob++) {
        const b = Math.floor(rand() * B);
        const cls = Math.floor(rand() * C);
        const bx = Math.floor(rand() * W);
        const by = Math.floor(rand() * H);
        const amp = 2 + 3 * rand();
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            const x = bx + dx;
            const y = by + dy;
            if (x < 0 || y < 0 || x >= W || y >= H) continue;
            hd[off + (b * C + cls) * HW + y * W + x] += amp * Math.exp(-(dx * dx + dy * dy) / 2);
          }
        }
      }
      const td = tagMap[c].data as Float32Array;
      const rd = regrMap[c].data as Float32Array;
      for (let i = 0; i < B * HW; i++) td[s * B * HW + i] = 0.5 * gauss();
      for (let i = 0; i < B * 2 * HW; i++) rd[s * B * 2 * HW + i] = 0.2 + 0.6 * rand();
    }
  }
  const embeddingOf = objects.map((o) => o.slot * 0.8 + 0.3 * gauss());
  for (let s = 0; s < S; s++) {
    objects.forEach((o, j) => {
      for (const c of ['tl', 'br'] as const) {
        const p = Number((ind[c].data as BigInt64Array)[o.image * K + o.slot]);
        (tagMap[c].data as Float32Array)[(s * B + o.image) * HW + p] = embeddingOf[j]! + (0.35 / (s + 1)) * gauss();
        for (let xy = 0; xy < 2; xy++) {
          const target = (gtRegr[c].data as Float32Array)[(o.image * K + o.slot) * 2 + xy]!;
          (regrMap[c].data as Float32Array)[((s * B + o.image) * 2 + xy) * HW + p] = target + (0.15 / (s + 1)) * gauss();
        }
      }
    });
  }

  const gathered = (map: Tensor, channels: number, indT: Tensor): Tensor => {
    const out = f32([S, B, K, channels]);
    const md = map.data as Float32Array;
    const od = out.data as Float32Array;
    const id = indT.data as BigInt64Array;
    for (let s = 0; s < S; s++)
      for (let b = 0; b < B; b++)
        for (let k = 0; k < K; k++)
          for (let ch = 0; ch < channels; ch++)
            od[((s * B + b) * K + k) * channels + ch] = md[((s * B + b) * channels + ch) * HW + Number(id[b * K + k])]!;
    return out;
  };

  return {
    arrays: {
      tl_heat: heat.tl,
      br_heat: heat.br,
      tl_tag: gathered(tagMap.tl, 1, ind.tl),
      br_tag: gathered(tagMap.br, 1, ind.br),
      tl_regr: gathered(regrMap.tl, 2, ind.tl),
      br_regr: gathered(regrMap.br, 2, ind.br),
      tl_tag_map: tagMap.tl,
      br_tag_map: tagMap.br,
      tl_regr_map: regrMap.tl,
      br_regr_map: regrMap.br,
      gt_tl_heat: gt.tl,
      gt_br_heat: gt.br,
      gt_mask: mask,
      gt_tl_regr: gtRegr.tl,
      gt_br_regr: gtRegr.br,
      tl_ind: ind.tl,
      br_ind: ind.br,
    },
    objects,
  };
}

/** The realistic size of `cornernet-loss.md` section 9: S=2, B=4, C=80, 128x128, K=128. */
export const REALISTIC_SPEC: SyntheticSpec = {
  S: 2,
  B: 4,
  C: 80,
  H: 128,
  W: 128,
  K: 128,
  objectsPerImage: [5, 14, 1, 38],
  seed: 20190418,
};
