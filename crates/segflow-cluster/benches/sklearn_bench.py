"""scikit-learn side of segflow's clustering benchmark (`just bench`).

Reads the .npy files the Rust bench wrote into DATA_DIR, times the same tasks with
scikit-learn and prints one JSON object (seconds and the values computed) on stdout.

    python3 crates/segflow-cluster/benches/sklearn_bench.py DATA_DIR
"""

import json
import sys
import time

import numpy as np
import sklearn
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

data = sys.argv[1]
load = lambda name: np.load(f"{data}/{name}.npy")
x6, l6 = load("blobs_1000000"), load("labels_1000000")
x5 = load("blobs_100000")
x4, l4 = load("blobs_10000"), load("labels_10000")
xw = load("blobs_100000x20")


def best_of(repeats, fn):
    """Lowest wall time over `repeats` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def kmeans(x, k, n_init=10):
    return KMeans(n_clusters=k, n_init=n_init, max_iter=300, tol=1e-4, random_state=0, algorithm="lloyd").fit(x)


out = {"versions": {"python": sys.version.split()[0], "numpy": np.__version__, "sklearn": sklearn.__version__}}

t, km = best_of(1, lambda: kmeans(x6, 5))
out["kmeans_1e6"] = {"seconds": t, "inertia": float(km.inertia_), "n_iter": int(km.n_iter_)}

t, mb = best_of(3, lambda: MiniBatchKMeans(n_clusters=5, batch_size=1024, n_init=3, random_state=0).fit(x6))
out["minibatch_1e6"] = {"seconds": t, "inertia": float(mb.inertia_)}

t, fits = best_of(1, lambda: [kmeans(x5, k) for k in range(2, 11)])
out["ksweep_1e5"] = {"seconds": t, "inertia": [float(f.inertia_) for f in fits]}

for k in (8, 12):
    t, km = best_of(1, lambda: kmeans(xw, k, n_init=50))
    out[f"kmeans_1e5x20_k{k}"] = {"seconds": t, "inertia": float(km.inertia_), "n_iter": int(km.n_iter_)}

t, s = best_of(5, lambda: silhouette_score(x4, l4))
out["silhouette_1e4"] = {"seconds": t, "value": float(s)}

t, v = best_of(3, lambda: davies_bouldin_score(x6, l6))
out["davies_bouldin_1e6"] = {"seconds": t, "value": float(v)}

t, v = best_of(3, lambda: calinski_harabasz_score(x6, l6))
out["calinski_harabasz_1e6"] = {"seconds": t, "value": float(v)}

print(json.dumps(out))
