/**
 * A/B: two batches (two checkpoints' outputs on the same targets, or the same step of two runs)
 * scored by run.ts, and what changed between them: the total and every term, per stack, image and
 * class, the (stack, image, class) planes and the objects that changed most, and, when the
 * targets are identical, per-pixel differences of the focal loss. Both sides must share a
 * convention. No vscode.
 */
import type { ConventionName } from './model/conventions';
import { CONVENTIONS } from './model/conventions';
import { InputError } from './model/errors';
import type { FloatArray, LossInputs } from './model/batch';
import type { LossReport, Num, ObjectReport } from './model/report';
import type { AbDiff, Change, ObjectChange, PixelChange, PixelDiffSummary, PlaneChange } from './model/abDiff';
import { num } from './model/report';
import type { Corner } from './model/roles';
import { clampedSigmoid, pixelFocalLoss } from './model/pixel';
import { pixelLossesSimd } from './focal/focalSimd';
import { ImageHeatReader } from './views/imageView';
import { countPositives, heatBounds } from './views/slices';
import { computeLossForViews, type ComputedForViews, type RunOptions } from './run';

export function change(a: Num | undefined, b: Num | undefined): Change {
  const x = a ?? null;
  const y = b ?? null;
  return { a: x, b: y, diff: x === null || y === null ? null : num(y - x) };
}

export interface AbResult {
  a: LossReport;
  b: LossReport;
  diff: AbDiff;
}

export interface AbOptions extends RunOptions {
  /** Planes, objects and pixels listed (default 50, 50, 20). */
  topPlanes?: number;
  topObjects?: number;
  topPixelsDiff?: number;
}

/** One side: its report, and one image of its inputs at a time (heatmaps read back from disk). */
export class AbSide {
  private readonly reader: ImageHeatReader | undefined;
  readonly positives: Record<Corner, number>;

  constructor(
    readonly input: string,
    readonly computed: ComputedForViews,
  ) {
    this.reader = computed.heat ? new ImageHeatReader(computed.inputs, computed.heat) : undefined;
    this.positives = computed.heat
      ? computed.positives
      : { tl: countPositives(computed.inputs.gtHeat.tl), br: countPositives(computed.inputs.gtHeat.br) };
  }

  get report(): LossReport {
    return this.computed.report;
  }

  get dims() {
    return this.computed.inputs.dims;
  }

  /** Image b: inputs holding it and its index in them. */
  image(b: number): { inputs: LossInputs; image: number } {
    if (!(Number.isInteger(b) && b >= 0 && b < this.dims.B)) throw new RangeError(`no image ${b} (B=${this.dims.B})`);
    return this.reader ? { inputs: this.reader.imageInputs(b), image: 0 } : { inputs: this.computed.inputs, image: b };
  }

  /** The heatmap kinds: tl and br, or the center heatmap (stored under tl). */
  corners(): Corner[] {
    return this.report.heads === 'centers' ? ['tl'] : ['tl', 'br'];
  }

  /** Per-pixel focal loss of one plane (normalised by the batch's positives, as the panel draws it), into `out`. */
  planeLoss(at: { inputs: LossInputs; image: number }, corner: Corner, stack: number, cls: number, out: Float32Array, prob?: Float32Array): number {
    const { C, H, W } = at.inputs.dims;
    const HW = H * W;
    const heat = at.inputs.heat[corner][stack]!;
    const bounds = heatBounds(heat);
    const base = (at.image * C + cls) * HW;
    const logits = heat.logits.subarray(base, base + HW);
    const targets = at.inputs.gtHeat[corner].subarray(base, base + HW);
    const exact = (x: number, g: number) => pixelFocalLoss(clampedSigmoid(x, bounds), g, bounds.plain);
    const simd = bounds.round32 && !bounds.plain && logits instanceof Float32Array && targets instanceof Float32Array && pixelLossesSimd(logits, targets, out, exact);
    if (!simd) for (let i = 0; i < HW; i++) out[i] = exact(logits[i]!, targets[i]!);
    const N = this.positives[corner];
    const norm = N === 0 ? 1 : Math.fround(N);
    let sum = 0;
    for (let i = 0; i < HW; i++) {
      out[i] = out[i]! / norm;
      sum += out[i]!;
    }
    if (prob) for (let i = 0; i < HW; i++) prob[i] = clampedSigmoid(logits[i]!, bounds);
    return sum;
  }

  close(): void {
    this.reader?.close();
  }
}

/** Both sides computed (one after the other), checked to share a convention. */
export async function computeSides(a: string, b: string, options: RunOptions = {}): Promise<[AbSide, AbSide]> {
  const ca = await computeLossForViews({ paths: [a] }, options);
  const cb = await computeLossForViews({ paths: [b] }, options);
  const sa = new AbSide(a, ca);
  const sb = new AbSide(b, cb);
  if (ca.report.convention !== cb.report.convention) {
    sa.close();
    sb.close();
    const label = (c: ConventionName) => `${c} (${CONVENTIONS[c].label})`;
    throw new InputError(
      `${a} vs ${b}`,
      `the two batches are scored under different conventions: A is ${label(ca.report.convention)}, B is ${label(cb.report.convention)}; compare batches of one convention, or force one with --convention`,
    );
  }
  return [sa, sb];
}

const PER_TERM = ['focal', 'pull', 'push', 'regr'] as const;

/** The differences of two computed sides (their reports, planes, objects, pixels). */
export function diffSides(A: AbSide, B: AbSide, options: Pick<AbOptions, 'topPlanes' | 'topObjects' | 'topPixelsDiff'> = {}): AbDiff {
  const a = A.report;
  const b = B.report;
  const terms: Record<string, Num> = {};
  for (const k of new Set([...Object.keys(a.terms), ...Object.keys(b.terms)])) terms[k] = change(a.terms[k], b.terms[k]).diff;
  const withWh = <T extends object>(x: T, wa: Num | undefined, wb: Num | undefined) => (wa !== undefined || wb !== undefined ? { ...x, wh: change(wa, wb) } : x);
  const perStack = Array.from({ length: Math.max(a.perStack.length, b.perStack.length) }, (_, s) => {
    const sa = a.perStack[s];
    const sb = b.perStack[s];
    const base = { stack: s, total: change(sa?.total, sb?.total), ...Object.fromEntries(PER_TERM.map((k) => [k, change(sa?.[k], sb?.[k])])) } as AbDiff['perStack'][number];
    return withWh(base, sa?.wh, sb?.wh);
  });
  const perImage = Array.from({ length: Math.max(a.perImage.length, b.perImage.length) }, (_, i) => {
    const ia = a.perImage[i];
    const ib = b.perImage[i];
    const base = { image: i, total: change(ia?.total, ib?.total), ...Object.fromEntries(PER_TERM.map((k) => [k, change(ia?.[k], ib?.[k])])) } as AbDiff['perImage'][number];
    return withWh(base, ia?.wh, ib?.wh);
  });
  const perClass = Array.from({ length: Math.max(a.perClass.length, b.perClass.length) }, (_, c) => ({ class: c, focal: change(a.perClass[c]?.focal, b.perClass[c]?.focal) }));
  const { planes, pixels } = planeAndPixelDiffs(A, B, options.topPixelsDiff ?? 20);
  const byChange = (x: Change) => (x.diff === null ? (x.a === x.b ? 0 : Infinity) : Math.abs(x.diff));
  planes.sort((p, q) => byChange(q) - byChange(p) || p.stack - q.stack || p.image - q.image || p.class - q.class);
  return {
    total: change(a.total, b.total).diff,
    terms,
    perStack,
    perImage,
    perClass,
    planes: planes.slice(0, options.topPlanes ?? 50),
    objects: objectChanges(a, b).slice(0, options.topObjects ?? 50),
    pixels,
  };
}

/** Objects matched by (stack, image, slot), largest change first. */
function objectChanges(a: LossReport, b: LossReport): ObjectChange[] {
  const key = (o: ObjectReport) => `${o.stack}:${o.image}:${o.slot}`;
  const inB = new Map(b.objects.map((o) => [key(o), o]));
  const absDiff = (x: Num | undefined, y: Num | undefined) => (x === null || y === null || x === undefined || y === undefined ? null : Math.abs(y - x));
  const sum = (parts: (number | null)[]) => (parts.some((p) => p === null) ? null : num(parts.reduce<number>((s, p) => s + p!, 0)));
  const pick = (o: ObjectReport): ObjectChange['a'] => ({
    tlTag: o.tlTag,
    brTag: o.brTag,
    tlOffset: o.tlOffset,
    brOffset: o.brOffset,
    pull: o.pull,
    push: o.push,
    regrTl: o.regrTl,
    regrBr: o.regrBr,
    ...(o.size ? { size: o.size.pred } : {}),
  });
  const out: ObjectChange[] = [];
  for (const oa of a.objects) {
    const ob = inB.get(key(oa));
    if (!ob) continue;
    const centers = a.heads === 'centers';
    const embedding = centers ? 0 : sum([absDiff(oa.tlTag, ob.tlTag), absDiff(oa.brTag, ob.brTag)]);
    const offParts = [0, 1].flatMap((i) => [absDiff(oa.tlOffset[i], ob.tlOffset[i]), ...(centers ? [] : [absDiff(oa.brOffset[i], ob.brOffset[i])])]);
    if (oa.size && ob.size) offParts.push(absDiff(oa.size.pred[0], ob.size.pred[0]), absDiff(oa.size.pred[1], ob.size.pred[1]));
    out.push({
      stack: oa.stack,
      image: oa.image,
      slot: oa.slot,
      ...(oa.class !== undefined ? { class: oa.class } : {}),
      embedding,
      offset: sum(offParts),
      a: pick(oa),
      b: pick(ob),
    });
  }
  const score = (o: ObjectChange) => (o.embedding === null || o.offset === null ? Infinity : o.embedding + o.offset);
  return out.sort((p, q) => score(q) - score(p) || p.stack - q.stack || p.image - q.image || p.slot - q.slot);
}

/** Why the targets of two image views differ (undefined: identical), for one image. */
function targetDifference(x: { inputs: LossInputs; image: number }, y: { inputs: LossInputs; image: number }, corners: Corner[]): string | undefined {
  const dx = x.inputs.dims;
  const dy = y.inputs.dims;
  const { C, H, W, K } = dx;
  const HW = H * W;
  for (const corner of corners) {
    const gx = x.inputs.gtHeat[corner].subarray(x.image * C * HW, (x.image + 1) * C * HW);
    const gy = y.inputs.gtHeat[corner].subarray(y.image * C * HW, (y.image + 1) * C * HW);
    const i = firstDifference(gx, gy);
    if (i >= 0) {
      const c = Math.floor(i / HW);
      const p = i % HW;
      return `the ${corner === 'tl' && corners.length === 1 ? 'center' : corner} target heatmaps differ (class ${c}, x ${p % W}, y ${Math.floor(p / W)}: ${gx[i]} vs ${gy[i]})`;
    }
  }
  const slots = (arr: Float64Array, width: number, at: number) => arr.subarray(at * K * width, (at + 1) * K * width);
  if (dx.K !== dy.K) return `the object slots differ (K ${dx.K} vs ${dy.K})`;
  if (firstDifference(slots(x.inputs.mask, 1, x.image), slots(y.inputs.mask, 1, y.image)) >= 0) return 'the masks (valid object slots) differ';
  for (const corner of corners) {
    if (firstDifference(slots(x.inputs.gtRegr[corner], 2, x.image), slots(y.inputs.gtRegr[corner], 2, y.image)) >= 0) return 'the offset targets differ';
    const ix = x.inputs.ind?.[corner];
    const iy = y.inputs.ind?.[corner];
    if (ix && iy && firstDifference(slots(ix, 1, x.image), slots(iy, 1, y.image)) >= 0) return 'the object indices differ';
  }
  if (x.inputs.sizes && y.inputs.sizes && firstDifference(slots(x.inputs.sizes.target, 2, x.image), slots(y.inputs.sizes.target, 2, y.image)) >= 0) return 'the size targets differ';
  return undefined;
}

/** First index where two arrays differ (NaN equals NaN), or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && !(x !== x && y !== y)) return i;
  }
  return -1;
}

/**
 * One pass over every plane of both sides, an image at a time: each plane's share of its stack's
 * heat term per side, and, while the targets are the same, the per-pixel differences.
 */
function planeAndPixelDiffs(A: AbSide, B: AbSide, topPixels: number): { planes: PlaneChange[]; pixels: PixelDiffSummary } {
  const da = A.dims;
  const db = B.dims;
  const same = da.S === db.S && da.B === db.B && da.C === db.C && da.H === db.H && da.W === db.W;
  const planes: PlaneChange[] = [];
  if (!same) {
    return { planes, pixels: { targetsIdentical: false, reason: `the shapes differ (S, B, C, H, W: ${[da.S, da.B, da.C, da.H, da.W].join(', ')} vs ${[db.S, db.B, db.C, db.H, db.W].join(', ')})` } };
  }
  const { S, B: nB, C, H, W } = da;
  const HW = H * W;
  const corners = A.corners();
  const la = new Float32Array(HW);
  const lb = new Float32Array(HW);
  let reason: string | undefined;
  let changed = 0;
  let sumAbs = 0;
  const top: PixelChange[] = [];
  let floor = 0;
  const label = (c: Corner): Corner | 'center' => (corners.length === 1 ? 'center' : c);
  for (let b = 0; b < nB; b++) {
    const xa = A.image(b);
    const xb = B.image(b);
    reason ??= targetDifference(xa, xb, corners);
    for (const corner of corners) {
      for (let s = 0; s < S; s++) {
        for (let c = 0; c < C; c++) {
          const pa = A.planeLoss(xa, corner, s, c, la);
          const pb = B.planeLoss(xb, corner, s, c, lb);
          planes.push({ stack: s, corner: label(corner), image: b, class: c, ...change(num(pa), num(pb)) });
          if (reason !== undefined) continue;
          for (let i = 0; i < HW; i++) {
            const d = lb[i]! - la[i]!;
            if (d === 0) continue;
            const ad = Number.isFinite(d) ? Math.abs(d) : Infinity;
            changed++;
            sumAbs += ad;
            if (top.length < topPixels || ad > floor) {
              top.push({ stack: s, corner: label(corner), image: b, class: c, x: i % W, y: Math.floor(i / W), a: num(la[i]!), b: num(lb[i]!), diff: num(d) });
              if (top.length > topPixels * 4) {
                top.sort((p, q) => Math.abs(q.diff ?? Infinity) - Math.abs(p.diff ?? Infinity));
                top.length = topPixels;
                floor = Math.abs(top[top.length - 1]!.diff ?? Infinity);
              }
            }
          }
        }
      }
    }
  }
  if (reason !== undefined) return { planes, pixels: { targetsIdentical: false, reason } };
  top.sort((p, q) => Math.abs(q.diff ?? Infinity) - Math.abs(p.diff ?? Infinity));
  top.length = Math.min(top.length, topPixels);
  return { planes, pixels: { targetsIdentical: true, pixels: S * nB * C * HW * corners.length, changed, sumAbs: num(sumAbs), top } };
}

/** `--compare A B`: both reports and their differences. */
export async function compareBatches(a: string, b: string, options: AbOptions = {}): Promise<AbResult> {
  const [A, B] = await computeSides(a, b, options);
  try {
    return { a: A.report, b: B.report, diff: diffSides(A, B, options) };
  } finally {
    A.close();
    B.close();
  }
}

/** One plane of both sides for the editor's heatmaps: probabilities, per-pixel losses, and b - a. */
export interface AbPlane {
  stack: number;
  corner: Corner;
  image: number;
  class: number;
  width: number;
  height: number;
  a: { prob: Float32Array; loss: Float32Array; target: Float32Array; planeLoss: number };
  b: { prob: Float32Array; loss: Float32Array; target: Float32Array; planeLoss: number };
  /** b - a of the per-pixel loss. */
  diff: Float32Array;
}

export function abPlane(A: AbSide, B: AbSide, corner: Corner, stack: number, image: number, cls: number): AbPlane {
  const d = A.dims;
  const e = B.dims;
  if (d.H !== e.H || d.W !== e.W) throw new RangeError(`the planes differ in size (${d.H}x${d.W} vs ${e.H}x${e.W})`);
  for (const [side, dims] of [['A', d], ['B', e]] as const) {
    if (!(stack >= 0 && stack < dims.S && image >= 0 && image < dims.B && cls >= 0 && cls < dims.C)) {
      throw new RangeError(`${side} has no plane stack ${stack}, image ${image}, class ${cls} (S=${dims.S}, B=${dims.B}, C=${dims.C})`);
    }
  }
  const HW = d.H * d.W;
  const one = (side: AbSide) => {
    const at = side.image(image);
    const loss = new Float32Array(HW);
    const prob = new Float32Array(HW);
    const planeLoss = side.planeLoss(at, corner, stack, cls, loss, prob);
    const C = at.inputs.dims.C;
    const gt: FloatArray = at.inputs.gtHeat[corner];
    const target = Float32Array.from(gt.subarray((at.image * C + cls) * HW, (at.image * C + cls + 1) * HW));
    return { prob, loss, target, planeLoss };
  };
  const a = one(A);
  const b = one(B);
  const diff = new Float32Array(HW);
  for (let i = 0; i < HW; i++) diff[i] = b.loss[i]! - a.loss[i]!;
  return { stack, corner, image, class: cls, width: d.W, height: d.H, a, b, diff };
}

/** The text form of `--compare`. */
export function formatAbResult(r: AbResult, a: string, b: string): string {
  const f = (v: Num | undefined) => (v === undefined ? '' : v === null ? 'NaN/Inf' : v.toPrecision(7));
  const d = (v: Num | undefined) => (v === undefined ? '' : v === null ? 'NaN/Inf' : `${v > 0 ? '+' : ''}${v.toPrecision(4)}`);
  const table = (head: string[], rows: string[][]) => {
    const all = [head, ...rows];
    const w = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
    return all.map((row) => row.map((c, i) => c.padStart(w[i]!)).join('  '));
  };
  const byAbs = <T extends { diff: Num }>(xs: T[]) => [...xs].sort((p, q) => Math.abs(q.diff ?? Infinity) - Math.abs(p.diff ?? Infinity));
  const out: string[] = [
    `A: ${a}`,
    `B: ${b}`,
    `convention: ${r.a.convention}`,
    '',
    ...table(
      ['', 'A', 'B', 'B - A'],
      [['total', f(r.a.total), f(r.b.total), d(r.diff.total)], ...Object.keys(r.diff.terms).map((k) => [k, f(r.a.terms[k]), f(r.b.terms[k]), d(r.diff.terms[k])])],
    ),
    '',
    'Per stack (share of the total):',
    ...table(['stack', 'A', 'B', 'B - A'], r.diff.perStack.map((s) => [String(s.stack), f(s.total.a), f(s.total.b), d(s.total.diff)])),
    '',
    'Per image (share of the total), largest change first:',
    ...table(['image', 'A', 'B', 'B - A'], byAbs(r.diff.perImage.map((i) => ({ ...i.total, image: i.image }))).map((i) => [String(i.image), f(i.a), f(i.b), d(i.diff)])),
    '',
    'Per class (focal), largest change first (10):',
    ...table(['class', 'A', 'B', 'B - A'], byAbs(r.diff.perClass.map((c) => ({ ...c.focal, cls: c.class }))).slice(0, 10).map((c) => [String(c.cls), f(c.a), f(c.b), d(c.diff)])),
    '',
    'Planes whose loss changed most (10):',
    ...table(['stack', 'heat', 'image', 'class', 'A', 'B', 'B - A'], r.diff.planes.slice(0, 10).map((p) => [String(p.stack), p.corner, String(p.image), String(p.class), f(p.a), f(p.b), d(p.diff)])),
    '',
    'Objects whose embeddings/offsets changed most (10):',
    ...table(['stack', 'image', 'slot', '|d tag|', '|d offset|'], r.diff.objects.slice(0, 10).map((o) => [String(o.stack), String(o.image), String(o.slot), d(o.embedding), d(o.offset)])),
    '',
  ];
  const px = r.diff.pixels;
  if (!px.targetsIdentical) out.push(`Per-pixel differences: not computed, ${px.reason}.`);
  else {
    out.push(`Per-pixel differences (same targets): ${px.changed} of ${px.pixels} pixels changed, sum |B - A| ${f(px.sumAbs ?? null)}`);
    if (px.top?.length) {
      out.push(...table(['stack', 'heat', 'image', 'class', 'x', 'y', 'A', 'B', 'B - A'], px.top.slice(0, 10).map((p) => [String(p.stack), p.corner, String(p.image), String(p.class), String(p.x), String(p.y), f(p.a), f(p.b), d(p.diff)])));
    }
  }
  return out.join('\n');
}
