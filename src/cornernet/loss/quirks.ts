/**
 * The warnings of the original CornerNet loss: each names a trap of AELoss (or of the data), what
 * the original would do, and what is reported instead.
 */
import { isIntegerDType } from '../../tensor/dtype';
import { countNonFiniteValues } from '../focal/nonFinite';
import type { LossWarning } from '../model/warnings';
import { CORNERS } from '../model/roles';
import { objectCounts } from './breakdown';
import type { CornerNetTerms } from './cornernet';

/** The sampler's `max_tag_len`: more objects per image raise IndexError in CornerNet. */
const MAX_TAG_LEN = 128;
/** Fraction of clamped logits in one heatmap above which `saturated-logits` is raised. */
const SATURATION_WARN_FRACTION = 1e-3;

export function cornernetQuirks(t: CornerNetTerms): LossWarning[] {
  const { inputs, weights, scans, sums, focal, ae, pushTotal, weighted, total, values } = t;
  const { S, B, C, H, W, K } = inputs.dims;
  const HW = H * W;
  const planes = B * C;
  const objectCount = objectCounts(t);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const warnings: LossWarning[] = [];
  const warn = (w: LossWarning) => warnings.push(w);
  const fmt = (x: number) => (x === 0 ? '0' : Number.isFinite(x) ? x.toPrecision(6) : String(x));
  const at = (index: number) => {
    const plane = Math.floor(index / HW);
    const pix = index % HW;
    return `image ${Math.floor(plane / C)}, class ${plane % C}, y ${Math.floor(pix / W)}, x ${pix % W}`;
  };

  if (B === 1) {
    warn({
      code: 'batch-size-one',
      message:
        'Batch size 1: the original AELoss raises here (IndexError: Dimension out of range, from tag.squeeze() in _ae_loss). Reported: the intended value, as if the batch were padded with an empty image.',
      roles: ['tl_tag', 'br_tag', 'gt_mask'],
    });
  } else if (K === 1) {
    warn({
      code: 'single-slot',
      message: 'K = 1 object slot with batch size > 1: the original AELoss raises here (squeeze drops the slot axis). Reported: the intended value.',
      roles: ['gt_mask'],
    });
  }

  const ones = objectCount.map((n, b) => (n === 1 ? b : -1)).filter((b) => b >= 0);
  if (ones.length) {
    const extra = sum(ae.map((a) => sum(ones.map((b) => a.images[b]!.push))));
    warn({
      code: 'single-object-push',
      message: `${ones.length === 1 ? 'Image' : 'Images'} ${ones.join(', ')} ${ones.length === 1 ? 'has' : 'have'} exactly one object: in the original each adds about 1.000166 to push per stack (here ${fmt(extra)} of the unweighted push ${fmt(pushTotal)}, ${fmt((weights.push * extra) / S)} of the total); mmdetection would give 0. Reported: the original's value.`,
      roles: ['gt_mask'],
    });
  }

  const original = ae.find((a) => a.original)?.original;
  if (inputs.maskDType === 'bool') {
    const origPush = sum(ae.map((a) => a.original?.push ?? 0));
    warn({
      code: 'bool-mask',
      message: `gt_mask is bool: the original selects push pairs with mask_j + mask_k == 2, never true for bool, so it would report push = ${fmt(origPush)} instead of ${fmt(pushTotal)} (pull is unaffected). Reported: the mask as a valid-slot mask. Keep masks uint8.`,
      roles: ['gt_mask'],
    });
  } else {
    let odd = -1;
    for (let i = 0; i < inputs.mask.length; i++) {
      if (inputs.mask[i] !== 0 && inputs.mask[i] !== 1) {
        odd = i;
        break;
      }
    }
    if (odd >= 0 || original) {
      const detail =
        original && original.pull !== null
          ? `the original would report pull = ${fmt(sum(ae.map((a) => a.original!.pull!)))} and push = ${fmt(sum(ae.map((a) => a.original!.push!)))}`
          : original
            ? original.reason
            : '';
      warn({
        code: 'mask-values',
        message: `gt_mask ${odd >= 0 ? `holds values other than 0/1 (${inputs.mask[odd]} at image ${Math.floor(odd / K)}, slot ${odd % K})` : `is ${inputs.maskDType}`}: ${detail}. Reported: nonzero slots as objects, each counted once.`,
        roles: ['gt_mask'],
      });
    }
  }

  for (const corner of CORNERS) {
    const sc = scans[corner];
    if (sc.positives === 0) {
      warn({
        code: 'no-positives',
        message: `gt_${corner}_heat has no value exactly 1 in the whole batch: the original does not normalise the ${corner} focal loss and reports the raw negative sum (${fmt(sum(focal[corner]))} here, summed over stacks). Reported: the original's value.`,
        roles: [`gt_${corner}_heat`],
      });
    }
    if (sc.nearOne) {
      warn({
        code: 'near-one-peak',
        message: `gt_${corner}_heat has ${sc.nearOne} value(s) in (0.999, 1), first ${values.gt(corner, sc.firstNearOne!).toPrecision(9)} at ${at(sc.firstNearOne!)}: the original counts only gt == 1 as positives, so these peaks are negatives with ~0 weight. Keep exact 1.0 peaks (float16 or resampling can break them).`,
        roles: [`gt_${corner}_heat`],
      });
    }
    if (sc.aboveOne) {
      warn({
        code: 'gt-above-one',
        message: `gt_${corner}_heat has ${sc.aboveOne} value(s) above 1, first ${fmt(values.gt(corner, sc.firstAboveOne!))} at ${at(sc.firstAboveOne!)}: the original ignores these pixels (neither gt == 1 nor gt < 1).`,
        roles: [`gt_${corner}_heat`],
      });
    }
  }

  const nonFinite: string[] = [];
  const nf = (name: string, count: number) => count > 0 && nonFinite.push(`${name} (${count})`);
  for (const corner of CORNERS) {
    sums[corner].forEach((r, s) => nf(`${corner}_heat${S > 1 ? ` stack ${s}` : ''}`, r.nonFinite));
    nf(`gt_${corner}_heat`, scans[corner].nonFinite);
    inputs.tag[corner].forEach((a, s) => nf(`${corner}_tag${S > 1 ? ` stack ${s}` : ''}`, countNonFiniteValues(a)));
    inputs.regr[corner].forEach((a, s) => nf(`${corner}_regr${S > 1 ? ` stack ${s}` : ''}`, countNonFiniteValues(a)));
    nf(`gt_${corner}_regr`, countNonFiniteValues(inputs.gtRegr[corner]));
  }
  nf('gt_mask', countNonFiniteValues(inputs.mask));
  if (nonFinite.length) {
    warn({
      code: 'non-finite',
      message: `NaN or Inf values in ${nonFinite.join(', ')}. NaN logits make the focal loss NaN; NaN targets are ignored; NaN embeddings or offsets make their terms NaN.`,
      roles: nonFinite.map((n) => n.split(' ')[0]!),
    });
  }

  const integerHeat = CORNERS.flatMap((corner) =>
    inputs.heat[corner].map((h, s) => (isIntegerDType(h.dtype) || h.dtype === 'bool' ? `${corner}_heat${S > 1 ? ` stack ${s}` : ''} (${h.dtype})` : '')).filter(Boolean),
  );
  if (integerHeat.length) {
    warn({
      code: 'integer-logits',
      message: `${integerHeat.join(', ')}: integer heatmap logits. The original's in-place sigmoid_ raises on an integer tensor (RuntimeError: result type Float can't be cast to the desired output type); the value reported reads the integers as float32 logits. Were probabilities or class ids saved instead of logits?`,
      roles: [...new Set(integerHeat.map((n) => n.split(' ')[0]!))],
    });
  }

  for (const corner of CORNERS) {
    sums[corner].forEach((r, s) => {
      const clamped = r.clampedLow + r.clampedHigh;
      if (clamped / (planes * HW) >= SATURATION_WARN_FRACTION || r.clampedPositives > 0) {
        warn({
          code: 'saturated-logits',
          message: `${corner}_heat${S > 1 ? ` stack ${s}` : ''}: ${clamped} of ${planes * HW} logits (${((100 * clamped) / (planes * HW)).toPrecision(3)}%) are beyond the clamp (${r.clampedLow} at p = 1e-4, ${r.clampedHigh} at p = 1-1e-4)${r.clampedPositives ? `, ${r.clampedPositives} of them at positives, each costing the maximum -log(1e-4) = 9.21` : ''}. Clamped pixels give no gradient.`,
          roles: [`${corner}_heat`],
        });
      }
    });
  }

  const crowded = objectCount.map((n, b) => (n > MAX_TAG_LEN ? `image ${b}: ${n}` : '')).filter(Boolean);
  if (crowded.length) {
    warn({
      code: 'too-many-objects',
      message: `More than ${MAX_TAG_LEN} objects (${crowded.join('; ')}): CornerNet's sampler (max_tag_len = 128) raises IndexError on such images, so the original never computes this loss.`,
      roles: ['gt_mask'],
    });
  }

  const bad = (['focal', 'pull', 'push', 'regr'] as const).filter((k) => !Number.isFinite(weighted[k]));
  if (bad.length || !Number.isFinite(total)) {
    warn({
      code: 'non-finite-result',
      message: `${bad.length ? bad.join(', ') : 'the total'} ${bad.length > 1 ? 'are' : 'is'} not finite (reported as null in JSON).`,
    });
  }
  return warnings;
}
