"""scikit-learn's KMeans, seed by seed, for segflow's `seed: S` = `random_state=S` promise.

Writes kmeans_random_state.json beside this file with scikit-learn's labels and inertia on:

- every k-means case of fixtures.json (make_fixtures.py), for random_state 0..19;
- the Walsoft model matrix (tests/oracle/walsoft_matrix.csv) for K = 2..12 with
  random_state=42, n_init=50 (select_k and fit);
- the seed-stability refits at the pipeline's K = 4: random_state 0..49, n_init=50, with the
  ARI of each against the random_state=42 fit (robustness);
- one RandomState(7) passed to five KMeans(n_init=1) fits in turn on the overlapping
  fixture, as GaussianMixture(random_state=7, n_init=5) initialises its five runs;
- the four drop-one-block refits: the preprocessing rebuilt without each model block (every
  step of it works column by column, so that is the matrix without the block's columns),
  K = 4, random_state=42, n_init=50, with the ARI against the full matrix's fit.

Labels are written as strings of base-36 digits, one per row. Run from the repository root
after the fixtures and the Walsoft matrix oracle:

    python3 tests/oracle/cluster/kmeans_random_state.py
"""

import os

# One thread: scikit-learn's Lloyd sums per-thread partial centres in completion order.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import json
import pathlib

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

HERE = pathlib.Path(__file__).parent
OUT = HERE / "kmeans_random_state.json"
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
BLOCKS = {
    "volume": ["n_calls", "n_days_active", "calls_per_active_day", "calls_per_tenure_day",
               "log_n_calls"],
    "duration": ["total_dur_sec", "mean_dur_sec", "median_dur_sec", "p90_dur_sec",
                 "log_total_dur", "log_median_dur", "long_call_share"],
    "recency": ["recency_days", "tenure_days"],
    "timing": ["share_business_hours", "share_evening", "share_early_morning",
               "share_late_night", "share_open_day", "share_closed_day"],
}
WALSOFT_K = 4


def fit(X, k, n_init, seed):
    return KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=300, tol=1e-4,
                  random_state=seed, algorithm="lloyd").fit(X)


def run(km):
    return {"labels": "".join(DIGITS[l] for l in km.labels_), "inertia": float(km.inertia_),
            "n_iter": int(km.n_iter_)}


fixtures = json.loads((HERE / "fixtures.json").read_text())
cases = []
for case in fixtures["kmeans"]:
    X = np.asarray(case["X"], dtype=np.float64)
    cases.append({"name": case["name"], "k": case["k"], "n_init": case["n_init"],
                  "by_seed": [run(fit(X, case["k"], case["n_init"], s)) for s in range(20)]})

overlapping = next(c for c in fixtures["kmeans"] if c["name"] == "overlapping_n500_d6_k4")
shared = np.random.RandomState(7)
chained = [run(KMeans(n_clusters=4, n_init=1, random_state=shared).fit(np.asarray(overlapping["X"])))
           for _ in range(5)]

matrix = pd.read_csv(HERE.parent / "walsoft_matrix.csv", index_col="contact_id")
X = matrix.to_numpy(dtype=np.float64)
# The exact doubles the file holds, as Rust's parser reads them (pandas' default parser is
# not round-trip exact in every version).
exact = np.array([[float(v) for v in line.split(",")[1:]]
                  for line in (HERE.parent / "walsoft_matrix.csv").read_text().splitlines()[1:]])
assert (X == exact).all(), "pandas read the matrix inexactly"
sweep = [dict(k=k, **run(fit(X, k, 50, 42))) for k in range(2, 13)]
base = fit(X, WALSOFT_K, 50, 42)
seeds = []
for s in range(50):
    km = fit(X, WALSOFT_K, 50, s)
    seeds.append(dict(seed=s, ari=float(adjusted_rand_score(base.labels_, km.labels_)), **run(km)))
blocks = []
for block, cols in BLOCKS.items():
    kept = [c for c in matrix.columns if c not in cols]
    km = fit(matrix[kept].to_numpy(dtype=np.float64), WALSOFT_K, 50, 42)
    blocks.append(dict(block=block, ari=float(adjusted_rand_score(base.labels_, km.labels_)),
                       **run(km)))

doc = {
    "versions": {"numpy": np.__version__, "sklearn": sklearn.__version__},
    "fixtures": cases,
    "one_state_five_fits": {"name": overlapping["name"], "k": 4, "seed": 7, "fits": chained},
    "walsoft": {"k_sweep": sweep, "k": WALSOFT_K, "seeds": seeds, "blocks": blocks},
}
OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
print("K sweep:", [(r["k"], round(r["inertia"], 4)) for r in sweep])
print("blocks:", [(b["block"], round(b["ari"], 6)) for b in blocks])
print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
