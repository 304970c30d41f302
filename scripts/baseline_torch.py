#!/usr/bin/python3
"""Times the original-style CornerNet loss (AELoss forward) and np.load on a folder of .npy files.

Usage: /usr/bin/python3 scripts/baseline_torch.py DIR [--runs N] [--load-runs N]
       /usr/bin/python3 scripts/baseline_torch.py DIR --first-load

DIR holds the 17 arrays of a fixture folder (tl_heat.npy [S,B,C,H,W], gathered tl_tag.npy
[S,B,K,1] and tl_regr.npy [S,B,K,2], gt_tl_heat.npy, gt_mask.npy, gt_tl_regr.npy, ... and the br
counterparts; the maps and indices are loaded too, as a user's folder has them). Prints one JSON
object: the loss and its terms, and wall / CPU times of the forward (medians over N runs after 2
warm-ups, torch on one thread) and of np.load of every .npy file in DIR.

The loss is written from the semantics in docs/cornernet-loss.md section 3 (not copied from the
CornerNet sources), and evaluated the way the original evaluates it, so that its cost is
representative: the focal term selects pixels with boolean masks (`x[mask]`), `(1 - gt)^4` goes
through `torch.pow`, the clamped sigmoid is `sigmoid_` in place followed by `clamp` (so each run
gets fresh clones of the logits, made outside the timed region), the masks of a corner type are
built once and shared by the stacks, pull/push pair mask is `mask_j + mask_k == 2` on uint8.
Needs Debian's python3-torch and python3-numpy (`apt-get install -y python3-torch python3-numpy`).
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

CORNERS = ("tl", "br")
WEIGHTS = {"pull": 0.1, "push": 0.1, "regr": 1.0}


def clamped_probabilities(logits):
    # In place, as CornerNet's _sigmoid: the caller's tensor becomes probabilities.
    return torch.clamp(logits.sigmoid_(), min=1e-4, max=1 - 1e-4)


def focal_term(stack_probs, target):
    """Corner focal loss of one corner type, summed over stacks (cornernet-loss.md 3.2)."""
    positive = target.eq(1)
    negative = target.lt(1)
    neg_weight = torch.pow(1 - target[negative], 4)
    n_pos = positive.float().sum()
    total = 0
    for p in stack_probs:
        p_pos = p[positive]
        p_neg = p[negative]
        pos_sum = (torch.log(p_pos) * torch.pow(1 - p_pos, 2)).sum()
        neg_sum = (torch.log(1 - p_neg) * torch.pow(p_neg, 2) * neg_weight).sum()
        if p_pos.nelement() == 0:
            total = total - neg_sum
        else:
            total = total - (pos_sum + neg_sum) / n_pos
    return total


def embedding_terms(tl_tag, br_tag, mask):
    """Pull and push of one stack (3.3). Tags [B,K,1], mask [B,K] uint8."""
    count = mask.sum(dim=1, keepdim=True).float()  # [B,1]: float32 whatever the tags are
    a = tl_tag[:, :, 0]
    b = br_tag[:, :, 0]
    centre = (a + b) / 2
    valid = mask.bool()
    pull = (torch.pow(a - centre, 2) / (count + 1e-4))[valid].sum()
    pull = pull + (torch.pow(b - centre, 2) / (count + 1e-4))[valid].sum()

    pairs = (mask.unsqueeze(1) + mask.unsqueeze(2)).eq(2)  # uint8 sum, as the original
    gap = centre.unsqueeze(1) - centre.unsqueeze(2)
    gap = torch.relu(1 - torch.abs(gap)) - 1 / (count + 1e-4).unsqueeze(2)
    gap = gap / ((count - 1) * count + 1e-4).unsqueeze(2)
    push = gap[pairs].sum()
    return pull, push


def offset_term(regr, gt_regr, mask):
    """Smooth-L1 of the gathered offsets of one stack and corner type (3.4)."""
    count = mask.float().sum()
    valid = mask.bool().unsqueeze(2).expand_as(gt_regr)
    d = regr[valid] - gt_regr[valid]
    ad = torch.abs(d)
    smooth = torch.where(ad < 1, 0.5 * d * d, ad - 0.5)
    return smooth.sum() / (count + 1e-4)


def forward(heat_probs, arrays):
    """AELoss.forward (3.5) given the clamped probabilities per corner and stack."""
    S = len(heat_probs["tl"])
    mask = arrays["gt_mask"]
    focal = sum(focal_term(heat_probs[c], arrays[f"gt_{c}_heat"]) for c in CORNERS)
    pull = 0
    push = 0
    regr = 0
    for s in range(S):
        pl, ps = embedding_terms(arrays["tl_tag"][s], arrays["br_tag"][s], mask)
        pull = pull + pl
        push = push + ps
        for c in CORNERS:
            regr = regr + offset_term(arrays[f"{c}_regr"][s], arrays[f"gt_{c}_regr"], mask)
    total = (focal + WEIGHTS["pull"] * pull + WEIGHTS["push"] * push + WEIGHTS["regr"] * regr) / S
    return total, {"focal": float(focal), "pull": float(pull), "push": float(push), "regr": float(regr)}


def timed(fn, runs, warmups=2, prepare=None):
    walls, cpus = [], []
    out = None
    for i in range(warmups + runs):
        arg = prepare() if prepare else None
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(arg)
        w1, c1 = time.perf_counter(), time.process_time()
        if i >= warmups:
            walls.append((w1 - w0) * 1e3)
            cpus.append((c1 - c0) * 1e3)
    return out, walls, cpus


def summary(walls, cpus):
    return {
        "median": statistics.median(walls),
        "min": min(walls),
        "cpuMedian": statistics.median(cpus),
        "runs": len(walls),
    }


def first_load(folder):
    """The first np.load of every .npy file in this process, as a script that loads a batch once
    pays it: the arrays land in fresh memory (page faults included), unlike the repeated loads above,
    whose memory the allocator reuses."""
    paths = [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".npy")]
    w0 = time.perf_counter()
    arrays = [np.load(p) for p in paths]
    ms = (time.perf_counter() - w0) * 1e3
    print(json.dumps({"firstLoadMs": ms, "files": len(arrays)}))
    return 0


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    folder = argv[0]
    if "--first-load" in argv:
        return first_load(folder)
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 9
    load_runs = int(argv[argv.index("--load-runs") + 1]) if "--load-runs" in argv else runs
    torch.set_num_threads(1)

    files = sorted(f for f in os.listdir(folder) if f.endswith(".npy"))
    paths = [os.path.join(folder, f) for f in files]
    nbytes = sum(os.path.getsize(p) for p in paths)
    _, load_walls, load_cpus = timed(lambda _: [np.load(p) for p in paths], load_runs)

    arrays = {f[:-4]: torch.from_numpy(np.load(os.path.join(folder, f))) for f in files}
    heat = {c: arrays[f"{c}_heat"] for c in CORNERS}
    S = heat["tl"].shape[0]

    def fresh_logits():
        return {c: [heat[c][s].clone() for s in range(S)] for c in CORNERS}

    def run(logits):
        with torch.no_grad():
            probs = {c: [clamped_probabilities(x) for x in logits[c]] for c in CORNERS}
            return forward(probs, arrays)

    (total, terms), walls, cpus = timed(run, runs, prepare=fresh_logits)
    result = {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": torch.get_num_threads(),
        "files": len(files),
        "bytes": nbytes,
        "total": float(total),
        "unweighted": terms,
        "forwardMs": summary(walls, cpus),
        "npLoadMs": summary(load_walls, load_cpus),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
