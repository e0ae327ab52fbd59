"""The JAX reference (`jax_siamese.py`, `JAX_SCAN=1`) with the tower and batch from the environment.

For `cargo xtask bench --sweep --reference`: the same data, pairs, epoch permutations,
Glorot-uniform init, contrastive loss and optax Adam as `../shared/reference/jax_siamese.py`,
with the whole epoch in one jitted `lax.scan` (full batches, then one tail step), but

    HIDDEN="1024,512"   hidden widths (default "512,256"; the embedding stays 128)
    BATCH=512           pairs per step (default 128)
    EPOCHS=2            epochs (default 5, read by common.py)

The data loading and pair making are imported from the shared reference's `common.py`
(`SIAMESE_REFERENCE_DIR`, default `../../../shared/reference` from this file), which stays
read-only. Prints one line per epoch, `epoch N: time S.SSSs ...` (the format the xtask parses),
then the dense-equivalent GFLOP per epoch of the swept shape.

Run: EPOCHS=2 HIDDEN=2048,1024 BATCH=512 $JAX_VENV/bin/python benches/reference/jax_sweep.py
"""
import os
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2")
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("SIAMESE_REFERENCE_DIR")
                or os.path.join(_HERE, "..", "..", "..", "shared", "reference"))

import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from common import EPOCHS, LR, MARGIN, SEED, THRESH, epoch_perms, make_data, peak_rss_mb  # noqa: E402

HIDDEN = [int(w) for w in os.environ.get("HIDDEN", "512,256").split(",")]
BATCH = int(os.environ.get("BATCH", "128"))
EMBEDDING = 128
WIDTHS = [784] + HIDDEN + [EMBEDDING]


def init_params(seed):
    rng = np.random.default_rng(seed)

    def glorot(i, o):
        lim = np.sqrt(6.0 / (i + o))
        return jnp.asarray(rng.uniform(-lim, lim, size=(i, o)).astype(np.float32))

    return [(glorot(i, o), jnp.zeros(o)) for i, o in zip(WIDTHS[:-1], WIDTHS[1:])]


def tower(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def distance(params, xa, xb):
    n = xa.shape[0]
    e = tower(params, jnp.concatenate([xa, xb]))
    s = jnp.sum((e[:n] - e[n:]) ** 2, axis=1)
    return jnp.sqrt(jnp.maximum(s, 1e-7))


def loss_fn(params, xa, xb, y):
    d = distance(params, xa, xb)
    return jnp.mean(y * d ** 2 + (1 - y) * jnp.maximum(MARGIN - d, 0) ** 2)


opt = optax.adam(LR, eps=1e-7)


def _step(params, opt_state, X, a, b, y, idx):
    xa, xb, yy = jnp.take(X, a[idx], axis=0), jnp.take(X, b[idx], axis=0), y[idx]
    loss, grads = jax.value_and_grad(loss_fn)(params, xa, xb, yy)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


train_step = jax.jit(_step, donate_argnums=(0, 1))


@jax.jit
def train_scan(params, opt_state, X, a, b, y, idx_mat):
    def body(carry, idx):
        p, s = carry
        p, s, l = _step(p, s, X, a, b, y, idx)
        return (p, s), l

    (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), idx_mat)
    return params, opt_state, losses


@jax.jit
def eval_dist(params, xa, xb):
    return distance(params, xa, xb)


def evaluate(params, X, te, bs=2048):
    a, b, y = te
    n = len(a)
    npad = (-n) % bs
    pa, pb = np.concatenate([a, a[:npad]]), np.concatenate([b, b[:npad]])
    d = np.concatenate([np.asarray(eval_dist(params, X[pa[i:i + bs]], X[pb[i:i + bs]]))
                        for i in range(0, n + npad, bs)])[:n]
    return float(np.mean((d < THRESH).astype(np.float32) == y))


def gflop_per_epoch(n_pairs):
    """Matrix products of one epoch counted densely, as common.flops_per_epoch counts them."""
    rows = 2 * n_pairs
    layers = list(zip(WIDTHS[:-1], WIDTHS[1:]))
    fwd = sum(2 * rows * i * o for i, o in layers)
    bwd_dx = sum(2 * rows * i * o for i, o in layers[1:])
    return (2 * fwd + bwd_dx) / 1e9


def main():
    xtr_np, xte_np, tr, te = make_data()
    X = jnp.asarray(xtr_np)
    XT = jnp.asarray(xte_np)
    a, b, y = (jnp.asarray(t) for t in tr)
    n_pairs = len(tr[0])
    perms = epoch_perms(n_pairs)
    params = init_params(SEED)
    opt_state = opt.init(params)
    nfull = n_pairs // BATCH
    print(f"jax_sweep: tower {WIDTHS}, batch {BATCH}, {n_pairs} pairs, {EPOCHS} epochs, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS')}", flush=True)
    times = []
    for ep in range(EPOCHS):
        perm = perms[ep]
        t0 = time.perf_counter()
        idx_mat = jnp.asarray(perm[: nfull * BATCH].reshape(nfull, BATCH))
        params, opt_state, ls = train_scan(params, opt_state, X, a, b, y, idx_mat)
        tot, nb = jnp.sum(ls), nfull
        if nfull * BATCH < n_pairs:
            params, opt_state, lt = train_step(params, opt_state, X, a, b, y,
                                               jnp.asarray(perm[nfull * BATCH:]))
            tot, nb = tot + lt, nb + 1
        tot = float(jax.block_until_ready(tot))
        times.append(time.perf_counter() - t0)
        acc = evaluate(params, XT, te)
        print(f"epoch {ep + 1}: time {times[-1]:.3f}s  train_loss {tot / nb:.5f}  "
              f"test_pair_acc {acc * 100:.2f}%", flush=True)
    print(f"gflop_per_epoch {gflop_per_epoch(n_pairs):.2f}")
    print(f"peak_rss_self_MB {peak_rss_mb():.0f}  jax {jax.__version__}  optax {optax.__version__}")


if __name__ == "__main__":
    main()
