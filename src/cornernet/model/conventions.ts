/**
 * Loss conventions: which codebase's loss a batch is scored by. A convention fixes how arrays are
 * named and laid out, how the loss is computed, what its terms are called (the upstream loss-dict
 * names, so numbers read like the training log) and its default weights.
 */

export type ConventionName = 'cornernet' | 'mmdet-cornernet' | 'centernet' | 'mmdet-centernet';

export const CONVENTION_NAMES: readonly ConventionName[] = ['cornernet', 'mmdet-cornernet', 'centernet', 'mmdet-centernet'];

export interface ConventionInfo {
  name: ConventionName;
  label: string;
  /** The upstream code whose numbers are reproduced. */
  upstream: string;
  /** What the heatmaps detect: tl + br corners, or object centers. */
  heads: 'corners' | 'centers';
  /** The loss-dict names, in the upstream order. */
  terms: readonly string[];
  /** Weight names and their defaults (the upstream config). */
  weights: Readonly<Record<string, number>>;
  /** Other spellings accepted for a weight (`--off-weight` for CornerNet's regr...). */
  weightAliases: Readonly<Record<string, string>>;
  /** How the total is composed, in one line. */
  total: string;
}

export const CONVENTIONS: Readonly<Record<ConventionName, ConventionInfo>> = {
  cornernet: {
    name: 'cornernet',
    label: 'CornerNet (original AELoss)',
    upstream: 'princeton-vl/CornerNet e5c39a31, models/py_utils/kp.py AELoss',
    heads: 'corners',
    terms: ['focal_loss', 'pull_loss', 'push_loss', 'regr_loss'],
    weights: { pull: 0.1, push: 0.1, regr: 1 },
    weightAliases: { off: 'regr', offset: 'regr' },
    total: '(focal_loss + pull_loss + push_loss + regr_loss) / stacks; each term weighted and summed over stacks',
  },
  'mmdet-cornernet': {
    name: 'mmdet-cornernet',
    label: 'mmdetection CornerHead',
    upstream: 'open-mmlab/mmdetection cfd5d3a9 (3.3.0) CornerHead.loss_by_feat + mmengine parse_losses',
    heads: 'corners',
    terms: ['det_loss', 'off_loss', 'pull_loss', 'push_loss'],
    weights: { det: 1, pull: 0.1, push: 0.1, off: 1 },
    weightAliases: { focal: 'det', heatmap: 'det', regr: 'off', offset: 'off' },
    total: 'det_loss + off_loss + pull_loss + push_loss, each summed over levels (no division by the number of levels)',
  },
  centernet: {
    name: 'centernet',
    label: 'CenterNet (xingyizhou, ctdet CtdetLoss)',
    upstream: 'xingyizhou/CenterNet 4c50fd3a, src/lib/trains/ctdet.py CtdetLoss',
    heads: 'centers',
    terms: ['hm_loss', 'wh_loss', 'off_loss'],
    weights: { hm: 1, wh: 0.1, off: 1 },
    weightAliases: { heatmap: 'hm', focal: 'hm', offset: 'off', reg: 'off', regr: 'off' },
    total: 'loss = hm_weight * hm_loss + wh_weight * wh_loss + off_weight * off_loss; each term averaged over stacks',
  },
  'mmdet-centernet': {
    name: 'mmdet-centernet',
    label: 'mmdetection CenterNetHead',
    upstream: 'open-mmlab/mmdetection cfd5d3a9 (3.3.0) CenterNetHead.loss_by_feat + mmengine parse_losses',
    heads: 'centers',
    terms: ['loss_center_heatmap', 'loss_wh', 'loss_offset'],
    weights: { heatmap: 1, wh: 0.1, offset: 1 },
    weightAliases: { hm: 'heatmap', focal: 'heatmap', center_heatmap: 'heatmap', off: 'offset', reg: 'offset', regr: 'offset' },
    total: 'loss_center_heatmap + loss_wh + loss_offset (weights applied inside the loss modules)',
  },
};

/** `mmdet-cornernet`, `mmdet_cornernet`, `MMDet CornerNet`, `ctdet` ... -> the name, or undefined. */
export function parseConventionName(text: string): ConventionName | undefined {
  const n = text.trim().toLowerCase().replace(/[\s_]+/g, '-');
  if ((CONVENTION_NAMES as readonly string[]).includes(n)) return n as ConventionName;
  const aliases: Record<string, ConventionName> = {
    original: 'cornernet',
    aeloss: 'cornernet',
    'cornernet-lite': 'cornernet',
    mmdet: 'mmdet-cornernet',
    'mmdetection-cornernet': 'mmdet-cornernet',
    cornerhead: 'mmdet-cornernet',
    'corner-head': 'mmdet-cornernet',
    ctdet: 'centernet',
    'xingyizhou-centernet': 'centernet',
    'mmdetection-centernet': 'mmdet-centernet',
    centernethead: 'mmdet-centernet',
    'centernet-head': 'mmdet-centernet',
  };
  return aliases[n];
}

/**
 * Weights given by the user (CLI flags, manifest, settings; any spelling in weightAliases) as the
 * convention's own names; an unknown name is an error naming the accepted ones.
 */
export function conventionWeights(
  convention: ConventionName,
  given: Readonly<Record<string, number | undefined>>,
): { weights: Record<string, number>; unknown: string[] } {
  const info = CONVENTIONS[convention];
  const weights: Record<string, number> = { ...info.weights };
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    const name = k in info.weights ? k : info.weightAliases[k];
    if (name === undefined) unknown.push(k);
    else weights[name] = v;
  }
  return { weights, unknown };
}

/** Why a convention was used: for the report and the panel's switcher. */
export interface ConventionChoice {
  name: ConventionName;
  /** 'detected' from the array names, or forced by the user. */
  how: 'detected' | 'option' | 'manifest' | 'setting' | 'default';
  reason: string;
  /** Other conventions the data fits (the panel offers them). */
  alternatives: ConventionName[];
}
