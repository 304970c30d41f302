"""A training loop as CornerNet's train.py runs it, small: per step a batch's targets, the
network's outputs (here a fixture case's arrays) and AELoss(outs, targets). The debug tests stop
at the line marked `# breakpoint` inside ae_loss and compute the loss from the paused frame.

usage: python3 train.py [--torch] [--lite] [--linger=S] CASE_DIR [CASE_DIR ...]   (one step per case)
  --torch     outs and targets as torch tensors, the outputs with requires_grad (as in training)
  --lite      CornerNet-Lite's layout: six lists of stacks (maps) and seven targets (with indices)
  --linger=S  keep running S seconds after the last step (a session that is not paused)
"""
import os
import sys
import time

import numpy as np

OUT_ROLES = ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr']
LITE_OUT_ROLES = ['tl_heat', 'br_heat', 'tl_tag_map', 'br_tag_map', 'tl_regr_map', 'br_regr_map']
TARGET_ROLES = ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']


def as_numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def neg_loss(preds, gt):
    """CornerNet's _neg_loss (models/py_utils/kp_utils.py), in numpy."""
    pos = gt == 1
    neg_weights = (1 - gt[~pos]) ** 4
    num_pos = pos.sum()
    loss = 0.0
    for pred in preds:
        pos_pred, neg_pred = pred[pos], pred[~pos]
        pos_loss = (np.log(pos_pred) * (1 - pos_pred) ** 2).sum()
        neg_loss = (np.log(1 - neg_pred) * neg_pred ** 2 * neg_weights).sum()
        loss = loss - (neg_loss if num_pos == 0 else (pos_loss + neg_loss) / num_pos)
    return loss


def ae_loss(outs, targets):
    """The focal term of AELoss.forward (the tests read this frame's arguments, outs and targets)."""
    lite = isinstance(outs[0], (list, tuple))
    tl_heats = outs[0] if lite else outs[0::6]
    br_heats = outs[1] if lite else outs[1::6]
    sigmoid = lambda x: np.clip(1 / (1 + np.exp(-as_numpy(x))), 1e-4, 1 - 1e-4)
    focal = neg_loss([sigmoid(h) for h in tl_heats], as_numpy(targets[0]))
    focal += neg_loss([sigmoid(h) for h in br_heats], as_numpy(targets[1]))
    return focal / len(tl_heats)  # breakpoint


def load_step(case_dir, use_torch, lite):
    f = {n[:-4]: np.load(os.path.join(case_dir, n)) for n in sorted(os.listdir(case_dir)) if n.endswith('.npy')}
    stacks = f['tl_heat'].shape[0]
    if lite:
        outs = [[f[r][s] for s in range(stacks)] for r in LITE_OUT_ROLES]
        targets = [f[r] for r in TARGET_ROLES + ['tl_ind', 'br_ind']]
    else:
        outs = [f[r][s] for s in range(stacks) for r in OUT_ROLES]
        targets = [f[r] for r in TARGET_ROLES]
    if use_torch:
        import torch

        def tensor(x):
            return torch.from_numpy(x).clone().requires_grad_(x.dtype.kind == 'f')

        outs = [[tensor(x) for x in o] for o in outs] if lite else [tensor(x) for x in outs]
        targets = [torch.from_numpy(x) for x in targets]
    return outs, targets


def main(argv):
    use_torch, lite = '--torch' in argv, '--lite' in argv
    cases = [a for a in argv if not a.startswith('--')]
    for step, case_dir in enumerate(cases):
        outs, targets = load_step(case_dir, use_torch, lite)
        loss = ae_loss(outs, targets)
        print('step %d %s: focal %.6f' % (step, os.path.basename(case_dir), loss), flush=True)
    for a in argv:
        if a.startswith('--linger='):
            time.sleep(float(a.split('=', 1)[1]))


if __name__ == '__main__':
    main(sys.argv[1:])
