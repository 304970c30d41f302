/**
 * Decoded detections against the targets of an image: which target objects have a detection
 * (same class, IoU >= 0.5, greedy by score as COCO-style evaluation does), which detections have
 * no target, and, for a target without detection, why: a corner missing from the top K, or the
 * pair rejected by the original decode (classes, embedding distance, geometry), or paired but
 * misplaced.
 */
import type { LossInputs } from '../model/batch';
import { decodeImage, rejectReason, DECODE_DEFAULTS, type CornerCandidate, type DecodeOptions, type Detection, type ImageDecode, type TopCornersCache } from './decode';

export interface TargetBox {
  slot: number;
  class: number;
  /** Corner pixels (from the indices) and the box with the target offsets, in map units. */
  tl: { x: number; y: number };
  br: { x: number; y: number };
  box: [number, number, number, number];
}

export interface TargetMatch extends TargetBox {
  /** Index into `detections` of the matched detection. */
  detection?: number;
  iou?: number;
  /** Why no detection matched (absent when matched). */
  reason?: string;
  /** Ranks of the candidates found at the target's corner pixels (top K), if any. */
  tlRank?: number;
  brRank?: number;
}

export interface DetectionMatch extends Detection {
  /** Slot of the matched target. */
  target?: number;
  iou?: number;
  /** For a detection without target: its best overlap with a target of its class. */
  bestIoU?: number;
  bestTarget?: number;
  /**
   * A detection without target that overlaps (IoU >= the threshold, same class) an object another,
   * better-scored detection already matched: a duplicate of that object, not a false detection of
   * nothing.
   */
  duplicateOf?: number;
}

/**
 * Greedy matching by descending score (the detections come best first), each target at most once,
 * same class and IoU >= iouThreshold, as COCO-style evaluation does. Marks duplicates.
 */
export function matchDetections(dets: DetectionMatch[], targets: TargetMatch[], iouThreshold: number): void {
  for (const [di, d] of dets.entries()) {
    let best = -1;
    let bestIoU = 0;
    let anyIoU = 0;
    let anyTarget = -1;
    let takenIoU = 0;
    let takenTarget = -1;
    for (const [ti, t] of targets.entries()) {
      if (t.class !== d.class) continue;
      const v = iou([d.x1, d.y1, d.x2, d.y2], t.box);
      if (v > anyIoU) {
        anyIoU = v;
        anyTarget = t.slot;
      }
      if (t.detection !== undefined) {
        if (v >= iouThreshold && v > takenIoU) {
          takenIoU = v;
          takenTarget = t.slot;
        }
        continue;
      }
      if (v < iouThreshold || v <= bestIoU) continue;
      best = ti;
      bestIoU = v;
    }
    if (best >= 0) {
      targets[best]!.detection = di;
      targets[best]!.iou = bestIoU;
      d.target = targets[best]!.slot;
      d.iou = bestIoU;
    } else {
      if (anyTarget >= 0) {
        d.bestIoU = anyIoU;
        d.bestTarget = anyTarget;
      }
      if (takenTarget >= 0) d.duplicateOf = takenTarget;
    }
  }
}

export interface DecodeView {
  stack: number;
  image: number;
  options: Required<DecodeOptions>;
  minScore: number;
  iouThreshold: number;
  /** Valid detections the original returns, best first (all of them, up to numDets). */
  validCount: number;
  /** Detections shown: score >= minScore, plus every matched one. */
  detections: DetectionMatch[];
  targets: TargetMatch[];
  tl: CornerCandidate[];
  br: CornerCandidate[];
}

/** Target boxes of one image from the indices, target offsets, targets and mask. */
export function targetBoxes(inputs: LossInputs, image: number): TargetBox[] {
  const { C, H, W, K } = inputs.dims;
  const ind = inputs.ind;
  if (!ind?.tl || !ind.br) return [];
  const out: TargetBox[] = [];
  for (let k = 0; k < K; k++) {
    if (inputs.mask[image * K + k] === 0) continue;
    const corner = (c: 'tl' | 'br') => {
      const p = ind[c]![image * K + k]!;
      return { x: p % W, y: Math.floor(p / W) };
    };
    const tl = corner('tl');
    const br = corner('br');
    const at = (c: 'tl' | 'br', cls: number, q: { x: number; y: number }) => inputs.gtHeat[c][((image * C + cls) * H + q.y) * W + q.x] === 1;
    let cls = -1;
    for (let c = 0; c < C && cls < 0; c++) if (at('tl', c, tl) && at('br', c, br)) cls = c;
    for (let c = 0; c < C && cls < 0; c++) if (at('tl', c, tl) || at('br', c, br)) cls = c;
    const off = (c: 'tl' | 'br', xy: 0 | 1) => inputs.gtRegr[c][(image * K + k) * 2 + xy]!;
    out.push({ slot: k, class: cls, tl, br, box: [tl.x + off('tl', 0), tl.y + off('tl', 1), br.x + off('br', 0), br.y + off('br', 1)] });
  }
  return out;
}

export function iou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const iy = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = ix * iy;
  const area = (r: readonly number[]) => Math.max(0, r[2]! - r[0]!) * Math.max(0, r[3]! - r[1]!);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

const boxOf = (d: Detection) => [d.x1, d.y1, d.x2, d.y2];
const fmt = (v: number) => Number(v.toPrecision(3)).toString();

export function decodeAndMatch(
  inputs: LossInputs,
  stack: number,
  image: number,
  options: DecodeOptions = {},
  minScore = 0.3,
  iouThreshold = 0.5,
  cache?: TopCornersCache,
): DecodeView {
  const o = { ...DECODE_DEFAULTS, ...options };
  const dec = decodeImage(inputs, stack, image, o, cache);
  const targets: TargetMatch[] = targetBoxes(inputs, image).map((t) => ({ ...t }));
  const dets: DetectionMatch[] = dec.detections.map((d) => ({ ...d }));

  matchDetections(dets, targets, iouThreshold);

  for (const t of targets) {
    if (t.detection !== undefined) continue;
    explainMiss(t, dec, dets, o, iouThreshold);
  }

  // Keep the shown detections and remap target -> detection indices to the shown list.
  const shown = dets.map((d, i) => ({ d, i })).filter(({ d }) => d.score >= minScore || d.target !== undefined);
  const newIndex = new Map(shown.map(({ i }, j) => [i, j]));
  for (const t of targets) if (t.detection !== undefined) t.detection = newIndex.get(t.detection);
  return {
    stack,
    image,
    options: o,
    minScore,
    iouThreshold,
    validCount: dec.detections.length,
    detections: shown.map(({ d }) => d),
    targets,
    tl: dec.tl,
    br: dec.br,
  };
}

function explainMiss(t: TargetMatch, dec: ImageDecode, dets: DetectionMatch[], o: Required<DecodeOptions>, iouThreshold: number): void {
  const find = (cands: CornerCandidate[], q: { x: number; y: number }) => {
    const here = cands.filter((c) => c.px === q.x && c.py === q.y);
    return here.find((c) => c.class === t.class) ?? here[0];
  };
  const a = find(dec.tl, t.tl);
  const b = find(dec.br, t.br);
  if (a) t.tlRank = a.rank;
  if (b) t.brRank = b.rank;
  if (!a && !b) {
    t.reason = `neither corner is among the top ${o.K} corners`;
    return;
  }
  if (!a || !b) {
    const found = a ? `tl found (rank ${a.rank + 1}, score ${fmt(a.score)})` : `br found (rank ${b!.rank + 1}, score ${fmt(b!.score)})`;
    t.reason = `${found}, but the ${a ? 'br' : 'tl'} corner is not among the top ${o.K}`;
    return;
  }
  const why = rejectReason(a, b, o.aeThreshold);
  if (why === 'class') {
    t.reason = `corners found but as different classes (tl ${a.class}, br ${b.class})`;
    return;
  }
  if (why === 'distance') {
    t.reason = `corners found but their embeddings ${fmt(a.tag)} and ${fmt(b.tag)} are ${fmt(Math.abs(a.tag - b.tag))} apart (> ${o.aeThreshold})`;
    return;
  }
  if (why === 'geometry') {
    t.reason = `corners found but br (${fmt(b.x)}, ${fmt(b.y)}) is left of or above tl (${fmt(a.x)}, ${fmt(a.y)}) after the offsets`;
    return;
  }
  const ai = dec.tl.indexOf(a);
  const bi = dec.br.indexOf(b);
  const det = dets.find((d) => d.tl === ai && d.br === bi);
  if (!det) {
    t.reason = `paired (score ${fmt((a.score + b.score) / 2)}), but below the top ${o.numDets} detections`;
    return;
  }
  const v = iou(boxOf(det), t.box);
  t.reason =
    det.target !== undefined
      ? `paired (score ${fmt(det.score)}), but that detection matched object ${det.target}`
      : `paired (score ${fmt(det.score)}), but the box overlaps the target by IoU ${fmt(v)} < ${iouThreshold} (offsets)`;
}
