"""Independent numpy computation of `segflow assign --explain` on a fixed matrix.

Generates a matrix (40 rows × 6 columns) and 4 centroids from a seeded numpy generator,
assigns each row to its nearest centroid, finds the runner-up (the nearest other centroid),
and splits the squared-distance margin d²(runner-up) − d²(own) into one term per column,
(x_j − r_j)² − (x_j − o_j)², summed per feature: columns 1 and 2 form one feature (as the
columns of a one-hot encoded feature do). Writes into explain/:

- matrix.csv     the rows (c0 … c5)
- centroids.csv  the centroids (c0 … c5)
- groups.csv     per column, its feature (0 … 4)
- expected.csv   per row: own, runner_up, margin, the contribution of each feature
                 (f0 … f4) and the three features pulling hardest (top1 … top3, by decreasing
                 contribution, ties by feature order)

and the versions used into explain.versions.

    python3 tests/oracle/explain.py
"""

import pathlib
import sys

import numpy as np
import pandas as pd

HERE = pathlib.Path(__file__).parent
OUT = HERE / "explain"

rng = np.random.default_rng(20261127)
x = rng.normal(size=(40, 6)) * np.array([1.0, 0.5, 0.5, 2.0, 1.0, 3.0])
centroids = rng.normal(size=(4, 6)) * 1.5
groups = np.array([0, 1, 1, 2, 3, 4])
n_features = groups.max() + 1

d2 = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
own = d2.argmin(axis=1)
masked = d2.copy()
masked[np.arange(len(x)), own] = np.inf
runner_up = masked.argmin(axis=1)
margin = d2[np.arange(len(x)), runner_up] - d2[np.arange(len(x)), own]

per_column = (x - centroids[runner_up]) ** 2 - (x - centroids[own]) ** 2
contributions = np.zeros((len(x), n_features))
for j, g in enumerate(groups):
    contributions[:, g] += per_column[:, j]
# Stable sort on the negated contributions: ties keep feature order.
top = np.argsort(-contributions, axis=1, kind="stable")[:, :3]

OUT.mkdir(exist_ok=True)
columns = [f"c{j}" for j in range(x.shape[1])]
pd.DataFrame(x, columns=columns).to_csv(OUT / "matrix.csv", index=False, float_format="%.17g")
pd.DataFrame(centroids, columns=columns).to_csv(
    OUT / "centroids.csv", index=False, float_format="%.17g"
)
pd.DataFrame({"feature": groups}).to_csv(OUT / "groups.csv", index=False)
expected = pd.DataFrame({"own": own, "runner_up": runner_up, "margin": margin})
for f in range(n_features):
    expected[f"f{f}"] = contributions[:, f]
for t in range(3):
    expected[f"top{t + 1}"] = top[:, t]
expected.to_csv(OUT / "expected.csv", index=False, float_format="%.17g")
(HERE / "explain.versions").write_text(
    f"python {sys.version.split()[0]}\nnumpy {np.__version__}\npandas {pd.__version__}\n"
)
