"""`just bench-minibatch`: segflow's mini-batch k-means beside scikit-learn's MiniBatchKMeans
on the same generated data (10⁶ and 10⁷ rows × 20 features), the same batch size and seed,
each fit in its own process: fit time, inertia and peak resident memory (VmHWM, which
includes the loaded matrix: 160 MB at 10⁶ rows, 1.6 GB at 10⁷).

The data: 8 Gaussian blobs of unequal sizes (30 % down to 3 %) and spreads, centres drawn
from N(0, 3²) per coordinate, written as .npy in a temporary directory.

    python3 crates/segflow-cluster/benches/minibatch_bench.py SEGFLOW_EXAMPLE [--sizes 1e6,1e7]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

D, K, BATCH, SEED = 20, 8, 1024, 0
SHARES = np.array([0.30, 0.22, 0.15, 0.12, 0.08, 0.07, 0.03, 0.03])


def generate(n, path):
    rng = np.random.default_rng(7)
    centers = rng.normal(0.0, 3.0, size=(K, D))
    spreads = rng.uniform(0.6, 1.6, size=K)
    labels = rng.choice(K, size=n, p=SHARES)
    x = rng.normal(size=(n, D))
    x *= spreads[labels, None]
    x += centers[labels]
    np.save(path, x)


def peak_rss_kib():
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def sklearn_fit(path):
    from sklearn.cluster import MiniBatchKMeans

    x = np.load(path)
    # The first fit in a process spends seconds inspecting thread pools; not part of the fit.
    MiniBatchKMeans(n_clusters=K, batch_size=BATCH, random_state=SEED).fit(x[:10 * BATCH])
    start = time.perf_counter()
    m = MiniBatchKMeans(n_clusters=K, batch_size=BATCH, random_state=SEED).fit(x)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "inertia": m.inertia_, "batches": m.n_steps_,
                      "peak_rss_kib": peak_rss_kib()}))


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--sklearn":
        sklearn_fit(sys.argv[2])
        return
    p = argparse.ArgumentParser()
    p.add_argument("segflow_example")
    p.add_argument("--sizes", default="1e6,1e7")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(float(s)) for s in args.sizes.split(",")]:
            path = str(pathlib.Path(tmp) / f"x_{n}.npy")
            generate(n, path)
            ours = run([args.segflow_example, path, str(K), str(BATCH), str(SEED)])
            theirs = run([sys.executable, __file__, "--sklearn", path])
            pathlib.Path(path).unlink()
            rows.append((n, ours, theirs))
            print(f"n={n}: segflow {ours}  scikit-learn {theirs}", file=sys.stderr)
    print(f"| rows × 20 features | segflow fit s | scikit-learn fit s | segflow peak RSS MiB "
          f"| scikit-learn peak RSS MiB | segflow inertia / scikit-learn's | batches (segflow, scikit-learn) |")
    print("|---|---|---|---|---|---|---|")
    for n, o, t in rows:
        print(f"| {n:,} | {o['seconds']:.2f} | {t['seconds']:.2f} | {o['peak_rss_kib'] / 1024:.0f} "
              f"| {t['peak_rss_kib'] / 1024:.0f} | {o['inertia'] / t['inertia']:.4f} "
              f"| {o['batches']}, {t['batches']} |")


if __name__ == "__main__":
    main()
