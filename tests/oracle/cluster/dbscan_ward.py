"""scikit-learn's DBSCAN and Ward agglomeration on fixed data, for segflow-cluster's own.

Writes dbscan_ward.json: each case's data, parameters and scikit-learn's labels, which
tests/tests/cluster_oracle.rs compares with segflow's (DBSCAN label for label, noise = -1;
Ward as a partition).

    python3 tests/oracle/cluster/dbscan_ward.py
"""

import json
import pathlib

import numpy as np
import sklearn
from sklearn.cluster import DBSCAN, AgglomerativeClustering
from sklearn.datasets import make_blobs, make_moons
from sklearn.preprocessing import StandardScaler

HERE = pathlib.Path(__file__).parent
rng = np.random.default_rng(11)

blobs, _ = make_blobs(n_samples=600, centers=4, n_features=5, cluster_std=1.3, random_state=3)
# Sparse background points: DBSCAN must call most of them noise.
noisy = np.vstack([blobs, rng.uniform(-15, 15, size=(40, 5))])
moons, _ = make_moons(n_samples=400, noise=0.08, random_state=5)
scaled = StandardScaler().fit_transform(noisy)

cases = []
for name, X, eps, min_samples in [
    ("blobs_noise", noisy, 2.2, 5),
    ("blobs_scaled", scaled, 0.35, 8),
    ("moons", moons, 0.15, 5),
]:
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit(X).labels_
    cases.append({"algorithm": "dbscan", "name": name, "eps": eps, "min_samples": min_samples,
                  "x": X.tolist(), "labels": labels.tolist()})
for name, X, k in [("blobs_noise", noisy, 4), ("moons", moons, 2), ("blobs_scaled", scaled, 6)]:
    labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit(X).labels_
    cases.append({"algorithm": "ward", "name": name, "k": k, "x": X.tolist(),
                  "labels": labels.tolist()})

(HERE / "dbscan_ward.json").write_text(
    json.dumps({"scikit_learn": sklearn.__version__, "numpy": np.__version__, "cases": cases})
)
for c in cases:
    labels = np.array(c["labels"])
    print(c["algorithm"], c["name"], "clusters", len(set(labels) - {-1}), "noise", int((labels == -1).sum()))
