/**
 * Warnings with stable codes: each names a trap of the original CornerNet code (or of the data)
 * and says what the original would do and what we report instead.
 */
export type WarningCode =
  | 'batch-size-one'
  | 'single-slot'
  | 'single-object-push'
  | 'bool-mask'
  | 'mask-values'
  | 'synthetic-mask'
  | 'no-positives'
  | 'near-one-peak'
  | 'gt-above-one'
  | 'non-finite'
  | 'saturated-logits'
  | 'too-many-objects'
  | 'gather-mismatch'
  | 'skipped-file'
  | 'non-finite-result'
  | 'kernel-bfloat16'
  | 'integer-logits'
  // The dense conventions (mmdet CornerHead / CenterNetHead, CenterNet ctdet):
  | 'empty-images'
  | 'shared-corner'
  | 'shared-center'
  | 'offset-at-border'
  | 'saturated-sigmoid'
  | 'corner-out-of-range'
  | 'corner-not-positive'
  | 'embedding-dims'
  | 'index-out-of-range'
  | 'no-offset-pixels'
  | 'no-weighted-pixels'
  | 'non-finite-targets'
  | 'peaks-weights-mismatch'
  | 'probabilities-out-of-range'
  | 'heat-is-probability'
  | 'class-names';

export interface LossWarning {
  code: WarningCode;
  message: string;
  /** Roles concerned, when the warning is about particular inputs. */
  roles?: string[];
  /** Files concerned. */
  files?: string[];
}

/** One-line explanations for the panel and the README: what the quirk is. */
export const WARNING_EXPLANATIONS: Readonly<Record<WarningCode, string>> = {
  'kernel-bfloat16':
    'numpy has no bfloat16, so bfloat16 tensors are sent from the kernel as float32, which holds every bfloat16 value exactly. The loss is then computed with float32 arithmetic, as the original would after .float().',
  'batch-size-one':
    "With batch size 1 the original AELoss raises (tag.squeeze() drops the batch axis). The value reported is the intended one: the loss of the batch padded with an empty image, which adds exactly 0.",
  'single-slot':
    'With K = 1 object slot and B > 1 the original AELoss raises (squeeze drops the slot axis). The value reported is the intended one.',
  'single-object-push':
    "An image with exactly one object adds about 1.0 to the push term per stack in the original (the diagonal term does not cancel: (1 - 1/(1+1e-4))/1e-4 = 1.000166 with its float32 constants); mmdetection gives 0 there. The value reported is the original's.",
  'bool-mask':
    'The mask is bool. The original builds push pairs with mask.unsqueeze(1) + mask.unsqueeze(2) == 2, which is never true for bool, so it would silently report push = 0. The value reported treats the mask as a valid-slot mask (as with uint8).',
  'mask-values':
    'The mask holds values other than 0 and 1. The original counts a value v as v objects in n and selects push pairs by m_j + m_k == 2. The value reported treats nonzero as one valid slot.',
  'synthetic-mask':
    'No gt_mask was read: it was synthesized as asked (all slots valid, or the slots whose tl_ind or br_ind is non-zero). The pull, push and offset terms count exactly those slots as objects; if the batch was padded, "all slots valid" counts the padding as objects.',
  'no-positives':
    'A corner type has no target value exactly 1 in the whole batch, so the original does not normalise its focal loss: it reports the raw negative sum, often 10-100x the usual value. The value reported is the original\'s.',
  'near-one-peak':
    'Target values in (0.999, 1) are not positives (the original tests gt == 1 exactly): such a peak becomes a negative with a weight of about 0 and its corner is not learned.',
  'gt-above-one':
    'Target values above 1 (and NaN) are in neither the positive (gt == 1) nor the negative (gt < 1) set: the original ignores those pixels.',
  'non-finite':
    'An input holds NaN or Inf. NaN logits make the focal loss NaN (the clamp propagates NaN); +-Inf logits are clamped to the probability bounds.',
  'saturated-logits':
    'Many logits sit beyond the clamp: probabilities are clamped to [1e-4, 1-1e-4], so each such pixel costs at most -log(1e-4) = 9.21 and gives no gradient.',
  'too-many-objects':
    "More than 128 objects in an image: CornerNet's sampler (max_tag_len = 128) raises IndexError before the loss ever runs.",
  'gather-mismatch':
    'Gathered embeddings or offsets differ from the maps gathered at the corner indices: they were not taken at these indices (or from these maps). The gathered values are used.',
  'skipped-file': 'A file in an input folder could not be read and was skipped.',
  'non-finite-result': 'A loss term is NaN or infinite; JSON reports it as null.',
  'empty-images':
    'Images without objects: their embedding and offset terms are 0 (mmdetection and CenterNet stay finite; the original CornerNet\'s focal loss is unnormalised when the whole batch has no positive).',
  'shared-corner':
    'Two objects share a corner pixel: they read the same embedding and offset. mmdetection keeps the last box\'s offset target there and counts their push pair as 1 (|0| apart).',
  'shared-center':
    'Two objects share a center pixel: CenterNet gathers the same prediction for both slots (their wh/offset targets conflict); mmdetection keeps the last box\'s targets there.',
  'offset-at-border':
    "A box on the far border gets corner index W-1 (or H-1) and an offset target of exactly 1.0 in mmdetection's CornerHead (the original keeps offsets below 1).",
  'saturated-sigmoid':
    'Probabilities exactly 0 or 1 (a float32 sigmoid saturates above |logit| ~16.6): with no clamp, such a pixel costs -log(1e-12) = 27.63 instead of the logit, and gives no gradient.',
  'corner-out-of-range': 'A corner_embedding entry lies outside the map: upstream raises IndexError; the terms are NaN.',
  'corner-not-positive': 'A corner listed in corner_embedding is not a positive (gt == 1) of the target heatmap: targets and corner lists disagree.',
  'embedding-dims': 'Embeddings with more than one channel: mmdetection counts every (object, channel) as its own row.',
  'index-out-of-range': 'A center index is outside [0, H*W): upstream raises; the terms are NaN.',
  'no-offset-pixels': 'No target pixel equals 1: the offset loss is 0 through the all-zero-weight shortcut.',
  'no-weighted-pixels': 'wh_offset_target_weight is all zero: the wh and offset terms are 0 through the all-zero-weight shortcut.',
  'non-finite-targets': 'A target holds NaN or Inf: the terms it reaches are NaN.',
  'peaks-weights-mismatch': 'The number of heatmap peaks differs from the weighted pixels: the wh/offset divisor counts peaks (two classes on one pixel give 2 peaks but 1 weighted pixel).',
  'probabilities-out-of-range': 'Heatmap "probabilities" outside [0, 1]: logits were given where the head outputs probabilities (mmdetection CenterNetHead applies sigmoid in forward); the logs become NaN.',
  'heat-is-probability':
    "The heatmap holds probabilities where logits are expected (all values in [0, 1], clamp bounds present): it was saved after CenterNet's in-place _sigmoid. The loss applies a second sigmoid.",
  'class-names': 'The class names given do not match the number of classes of the heatmaps: names are shown for the classes that have one (check the order and the file).',
  'integer-logits':
    "The heatmap logits are integers. The original's in-place sigmoid_ raises on integer tensors; the value reported reads them as float32 logits. Integer heatmaps usually mean the wrong array was saved (probabilities rounded, class ids).",
};
