/**
 * CenterNet's test-time decode (`ctdet_decode` in src/lib/models/decode.py) on one stack: the
 * heatmap's sigmoid (mmdet CenterNetHead: the given probabilities), 3x3 max-pool NMS, the top K
 * centers over all classes, the offset (`reg`) added and the size (`wh`) read at each center:
 * box = (x - w/2, y - h/2, x + w/2, y + h/2). Then the same matching to the targets as CornerNet's
 * decode (matching.ts), with the reasons an object was missed in a center's terms.
 */
import type { LossInputs } from '../model/batch';
import { InputError } from '../model/errors';
import { DECODE_DEFAULTS, cachedTopCorners, type CornerCandidate, type DecodeOptions, type TopCornersCache } from './decode';
import { iou, matchDetections, type DecodeView, type DetectionMatch, type TargetMatch } from './matching';

const fmt = (v: number) => Number(v.toPrecision(3)).toString();

/** Target boxes of one image of a center convention: center pixel + target offset, target size. */
export function centerTargetBoxes(inputs: LossInputs, image: number): TargetMatch[] {
  const { C, H, W, K } = inputs.dims;
  const ind = inputs.ind?.tl;
  const sizes = inputs.sizes;
  if (!ind || !sizes) return [];
  const out: TargetMatch[] = [];
  for (let k = 0; k < K; k++) {
    if (inputs.mask[image * K + k] === 0) continue;
    const p = ind[image * K + k]!;
    const c = { x: p % W, y: Math.floor(p / W) };
    let cls = -1;
    for (let ch = 0; ch < C && cls < 0; ch++) if (inputs.gtHeat.tl[((image * C + ch) * H + c.y) * W + c.x] === 1) cls = ch;
    const ox = inputs.gtRegr.tl[(image * K + k) * 2]!;
    const oy = inputs.gtRegr.tl[(image * K + k) * 2 + 1]!;
    const w = sizes.target[(image * K + k) * 2]!;
    const h = sizes.target[(image * K + k) * 2 + 1]!;
    const cx = c.x + ox;
    const cy = c.y + oy;
    out.push({ slot: k, class: cls, tl: c, br: c, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
  }
  return out;
}

export function ctdetDecodeAndMatch(inputs: LossInputs, stack: number, image: number, options: DecodeOptions = {}, minScore = 0.3, iouThreshold = 0.5, cache?: TopCornersCache): DecodeView {
  const o = { ...DECODE_DEFAULTS, ...options };
  const { C, H, W, S, B } = inputs.dims;
  if (!(stack >= 0 && stack < S) || !(image >= 0 && image < B)) throw new InputError('decode', `no stack ${stack} / image ${image}`);
  if (!Number.isInteger(o.K) || o.K < 1 || o.K > C * H * W) throw new InputError('decode', `K must be an integer in [1, ${C * H * W}] (C*H*W)`);
  const reg = inputs.regrMap?.tl?.[stack];
  const wh = inputs.sizes?.map[stack];
  if (!reg || !wh) throw new InputError('decode', 'decoding needs the size (wh) and offset (reg) maps');
  const HW = H * W;
  const f32 = inputs.heat.tl[stack]!.dtype !== 'float64';
  const r = f32 ? Math.fround : (x: number) => x;
  const centers: (CornerCandidate & { w: number; h: number })[] = cachedTopCorners(cache, inputs.heat.tl[stack]!.logits, image, C, H, W, o.K, o.kernel, f32).map((c, rank) => {
    const pix = c.py * W + c.px;
    return {
      ...c,
      rank,
      x: r(c.px + reg[image * 2 * HW + pix]!),
      y: r(c.py + reg[(image * 2 + 1) * HW + pix]!),
      tag: 0,
      w: wh[image * 2 * HW + pix]!,
      h: wh[(image * 2 + 1) * HW + pix]!,
    };
  });
  const all: DetectionMatch[] = centers.map((c, i) => ({
    x1: r(c.x - r(c.w / 2)),
    y1: r(c.y - r(c.h / 2)),
    x2: r(c.x + r(c.w / 2)),
    y2: r(c.y + r(c.h / 2)),
    score: c.score,
    tlScore: c.score,
    brScore: c.score,
    class: c.class,
    tl: i,
    br: i,
  }));
  const targets = centerTargetBoxes(inputs, image);
  matchDetections(all, targets, iouThreshold);
  for (const t of targets) {
    if (t.detection !== undefined) continue;
    const here = centers.filter((c) => c.px === t.tl.x && c.py === t.tl.y);
    const same = here.find((c) => c.class === t.class);
    const c = same ?? here[0];
    if (c) t.tlRank = c.rank;
    if (!c) {
      t.reason = `the center is not among the top ${o.K} peaks (after 3x3 NMS over all classes)`;
    } else if (!same) {
      t.reason = `the center is a peak (rank ${c.rank + 1}, score ${fmt(c.score)}) but of class ${c.class}, not ${t.class}`;
    } else {
      const d = all[centers.indexOf(c)]!;
      const v = iou([d.x1, d.y1, d.x2, d.y2], t.box);
      const tw = t.box[2] - t.box[0];
      const th = t.box[3] - t.box[1];
      t.reason =
        d.target !== undefined
          ? `its center's detection (score ${fmt(d.score)}) matched object ${d.target}`
          : `found (rank ${c.rank + 1}, score ${fmt(c.score)}), but the box overlaps by IoU ${fmt(v)} < ${iouThreshold}: predicted size ${fmt(c.w)} x ${fmt(c.h)} vs target ${fmt(tw)} x ${fmt(th)}`;
    }
  }
  const shown = all.map((d, i) => ({ d, i })).filter(({ d }) => d.score >= minScore || d.target !== undefined);
  const newIndex = new Map(shown.map(({ i }, j) => [i, j]));
  for (const t of targets) if (t.detection !== undefined) t.detection = newIndex.get(t.detection);
  return {
    stack,
    image,
    options: o,
    minScore,
    iouThreshold,
    validCount: all.length,
    detections: shown.map(({ d }) => d),
    targets,
    tl: centers,
    br: [],
  };
}
