/**
 * `LossReport`: everything computed about one batch, as the CLI prints it (`--json`), the panel
 * shows it and commands return it. Non-finite values are `null` (JSON has no NaN).
 */
import type { LossWarning } from './warnings';
import type { Corner } from './roles';
import type { ConventionChoice, ConventionName } from './conventions';
import type { Finding } from './findings';
import type { Ablation } from './ablation';

export type Num = number | null;

export interface LossWeights {
  pull: number;
  push: number;
  regr: number;
}

/** CornerNet's model file: `AELoss(pull_weight=1e-1, push_weight=1e-1)`, regr_weight left at 1. */
export const CORNERNET_WEIGHTS: Readonly<LossWeights> = { pull: 0.1, push: 0.1, regr: 1 };

/**
 * The four terms in CornerNet's shape. Other conventions map onto it: the heat term is `focal`
 * (mmdet's det, CenterNet's hm), the offset term `regr`; CenterNet's size term is `wh` (pull and
 * push are then null). `LossReport.terms` has them under the upstream names.
 */
export interface Terms {
  focal: Num;
  pull: Num;
  push: Num;
  regr: Num;
  wh?: Num;
}

/** One convention's score of a batch (`--compare-conventions`). */
export interface ConventionScore {
  total: Num;
  terms: Record<string, Num>;
  /** How the batch was brought to this convention's layout, and what that changed. */
  notes?: string[];
  /** Set when the batch cannot be scored under this convention: why. */
  unavailable?: string;
}

/** Why one term differs between two conventions, in parts that add up to the gap. */
export interface ConventionGap {
  /** The term in the words of both: `heat: focal_loss / S vs det_loss`. */
  term: string;
  from: { convention: ConventionName; name: string; value: Num };
  to: { convention: ConventionName; name: string; value: Num };
  gap: Num;
  parts: { cause: string; amount: Num }[];
  /** The one line a user reads. */
  summary: string;
}

export interface StackImageTerms {
  focalTl: Num;
  focalBr: Num;
  pull: Num;
  push: Num;
  regrTl: Num;
  regrBr: Num;
}

export interface StackReport {
  stack: number;
  focalTl: Num;
  focalBr: Num;
  focal: Num;
  pull: Num;
  push: Num;
  regrTl: Num;
  regrBr: Num;
  regr: Num;
  /** CenterNet conventions: the size (wh) term. */
  wh?: Num;
  /** This stack's share of the total: (focal + w_pull pull + w_push push + w_regr regr) / S. */
  total: Num;
  /** Pixels clamped at the probability bounds, per corner type. */
  clamped: Record<Corner, { low: number; high: number; positives: number }>;
  images: StackImageTerms[];
}

export interface ImageReport {
  image: number;
  /** Valid mask slots. */
  objects: number;
  positives: Record<Corner, number>;
  /** Focal loss of this image, summed over stacks and corner types (unweighted). */
  focal: Num;
  /** Fraction of the batch's focal loss. */
  focalShare: Num;
  pull: Num;
  push: Num;
  /** Offset loss of this image's objects, summed over stacks and corner types. */
  regr: Num;
  /** CenterNet conventions: the size (wh) term of this image. */
  wh?: Num;
  /** This image's share of the total (all terms weighted, divided by S). */
  total: Num;
}

export interface ClassReport {
  class: number;
  positives: Record<Corner, number>;
  focalTl: Num;
  focalBr: Num;
  focal: Num;
  focalShare: Num;
}

export interface ObjectReport {
  stack: number;
  image: number;
  slot: number;
  tlTag: Num;
  brTag: Num;
  mean: Num;
  /** Share of the image's pull term. */
  pull: Num;
  /** Row of the image's push sum for this object (the diagonal included, as in the original). */
  push: Num;
  tlOffset: [Num, Num];
  brOffset: [Num, Num];
  tlOffsetTarget: [Num, Num];
  brOffsetTarget: [Num, Num];
  regrTl: Num;
  regrBr: Num;
  /** Corner pixels from the indices, when given. */
  tlCorner?: { x: number; y: number };
  brCorner?: { x: number; y: number };
  /** With indices: the target class (the channel with a 1 at the corners) and box (corner + offset), map units. */
  class?: number;
  box?: [number, number, number, number];
  /** Center conventions: the center pixel, predicted and target size (w, h) with their L1. */
  center?: { x: number; y: number };
  size?: { pred: [Num, Num]; target: [Num, Num]; l1: Num };
  /** The predicted box (center + offset, wh), map units. */
  predictedBox?: [number, number, number, number];
  /** Another object uses the same corner or center pixel. */
  shared?: boolean;
}

export interface PixelReport {
  stack: number;
  corner: Corner;
  image: number;
  class: number;
  x: number;
  y: number;
  logit: Num;
  /** Clamped sigmoid, as the loss sees it. */
  probability: Num;
  target: Num;
  positive: boolean;
  /** The pixel's contribution to its stack's focal term (normalised by the positives). */
  loss: Num;
}

export interface RoleReport {
  role: string;
  file: string;
  key?: string;
  /** Set when the array came from a notebook kernel: `file` is the notebook, this the variable (`outs[3]`). */
  variable?: string;
  shape: number[];
  dtype: string;
  stacks: number[];
  form?: 'map' | 'gathered';
  purpose: 'loss' | 'check';
  origin: string;
  note?: string;
  /** NaN and +-Inf values in the array. */
  nonFinite?: number;
}

export interface UnusedReport {
  file: string;
  key?: string;
  variable?: string;
  shape: number[];
  dtype: string;
  reason: string;
}

export interface LossReport {
  version: 1;
  /** Whose loss this is: the original CornerNet, mmdetection's heads, CenterNet. */
  convention: ConventionName;
  /** How the convention was chosen (detected from the names, or forced) and what else fits. */
  conventionChoice?: ConventionChoice;
  /** What the heatmaps detect: corner conventions fill tl and br; center conventions put the
   * center heatmap under `tl` (br empty). */
  heads: 'corners' | 'centers';
  total: Num;
  /** The terms under the upstream loss-dict names, valued as the upstream code holds them. */
  terms: Record<string, Num>;
  /** The convention's weights by its own names (CornerNet: pull, push, regr). */
  weights: Record<string, number>;
  nstack: number;
  sizes: { batch: number; classes: number; height: number; width: number; maxObjects: number };
  /** Class names by index, when known (views write `3 car`), and where they come from. */
  classNames?: string[];
  classNamesFrom?: string;
  /** float32 unless the logits are float64: which clamp bounds and sigmoid rounding were used. */
  precision: 'float32' | 'float64';
  /** 'original': the original's float32 count constants; 'exact': pure float64. */
  arithmetic: 'original' | 'exact';
  numPositives: Record<Corner, number>;
  /** Terms summed over stacks (focal and regr also over tl + br). */
  unweighted: Terms;
  weighted: Terms;
  /** weighted / S: these add up to the total. */
  contribution: Terms;
  perStack: StackReport[];
  perImage: ImageReport[];
  perClass: ClassReport[];
  /** Focal loss per (image, class) plane, flat [B*C] (index image*C + class), summed over stacks. */
  planeFocal: Record<Corner, Num[]>;
  objects: ObjectReport[];
  topPixels: PixelReport[];
  inputs: { roles: RoleReport[]; unused: UnusedReport[] };
  warnings: LossWarning[];
  /** The convention's own breakdown as its loss module returns it (levels, divisors...). */
  detail?: unknown;
  /** `--compare-conventions`: the batch under every convention its data allows. */
  conventions?: Partial<Record<ConventionName, ConventionScore>>;
  /** With `conventions`: why the totals differ, term by term. */
  gaps?: ConventionGap[];
  /** What is wrong with this batch, most important first (diagnose/findings.ts). */
  findings?: Finding[];
  /** Which term drives learning: each term's gradient norm per stack (diagnose/gradients.ts). */
  gradients?: TermGradient[];
  /** Which head limits detection: the last stack decoded with each head's target swapped in (views/ablation.ts). */
  ablation?: Ablation;
  timings: {
    /** Headers and array data read before computing, with their NaN/Inf check. */
    readMs: number;
    /** The loss, from the arrays read (gathering from maps included). */
    computeMs: number;
    /**
     * When the heatmaps were streamed through the focal pass (the CLI on .npy files): the part of
     * computeMs spent reading them (per thread). Their bytes are then not in readMs.
     */
    heatmapReadMs?: number;
    /** The diagnosis: one scan of the heatmaps and the findings (not in computeMs). */
    diagnoseMs?: number;
    /** The ground-truth ablation (report.ablation): decoding the last stack once per variant. */
    ablationMs?: number;
  };
}

/** The norm of one term's gradient (its share of the total) with respect to the outputs it reads. */
export interface TermGradient {
  stack: number;
  /** The upstream name of the term. */
  term: string;
  /** What it is the gradient with respect to: `tl heatmap logits`, `embeddings at the corners`... */
  wrt: string;
  norm: number;
}

/** NaN and +-Inf become null. */
export function num(x: number): Num {
  return Number.isFinite(x) ? x : null;
}
