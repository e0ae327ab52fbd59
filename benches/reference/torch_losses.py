"""PyTorch + pytorch-metric-learning reference of configs/base.ron's in-batch objectives.

For `cargo xtask bench --losses --reference`: the recipe of configs/base.ron with one
objective, in the style and timing conventions of `../shared/reference/torch_siamese.py`:

- data: MNIST from the IDX files through the shared reference's `common.py` (read-only;
  `SIAMESE_REFERENCE_DIR`, default `../../../shared/reference` from this file), pixels / 255,
  the last 5,000 training images held out as base.ron's `Holdout(count: 5000, from: Last)`
  does, so 55,000 training images;
- batches: class-balanced, 10 classes x 25 images = 250, 220 per epoch (55,000 / 250, as our
  `ClassBalancedSampler::default_batches`), each class's images drawn from a shuffled cycle;
- tower 784 -> 512 -> 256 -> 128 (ReLU between, linear embedding), Glorot-uniform weights,
  zero biases, embeddings scaled to unit length (`F.normalize`) before the loss;
- Adam(lr 2e-3, betas (0.9, 0.999), eps 1e-7), the learning rate set every step by base.ron's
  cosine schedule (linear warm-up over the first epoch, cosine decay to 0 at the end);
- torch.set_num_threads(2), set_num_interop_threads(1), eager mode.

Environment:

    LOSS=supcon              losses.SupConLoss(temperature=0.1)
         multi-similarity    losses.MultiSimilarityLoss(alpha=2, beta=50, base=0.5)
                             + miners.MultiSimilarityMiner(epsilon=0.1)
         triplet-batch-hard  losses.TripletMarginLoss(margin=0.2, reducer=MeanReducer())
                             + miners.BatchHardMiner()  (our BatchHard exactly)
         triplet-hard        losses.TripletMarginLoss(margin=0.2)
                             + miners.TripletMarginMiner(margin=0.2, type_of_triplets="hard")
                             (every triplet whose negative is closer than its positive; not
                             batch-hard, for comparison only)
         triplet-semihard    losses.TripletMarginLoss(margin=0.2)
                             + miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
         triplet-all         losses.TripletMarginLoss(margin=0.2) on every triplet (our
                             BatchAll exactly: AvgNonZeroReducer, no miner needed)
         all-pairs           losses.ContrastiveLoss(pos_margin=0, neg_margin=1.4,
                             reducer=MeanReducer())  (unsquared terms: ours squares them)
    AUGMENT=1                a random affine of every image of each batch, batched
                             (affine_grid + grid_sample: shift +-2 px, rotation +-10 degrees,
                             scale 0.9-1.1, bilinear, zeros outside), as base.ron's augment
    EPOCHS=2                 epochs (read by common.py; default 5)
    THREADS=2                torch threads
    MNIST_DIR                the IDX directory (read by common.py)

Prints one line per epoch, `epoch N: time S.SSSs  train_loss ...  test_pair_acc ...%
images/s ...` (the format the xtask parses). Time is the epoch's training steps only (batch
drawing, gather, augmentation, forward, loss, backward, Adam); test pair accuracy is measured
after it, untimed: the Keras-style test pairs of common.create_pairs (17,820 from the 10,000
test images), predicted similar when the distance between unit embeddings is below 0.8
(base.ron's `loss.threshold`), as our summary.json's `test_accuracy`.

Run: LOSS=supcon EPOCHS=2 $TORCH_VENV/bin/python benches/reference/torch_losses.py
"""
import math
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("SIAMESE_REFERENCE_DIR")
                or os.path.join(_HERE, "..", "..", "..", "shared", "reference"))

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from pytorch_metric_learning import losses, miners, reducers  # noqa: E402

from common import EPOCHS, SEED, create_pairs, load_mnist, peak_rss_mb  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
torch.set_num_interop_threads(1)

LOSS = os.environ.get("LOSS", "supcon")
AUGMENT = os.environ.get("AUGMENT", "0") == "1"
HOLDOUT = 5000          # base.ron: validation Holdout(count: 5000, from: Last)
CLASSES, PER_CLASS = 10, 25
BATCH = CLASSES * PER_CLASS
LR, EPS = 2e-3, 1e-7
WARMUP_EPOCHS = 1.0     # base.ron: Cosine(warmup_epochs: 1.0, final_fraction: 0.0)
MARGIN = 1.4            # base.ron: loss.margin (AllPairs)
THRESHOLD = 0.8         # base.ron: loss.threshold
MAX_SHIFT, MAX_DEGREES, SCALE = 2.0, 10.0, (0.9, 1.1)


def objective():
    """(loss, miner or None) for LOSS."""
    if LOSS == "supcon":
        return losses.SupConLoss(temperature=0.1), None
    if LOSS == "multi-similarity":
        return (losses.MultiSimilarityLoss(alpha=2, beta=50, base=0.5),
                miners.MultiSimilarityMiner(epsilon=0.1))
    if LOSS == "triplet-batch-hard":
        return (losses.TripletMarginLoss(margin=0.2, reducer=reducers.MeanReducer()),
                miners.BatchHardMiner())
    if LOSS in ("triplet-hard", "triplet-semihard"):
        kind = LOSS.split("-")[1]
        return (losses.TripletMarginLoss(margin=0.2),
                miners.TripletMarginMiner(margin=0.2, type_of_triplets=kind))
    if LOSS == "triplet-all":
        return losses.TripletMarginLoss(margin=0.2), None
    if LOSS == "all-pairs":
        return (losses.ContrastiveLoss(pos_margin=0, neg_margin=MARGIN,
                                       reducer=reducers.MeanReducer()), None)
    sys.exit(f"unknown LOSS={LOSS!r}")


def build(seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                        nn.Linear(256, 128))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def embed(net, x):
    return F.normalize(net(x), dim=1)


class Sampler:
    """Class-balanced batches: every batch takes 25 images of each of the 10 classes, from
    per-class cycles reshuffled when used up (so an epoch sees about every image once)."""

    def __init__(self, labels, rng):
        self.rng = rng
        self.members = [np.flatnonzero(labels == c) for c in range(CLASSES)]
        self.cursors = [len(m) for m in self.members]

    def take(self, c):
        m = self.members[c]
        if self.cursors[c] + PER_CLASS > len(m):
            self.rng.shuffle(m)
            self.cursors[c] = 0
        out = m[self.cursors[c]:self.cursors[c] + PER_CLASS]
        self.cursors[c] += PER_CLASS
        return out

    def batch(self):
        classes = self.rng.permutation(CLASSES)
        return torch.from_numpy(np.concatenate([self.take(c) for c in classes]))


def augment(x, gen):
    """A random affine of each image (rows of 784 pixels) in one batched resample."""
    n = x.shape[0]
    u = torch.rand(n, 4, generator=gen) * 2 - 1
    angle = u[:, 0] * math.radians(MAX_DEGREES)
    scale = SCALE[0] + (u[:, 1] + 1) / 2 * (SCALE[1] - SCALE[0])
    # affine_grid maps output to input coordinates in [-1, 1]: one pixel is 2 / 28.
    shift = u[:, 2:] * MAX_SHIFT * 2 / 28
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    images = x.view(n, 1, 28, 28)
    grid = F.affine_grid(theta, images.shape, align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).view(n, 784)


def lr_factor(step, total, per_epoch):
    """base.ron's Cosine(warmup_epochs: 1.0, final_fraction: 0.0), as LrSchedule::factor."""
    warmup = round(WARMUP_EPOCHS * per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def pair_accuracy(net, x, pairs, bs=4096):
    a, b, y = (torch.from_numpy(t) for t in pairs)
    correct = 0
    for i in range(0, len(a), bs):
        d = (embed(net, x[a[i:i + bs]]) - embed(net, x[b[i:i + bs]])).norm(dim=1)
        correct += int(((d < THRESHOLD).float() == y[i:i + bs]).sum())
    return correct / len(a)


def main():
    xtr_np, ytr_np, xte_np, yte_np = load_mnist()
    xtr = torch.from_numpy(xtr_np[:-HOLDOUT])
    ytr_np = ytr_np[:-HOLDOUT]
    ytr = torch.from_numpy(ytr_np)
    xte = torch.from_numpy(xte_np)
    test_pairs = create_pairs(yte_np, np.random.default_rng(SEED))
    per_epoch = len(xtr) // BATCH
    total = per_epoch * EPOCHS
    sampler = Sampler(ytr_np, np.random.default_rng(SEED + 1))
    gen = torch.Generator().manual_seed(SEED + 2)
    loss_fn, miner = objective()
    net = build(SEED)
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999), eps=EPS)
    print(f"torch_losses: LOSS={LOSS} AUGMENT={int(AUGMENT)} {per_epoch} batches of "
          f"{CLASSES}x{PER_CLASS} per epoch, {len(xtr)} training images", flush=True)
    print(f"images_per_epoch {per_epoch * BATCH}", flush=True)
    step = 0
    for ep in range(EPOCHS):
        net.train()
        t0 = time.perf_counter()
        tot = torch.zeros(())
        for _ in range(per_epoch):
            for group in opt.param_groups:
                group["lr"] = LR * lr_factor(step, total, per_epoch)
            idx = sampler.batch()
            x, y = xtr[idx], ytr[idx]
            if AUGMENT:
                x = augment(x, gen)
            e = embed(net, x)
            loss = loss_fn(e, y, miner(e, y)) if miner is not None else loss_fn(e, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.detach()
            step += 1
        seconds = time.perf_counter() - t0
        acc = pair_accuracy(net, xte, test_pairs)
        print(f"epoch {ep + 1}: time {seconds:.3f}s  train_loss {float(tot) / per_epoch:.5f}  "
              f"test_pair_acc {acc * 100:.2f}%  images/s {per_epoch * BATCH / seconds:.0f}",
              flush=True)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"peak_rss_self_MB {peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
