/**
 * Where the original CornerNet loss comes from: per stack, per image, per class, per object and the
 * worst pixels, derived from the terms (cornernet.ts) with the same normalisations.
 */
import { boundsFor, clampedSigmoid } from '../model/pixel';
import { num, type ClassReport, type ImageReport, type ObjectReport, type PixelReport, type StackReport, type LossReport } from '../model/report';
import { CORNERS, type Corner } from '../model/roles';
import type { CornerNetTerms } from './cornernet';

/** A plane's focal sum normalised like its stack's (the positives of the batch, as a float32). */
export function planeFocalOf(t: CornerNetTerms, corner: Corner, s: number, plane: number): number {
  const r = t.sums[corner][s]!;
  const v = r.pos[plane]! + r.neg[plane]!;
  const n = t.scans[corner].positives;
  return n === 0 ? v : v / Math.fround(n);
}

export function imageFocalOf(t: CornerNetTerms, corner: Corner, s: number, b: number): number {
  const C = t.inputs.dims.C;
  let v = 0;
  for (let c = 0; c < C; c++) v += planeFocalOf(t, corner, s, b * C + c);
  return v;
}

/** Objects per image (valid mask slots). */
export function objectCounts(t: CornerNetTerms): number[] {
  return Array.from({ length: t.inputs.dims.B }, (_, b) => t.ae[0]?.images[b]?.objects ?? 0);
}

export interface CornerNetBreakdown {
  perStack: StackReport[];
  perImage: ImageReport[];
  perClass: ClassReport[];
  planeFocal: LossReport['planeFocal'];
  objects: ObjectReport[];
  topPixels: PixelReport[];
}

export function cornernetBreakdown(t: CornerNetTerms): CornerNetBreakdown {
  const { inputs, weights, scans, sums, focal, ae, regr, focalTotal, values, topN } = t;
  const { S, B, C, H, W, K } = inputs.dims;
  const HW = H * W;
  const planes = B * C;
  const planeFocal = (corner: Corner, s: number, plane: number) => planeFocalOf(t, corner, s, plane);
  const imageFocal = (corner: Corner, s: number, b: number) => imageFocalOf(t, corner, s, b);
  const objectCount = objectCounts(t);
  const planePositives = (corner: Corner, b: number) => {
    let n = 0;
    for (let c = 0; c < C; c++) n += scans[corner].planePositives[b * C + c]!;
    return n;
  };

  const perStack: StackReport[] = [];
  for (let s = 0; s < S; s++) {
    const st = {
      focalTl: focal.tl[s]!,
      focalBr: focal.br[s]!,
      pull: ae[s]!.pull,
      push: ae[s]!.push,
      regrTl: regr.tl[s]!.loss,
      regrBr: regr.br[s]!.loss,
    };
    const focalS = st.focalTl + st.focalBr;
    const regrS = st.regrTl + st.regrBr;
    perStack.push({
      stack: s,
      focalTl: num(st.focalTl),
      focalBr: num(st.focalBr),
      focal: num(focalS),
      pull: num(st.pull),
      push: num(st.push),
      regrTl: num(st.regrTl),
      regrBr: num(st.regrBr),
      regr: num(regrS),
      total: num((focalS + weights.pull * st.pull + weights.push * st.push + weights.regr * regrS) / S),
      clamped: {
        tl: { low: sums.tl[s]!.clampedLow, high: sums.tl[s]!.clampedHigh, positives: sums.tl[s]!.clampedPositives },
        br: { low: sums.br[s]!.clampedLow, high: sums.br[s]!.clampedHigh, positives: sums.br[s]!.clampedPositives },
      },
      images: Array.from({ length: B }, (_, b) => ({
        focalTl: num(imageFocal('tl', s, b)),
        focalBr: num(imageFocal('br', s, b)),
        pull: num(ae[s]!.images[b]!.pull),
        push: num(ae[s]!.images[b]!.push),
        regrTl: num(regr.tl[s]!.perImage[b]!),
        regrBr: num(regr.br[s]!.perImage[b]!),
      })),
    });
  }

  const perImage: ImageReport[] = Array.from({ length: B }, (_, b) => {
    let f = 0;
    let pl = 0;
    let ps = 0;
    let rg = 0;
    for (let s = 0; s < S; s++) {
      f += imageFocal('tl', s, b) + imageFocal('br', s, b);
      pl += ae[s]!.images[b]!.pull;
      ps += ae[s]!.images[b]!.push;
      rg += regr.tl[s]!.perImage[b]! + regr.br[s]!.perImage[b]!;
    }
    return {
      image: b,
      objects: objectCount[b]!,
      positives: { tl: planePositives('tl', b), br: planePositives('br', b) },
      focal: num(f),
      focalShare: focalTotal !== 0 ? num(f / focalTotal) : null,
      pull: num(pl),
      push: num(ps),
      regr: num(rg),
      total: num((f + weights.pull * pl + weights.push * ps + weights.regr * rg) / S),
    };
  });

  const perClass: ClassReport[] = Array.from({ length: C }, (_, c) => {
    const fc = { tl: 0, br: 0 };
    const pos = { tl: 0, br: 0 };
    for (const corner of CORNERS) {
      for (let b = 0; b < B; b++) {
        pos[corner] += scans[corner].planePositives[b * C + c]!;
        for (let s = 0; s < S; s++) fc[corner] += planeFocal(corner, s, b * C + c);
      }
    }
    return {
      class: c,
      positives: pos,
      focalTl: num(fc.tl),
      focalBr: num(fc.br),
      focal: num(fc.tl + fc.br),
      focalShare: focalTotal !== 0 ? num((fc.tl + fc.br) / focalTotal) : null,
    };
  });

  const objects: ObjectReport[] = [];
  for (let s = 0; s < S; s++) {
    const byObject = {
      tl: new Map(regr.tl[s]!.objects.map((o) => [o.image * K + o.slot, o.loss])),
      br: new Map(regr.br[s]!.objects.map((o) => [o.image * K + o.slot, o.loss])),
    };
    const offsetOf = (corner: Corner, b: number, k: number) => byObject[corner].get(b * K + k) ?? 0;
    for (let b = 0; b < B; b++) {
      for (const item of ae[s]!.images[b]!.items) {
        const i = (b * K + item.slot) * 2;
        const pair = (a: Float64Array): [number | null, number | null] => [num(a[i]!), num(a[i + 1]!)];
        const o: ObjectReport = {
          stack: s,
          image: b,
          slot: item.slot,
          tlTag: num(item.tl),
          brTag: num(item.br),
          mean: num(item.mean),
          pull: num(item.pull),
          push: num(item.push),
          tlOffset: pair(inputs.regr.tl[s]!),
          brOffset: pair(inputs.regr.br[s]!),
          tlOffsetTarget: pair(inputs.gtRegr.tl),
          brOffsetTarget: pair(inputs.gtRegr.br),
          regrTl: num(offsetOf('tl', b, item.slot)),
          regrBr: num(offsetOf('br', b, item.slot)),
        };
        for (const corner of CORNERS) {
          const ind = inputs.ind?.[corner];
          if (ind) {
            const p = ind[b * K + item.slot]!;
            o[corner === 'tl' ? 'tlCorner' : 'brCorner'] = { x: p % W, y: Math.floor(p / W) };
          }
        }
        if (o.tlCorner && o.brCorner) {
          // The class is the target channel holding an exact 1 at both corners (tl first).
          const at = (corner: Corner, c: number) => {
            const q = corner === 'tl' ? o.tlCorner! : o.brCorner!;
            return values.isPositive(corner, ((b * C + c) * H + q.y) * W + q.x);
          };
          let cls = -1;
          for (let c = 0; c < C && cls < 0; c++) if (at('tl', c) && at('br', c)) cls = c;
          for (let c = 0; c < C && cls < 0; c++) if (at('tl', c) || at('br', c)) cls = c;
          if (cls >= 0) o.class = cls;
          const gt = (corner: Corner, xy: 0 | 1) => inputs.gtRegr[corner][(b * K + item.slot) * 2 + xy]!;
          o.box = [o.tlCorner.x + gt('tl', 0), o.tlCorner.y + gt('tl', 1), o.brCorner.x + gt('br', 0), o.brCorner.y + gt('br', 1)];
        }
        objects.push(o);
      }
    }
  }

  const topPixels: PixelReport[] = [];
  for (const corner of CORNERS) {
    const n = scans[corner].positives;
    for (let s = 0; s < S; s++) {
      const heat = inputs.heat[corner][s]!;
      for (const { value, index } of sums[corner][s]!.top.sorted()) {
        const plane = Math.floor(index / HW);
        const pix = index % HW;
        const target = values.gt(corner, index);
        const logit = values.logit(corner, s, index);
        topPixels.push({
          stack: s,
          corner,
          image: Math.floor(plane / C),
          class: plane % C,
          x: pix % W,
          y: Math.floor(pix / W),
          logit: num(logit),
          probability: num(clampedSigmoid(logit, boundsFor(heat.dtype))),
          target: num(target),
          positive: target === 1,
          loss: num(n === 0 ? value : value / Math.fround(n)),
        });
      }
    }
  }
  topPixels.sort((a, b) => (b.loss ?? -Infinity) - (a.loss ?? -Infinity));
  topPixels.length = Math.min(topPixels.length, topN);

  return {
    perStack,
    perImage,
    perClass,
    planeFocal: {
      tl: Array.from({ length: planes }, (_, i) => num(focal.tl.reduce((a, _f, st) => a + planeFocal('tl', st, i), 0))),
      br: Array.from({ length: planes }, (_, i) => num(focal.br.reduce((a, _f, st) => a + planeFocal('br', st, i), 0))),
    },
    objects,
    topPixels,
  };
}
