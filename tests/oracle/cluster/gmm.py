"""scikit-learn's GaussianMixture on fixed data, for segflow-cluster's own EM.

Writes gmm.json: per case the data, scikit-learn's labels, mean log-likelihood (score) and BIC
for full and diagonal covariances, which tests/tests/cluster_oracle.rs compares with segflow's
(the same partition, score and BIC within 1e-3 relative: both stop when the bound moves less
than tol = 1e-3).

    python3 tests/oracle/cluster/gmm.py
"""

import json
import pathlib

import numpy as np
import sklearn
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

HERE = pathlib.Path(__file__).parent

X, _ = make_blobs(n_samples=900, centers=3, n_features=4, cluster_std=[1.0, 2.0, 0.6],
                  random_state=21)
# Stretch one axis so full and diagonal covariances differ.
stretched = X @ np.array([[1.0, 0.6, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0.3], [0, 0, 0, 1.0]])

cases = []
for name, data in [("blobs", X), ("stretched", stretched)]:
    for cov in ["full", "diag"]:
        g = GaussianMixture(n_components=3, covariance_type=cov, n_init=5, random_state=0).fit(data)
        cases.append({"name": name, "covariance": cov, "k": 3, "x": data.tolist(),
                      "labels": g.predict(data).tolist(), "score": g.score(data),
                      "bic": g.bic(data)})
        print(name, cov, "score", g.score(data), "bic", g.bic(data))

(HERE / "gmm.json").write_text(
    json.dumps({"scikit_learn": sklearn.__version__, "numpy": np.__version__, "cases": cases})
)
