#!/usr/bin/env python3
"""Where a training step's time goes: classifies the samples of a `perf` profile of
`siamese train` into the phases of a step, by the functions on each sample's stack.

    perf record -e cpu-clock -F 999 --call-graph dwarf,8192 -o perf.data \\
        target/release/siamese train configs/keras-parity.ron --epochs 3 --threads 2
    perf script -i perf.data -F tid,ip,sym > samples.txt
    python3 benches/perf_phases.py samples.txt 999 2541   # Hz, steps (847 per epoch)

`cpu-clock` because VMs often expose no hardware counters; 8 KB of stack per sample is
enough to reach the layer and tower methods (about 12 MB of perf data per second at
999 Hz with two threads). Prints each phase's share of the samples and its CPU
milliseconds per step (both threads together; the once-per-run loading and the
per-epoch validation spread over the steps).
"""
import collections
import sys

# First match wins, searching the whole stack: the forward pass inside validation is
# validation, not training.
PHASES = [
    ("load", ["Mnist::load", "PreparedData", "miniz_oxide", "IdxArray", "classic_pairs"]),
    ("validation + checkpoint", ["Training::score", "embed_with", "embedded_pair_distances",
                                 "score_pairs", "best_threshold", "write_checkpoint",
                                 "write_model", "write_metrics", "Training::finish"]),
    ("Adam + gradient sum", ["siamese_train::adam"]),
    ("loss", ["siamese_loss::"]),
    ("backward", ["Tower::backward", "Dense::backward"]),
    ("forward", ["Tower::forward", "Dense::forward"]),
    ("gather", ["gather_sparse", "Normalizer::gather", "siamese_train::batch::"]),
]
DENSE = ["gemm_f32", "gemm_common", "matrixmultiply", "siamese_gemm"]
SPARSE = ["sparse_times", "sparse_transpose", "CscScratch", "tile_bounds", "pack_strips",
          "CsrBatch"]


def below_layer(frames):
    """The frames from the leaf up to the nearest layer or tower method (exclusive)."""
    out = []
    for f in frames:
        if f.startswith(("siamese_nn::dense::Dense::", "siamese_nn::tower::Tower::")):
            break
        out.append(f)
    return out or frames[:1]


def classify(frames):
    own = below_layer(frames)
    for name, keys in PHASES:
        if any(k in f for f in frames for k in keys):
            if name in ("forward", "backward"):
                if any(k in f for f in own for k in DENSE):
                    return name + ": dense products"
                if any(k in f for f in own for k in SPARSE):
                    return name + ": sparse kernels, CSR/CSC builds"
                return name + ": other (ReLU, bias, live columns, copies)"
            return name
    if any(k in f for f in frames[:3] for k in DENSE):
        return "dense products, caller not unwound"
    return "scheduling, idle, kernel, other"


def main():
    path, hz, steps = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    counts = collections.Counter()
    frames = []

    def flush():
        if frames:
            counts[classify(frames)] += 1
        frames.clear()

    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            flush()
        elif line.startswith("\t"):
            parts = line.strip().split(" ", 1)
            if len(parts) == 2:
                frames.append(parts[1])
        else:
            flush()
    flush()
    total = sum(counts.values())
    print(f"samples {total}, cpu seconds {total / hz:.2f}, steps {steps}")
    for phase, n in counts.most_common():
        print(f"{phase:55s} {n:6d} {100 * n / total:6.2f}%  {1000 * n / hz / steps:7.3f} cpu-ms/step")


if __name__ == "__main__":
    main()
