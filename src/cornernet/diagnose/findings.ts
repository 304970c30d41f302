/**
 * "Why is my loss like this?": ranked findings with evidence, from a report and one scan of the
 * heatmaps (heatScan.ts), for every convention. A warning says that a quirk happened; a finding
 * says what is wrong with this batch, how much of the loss (or of the problem) it explains, where
 * (stack, image, class, pixels, objects: the panel jumps there) and what to check in the training
 * code. Codes are stable; thresholds are constants here and in the README.
 */
import type { LossReport, ObjectReport } from '../model/report';
import type { Finding, FindingPlace } from '../model/findings';
import { CONVENTIONS } from '../model/conventions';
import { FLOOR_P, radiusFromNeighbour, type HeatScan, type Head } from './heatScan';

/** The thresholds of the README's table. */
export const FINDING_THRESHOLDS = {
  /** clamp-floor-positives: positives at the floor carrying at least this share of the heat term. */
  floorPositivesShare: 0.05,
  /** collapsed-heatmap: this share of a heatmap's (or a class's) pixels at the probability floor... */
  collapsedFloorShare: 0.999,
  /** ...or predictions this close to one value (standard deviation of the logits). */
  collapsedStd: 1e-3,
  /** single-object-push: the one-object images' push carries at least this share of the total. */
  singleObjectShare: 0.01,
  /** target-radius: objects whose radius fits no generator, as a share of the objects checked. */
  radiusMisfitShare: 0.2,
  /** embedding-collapse: pairs of objects of an image within the push margin, as a share of the pairs (at least 6 pairs). */
  embeddingPairsShare: 0.8,
  /** offset-range: predicted offsets further than this outside [0, 1]... */
  offsetOutside: 1,
  /** ...for at least this share of the objects (and two of them). */
  offsetShare: 0.25,
  /** shared-corner: objects of one class on one pixel, or this many shared pixels... */
  sharedPairs: 3,
  /** ...involving this share of the objects. */
  sharedShare: 0.1,
} as const;

const MAX_PLACES = 20;
const FLOOR_LOSS = -Math.log(1e-4) * (1 - 1e-4) * (1 - 1e-4);

export function computeFindings(report: LossReport, scan: HeatScan | undefined): Finding[] {
  const out: Finding[] = [];
  const add = (f: Finding) => out.push(f);
  const conv = report.convention;
  const centers = report.heads === 'centers';
  const headName = (h: Head) => (centers ? 'center' : h);
  const lastStack = report.nstack - 1;
  const { classes: C, height: H, width: W } = report.sizes;
  const HW = H * W;
  const placeOf = (head: Head, index: number, stack?: number): FindingPlace => {
    const plane = Math.floor(index / HW);
    const pix = index % HW;
    return { ...(stack !== undefined ? { stack } : {}), image: Math.floor(plane / C), class: plane % C, head: headName(head), x: pix % W, y: Math.floor(pix / W) };
  };
  const heatTotal = Math.abs(report.weighted.focal ?? 0);
  const total = Math.abs(report.total ?? 0);
  const logits = scan?.kind !== 'probabilities';

  // --- non-finite: where the first NaN/Inf is, and which terms it reaches.
  {
    const nullTerms = Object.entries(report.terms).filter(([, v]) => v === null).map(([k]) => k);
    const places: FindingPlace[] = [];
    const details: string[] = [];
    let nan = 0;
    let inf = 0;
    for (const h of scan?.heads ?? []) {
      scan!.preds[h].forEach((p, s) => {
        nan += p.nan;
        inf += p.inf;
        if (p.firstNonFinite) {
          places.push({ ...placeOf(h, p.firstNonFinite.index, s), input: `${headName(h)} heatmap` });
          details.push(`${headName(h)} heatmap stack ${s}: ${p.nan} NaN, ${p.inf} Inf, first ${p.firstNonFinite.value} at ${describePlace(placeOf(h, p.firstNonFinite.index, s))}`);
        }
      });
      const g = scan!.gtNonFinite[h];
      if (g.first) {
        places.push({ ...placeOf(h, g.first.index), input: `${headName(h)} target` });
        details.push(`${headName(h)} target: ${g.count} non-finite, first ${g.first.value} at ${describePlace(placeOf(h, g.first.index))}`);
      }
    }
    const inputsNonFinite = report.inputs.roles.filter((r) => (r.nonFinite ?? 0) > 0);
    for (const r of inputsNonFinite) if (!details.some((d) => d.includes(r.role))) details.push(`${r.role} (${r.file}${r.key ? `:${r.key}` : ''}): ${r.nonFinite} non-finite`);
    if (places.length || inputsNonFinite.length || nullTerms.length) {
      add({
        code: 'non-finite',
        severity: 'error',
        title: `NaN/Inf in the inputs${nullTerms.length ? `: ${nullTerms.join(', ')} ${nullTerms.length > 1 ? 'are' : 'is'} not finite` : ''}`,
        evidence: { where: places.slice(0, MAX_PLACES), nan, inf, details, termsReached: nullTerms, inputs: inputsNonFinite.map((r) => ({ role: r.role, file: r.file, count: r.nonFinite })) },
        advice:
          'Find the first non-finite value: a NaN logit usually comes from a diverged step (learning rate, fp16 overflow without loss scaling, a log of 0 in a custom head); a NaN target from the target generator (a box of zero size, a division by the image size). Save the batch of the first non-finite step and check the inputs before the network.',
        score: 1,
      });
    }
  }

  // --- heat-is-probability: logits that are all in [0, 1].
  if (scan && logits) {
    const all01 = scan.heads.every((h) => scan.preds[h].every((p) => p.finite > 0 && p.min >= 0 && p.max <= 1));
    if (all01) {
      const p = scan.preds[scan.heads[0]!][lastStack]!;
      add({
        code: 'heat-is-probability',
        severity: 'error',
        title: 'The heatmap holds probabilities where the loss expects logits: it is sigmoided twice',
        evidence: { where: [{ stack: lastStack, head: headName(scan.heads[0]!) }], min: p.min, max: p.max, mean: p.mean },
        advice: `${conv === 'centernet' ? "CenterNet's _sigmoid works in place (x.sigmoid_()), so output['hm'] saved after the loss ran holds probabilities." : 'These values look like sigmoid outputs.'} Save the outputs before the loss is computed (or a .clone()), or treat this heatmap as probabilities (--heat-is-probability; the panel's "Treat as probabilities").`,
        score: 0.95,
      });
    }
  }

  // --- clamp-floor-positives: positives predicted at the probability floor (not in a heatmap
  // that collapsed as a whole: that is the cause, reported as collapsed-heatmap).
  const collapsedLast = new Set(
    (scan?.heads ?? []).filter((h) => {
      const p = scan!.preds[h][lastStack];
      return p !== undefined && ((p.finite ? p.atFloor / p.finite : 0) >= FINDING_THRESHOLDS.collapsedFloorShare || (logits && p.std < FINDING_THRESHOLDS.collapsedStd && p.finite > 1));
    }),
  );
  if (scan && scan.positives.length && !out.some((f) => f.code === 'heat-is-probability')) {
    const atFloor = scan.positives.filter((p) => {
      if (collapsedLast.has(p.head)) return false;
      const v = p.preds[p.preds.length - 1]!;
      return logits ? v <= Math.log(FLOOR_P / (1 - FLOOR_P)) : v <= FLOOR_P;
    });
    const N = Math.max(1, report.numPositives.tl + report.numPositives.br) / (centers ? 1 : 2);
    // Each costs about -log(1e-4) = 9.21 (the clamp) in every stack, over the positives of its corner type.
    const perStackShare = atFloor.length ? (atFloor.length * FLOOR_LOSS) / N / Math.max(1e-12, heatTotal / Math.max(1, report.nstack)) : 0;
    const share = Math.min(1, perStackShare);
    if (atFloor.length && share >= FINDING_THRESHOLDS.floorPositivesShare) {
      add({
        code: 'clamp-floor-positives',
        severity: 'error',
        title: `${atFloor.length} positive${atFloor.length > 1 ? 's' : ''} predicted at the probability floor (p ≤ 1e-4): ~${pct(share)} of the heat loss, with no gradient through the clamp`,
        evidence: { where: atFloor.slice(0, MAX_PLACES).map((p) => placeOf(p.head, p.index, lastStack)), count: atFloor.length, positives: scan.positives.length, shareOfHeat: share, perPixelLoss: FLOOR_LOSS },
        advice:
          "A positive at the floor costs -log(1e-4) = 9.21 and, clamped, gives no gradient: the loss plateaus there (CenterNet#319: 9.21 is that value). Check the heatmap head's bias init (CornerNet and CenterNet start it at -2.19, so that p = 0.1); a bias near -9 or below, a head that was re-initialised, or targets of a class the network never sees, put positives at the floor.",
        score: share,
      });
    }
  }

  // --- collapsed-heatmap: all at the floor, or all one value; per class too.
  if (scan) {
    for (const h of scan.heads) {
      scan.preds[h].forEach((p, s) => {
        const floorShare = p.finite ? p.atFloor / p.finite : 0;
        const flat = logits && p.std < FINDING_THRESHOLDS.collapsedStd && p.finite > 1;
        if (floorShare >= FINDING_THRESHOLDS.collapsedFloorShare || flat) {
          add({
            code: 'collapsed-heatmap',
            severity: 'error',
            title: `The ${headName(h)} heatmap of ${stackWord(conv)} ${s} collapsed: ${floorShare >= FINDING_THRESHOLDS.collapsedFloorShare ? `${pct(floorShare)} of its pixels at the probability floor` : `every prediction within ${p.std.toExponential(1)} of ${p.mean.toPrecision(4)}`}`,
            evidence: { where: [{ stack: s, head: headName(h) }], min: p.min, max: p.max, mean: p.mean, std: p.std, floorShare },
            advice:
              'The network stopped predicting peaks (CenterNet#670: outputs all at 1e-4). Usual causes: a learning rate too high early on, a focal loss whose positives have no weight (no target exactly 1), targets of the wrong shape or class order, or a head whose output is overwritten after the loss (an in-place op).',
            score: 0.9,
          });
        }
      });
    }
    const collapsedClasses = scan.classes
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => scan.heads.some((h) => c.positives[h] > 0) && scan.heads.every((h) => c.pixels > 0 && c.atFloorLast[h] / c.pixels >= FINDING_THRESHOLDS.collapsedFloorShare));
    if (collapsedClasses.length && !out.some((f) => f.code === 'collapsed-heatmap')) {
      add({
        code: 'collapsed-heatmap',
        severity: 'warning',
        title: `${collapsedClasses.length} class${collapsedClasses.length > 1 ? 'es' : ''} with objects but every prediction at the floor: ${collapsedClasses.slice(0, 8).map(({ i }) => i).join(', ')}`,
        evidence: { where: collapsedClasses.slice(0, MAX_PLACES).map(({ i }) => ({ stack: lastStack, class: i })), classes: collapsedClasses.map(({ i }) => i) },
        advice: 'These classes have targets in this batch but the network predicts nothing for them: check the class order of the targets against the head (a label offset of 1, a category id used as index), and the class balance of the data.',
        score: 0.6,
      });
    }
  }

  // --- no-peaks and near-one-peak.
  if (scan) {
    const objects = report.perImage.reduce((a, i) => a + i.objects, 0);
    const noPos = scan.heads.filter((h) => (h === 'tl' ? report.numPositives.tl : report.numPositives.br) === 0);
    if (objects > 0 && noPos.length) {
      add({
        code: 'no-peaks',
        severity: 'error',
        title: `No target value exactly 1 in the ${noPos.map(headName).join(' and ')} heatmap${noPos.length > 1 ? 's' : ''} although the batch has ${objects} objects`,
        evidence: { where: noPos.map((h) => ({ head: headName(h) })), objects, nearPeaks: scan.classes.reduce((a, c) => a + c.nearPeaks, 0) },
        advice: `The focal loss counts only target == 1 as positives (CenterNet#18): resizing, float16 storage or a gaussian normalised to something other than 1 leaves none, and ${conv === 'cornernet' || conv === 'centernet' ? 'the loss is then unnormalised' : 'the loss divides by 1'}. Draw peaks of exactly 1.0 (draw_gaussian with k = 1) and keep the targets float32.`,
        score: 0.9,
      });
    } else {
      const nearClasses = scan.classes.map((c, i) => ({ c, i })).filter(({ c }) => c.nearPeaks > 0 && scan.heads.some((h) => c.positives[h] === 0));
      if (nearClasses.length) {
        add({
          code: 'no-peaks',
          severity: 'warning',
          title: `${nearClasses.length} class${nearClasses.length > 1 ? 'es have' : ' has'} near-peaks (0.9 < target < 1) but no target exactly 1: ${nearClasses.slice(0, 8).map(({ i }) => i).join(', ')}`,
          evidence: { where: nearClasses.slice(0, MAX_PLACES).map(({ i }) => ({ class: i })), classes: nearClasses.map(({ i }) => i) },
          advice: 'Objects of these classes have no positive: the focal loss treats their peaks as (nearly weightless) negatives. Keep exact 1.0 peaks.',
          score: 0.5,
        });
      }
    }
    const near = report.warnings.find((w) => w.code === 'near-one-peak');
    if (near) {
      add({
        code: 'near-one-peak',
        severity: 'warning',
        title: 'Target peaks stored just below 1 are not positives',
        evidence: { where: [], warning: near.message },
        advice: 'Values in (0.999, 1) look like peaks but fail the gt == 1 test: float16 round trips and resampling do this. Keep exact 1.0 peaks (float32 targets, no interpolation of the heatmaps).',
        score: 0.4,
      });
    }
  }

  // --- empty-images.
  {
    const empty = report.perImage.filter((i) => i.objects === 0).map((i) => i.image);
    if (empty.length) {
      add({
        code: 'empty-images',
        severity: 'info',
        title: `${empty.length} image${empty.length > 1 ? 's' : ''} without objects: ${empty.slice(0, 8).join(', ')}`,
        evidence: { where: empty.slice(0, MAX_PLACES).map((b) => ({ image: b })), images: empty },
        advice:
          conv === 'cornernet'
            ? "Crops without objects give pull/push/offset 0 for that image; a whole batch without objects makes the original's focal loss unnormalised (CornerNet#125). Check the random crop: CornerNet's sampler retries crops that lose every box only with rand_crop's border setting."
            : 'Images without objects contribute only background heat loss; if many crops come out empty, check the random crop and the minimum box size of the pipeline.',
        score: 0.1 * empty.length / Math.max(1, report.perImage.length),
      });
    }
  }

  // --- single-object-push (the original's constant push).
  if (conv === 'cornernet') {
    const ones = report.perImage.filter((i) => i.objects === 1);
    if (ones.length) {
      const push = ones.reduce((a, i) => a + (i.push ?? 0), 0);
      const pushAll = report.unweighted.push ?? 0;
      const share = total ? ((report.weights.push ?? 0.1) * push) / report.nstack / total : 0;
      if (share >= FINDING_THRESHOLDS.singleObjectShare) {
        add({
          code: 'single-object-push',
          severity: 'warning',
          title: `One-object image${ones.length > 1 ? 's' : ''} ${ones.map((i) => i.image).join(', ')} add a constant ~1.000166 per stack to push: ${pct(pushAll ? push / pushAll : 0)} of the push term, ${pct(share)} of the total`,
          evidence: { where: ones.map((i) => ({ image: i.image })), images: ones.map((i) => i.image), push, pushShare: pushAll ? push / pushAll : null, totalShare: share },
          advice: "In the original _ae_loss the diagonal term does not cancel for n = 1 ((1 - 1/(1+1e-4)) / 1e-4), so every one-object image adds ~1 to push whatever the embeddings are (CornerNet-Lite#41); mmdetection returns 0. It has no gradient: it only shifts the logged loss. Compare with --compare-conventions.",
          score: share,
        });
      }
    }
  }

  // --- target-radius: which generator drew these gaussians.
  if (scan) {
    const fit = radiusFit(report, scan);
    if (fit) {
      const own = ownGenerator(conv);
      const misfit = fit.checked ? fit.none.length / fit.checked : 0;
      const wrongGenerator = fit.best !== undefined && fit.best !== own && fit.counts[fit.best]! > (fit.counts[own] ?? 0);
      if (fit.checked >= 3 && (wrongGenerator || misfit >= FINDING_THRESHOLDS.radiusMisfitShare)) {
        add({
          code: 'target-radius',
          severity: 'warning',
          title: wrongGenerator
            ? `The target gaussians fit ${GENERATORS[fit.best!].label} (${fit.counts[fit.best!]} of ${fit.checked} objects), not ${GENERATORS[own].label} (${fit.counts[own] ?? 0})`
            : `${fit.none.length} of ${fit.checked} objects have a gaussian radius no known generator gives`,
          evidence: { where: fit.none.slice(0, MAX_PLACES).map((o) => o.place), checked: fit.checked, fits: fit.counts, best: fit.best, objects: fit.rows.slice(0, 50) },
          advice:
            'The radius decides how much of the neighbourhood of a peak counts as almost positive. CornerNet draws radius gaussian_radius((ceil h, ceil w), 0.3) with the corrected roots; CenterNet uses min_overlap 0.7 and the original roots (CenterNet#273); mmdetection uses 0.3 with the corrected roots (CornerHead on ceil sizes, CenterNetHead on float sizes). A mismatch means the targets came from another pipeline than the loss assumes (CornerNet#37).',
          score: wrongGenerator ? 0.3 : 0.3 * misfit,
        });
      }
    }
  }

  // --- embedding-collapse (corner conventions with embeddings).
  if (!centers) {
    const byImage = new Map<number, ObjectReport[]>();
    for (const o of report.objects) if (o.stack === lastStack && o.mean !== null) byImage.set(o.image, [...(byImage.get(o.image) ?? []), o]);
    let pairs = 0;
    let close = 0;
    let worst: { image: number; share: number } | undefined;
    for (const [image, objs] of byImage) {
      let ip = 0;
      let ic = 0;
      for (let j = 0; j < objs.length; j++) {
        for (let k = j + 1; k < objs.length; k++) {
          ip++;
          if (Math.abs(objs[j]!.mean! - objs[k]!.mean!) < 1) ic++;
        }
      }
      pairs += ip;
      close += ic;
      if (ip && (!worst || ic / ip > worst.share)) worst = { image, share: ic / ip };
    }
    if (pairs >= 6 && close / pairs >= FINDING_THRESHOLDS.embeddingPairsShare) {
      add({
        code: 'embedding-collapse',
        severity: 'warning',
        title: `The embeddings of different objects are within the push margin (1) in ${pct(close / pairs)} of the pairs: corners cannot be grouped`,
        evidence: { where: worst ? [{ stack: lastStack, image: worst.image }] : [], pairs, within: close, worstImage: worst },
        advice: 'Push drives the means of different objects at least 1 apart; when most pairs are closer the decode pairs corners of different objects (or none). Early in training this is normal; later, check the pull/push weights (0.1 / 0.1 in CornerNet) and that the tag maps are gathered at the right indices.',
        score: 0.3 * (close / pairs),
      });
    }
  }

  // --- offset-range.
  {
    const objs = report.objects.filter((o) => o.stack === lastStack);
    const targetOutside = objs.filter((o) => [...o.tlOffsetTarget, ...o.brOffsetTarget].some((v) => v !== null && (v < 0 || v > 1)));
    const predOutside = objs.filter((o) => [...o.tlOffset, ...o.brOffset].some((v) => v !== null && (v < -FINDING_THRESHOLDS.offsetOutside || v > 1 + FINDING_THRESHOLDS.offsetOutside)));
    const place = (o: ObjectReport): FindingPlace => ({ stack: o.stack, image: o.image, object: o.slot, ...(o.class !== undefined ? { class: o.class } : {}) });
    if (targetOutside.length) {
      add({
        code: 'offset-range',
        severity: 'warning',
        title: `${targetOutside.length} object${targetOutside.length > 1 ? 's have' : ' has'} target offsets outside [0, 1]`,
        evidence: { where: targetOutside.slice(0, MAX_PLACES).map(place), targets: targetOutside.length },
        advice: 'Offset targets are fx - int(fx), in [0, 1); values outside come from boxes scaled with another ratio than the heatmap, or from indices and offsets of different boxes (slot order).',
        score: 0.3 * (targetOutside.length / Math.max(1, objs.length)),
      });
    } else if (predOutside.length >= 2 && predOutside.length / objs.length >= FINDING_THRESHOLDS.offsetShare) {
      add({
        code: 'offset-range',
        severity: 'warning',
        title: `${predOutside.length} of ${objs.length} objects have predicted offsets more than ${FINDING_THRESHOLDS.offsetOutside} outside the targets' [0, 1]`,
        evidence: { where: predOutside.slice(0, MAX_PLACES).map(place), predicted: predOutside.length, objects: objs.length },
        advice: 'The offset head predicts sub-pixel corrections in [0, 1): large values point at an offset head trained with another scale, a missing activation, or the offset weight set too low.',
        score: 0.2 * (predOutside.length / objs.length),
      });
    }
  }

  // --- shared-corner / shared center.
  {
    const objs = report.objects.filter((o) => o.stack === lastStack);
    const seen = new Map<string, ObjectReport>();
    const shared: { a: ObjectReport; b: ObjectReport; head: string }[] = [];
    for (const o of objs) {
      for (const [head, q] of centers ? ([['center', o.center ?? o.tlCorner]] as const) : ([['tl', o.tlCorner], ['br', o.brCorner]] as const)) {
        if (!q) continue;
        const key = `${o.image}/${head}/${q.x}/${q.y}`;
        const other = seen.get(key);
        if (other) shared.push({ a: other, b: o, head });
        else seen.set(key, o);
      }
    }
    // mmdet CenterNetHead keeps one object per weighted pixel: its merged objects say so themselves.
    const merged = objs.filter((o) => o.shared && !shared.some((x) => x.a === o || x.b === o));
    for (const o of merged) shared.push({ a: o, b: o, head: centers ? 'center' : 'tl' });
    const involved = new Set(shared.flatMap((x) => [`${x.a.image}/${x.a.slot}`, `${x.b.image}/${x.b.slot}`])).size + merged.length;
    // Two objects of one class on one pixel are one peak: only one can be found. Pixels shared
    // across classes conflict only in the class-agnostic maps (tags, offsets, sizes): a finding
    // when they are many, the warnings say it otherwise.
    const sameClass = shared.filter((x) => x.a !== x.b && x.a.class !== undefined && x.a.class === x.b.class);
    if (sameClass.length || (shared.length >= FINDING_THRESHOLDS.sharedPairs && involved / Math.max(1, objs.length) >= FINDING_THRESHOLDS.sharedShare)) {
      add({
        code: 'shared-corner',
        severity: 'warning',
        title: `${shared.length} pair${shared.length > 1 ? 's' : ''} of objects share a ${centers ? 'center' : 'corner'} pixel`,
        evidence: {
          where: shared.slice(0, MAX_PLACES).map((s) => ({ stack: lastStack, image: s.b.image, object: s.b.slot, head: s.head as FindingPlace['head'] })),
          pairs: shared.map((s) => ({ image: s.a.image, objects: [s.a.slot, s.b.slot], head: s.head })),
        },
        advice: centers
          ? 'Both objects read the same wh and offset prediction; their targets conflict (mmdetection keeps the last box). Lower the output stride or accept the loss of one of them.'
          : 'Both objects read the same embedding and offset there: their tags cannot be pushed apart at that corner and the offset targets conflict (mmdetection keeps the last box).',
        score: 0.15,
      });
    }
  }

  return out.sort((a, b) => b.score - a.score || severityRank(a) - severityRank(b));
}

function severityRank(f: Finding): number {
  return f.severity === 'error' ? 0 : f.severity === 'warning' ? 1 : 2;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`;
}

function stackWord(conv: string): string {
  return conv.startsWith('mmdet') ? 'level' : 'stack';
}


// ---------------------------------------------------------------------------- target radius

type Generator = 'corrected-0.3-ceil' | 'original-0.7-ceil' | 'corrected-0.3-float';

const GENERATORS: Record<Generator, { label: string; radius: (h: number, w: number) => number }> = {
  'corrected-0.3-ceil': { label: 'CornerNet / mmdetection CornerHead (IoU 0.3, corrected roots, ceil sizes)', radius: (h, w) => Math.max(0, Math.floor(gaussianRadiusCorrected(Math.ceil(h), Math.ceil(w), 0.3))) },
  'original-0.7-ceil': { label: 'CenterNet (IoU 0.7, the original roots)', radius: (h, w) => Math.max(0, Math.floor(gaussianRadiusOriginal(Math.ceil(h), Math.ceil(w), 0.7))) },
  'corrected-0.3-float': { label: 'mmdetection CenterNetHead (IoU 0.3, corrected roots, float sizes)', radius: (h, w) => Math.max(0, Math.floor(gaussianRadiusCorrected(h, w, 0.3))) },
};

function ownGenerator(conv: string): Generator {
  return conv === 'centernet' ? 'original-0.7-ceil' : conv === 'mmdet-centernet' ? 'corrected-0.3-float' : 'corrected-0.3-ceil';
}

/** CornerNet's and mmdetection's gaussian_radius: the smallest root of three quadratics (corrected). */
export function gaussianRadiusCorrected(height: number, width: number, minOverlap: number): number {
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

/** CenterNet's gaussian_radius: every root (b + sqrt(b^2 - 4ac)) / 2 (CenterNet#273, never fixed). */
export function gaussianRadiusOriginal(height: number, width: number, minOverlap: number): number {
  const b1 = height + width;
  const c1 = (width * height * (1 - minOverlap)) / (1 + minOverlap);
  const r1 = (b1 + Math.sqrt(b1 * b1 - 4 * c1)) / 2;
  const b2 = 2 * (height + width);
  const c2 = (1 - minOverlap) * width * height;
  const r2 = (b2 + Math.sqrt(b2 * b2 - 16 * c2)) / 2;
  const a3 = 4 * minOverlap;
  const b3 = -2 * minOverlap * (height + width);
  const c3 = (minOverlap - 1) * width * height;
  const r3 = (b3 + Math.sqrt(b3 * b3 - 4 * a3 * c3)) / 2;
  return Math.min(r1, r2, r3);
}

/** Per object: the radius its target gaussian shows and each generator's radius for its box. */
function radiusFit(report: LossReport, scan: HeatScan) {
  const { classes: C, width: W, height: H } = report.sizes;
  const centers = report.heads === 'centers';
  const lastStack = report.nstack - 1;
  const byIndex = new Map<string, number>();
  for (const p of scan.positives) if (p.neighbour !== undefined) byIndex.set(`${p.head}/${p.index}`, p.neighbour);
  const rows: { image: number; object: number; class: number; h: number; w: number; estimated: number; generators: Record<Generator, number> }[] = [];
  const none: { place: FindingPlace }[] = [];
  const counts: Partial<Record<Generator, number>> = {};
  let checked = 0;
  const peakOf = (o: ObjectReport) => (centers ? o.center ?? o.tlCorner : o.tlCorner);
  const candidates = report.objects.filter((o) => o.stack === lastStack && o.class !== undefined && o.box && peakOf(o));
  for (const o of candidates) {
    const q = peakOf(o)!;
    const w0 = centers ? o.size?.target[0] ?? NaN : o.box![2] - o.box![0];
    const h0 = centers ? o.size?.target[1] ?? NaN : o.box![3] - o.box![1];
    const reach = (w: number, h: number) => Math.max(...Object.values(GENERATORS).map((g) => (w > 0 && h > 0 ? g.radius(h, w) : 0)));
    // Gaussians merge by max: a neighbour of the same class within reach raises this peak's
    // neighbours, and the radius read there is not this object's. Such objects are not checked.
    const crowded = candidates.some((p) => {
      if (p === o || p.image !== o.image || p.class !== o.class) return false;
      const r = peakOf(p)!;
      const wp = centers ? p.size?.target[0] ?? NaN : p.box![2] - p.box![0];
      const hp = centers ? p.size?.target[1] ?? NaN : p.box![3] - p.box![1];
      return Math.max(Math.abs(r.x - q.x), Math.abs(r.y - q.y)) <= reach(wp, hp) + 1;
    });
    // A shared pixel holds the larger gaussian and the last box's size: not this object's.
    if (crowded || o.shared || !(w0 > 0 && h0 > 0)) continue;
    const w = w0;
    const h = h0;
    const cls = o.class!;
    const index = ((o.image * C + cls) * H + q.y) * W + q.x;
    const g = byIndex.get(`tl/${index}`);
    if (g === undefined) continue;
    const est = radiusFromNeighbour(g);
    const estimated = est === undefined ? (g <= 0 ? 0 : Infinity) : est;
    if (!Number.isFinite(estimated)) continue;
    checked++;
    const generators = {} as Record<Generator, number>;
    let any = false;
    for (const [name, gen] of Object.entries(GENERATORS) as [Generator, (typeof GENERATORS)[Generator]][]) {
      const r = gen.radius(h, w);
      generators[name] = r;
      // A radius estimated from float32 neighbours is within ~0.05 of an integer when it fits.
      if (Math.abs(estimated - r) < 0.35 || (r === 0 && g < 1e-6)) {
        counts[name] = (counts[name] ?? 0) + 1;
        any = true;
      }
    }
    rows.push({ image: o.image, object: o.slot, class: cls, h, w, estimated, generators });
    if (!any) none.push({ place: { stack: lastStack, image: o.image, object: o.slot, class: cls, head: centers ? 'center' : 'tl', x: q.x, y: q.y } });
  }
  if (!checked) return undefined;
  let best: Generator | undefined;
  for (const [name, n] of Object.entries(counts) as [Generator, number][]) if (best === undefined || n > counts[best]!) best = name;
  return { checked, counts, best, none, rows };
}

/** The findings' codes that mean a fault (all of them but `empty-images`, which is information). */
export function isFault(f: Finding): boolean {
  return f.severity !== 'info';
}

export function conventionLabel(name: LossReport['convention']): string {
  return CONVENTIONS[name].label;
}

function describePlace(p: FindingPlace): string {
  return [p.image !== undefined ? `image ${p.image}` : '', p.class !== undefined ? `class ${p.class}` : '', p.y !== undefined ? `y ${p.y}` : '', p.x !== undefined ? `x ${p.x}` : ''].filter(Boolean).join(', ');
}
