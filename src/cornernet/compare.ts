/**
 * "The same batch under both codebases" (`--compare-conventions`): the batch scored under every
 * convention its data allows, through the layout conversions of loss/mapping.ts, and each term's
 * gap explained in parts that add up to it: stack/level scaling, the clamp, the single-object push
 * constant, divisors and epsilons, offsets on shared pixels.
 *
 * Pairs: the original CornerNet <-> mmdetection's CornerHead, CenterNet <-> mmdetection's
 * CenterNetHead. Corner and center conventions do not score each other's batches.
 */
import type { LossInputs } from './model/batch';
import { CONVENTIONS, type ConventionName } from './model/conventions';
import { num, type ConventionGap, type ConventionScore, type LossReport, type Num } from './model/report';
import { discoverInputs, type InputSpec } from './inputs/discover';
import { computeLoss } from './loss/cornernet';
import { computeCenternet, type CenternetResult } from './loss/centernet';
import type { LossWarning as DenseWarning } from './loss/dense';
import { centernetToMmdetCenternet, cornernetToMmdetCornernet, mmdetCenternetToCenternet, mmdetCornernetToCornernet, type CornernetBatch } from './loss/mapping';
import { computeMmdetCenternet, type MmdetCenternetResult } from './loss/mmdetCenternet';
import { computeMmdetCornernet, type MmdetCornernetResult } from './loss/mmdetCornernet';
import { chooseConvention, computeDenseWithInputs, computeLossWithInputs, type RunOptions } from './run';
import { lossInputsOf } from './denseViews';
import { focalSums } from './focal/focal';

/** Adds `conventions` and `gaps` to a report computed from `spec` under its own convention. */
export async function compareConventions(report: LossReport, spec: InputSpec, options: RunOptions = {}): Promise<LossReport> {
  const t0 = performance.now();
  const discovery = await discoverInputs(spec, options.limits);
  const own: ConventionScore = { total: report.total, terms: report.terms };
  const scores: Partial<Record<ConventionName, ConventionScore>> = { [report.convention]: own };
  const gaps: ConventionGap[] = [];
  const notesOf = (ns: DenseWarning[]) => ns.map((n) => n.message);
  const otherNote = (other: ConventionName) => `scored with ${CONVENTIONS[other].label}'s default weights (${Object.entries(CONVENTIONS[other].weights).map(([k, v]) => `${k} ${v}`).join(', ')})`;
  switch (report.convention) {
    case 'cornernet': {
      const { inputs } = await computeLossWithInputs(spec, { ...options, stream: false, findings: false }, { discovery, t0 });
      const batch = cornernetBatchOf(inputs);
      if (typeof batch === 'string') {
        scores['mmdet-cornernet'] = { total: null, terms: {}, unavailable: batch };
        break;
      }
      const mapped = cornernetToMmdetCornernet(batch);
      const mm = computeMmdetCornernet(mapped.value);
      scores['mmdet-cornernet'] = { total: num(mm.total), terms: mmdetCornernetTerms(mm), notes: [otherNote('mmdet-cornernet'), ...notesOf(mapped.notes)] };
      gaps.push(...cornernetVsMmdet(report, mm));
      break;
    }
    case 'mmdet-cornernet': {
      const choice = chooseConvention(discovery, { convention: 'mmdet-cornernet' });
      const { loaded } = await computeDenseWithInputs(discovery, choice, { ...options, findings: false }, t0);
      if (loaded.convention !== 'mmdet-cornernet') break;
      const mapped = mmdetCornernetToCornernet(loaded.inputs);
      const cn = computeLoss(lossInputsOf(mapped.value));
      scores.cornernet = { total: cn.total, terms: cn.terms, notes: [otherNote('cornernet'), ...notesOf(mapped.notes)] };
      const mm = report.detail as Pick<MmdetCornernetResult, 'levels'>;
      gaps.push(...flip(cornernetVsMmdet(cn, { levels: mm.levels, terms: mmdetTermsOf(report), total: report.total ?? NaN })));
      break;
    }
    case 'centernet': {
      const choice = chooseConvention(discovery, { convention: 'centernet' });
      const { loaded } = await computeDenseWithInputs(discovery, choice, { ...options, findings: false }, t0);
      if (loaded.convention !== 'centernet') break;
      const mapped = centernetToMmdetCenternet(loaded.inputs);
      const mm = computeMmdetCenternet(mapped.value);
      scores['mmdet-centernet'] = { total: num(mm.loss), terms: { loss_center_heatmap: num(mm.terms.loss_center_heatmap), loss_wh: num(mm.terms.loss_wh), loss_offset: num(mm.terms.loss_offset), loss: num(mm.loss) }, notes: [otherNote('mmdet-centernet'), ...notesOf(mapped.notes)] };
      gaps.push(...centernetVsMmdet(report.detail as Pick<CenternetResult, 'stacks'>, report, mm));
      break;
    }
    case 'mmdet-centernet': {
      const choice = chooseConvention(discovery, { convention: 'mmdet-centernet' });
      const { loaded } = await computeDenseWithInputs(discovery, choice, { ...options, findings: false }, t0);
      if (loaded.convention !== 'mmdet-centernet') break;
      const mapped = mmdetCenternetToCenternet(loaded.inputs);
      const cn = computeCenternet(mapped.value, { focal: (l, g, p, hw, b) => focalSums(l, g, p, hw, b, 0) });
      scores.centernet = { total: num(cn.loss), terms: { hm_loss: num(cn.terms.hm_loss), wh_loss: num(cn.terms.wh_loss), off_loss: num(cn.terms.off_loss), loss: num(cn.loss) }, notes: [otherNote('centernet'), ...notesOf(mapped.notes)] };
      const mm = { terms: { loss_center_heatmap: report.terms.loss_center_heatmap ?? NaN, loss_wh: report.terms.loss_wh ?? NaN, loss_offset: report.terms.loss_offset ?? NaN }, loss: report.total ?? NaN } as Pick<MmdetCenternetResult, 'terms' | 'loss'>;
      const cnReport = { terms: { hm_loss: num(cn.terms.hm_loss), wh_loss: num(cn.terms.wh_loss), off_loss: num(cn.terms.off_loss) }, total: num(cn.loss), weights: { ...cn.weights } };
      gaps.push(...flip(centernetVsMmdet(cn, cnReport, mm)));
      break;
    }
  }
  report.conventions = scores;
  report.gaps = gaps;
  return report;
}

function mmdetCornernetTerms(mm: MmdetCornernetResult): Record<string, Num> {
  return { det_loss: num(mm.terms.det_loss), off_loss: num(mm.terms.off_loss), pull_loss: num(mm.terms.pull_loss), push_loss: num(mm.terms.push_loss) };
}

function mmdetTermsOf(r: LossReport): MmdetCornernetResult['terms'] {
  return { det_loss: r.terms.det_loss ?? NaN, off_loss: r.terms.off_loss ?? NaN, pull_loss: r.terms.pull_loss ?? NaN, push_loss: r.terms.push_loss ?? NaN };
}

/** The original's inputs as mapping.ts takes them, or why they cannot be mapped. */
function cornernetBatchOf(inputs: LossInputs): CornernetBatch | string {
  const { S, B, C, H, W, K } = inputs.dims;
  const need = inputs.tagMap?.tl && inputs.tagMap.br && inputs.regrMap?.tl && inputs.regrMap.br && inputs.ind?.tl && inputs.ind.br;
  if (!need) {
    return "mmdetection's CornerHead reads embeddings and offsets from the dense maps: it needs tl_tag_map, br_tag_map, tl_regr_map, br_regr_map and the corner indices tl_ind, br_ind (the batch has gathered values only)";
  }
  const f = (a: Float64Array) => (inputs.heat.tl[0]!.logits instanceof Float64Array ? a : Float32Array.from(a));
  return {
    dims: { stacks: S, B, C, H, W, K },
    tlHeat: inputs.heat.tl.map((h) => h.logits),
    brHeat: inputs.heat.br.map((h) => h.logits),
    tlTagMap: inputs.tagMap!.tl!,
    brTagMap: inputs.tagMap!.br!,
    tlRegrMap: inputs.regrMap!.tl!,
    brRegrMap: inputs.regrMap!.br!,
    gtTlHeat: inputs.gtHeat.tl,
    gtBrHeat: inputs.gtHeat.br,
    gtMask: inputs.mask,
    tlInd: inputs.ind!.tl!,
    brInd: inputs.ind!.br!,
    gtTlRegr: f(inputs.gtRegr.tl),
    gtBrRegr: f(inputs.gtRegr.br),
    precision: inputs.heat.tl.every((h) => h.dtype === 'float64') ? 'float64' : 'float32',
  };
}

const fmt = (x: number) => (Number.isFinite(x) ? (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4).replace(/\.?0+$/, '') : x.toExponential(2)) : String(x));

function gap(term: string, from: ConventionGap['from'], to: ConventionGap['to'], parts: { cause: string; amount: number }[]): ConventionGap {
  const g = (to.value ?? NaN) - (from.value ?? NaN);
  const known = parts.reduce((a, p) => a + p.amount, 0);
  const all = [...parts];
  // What the named causes do not account for (rounding, float32 steps) closes the sum.
  const rest = g - known;
  if (Number.isFinite(rest) && Math.abs(rest) > 1e-9 * Math.max(1, Math.abs(g))) all.push({ cause: 'rounding and float32 steps', amount: rest });
  const ratio = from.value && to.value !== null ? to.value / from.value : NaN;
  const main = [...all].sort((a, b) => Math.abs(b.amount) - Math.abs(a.amount)).filter((p) => Math.abs(p.amount) > 1e-12);
  const summary =
    `${CONVENTIONS[to.convention].label} ${to.name} = ${fmt(to.value ?? NaN)} vs ${CONVENTIONS[from.convention].label} ${from.name} = ${fmt(from.value ?? NaN)}` +
    (Number.isFinite(ratio) ? ` (${fmt(ratio)}x)` : '') +
    (main.length ? `: ${main.map((p) => `${p.cause} ${p.amount >= 0 ? '+' : ''}${fmt(p.amount)}`).join('; ')}` : ': no difference');
  return { term, from, to, gap: num(g), parts: all.map((p) => ({ cause: p.cause, amount: num(p.amount) })), summary };
}

function flip(gs: ConventionGap[]): ConventionGap[] {
  return gs.map((g) => {
    const parts = g.parts.map((p) => ({ cause: p.cause, amount: p.amount === null ? null : -p.amount }));
    const amounts = parts.map((p) => ({ cause: p.cause, amount: p.amount ?? NaN })).filter((p) => p.cause !== 'rounding and float32 steps');
    return gap(g.term, g.to, g.from, amounts);
  });
}

/**
 * The original's contribution of each term (weighted, summed over stacks, / S) against mmdet's
 * loss-dict entry (weighted, summed over levels).
 */
function cornernetVsMmdet(cn: LossReport, mm: Pick<MmdetCornernetResult, 'levels' | 'terms' | 'total'>): ConventionGap[] {
  const S = cn.nstack;
  const W = cn.weights;
  const stacks = cn.perStack;
  const sum = (f: (s: (typeof stacks)[number]) => number | null) => stacks.reduce((a, s) => a + (f(s) ?? NaN), 0);
  const focalSum = sum((s) => s.focal);
  const pullSum = (W.pull ?? 0.1) * sum((s) => s.pull);
  const pushSum = (W.push ?? 0.1) * sum((s) => s.push);
  const regrSum = (W.regr ?? 1) * sum((s) => s.regr);
  const single = cn.perImage.filter((img) => img.objects === 1).map((img) => img.image);
  const singlePush = (W.push ?? 0.1) * stacks.reduce((a, s) => a + single.reduce((b, i) => b + (s.images[i]?.push ?? 0), 0), 0);
  const from = (name: string, value: number): ConventionGap['from'] => ({ convention: 'cornernet', name, value: num(value) });
  const to = (name: keyof MmdetCornernetResult['terms']): ConventionGap['to'] => ({ convention: 'mmdet-cornernet', name, value: num(mm.terms[name]) });
  const clampedLogits = stacks.reduce((a, s) => a + s.clamped.tl.low + s.clamped.tl.high + s.clamped.br.low + s.clamped.br.high, 0);
  const noPos = cn.numPositives.tl === 0 || cn.numPositives.br === 0;
  return [
    gap('heat', from(`focal_loss / ${S}`, focalSum / S), to('det_loss'), [
      { cause: `stack/level scaling (the original divides the sum over stacks by ${S}; mmdet halves (tl + br) and sums levels)`, amount: focalSum / 2 - focalSum / S },
      {
        cause: `sigmoid without the clamp (log eps 1e-12; ${clampedLogits} logits beyond the original's clamp)${noPos ? ', and the normaliser max(1, positives) where the original has none' : ''}`,
        amount: mm.terms.det_loss - focalSum / 2,
      },
    ]),
    gap('pull', from(`pull_loss / ${S}`, pullSum / S), to('pull_loss'), [
      { cause: `stack/level scaling (the original / ${S}, mmdet sums levels)`, amount: pullSum - pullSum / S },
      { cause: 'per-image divisor: mmdet N, the original n + 1e-4 in float32', amount: mm.terms.pull_loss - pullSum },
    ]),
    gap('push', from(`push_loss / ${S}`, pushSum / S), to('push_loss'), [
      { cause: `stack/level scaling (the original / ${S}, mmdet sums levels)`, amount: pushSum - pushSum / S },
      ...(single.length ? [{ cause: `one-object image${single.length > 1 ? 's' : ''} ${single.join(', ')}: the original adds ~1.000166 per stack, mmdet 0`, amount: -singlePush }] : []),
      { cause: "pair divisor and diagonal: mmdet N(N-1) off the diagonal, the original n(n-1) + 1e-4 with the diagonal's 1/(n + 1e-4)", amount: mm.terms.push_loss - (pushSum - singlePush) },
    ]),
    gap('offsets', from(`regr_loss / ${S}`, regrSum / S), to('off_loss'), [
      { cause: `stack/level scaling (the original / ${S}; mmdet halves (tl + br) and sums levels)`, amount: regrSum / 2 - regrSum / S },
      { cause: 'per pixel where any class is 1 (shared pixels once, last box wins), / max(1, pixels), vs per object slot / (objects + 1e-4)', amount: mm.terms.off_loss - regrSum / 2 },
    ]),
  ];
}

/** CenterNet's weighted terms (averaged over stacks) against mmdet CenterNetHead's (one level: the last stack). */
function centernetVsMmdet(
  cn: Pick<CenternetResult, 'stacks'>,
  cnReport: { terms: Record<string, Num>; total: Num; weights: Record<string, number> },
  mm: Pick<MmdetCenternetResult, 'terms' | 'loss'>,
): ConventionGap[] {
  const S = cn.stacks.length;
  const last = cn.stacks[S - 1]!;
  const w = { hm: cnReport.weights.hm ?? 1, wh: cnReport.weights.wh ?? 0.1, off: cnReport.weights.off ?? 1 };
  const from = (name: string, value: number): ConventionGap['from'] => ({ convention: 'centernet', name, value: num(value) });
  const to = (name: keyof MmdetCenternetResult['terms']): ConventionGap['to'] => ({ convention: 'mmdet-centernet', name, value: num(mm.terms[name]) });
  const hm = cnReport.terms.hm_loss ?? NaN;
  const wh = cnReport.terms.wh_loss ?? NaN;
  const off = cnReport.terms.off_loss ?? NaN;
  const stackPart = (lastV: number, avg: number, weight: number) =>
    S > 1 ? [{ cause: `stacks: CenterNet averages ${S} stacks, mmdet has one level (the last stack)`, amount: weight * (lastV - avg) }] : [];
  return [
    gap('heat', from('hm_weight * hm_loss', w.hm * hm), to('loss_center_heatmap'), [
      ...stackPart(last.hm, hm, w.hm),
      { cause: 'no clamp (log eps 1e-12: a saturated pixel costs 27.63 instead of 9.21) and the normaliser max(1, peaks)', amount: mm.terms.loss_center_heatmap - w.hm * (S > 1 ? last.hm : hm) },
    ]),
    gap('size', from('wh_weight * wh_loss', w.wh * wh), to('loss_wh'), [
      ...stackPart(last.wh, wh, w.wh),
      { cause: 'divisor: mmdet 2 max(1, peaks) (shared centers: the last box), CenterNet 2 objects + 1e-4 over every slot', amount: mm.terms.loss_wh - w.wh * (S > 1 ? last.wh : wh) },
    ]),
    gap('offsets', from('off_weight * off_loss', w.off * off), to('loss_offset'), [
      ...stackPart(last.off, off, w.off),
      { cause: 'divisor: mmdet 2 max(1, peaks) (shared centers: the last box), CenterNet 2 objects + 1e-4 over every slot', amount: mm.terms.loss_offset - w.off * (S > 1 ? last.off : off) },
    ]),
  ];
}
