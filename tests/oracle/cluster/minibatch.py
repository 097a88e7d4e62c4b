"""scikit-learn's MiniBatchKMeans on a generated fixture, for segflow's mini-batch k-means.

The fixture is generated from splitmix64 draws with plain IEEE additions and products, so
tests/tests/minibatch_oracle.rs rebuilds the same numbers bit for bit (checked by the recorded
sum) instead of reading them from a file. The clusters differ in spread and size (cluster c
holds a share sqrt((c+1)/K) - sqrt(c/K) of the rows, from 32 % down to 3 %).

Writes minibatch.json: per seed (16 of them) scikit-learn's inertia with batch_size 1024 and
its other defaults (n_init 3, max_no_improvement 10, reassignment_ratio 0.01). The test
asserts that segflow's median inertia over as many seeds is at most 1 % above scikit-learn's
(the median, because now and then a seed of either lands in a poor local minimum).

    python3 tests/oracle/cluster/minibatch.py
"""

import json
import math
import pathlib

import numpy as np
import sklearn
from sklearn.cluster import MiniBatchKMeans

HERE = pathlib.Path(__file__).parent
MASK = (1 << 64) - 1
N, D, K, BATCH = 40_000, 6, 10, 1024
SEEDS = list(range(16))


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / (1 << 53))


def fixture():
    g = SplitMix64(2026)
    centers = [[g.uniform() * 40.0 for _ in range(D)] for _ in range(K)]
    spreads = [0.5 + g.uniform() * 2.5 for _ in range(K)]
    rows = []
    for _ in range(N):
        u = g.uniform()
        c = math.floor(u * u * K)
        row = []
        for t in range(D):
            noise = g.uniform() + g.uniform() + g.uniform() + g.uniform() - 2.0
            row.append(centers[c][t] + spreads[c] * noise)
        rows.append(row)
    return np.array(rows)


X = fixture()
inertias = []
for seed in SEEDS:
    m = MiniBatchKMeans(n_clusters=K, batch_size=BATCH, random_state=seed).fit(X)
    inertias.append(m.inertia_)
    print("seed", seed, "inertia", m.inertia_, "steps", m.n_steps_)

(HERE / "minibatch.json").write_text(
    json.dumps(
        {
            "scikit_learn": sklearn.__version__,
            "numpy": np.__version__,
            "n": N,
            "d": D,
            "k": K,
            "batch_size": BATCH,
            "sum": math.fsum(X.ravel().tolist()),
            "first_row": X[0].tolist(),
            "seeds": SEEDS,
            "inertia": inertias,
        },
        indent=1,
    )
    + "\n"
)
