/**
 * The dense conventions' results (mmdet CornerHead, CenterNet ctdet, mmdet CenterNetHead) as a
 * LossReport: `terms` under the upstream names, and the breakdowns in the report's common shape so
 * that the CLI, the panel and the side view show every convention the same way. The convention's
 * own result is kept whole in `detail`.
 *
 * Mapping onto the common shape (the README's "Which convention" section says the same):
 * - mmdet CornerNet: stacks are levels; focalTl/focalBr/focal = det_tl/det_br/det, regr* = off*,
 *   pull/push weighted as the head returns them; the contribution of each term is the term itself
 *   (the total is their sum, no division by the number of levels).
 * - CenterNet, mmdet CenterNet: heads 'centers', the center heatmap under `tl`; focal = the heat
 *   term, wh = the size term, regr = the offset term, pull/push null.
 */
import { CONVENTIONS, type ConventionName } from '../model/conventions';
import {
  num,
  type ClassReport,
  type ImageReport,
  type LossReport,
  type Num,
  type ObjectReport,
  type PixelReport,
  type StackReport,
  type Terms,
} from '../model/report';
import type { LossWarning as ReportWarning, WarningCode } from '../model/warnings';
import type { DenseInputs } from '../inputs/denseLoad';
import { computeCenternet, type CenternetResult } from './centernet';
import { FLOAT32_BOUNDS, FLOAT64_BOUNDS, clampedSigmoid, plainBounds, type ClampBounds } from '../model/pixel';
import type { FocalSums } from '../focal/focal';
import type { FloatArray, LossWarning as DenseWarning } from './dense';
import { computeMmdetCenternet, type MmdetCenternetResult } from './mmdetCenternet';
import { computeMmdetCornernet, type MmdetCornernetResult } from './mmdetCornernet';

export interface DenseComputeOptions {
  weights?: Record<string, number>;
  /** CenterNet's clamped focal pass with the top pixels kept (the SIMD kernel of focal/). */
  centernetFocal?: (logits: FloatArray, gt: FloatArray, planes: number, HW: number, bounds: ClampBounds, topK: number) => FocalSums;
  /** Pixels with the largest losses to report (default 20). */
  topPixels?: number;
}

export type DenseResult = MmdetCornernetResult | CenternetResult | MmdetCenternetResult;

export function computeDense(loaded: DenseInputs, options: DenseComputeOptions = {}): { result: DenseResult; report: LossReport } {
  const t0 = performance.now();
  const topN = options.topPixels ?? 20;
  let result: DenseResult;
  let report: LossReport;
  switch (loaded.convention) {
    case 'mmdet-cornernet': {
      const r = computeMmdetCornernet(loaded.inputs, { weights: options.weights, topK: topN });
      result = r;
      report = mmdetCornernetReport(r, loaded.inputs.dims);
      const i = loaded.inputs;
      const rule = plainBounds(i.precision);
      // Each object's class: the channel with a peak at both corners (else at either).
      const { C, H, W } = i.dims;
      for (const o of report.objects) {
        const at = (gt: FloatArray, q: { x: number; y: number } | undefined, c: number) => q !== undefined && gt[((o.image * C + c) * H + q.y) * W + q.x] === 1;
        let cls = -1;
        for (let c = 0; c < C && cls < 0; c++) if (at(i.topleftHeatmap, o.tlCorner, c) && at(i.bottomrightHeatmap, o.brCorner, c)) cls = c;
        for (let c = 0; c < C && cls < 0; c++) if (at(i.topleftHeatmap, o.tlCorner, c) || at(i.bottomrightHeatmap, o.brCorner, c)) cls = c;
        if (cls >= 0) o.class = cls;
      }
      report.topPixels = topPixelsOf(
        r.top.flatMap((lv, s) => [
          ...lv.tl.map((t) => ({ ...t, stack: s, corner: 'tl' as const, logit: i.tlHeats[s]![t.index]!, target: i.topleftHeatmap[t.index]! })),
          ...lv.br.map((t) => ({ ...t, stack: s, corner: 'br' as const, logit: i.brHeats[s]![t.index]!, target: i.bottomrightHeatmap[t.index]! })),
        ]),
        i.dims,
        (x) => clampedSigmoid(x, rule),
        topN,
      );
      break;
    }
    case 'centernet': {
      const i = loaded.inputs;
      const stackTops: { index: number; value: number }[][] = [];
      const focal = options.centernetFocal;
      const r = computeCenternet(i, {
        weights: options.weights,
        ...(focal
          ? {
              focal: (l: FloatArray, g: FloatArray, planes: number, HW: number, b: ClampBounds) => {
                const sums = focal(l, g, planes, HW, b, topN);
                stackTops.push(sums.top.sorted());
                return sums;
              },
            }
          : {}),
      });
      result = r;
      report = centernetReport(r, i.dims);
      const S = i.dims.stacks;
      const norm = r.positives === 0 ? 1 : Math.fround(r.positives);
      const bounds = i.precision === 'float64' ? FLOAT64_BOUNDS : FLOAT32_BOUNDS;
      report.topPixels = topPixelsOf(
        stackTops.flatMap((tops, s) => tops.map((t) => ({ index: t.index, loss: t.value / norm / S, stack: s, corner: 'tl' as const, logit: i.hm[s]![t.index]!, target: i.target.hm[t.index]! }))),
        { B: i.dims.B, C: i.dims.C, H: i.dims.H, W: i.dims.W },
        (x) => clampedSigmoid(x, bounds),
        topN,
      );
      break;
    }
    case 'mmdet-centernet': {
      const i = loaded.inputs;
      const r = computeMmdetCenternet(i, { weights: options.weights, topK: topN });
      result = r;
      report = mmdetCenternetReport(r, i.dims);
      report.topPixels = topPixelsOf(
        r.top.map((t) => ({ ...t, stack: 0, corner: 'tl' as const, logit: NaN, target: i.centerHeatmapTarget[t.index]!, prob: i.centerHeatmapPred[t.index]! })),
        i.dims,
        (x) => x,
        topN,
      );
      break;
    }
  }
  report.timings.computeMs = performance.now() - t0;
  return { result, report };
}

function base(convention: ConventionName, precision: 'float32' | 'float64', weights: Record<string, number>, sizes: LossReport['sizes'], nstack: number): Omit<LossReport, 'total' | 'terms' | 'numPositives' | 'unweighted' | 'weighted' | 'contribution' | 'perStack' | 'perImage' | 'perClass' | 'planeFocal' | 'objects'> {
  return {
    version: 1,
    convention,
    heads: CONVENTIONS[convention].heads,
    weights: { ...weights },
    nstack,
    sizes,
    precision,
    arithmetic: 'original',
    topPixels: [],
    inputs: { roles: [], unused: [] },
    warnings: [],
    timings: { readMs: 0, computeMs: 0 },
  };
}

const nums = (a: ArrayLike<number>): Num[] => Array.from(a, (v) => num(v));
const noClamp = { tl: { low: 0, high: 0, positives: 0 }, br: { low: 0, high: 0, positives: 0 } };

/** The dense modules' quirk codes, as the report's warning codes. */
function warningsOf(ws: DenseWarning[], roles: Record<string, string[]>): ReportWarning[] {
  return ws.map((w) => ({ code: w.code as WarningCode, message: w.message, ...(roles[w.code] ? { roles: roles[w.code] } : {}) }));
}

function mmdetCornernetReport(r: MmdetCornernetResult, d: { levels: number; B: number; C: number; H: number; W: number; K: number }): LossReport {
  const L = d.levels;
  const sumL = (f: (l: MmdetCornernetResult['levels'][number]) => number) => r.levels.reduce((a, l) => a + f(l), 0);
  const w = r.weights;
  const unweighted: Terms = {
    focal: num(sumL((l) => l.det) / w.det),
    pull: num(sumL((l) => l.pull_unweighted)),
    push: num(sumL((l) => l.push_unweighted)),
    regr: num(sumL((l) => l.off) / w.off),
  };
  const weighted: Terms = { focal: num(r.terms.det_loss), pull: num(r.terms.pull_loss), push: num(r.terms.push_loss), regr: num(r.terms.off_loss) };
  const perStack: StackReport[] = r.levels.map((l, s) => ({
    stack: s,
    focalTl: num(l.det_tl),
    focalBr: num(l.det_br),
    focal: num(l.det),
    pull: num(l.pull),
    push: num(l.push),
    regrTl: num(l.off_tl),
    regrBr: num(l.off_br),
    regr: num(l.off),
    total: num(l.det + l.pull + l.push + l.off),
    clamped: noClamp,
    images: r.perImage.map((img) => {
      const li = img.levels[s]!;
      return { focalTl: num(li.det_tl), focalBr: num(li.det_br), pull: num(li.pull), push: num(li.push), regrTl: num(li.off_tl), regrBr: num(li.off_br) };
    }),
  }));
  const perImage: ImageReport[] = r.perImage.map((img, b) => ({
    image: b,
    objects: img.objects,
    positives: { tl: r.positives.tlPerImage[b] ?? 0, br: r.positives.brPerImage[b] ?? 0 },
    focal: num(img.det),
    focalShare: r.terms.det_loss !== 0 ? num(img.det / r.terms.det_loss) : null,
    pull: num(img.pull),
    push: num(img.push),
    regr: num(img.off),
    total: num(img.total),
  }));
  const perClass: ClassReport[] = r.perClass.map((c, i) => ({
    class: i,
    positives: { tl: 0, br: 0 },
    focalTl: num(c.det_tl),
    focalBr: num(c.det_br),
    focal: num(c.det),
    focalShare: r.terms.det_loss !== 0 ? num(c.det / r.terms.det_loss) : null,
  }));
  const objects: ObjectReport[] = [];
  for (const o of r.objects) {
    o.levels.forEach((lv, s) => {
      objects.push({
        stack: s,
        image: o.image,
        slot: o.slot,
        tlTag: num(lv.tlEmb[0] ?? NaN),
        brTag: num(lv.brEmb[0] ?? NaN),
        mean: num(lv.mean[0] ?? NaN),
        pull: num(lv.pull),
        push: num(lv.push),
        tlOffset: [num(lv.offTl.pred[0]), num(lv.offTl.pred[1])],
        brOffset: [num(lv.offBr.pred[0]), num(lv.offBr.pred[1])],
        tlOffsetTarget: [num(lv.offTl.target[0]), num(lv.offTl.target[1])],
        brOffsetTarget: [num(lv.offBr.target[0]), num(lv.offBr.target[1])],
        regrTl: num(lv.offTl.loss),
        regrBr: num(lv.offBr.loss),
        tlCorner: { x: o.tl[1], y: o.tl[0] },
        brCorner: { x: o.br[1], y: o.br[0] },
        box: [o.tl[1] + lv.offTl.target[0], o.tl[0] + lv.offTl.target[1], o.br[1] + lv.offBr.target[0], o.br[0] + lv.offBr.target[1]],
      });
    });
  }
  return {
    ...base('mmdet-cornernet', r.precision, { ...w }, { batch: d.B, classes: d.C, height: d.H, width: d.W, maxObjects: d.K }, L),
    total: num(r.total),
    terms: { det_loss: num(r.terms.det_loss), off_loss: num(r.terms.off_loss), pull_loss: num(r.terms.pull_loss), push_loss: num(r.terms.push_loss) },
    numPositives: { tl: r.positives.tl, br: r.positives.br },
    unweighted,
    weighted,
    contribution: weighted,
    perStack,
    perImage,
    perClass,
    planeFocal: { tl: nums(r.planes.tl), br: nums(r.planes.br) },
    objects,
    warnings: warningsOf(r.warnings, { 'offset-at-border': ['topleft_offset', 'bottomright_offset'], 'shared-corner': ['corner_embedding'] }),
    detail: { levels: r.levels, divisors: r.divisors, offsetPixels: r.offsetPixels, embeddingChannels: r.embeddingChannels, positives: r.positives },
  };
}

function centernetReport(r: CenternetResult, d: { stacks: number; B: number; C: number; H: number; W: number; K: number }): LossReport {
  const S = d.stacks;
  const w = r.weights;
  const unweighted: Terms = { focal: num(r.terms.hm_loss), pull: null, push: null, regr: num(r.terms.off_loss), wh: num(r.terms.wh_loss) };
  const weighted: Terms = { focal: num(w.hm * r.terms.hm_loss), pull: null, push: null, regr: num(w.off * r.terms.off_loss), wh: num(w.wh * r.terms.wh_loss) };
  const perStack: StackReport[] = r.stacks.map((st, s) => ({
    stack: s,
    focalTl: num(st.hm),
    focalBr: null,
    focal: num(st.hm),
    pull: null,
    push: null,
    regrTl: num(st.off),
    regrBr: null,
    regr: num(st.off),
    wh: num(st.wh),
    total: num((w.hm * st.hm + w.wh * st.wh + w.off * st.off) / S),
    clamped: noClamp,
    images: [],
  }));
  const perImage: ImageReport[] = r.perImage.map((img, b) => ({
    image: b,
    objects: img.objects,
    positives: { tl: r.positivesPerImage[b] ?? 0, br: 0 },
    focal: num(img.hm),
    focalShare: r.terms.hm_loss !== 0 ? num(img.hm / r.terms.hm_loss) : null,
    pull: null,
    push: null,
    regr: num(img.off),
    wh: num(img.wh),
    total: num(img.total),
  }));
  const perClass: ClassReport[] = r.perClass.map((c, i) => ({
    class: i,
    positives: { tl: 0, br: 0 },
    focalTl: num(c.hm),
    focalBr: null,
    focal: num(c.hm),
    focalShare: r.terms.hm_loss !== 0 ? num(c.hm / r.terms.hm_loss) : null,
  }));
  const objects: ObjectReport[] = [];
  for (const o of r.objects) {
    o.stacks.forEach((st, s) => {
      objects.push({
        stack: s,
        image: o.image,
        slot: o.slot,
        tlTag: null,
        brTag: null,
        mean: null,
        pull: null,
        push: null,
        tlOffset: [num(st.offPred[0]), num(st.offPred[1])],
        brOffset: [null, null],
        tlOffsetTarget: [num(st.offTarget[0]), num(st.offTarget[1])],
        brOffsetTarget: [null, null],
        regrTl: num(st.offL1),
        regrBr: null,
        tlCorner: { x: o.x, y: o.y },
        center: { x: o.x, y: o.y },
        size: { pred: [num(st.whPred[0]), num(st.whPred[1])], target: [num(st.whTarget[0]), num(st.whTarget[1])], l1: num(st.whL1) },
        ...(o.shared ? { shared: true } : {}),
        ...(o.class >= 0 ? { class: o.class } : {}),
        box: centerBox(o.x + st.offTarget[0], o.y + st.offTarget[1], st.whTarget[0], st.whTarget[1]),
        predictedBox: centerBox(o.x + st.offPred[0], o.y + st.offPred[1], st.whPred[0], st.whPred[1]),
      });
    });
  }
  return {
    ...base('centernet', r.precision, { ...w }, { batch: d.B, classes: d.C, height: d.H, width: d.W, maxObjects: d.K }, S),
    total: num(r.loss),
    terms: { hm_loss: num(r.terms.hm_loss), wh_loss: num(r.terms.wh_loss), off_loss: num(r.terms.off_loss), loss: num(r.loss) },
    numPositives: { tl: r.positives, br: 0 },
    unweighted,
    weighted,
    contribution: weighted,
    perStack,
    perImage,
    perClass,
    planeFocal: { tl: nums(r.planes), br: [] },
    objects,
    warnings: warningsOf(r.warnings, { 'shared-center': ['ind'], 'too-many-objects': ['reg_mask'] }),
    detail: { stacks: r.stacks, regDivisor: r.regDivisor, positives: r.positives },
  };
}

function mmdetCenternetReport(r: MmdetCenternetResult, d: { B: number; C: number; H: number; W: number }): LossReport {
  const w = r.weights;
  const t = r.terms;
  const unweighted: Terms = { focal: num(t.loss_center_heatmap / w.heatmap), pull: null, push: null, regr: num(t.loss_offset / w.offset), wh: num(t.loss_wh / w.wh) };
  const weighted: Terms = { focal: num(t.loss_center_heatmap), pull: null, push: null, regr: num(t.loss_offset), wh: num(t.loss_wh) };
  const perStack: StackReport[] = [
    {
      stack: 0,
      focalTl: num(t.loss_center_heatmap),
      focalBr: null,
      focal: num(t.loss_center_heatmap),
      pull: null,
      push: null,
      regrTl: num(t.loss_offset),
      regrBr: null,
      regr: num(t.loss_offset),
      wh: num(t.loss_wh),
      total: num(r.loss),
      clamped: noClamp,
      images: [],
    },
  ];
  const perImage: ImageReport[] = r.perImage.map((img, b) => ({
    image: b,
    objects: img.objects,
    positives: { tl: r.positivesPerImage[b] ?? 0, br: 0 },
    focal: num(img.loss_center_heatmap),
    focalShare: t.loss_center_heatmap !== 0 ? num(img.loss_center_heatmap / t.loss_center_heatmap) : null,
    pull: null,
    push: null,
    regr: num(img.loss_offset),
    wh: num(img.loss_wh),
    total: num(img.total),
  }));
  const perClass: ClassReport[] = r.perClass.map((c, i) => ({
    class: i,
    positives: { tl: 0, br: 0 },
    focalTl: num(c.loss_center_heatmap),
    focalBr: null,
    focal: num(c.loss_center_heatmap),
    focalShare: t.loss_center_heatmap !== 0 ? num(c.loss_center_heatmap / t.loss_center_heatmap) : null,
  }));
  const objects: ObjectReport[] = r.objects.map((o, i) => ({
    stack: 0,
    image: o.image,
    slot: i,
    tlTag: null,
    brTag: null,
    mean: null,
    pull: null,
    push: null,
    tlOffset: [num(o.offPred[0]), num(o.offPred[1])],
    brOffset: [null, null],
    tlOffsetTarget: [num(o.offTarget[0]), num(o.offTarget[1])],
    brOffsetTarget: [null, null],
    regrTl: num(o.offL1),
    regrBr: null,
    tlCorner: { x: o.x, y: o.y },
    center: { x: o.x, y: o.y },
    size: { pred: [num(o.whPred[0]), num(o.whPred[1])], target: [num(o.whTarget[0]), num(o.whTarget[1])], l1: num(o.whL1) },
    ...(o.peakClasses.length ? { class: o.peakClasses[0]! } : {}),
    // Peaks of several classes on one pixel: one weighted pixel, the last box's targets.
    ...(o.peakClasses.length > 1 ? { shared: true } : {}),
    box: centerBox(o.x + o.offTarget[0], o.y + o.offTarget[1], o.whTarget[0], o.whTarget[1]),
    predictedBox: centerBox(o.x + o.offPred[0], o.y + o.offPred[1], o.whPred[0], o.whPred[1]),
  }));
  return {
    ...base('mmdet-centernet', r.precision, { ...w }, { batch: d.B, classes: d.C, height: d.H, width: d.W, maxObjects: r.objects.length }, 1),
    total: num(r.loss),
    terms: { loss_center_heatmap: num(t.loss_center_heatmap), loss_wh: num(t.loss_wh), loss_offset: num(t.loss_offset), loss: num(r.loss) },
    numPositives: { tl: r.positives, br: 0 },
    unweighted,
    weighted,
    contribution: weighted,
    perStack,
    perImage,
    perClass,
    planeFocal: { tl: nums(r.planes), br: [] },
    objects,
    warnings: warningsOf(r.warnings, { 'shared-center': ['wh_target', 'offset_target'] }),
    detail: { divisors: r.divisors, positives: r.positives, weightedPixels: r.weightedPixels },
  };
}

/** The largest per-pixel losses as the report lists them, largest first. */
function topPixelsOf(
  tops: { index: number; loss: number; stack: number; corner: 'tl' | 'br'; logit: number; target: number; prob?: number }[],
  d: { B: number; C: number; H: number; W: number },
  probOf: (logit: number) => number,
  n: number,
): PixelReport[] {
  const HW = d.H * d.W;
  return tops
    .sort((a, b) => b.loss - a.loss || a.index - b.index)
    .slice(0, n)
    .map((t) => {
      const plane = Math.floor(t.index / HW);
      const pix = t.index % HW;
      return {
        stack: t.stack,
        corner: t.corner,
        image: Math.floor(plane / d.C),
        class: plane % d.C,
        x: pix % d.W,
        y: Math.floor(pix / d.W),
        logit: num(t.logit),
        probability: num(t.prob ?? probOf(t.logit)),
        target: num(t.target),
        positive: t.target === 1,
        loss: num(t.loss),
      };
    });
}

/** [x1, y1, x2, y2] of a box from its center and size, map units. */
function centerBox(cx: number, cy: number, w: number, h: number): [number, number, number, number] {
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}
