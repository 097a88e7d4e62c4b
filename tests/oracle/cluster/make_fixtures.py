"""Reference values for segflow's clustering code, computed with scikit-learn.

Builds small seeded datasets with numpy, runs the scikit-learn reference for each
(silhouette / Davies-Bouldin / Calinski-Harabasz, ARI / AMI / contingency,
k-means, PCA) and writes fixtures.json next to this file. Run from the repository
root:

    python3 tests/oracle/cluster/make_fixtures.py

Pinned versions are in requirements.txt; the versions actually used are also
recorded in fixtures.json under "versions". Rerunning gives byte-identical output.
"""

import os

# KMeans sums per-thread partial centers in whatever order threads finish, and BLAS
# results can depend on thread count; one thread keeps the output bit-reproducible.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import json
import pathlib
import platform

import numpy as np
import scipy
import sklearn
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics.cluster import contingency_matrix

OUT = pathlib.Path(__file__).with_name("fixtures.json")
rng = np.random.default_rng(20261121)


def data(x):
    # Inputs are rounded before any reference is computed, so the file stays small
    # and the stored inputs are exactly what scikit-learn saw.
    return np.round(np.asarray(x, dtype=np.float64), 6)


def floats(a):
    return np.asarray(a, dtype=np.float64).tolist()


def ints(a):
    return np.asarray(a, dtype=np.int64).tolist()


def blobs(centers, sizes, std=1.0):
    centers = np.asarray(centers, dtype=np.float64)
    X = np.concatenate([c + std * rng.standard_normal((s, centers.shape[1])) for c, s in zip(centers, sizes)])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    order = rng.permutation(len(labels))  # implementations must not rely on sorted labels
    return data(X[order]), labels[order]


def heavy_tailed(n, d):
    # Mix of Student-t (df=2, infinite variance) and lognormal columns.
    X = rng.standard_t(2, size=(n, d))
    X[:, d // 2:] = rng.lognormal(0.0, 1.0, size=(n, d - d // 2))
    return X


# ---------------------------------------------------------------- metrics
def metric_case(name, X, labels):
    X, labels = data(X), np.asarray(labels)
    return {
        "name": name,
        "X": floats(X),
        "labels": ints(labels),
        "silhouette": float(metrics.silhouette_score(X, labels, metric="euclidean")),
        "silhouette_samples": floats(metrics.silhouette_samples(X, labels, metric="euclidean")),
        "davies_bouldin": float(metrics.davies_bouldin_score(X, labels)),
        "calinski_harabasz": float(metrics.calinski_harabasz_score(X, labels)),
    }


metric_cases = []
metric_cases.append(metric_case("blobs_3_n300_d5", *blobs(rng.normal(0, 8, (3, 5)), [100, 100, 100])))

X, y = blobs(rng.normal(0, 6, (4, 12)), [150, 60, 25, 5])
X = X + heavy_tailed(len(y), 12)
metric_cases.append(metric_case("unequal_4_heavy_tailed_d12", X, y))

X, y = blobs(rng.normal(0, 5, (3, 4)), [40, 30, 1])
metric_cases.append(metric_case("singleton_cluster", X, y))  # singleton scores 0

X, y = blobs([[0.0, 0.0, 0.0], [3.0, 1.0, -2.0]], [35, 45])
metric_cases.append(metric_case("labels_3_and_7_interleaved", X, np.where(y == 0, 3, 7)))

metric_cases.append(metric_case("random_labels_overlapping_n500_d3", rng.standard_normal((500, 3)), rng.integers(0, 4, 500)))


silhouette_errors = []
for name, X, labels in [
    ("single_label", rng.standard_normal((20, 3)), np.full(20, 2)),
    ("every_point_own_label", rng.standard_normal((8, 3)), rng.permutation(8)),
]:
    X = data(X)
    try:
        metrics.silhouette_score(X, labels)
    except ValueError:
        silhouette_errors.append({"name": name, "X": floats(X), "labels": ints(labels)})
    else:
        raise AssertionError(f"silhouette_score accepted {name}")


# ---------------------------------------------------------------- pairs
def pair_case(name, a, b):
    a, b = np.asarray(a), np.asarray(b)
    return {
        "name": name,
        "a": ints(a),
        "b": ints(b),
        "ari": float(metrics.adjusted_rand_score(a, b)),
        "ami": float(metrics.adjusted_mutual_info_score(a, b)),
        "contingency": ints(contingency_matrix(a, b)),
    }


a = rng.integers(0, 5, 300)
pair_cases = [pair_case("permuted_labels", a, np.array([4, 0, 3, 1, 2])[a] + 10)]
pair_cases.append(pair_case("random_4_vs_6_n1000", rng.integers(0, 4, 1000), rng.integers(0, 6, 1000)))
a = rng.integers(0, 5, 2000)
b = a.copy()
flip = rng.choice(2000, 200, replace=False)
b[flip] = (b[flip] + rng.integers(1, 5, 200)) % 5  # guarantees each flipped label changes
pair_cases.append(pair_case("noisy_copy_10pct_n2000_k5", a, b))
pair_cases.append(pair_case("hand_n10", [0, 0, 0, 1, 1, 1, 2, 2, 3, 3], [1, 1, 0, 0, 0, 2, 2, 2, 5, 5]))
pair_cases.append(pair_case("b_single_cluster", rng.integers(0, 3, 50), np.zeros(50, dtype=int)))
pair_cases.append(pair_case("both_single_cluster", np.full(30, 4), np.zeros(30, dtype=int)))
# Unequal class sizes and partial agreement, so both MI and the expected-MI term matter.
a = rng.choice(12, 5000, p=np.arange(1, 13) / 78)
b = np.where(rng.random(5000) < 0.5, a % 9, rng.integers(0, 9, 5000))
pair_cases.append(pair_case("n5000_12_vs_9", a, b))


# ---------------------------------------------------------------- kmeans
N_SEEDS = 20


def fit_kmeans(X, k, n_init, seed):
    return KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=300, tol=1e-4,
                  random_state=seed, algorithm="lloyd").fit(X)


def kmeans_case(name, X, k, n_init, unique_optimum):
    X = data(X)
    km = fit_kmeans(X, k, n_init, 0)
    if unique_optimum:
        # The test may compare partitions from a different RNG, which is only fair if
        # every start lands on the same optimum.
        for seed in range(1, 6):
            other = fit_kmeans(X, k, n_init, seed).labels_
            assert metrics.adjusted_rand_score(km.labels_, other) == 1.0, (name, seed)
    # Where local optima differ, one seed against one seed is a coin flip; the test compares
    # segflow's best and mean over the same number of seeds with these.
    by_seed = [float(fit_kmeans(X, k, n_init, seed).inertia_) for seed in range(N_SEEDS)]
    return {
        "name": name, "X": floats(X), "k": k, "n_init": n_init, "max_iter": 300, "tol": 1e-4,
        "unique_optimum": unique_optimum, "labels": ints(km.labels_), "inertia": float(km.inertia_),
        "centers": floats(km.cluster_centers_), "n_iter": int(km.n_iter_),
        "inertia_by_seed": by_seed,
    }


grid = 20.0 * np.eye(12)[:5]  # pairwise centre distance ~28 against unit noise
kmeans_cases = [
    kmeans_case("separated_n400_d4_k3", blobs(rng.normal(0, 1, (3, 4)) + 15 * np.eye(4)[:3], [134, 133, 133])[0], 3, 1, True),
    kmeans_case("separated_unequal_n600_d12_k5", blobs(grid, [250, 150, 100, 70, 30])[0], 5, 1, True),
    kmeans_case("overlapping_n500_d6_k4", blobs(rng.normal(0, 1.5, (4, 6)), [125] * 4)[0], 4, 10, False),
    kmeans_case("heavy_tailed_n800_d12_k6", heavy_tailed(800, 12), 6, 10, False),
    kmeans_case("uniform_n300_d2_k8", rng.random((300, 2)), 8, 10, False),
]


# ---------------------------------------------------------------- pca
def pca_case(name, X, n_components):
    X = data(X)
    p = PCA(n_components=n_components, svd_solver="full").fit(X)
    return {
        "name": name, "X": floats(X), "n_components": n_components,
        "n_components_resolved": int(p.n_components_), "mean": floats(p.mean_),
        "components": floats(p.components_), "explained_variance": floats(p.explained_variance_),
        "explained_variance_ratio": floats(p.explained_variance_ratio_),
        "singular_values": floats(p.singular_values_), "transformed": floats(p.transform(X)),
    }


L = rng.normal(0, 1, (6, 6)) * np.array([3.0, 2.0, 1.5, 1.0, 0.5, 0.2])
correlated = rng.standard_normal((200, 6)) @ L.T + rng.normal(0, 5, 6)
pca_cases = [
    pca_case("correlated_n200_d6_k2", correlated, 2),
    pca_case("correlated_n200_d6_k3", correlated, 3),
    pca_case("correlated_n200_d6_frac0.9", correlated, 0.9),
    pca_case("heavy_tailed_n300_d12_k5", heavy_tailed(300, 12), 5),
    pca_case("scales_1_10_100_1000_n50_d4", rng.standard_normal((50, 4)) * [1.0, 10.0, 100.0, 1000.0], 4),
]


fixtures = {
    "versions": {"python": platform.python_version(), "numpy": np.__version__,
                 "sklearn": sklearn.__version__, "scipy": scipy.__version__},
    "metrics": metric_cases,
    "silhouette_errors": silhouette_errors,
    "pairs": pair_cases,
    "kmeans": kmeans_cases,
    "pca": pca_cases,
}
with open(OUT, "w") as f:
    json.dump(fixtures, f, allow_nan=False, separators=(",", ":"))
    f.write("\n")
print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
