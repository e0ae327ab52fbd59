"""The standard tools beside `search-bench`: FAISS exact search and a PyTorch forward pass.

Run by `cargo xtask bench --search` after `search-bench` has written its results:

    python search_reference.py OUT_DIR TOWER DATA_DIR [THREADS] [REPEATS]

OUT_DIR holds `search-bench`'s embeddings.npy (float32 [70000, dim], the 60,000 training
images then the 10,000 test images), neighbors.npy and distances.npy (its k nearest training
rows of each test image). TOWER is the run's tower.safetensors (read here with NumPy: an
8-byte header length, a JSON header, raw little-endian tensors). DATA_DIR holds the MNIST
IDX files (gzipped or not).

Times, each once to warm up and then REPEATS times (default 5), on THREADS threads
(default 2):

- FAISS `IndexFlatL2`: `add` the 60,000 training embeddings (timed apart), then `search`
  the 10,000 test embeddings for the same k;
- PyTorch: the same tower (Linear 784→512, ReLU, Linear 512→256, ReLU, Linear 256→128,
  with the tower's weights) over all 70,000 images, in `torch.inference_mode()`, from the
  images already normalized as float32 (normalization is not timed; ours includes it).

And checks the results agree: PyTorch's embeddings against ours (max absolute difference),
FAISS's neighbour ids against ours, where a differing id must be a tie or near-tie (its
squared distance, recomputed in float64, within the single-precision rounding bound of the
one it displaced, see below), and FAISS's distances against ours.

Prints one JSON object on stdout.
"""

import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

THREADS = int(sys.argv[4]) if len(sys.argv) > 4 else 2
# Before importing torch and faiss: their OpenMP runtimes (and the OpenMP build of OpenBLAS
# inside faiss-cpu) size their pools when they load. `faiss.omp_set_num_threads` alone is
# not enough: without this variable FAISS's search took 4.2 s here instead of 1.2 s.
os.environ["OMP_NUM_THREADS"] = str(THREADS)

import faiss  # noqa: E402
import torch  # noqa: E402

DTYPES = {"F32": np.float32, "U32": np.uint32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    metadata = header.pop("__metadata__", {})
    body = raw[8 + header_len :]
    tensors = {}
    for name, t in header.items():
        start, end = t["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return tensors, metadata


def read_idx_images(data_dir, stem):
    for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            with opener(path, "rb") as f:
                raw = f.read()
            count, rows, cols = struct.unpack(">III", raw[4:16])
            return np.frombuffer(raw[16:], dtype=np.uint8).reshape(count, rows * cols)
    raise FileNotFoundError(f"{stem}[.gz] in {data_dir}")


def timed(fn, repeats):
    fn()  # warm-up
    seconds = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def main():
    out_dir, tower_path, data_dir = sys.argv[1:4]
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(1)
    faiss.omp_set_num_threads(THREADS)

    ours = np.load(os.path.join(out_dir, "embeddings.npy"))
    our_ids = np.load(os.path.join(out_dir, "neighbors.npy")).astype(np.int64)
    n_test, k = our_ids.shape
    n_train = ours.shape[0] - n_test
    xb = np.ascontiguousarray(ours[:n_train])
    xq = np.ascontiguousarray(ours[n_train:])

    # FAISS exact L2 search of the same embeddings.
    start = time.perf_counter()
    index = faiss.IndexFlatL2(xb.shape[1])
    index.add(xb)
    add_seconds = time.perf_counter() - start
    search_seconds, (d2, faiss_ids) = timed(lambda: index.search(xq, k), repeats)

    # Where the ids differ, the two rows must be a near-tie: their squared distances
    # (recomputed in float64) within what the single-precision expansion
    # ||q||^2 + ||x||^2 - 2 q.x can get wrong. Its rounding error is bounded by about
    # (dim + 3) u (||q||^2 + ||x||^2), u = 2^-24, for each of the two computations; on these
    # clustered embeddings (neighbours at d^2 ~ 1e-5, norms ~ 0.7) that is larger than the
    # gaps between neighbours, so FAISS and we may each order them differently.
    differ = faiss_ids != our_ids
    rows, cols = np.nonzero(differ)
    q = xq[rows].astype(np.float64)
    x_ours = xb[our_ids[rows, cols]].astype(np.float64)
    x_faiss = xb[faiss_ids[rows, cols]].astype(np.float64)
    d2_ours = ((q - x_ours) ** 2).sum(1)
    d2_faiss = ((q - x_faiss) ** 2).sum(1)
    q2 = (q**2).sum(1)
    scale = q2 + np.maximum((x_ours**2).sum(1), (x_faiss**2).sum(1))
    gap = np.abs(d2_ours - d2_faiss) / np.maximum(scale, 1e-30)
    tolerance = 2 * (xb.shape[1] + 3) * 2.0**-24
    unexplained = int((gap > tolerance).sum())
    our_distances = np.load(os.path.join(out_dir, "distances.npy"))
    distance_gap = float(np.abs(np.sqrt(np.maximum(d2, 0)) - our_distances).max())

    # PyTorch forward pass of the same tower over all 70,000 images.
    weights, metadata = read_safetensors(tower_path)
    spec = json.loads(metadata["siamese.tower_spec"])
    norm = json.loads(metadata["siamese.normalizer"])
    widths = [spec["input"], *spec["hidden"], spec["embedding"]]
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        linear = torch.nn.Linear(a, b)
        with torch.no_grad():
            # Ours stores kernels as [in, out]; torch's Linear holds [out, in].
            linear.weight.copy_(torch.from_numpy(weights[f"dense_{i}.kernel"].T.copy()))
            linear.bias.copy_(torch.from_numpy(weights[f"dense_{i}.bias"].copy()))
        layers.append(linear)
        if i < len(widths) - 2 or spec["final_activation"]:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).eval()
    pixels = np.concatenate(
        [read_idx_images(data_dir, "train-images-idx3-ubyte"), read_idx_images(data_dir, "t10k-images-idx3-ubyte")]
    )
    x = torch.from_numpy((pixels.astype(np.float64) * norm["scale"] + norm["offset"]).astype(np.float32))

    def forward():
        with torch.inference_mode():
            return net(x)

    forward_seconds, theirs = timed(forward, repeats)
    theirs = theirs.numpy()
    embedding_gap = float(np.abs(theirs - ours).max())
    embedding_scale = float(np.abs(ours).max())

    print(
        json.dumps(
            {
                "threads": THREADS,
                "repeats": repeats,
                "versions": {"faiss": faiss.__version__, "torch": torch.__version__, "numpy": np.__version__},
                "faiss_add_seconds": add_seconds,
                "faiss_search_seconds": search_seconds,
                "faiss_search_median": statistics.median(search_seconds),
                "torch_forward_seconds": forward_seconds,
                "torch_forward_median": statistics.median(forward_seconds),
                "neighbors": {
                    "queries": int(n_test),
                    "k": int(k),
                    "differing_ids": int(differ.sum()),
                    "queries_with_differing_ids": int(differ.any(axis=1).sum()),
                    "unexplained_by_ties": unexplained,
                    "max_gap_over_norms": float(gap.max()) if gap.size else 0.0,
                    "tolerance_over_norms": tolerance,
                    "max_abs_distance_difference": distance_gap,
                },
                "embeddings": {"max_abs_difference": embedding_gap, "max_abs_value": embedding_scale},
            }
        )
    )


if __name__ == "__main__":
    main()
