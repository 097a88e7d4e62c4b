"""scikit-learn's KMeans on data larger than one chunk of segflow's passes (4096 rows), where
segflow runs its restarts in lockstep, sharing each pass over the rows.

The data are drawn from numpy's RandomState(11), which segflow reproduces bit for bit, so
the test rebuilds the same matrix without a data file: 12,000 rows × 3 columns,
X[i, t] = random_sample + 0.7 · ((i mod 5) · (t + 1) mod 3), five overlapping unit cubes.
Writes kmeans_lockstep.json beside this file with scikit-learn's labels (base-36 digits, one
per row), inertia and iteration count for each (k, n_init, random_state) fitted. Run from the
repository root:

    python3 tests/oracle/cluster/kmeans_lockstep.py
"""

import os

# One thread: scikit-learn's Lloyd sums per-thread partial centres in completion order.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import json
import pathlib

import numpy as np
import sklearn
from sklearn.cluster import KMeans

HERE = pathlib.Path(__file__).parent
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
N, D = 12_000, 3
# (k, n_init, random_state): k = 21 takes 5 candidates per k-means++ step.
FITS = [(3, 10, 0), (5, 10, 0), (5, 10, 1), (5, 10, 2), (21, 3, 0)]


def matrix():
    u = np.random.RandomState(11).random_sample((N, D))
    blob = np.arange(N) % 5
    return u + 0.7 * ((blob[:, None] * (np.arange(D)[None, :] + 1)) % 3)


def main():
    x = matrix()
    fits = []
    for k, n_init, seed in FITS:
        km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=300, tol=1e-4,
                    random_state=seed, algorithm="lloyd").fit(x)
        fits.append({"k": k, "n_init": n_init, "seed": seed,
                     "labels": "".join(DIGITS[l] for l in km.labels_),
                     "inertia": float(km.inertia_), "n_iter": int(km.n_iter_)})
    out = {"sklearn": sklearn.__version__, "numpy": np.__version__, "n": N, "d": D,
           "fits": fits}
    (HERE / "kmeans_lockstep.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
