/** The ground-truth ablation of a batch (views/ablation.ts computes it; the report carries it). */

export type AblationVariant = 'as-is' | 'target-heatmaps' | 'target-offsets' | 'perfect-grouping' | 'target-sizes' | 'all-targets';

export interface AblationRow {
  variant: AblationVariant;
  /** What was swapped in, in words. */
  description: string;
  objects: number;
  matched: number;
  /** Detections kept (score > 0) over the batch. */
  detections: number;
  /** Area under the precision/recall curve of the detections ranked by score (IoU 0.5, all-point interpolation). */
  ap50: number;
  /** The objects this variant does not find, and why (the decode view's reason), at most 20. */
  missed: { image: number; slot: number; class: number; reason: string }[];
}

export interface Ablation {
  stack: number;
  options: { K: number };
  rows: AblationRow[];
  /** The variant (other than all targets) that gains the most AP over as-is: the limiting head. */
  limitingHead?: AblationVariant;
  /** Why there are no rows (the maps a decode needs were not given: only gathered values). */
  unavailable?: string;
}

