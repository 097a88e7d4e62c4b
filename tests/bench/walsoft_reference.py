"""The Walsoft analysis in plain pandas + scikit-learn: the reference side of the end-to-end bench.

tests/bench/bench_pipeline.py times `run()` against `segflow run pipelines/walsoft.yaml`.
It computes what segflow's default pipeline computes, with the definitions of the oracle
scripts and of the spec (../shared/spec/walsoft.md):

  features   copied from tests/oracle/walsoft_features.py (model columns only);
  matrix     copied from tests/oracle/walsoft_matrix.py: drop constant columns, winsorize to
             [0.01, 0.99], median imputation, (x - median) / IQR with IQR 0 -> 1, cap at +-10;
  K sweep    K = 2..12, KMeans(n_init=50, random_state=42, max_iter=300, tol=1e-4), with
             inertia, exact silhouette, Davies-Bouldin, Calinski-Harabasz and sizes;
  fit        K = 4 with the same settings, clusters numbered by size (largest first);
  robustness seeds 0..49 (50 restarts each) scored by ARI against the fit, and drop-one-block
             refits whose preprocessing is rebuilt from scratch on the remaining columns;
  PCA        two components of the matrix (explained variance ratios).

segflow does more than this (audit tables, cluster cards, names, a 100-resample bootstrap,
charts and an HTML report); this script is the analysis a pandas user would write, not a clone
of every artifact. The oracle scripts write CSVs at import time, so their logic is copied into
functions here rather than imported.

    python3 tests/bench/walsoft_reference.py     # prints the results once, untimed
"""

import hashlib
import pathlib
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CSV = ROOT / "data/walsoft/walsoft_semi_categorized_phone_dataset.csv"

# Model blocks in the spec's column order; the category block is interpretation only.
BLOCKS = {
    "volume": ["n_calls", "n_days_active", "calls_per_active_day", "calls_per_tenure_day",
               "log_n_calls"],
    "duration": ["total_dur_sec", "mean_dur_sec", "median_dur_sec", "p90_dur_sec",
                 "log_total_dur", "log_median_dur", "long_call_share"],
    "recency": ["recency_days", "tenure_days"],
    "timing": ["share_business_hours", "share_evening", "share_early_morning",
               "share_late_night", "share_open_day", "share_closed_day"],
}
MODEL = [c for cols in BLOCKS.values() for c in cols]

K_RANGE = range(2, 13)
K_FINAL = 4  # the reference's elbow reading; segflow's knee rule reaches the same K
SEED = 42
N_SEEDS = 50
KMEANS = {"n_init": 50, "max_iter": 300, "tol": 1e-4}


def load_calls(path=CSV):
    """One row per call with the derived fields the features need (features oracle)."""
    df = pd.read_csv(path)
    # Decimal text of the integer, never "648578192.0", so the ids match segflow's sha256 ids.
    df["contact_id"] = df["dialled_phone_number"].astype("int64").astype(str).map(
        lambda s: hashlib.sha256(s.encode()).hexdigest()[:12]
    )
    df["call_ts"] = pd.to_datetime(df["date_stamp"] + " " + df["time"],
                                   format="%m/%d/%Y %H:%M:%S")
    df["hour"] = df["call_ts"].dt.hour
    df["dow"] = df["call_ts"].dt.day_of_week
    df["date"] = df["call_ts"].dt.normalize()
    df["dur"] = df["duration_in_seconds"].astype(float)
    return df


def contact_features(df):
    """Per-contact model features, rows in ascending contact_id order (features oracle)."""
    as_of = df["call_ts"].max()  # the latest call in the data, not the wall clock
    long_threshold = df["dur"].quantile(0.95)  # global, over all calls
    band = pd.cut(df["hour"], bins=[-1, 7, 17, 20, 23],
                  labels=["early_morning", "business_hours", "evening", "late_night"])
    df = df.assign(band=band.astype(str),
                   open_day=(df["dow"] <= 5).astype(float),
                   long=(df["dur"] >= long_threshold).astype(float))

    g = df.groupby("contact_id", sort=True)
    f = pd.DataFrame(index=g.size().index)
    f["n_calls"] = g.size()
    f["n_days_active"] = g["date"].nunique()
    f["total_dur_sec"] = g["dur"].sum()
    f["mean_dur_sec"] = g["dur"].mean()
    f["median_dur_sec"] = g["dur"].median()
    f["p90_dur_sec"] = g["dur"].quantile(0.9)
    first, last = g["call_ts"].min(), g["call_ts"].max()
    f["recency_days"] = (as_of - last).dt.total_seconds() / 86400
    f["tenure_days"] = (last - first).dt.total_seconds() / 86400
    f["calls_per_active_day"] = np.where(f["n_days_active"] > 0,
                                         f["n_calls"] / f["n_days_active"], 0.0)
    f["calls_per_tenure_day"] = f["n_calls"] / (f["tenure_days"] + 1)
    f["log_n_calls"] = np.log1p(f["n_calls"])
    f["log_total_dur"] = np.log1p(f["total_dur_sec"])
    f["log_median_dur"] = np.log1p(f["median_dur_sec"])
    f["long_call_share"] = g["long"].mean()
    shares = pd.crosstab(df["contact_id"], df["band"], normalize="index")
    for b in ["business_hours", "evening", "early_morning", "late_night"]:
        f[f"share_{b}"] = shares[b] if b in shares else 0.0
    f["share_open_day"] = g["open_day"].mean()
    f["share_closed_day"] = 1.0 - f["share_open_day"]
    f.index.name = "contact_id"
    return f[MODEL].astype(float)


def model_matrix(features, columns):
    """The preprocess stage on `columns` (matrix oracle), statistics fitted on these rows."""
    X = features[columns].astype(float)
    assert np.isfinite(X.to_numpy()).all(), "model features must be finite"
    X = X.loc[:, X.nunique() > 1]  # truly constant only; low-IQR columns stay
    X = X.clip(X.quantile(0.01), X.quantile(0.99), axis=1)
    X = X.fillna(X.median())
    iqr = X.quantile(0.75) - X.quantile(0.25)
    # RobustScaler's rule: a zero IQR scales by 1 (7 of the 20 columns here).
    scaled = (X - X.median()) / iqr.replace(0.0, 1.0)
    return scaled.clip(-10, 10)


def kmeans(X, k, seed=SEED, n_init=KMEANS["n_init"]):
    return KMeans(n_clusters=k, random_state=seed, n_init=n_init,
                  max_iter=KMEANS["max_iter"], tol=KMEANS["tol"]).fit(X)


def size_string(labels):
    """Cluster sizes, largest first, as segflow writes them ("1599/225/176/91")."""
    return "/".join(str(n) for n in sorted(np.bincount(labels), reverse=True))


def canonical_labels(km):
    """Renumber clusters by size descending (ties by centroid), as the fit oracle does.

    scikit-learn's cluster ids depend on its random stream; the canonical order lets two
    implementations that find the same partition report it with the same ids.
    """
    k = km.n_clusters
    sizes = np.bincount(km.labels_, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], tuple(km.cluster_centers_[c])))
    canonical = np.empty(k, dtype=int)
    canonical[order] = np.arange(k)
    return canonical[km.labels_]


def k_sweep(X, silhouette_sample=None):
    """silhouette_sample: None for the exact silhouette, else the number of rows it is
    estimated on (segflow's select_k samples from 20,000 rows on, 10,000 rows by default)."""
    rows = []
    for k in K_RANGE:
        km = kmeans(X, k)
        rows.append({
            "k": k,
            "inertia": float(km.inertia_),
            "silhouette": float(silhouette_score(X, km.labels_, sample_size=silhouette_sample,
                                                 random_state=SEED)),
            "davies_bouldin": float(davies_bouldin_score(X, km.labels_)),
            "calinski_harabasz": float(calinski_harabasz_score(X, km.labels_)),
            "sizes": size_string(km.labels_),
        })
    return rows


def seed_stability(X, labels, k, n_seeds, n_init):
    return [float(adjusted_rand_score(labels, kmeans(X, k, seed=s, n_init=n_init).labels_))
            for s in range(n_seeds)]


def block_sensitivity(features, k, n_init):
    # The baseline goes through the same rebuild as the drops, so a difference in ARI can only
    # come from the dropped block (on this data it equals the fit's partition).
    baseline = kmeans(model_matrix(features, MODEL).to_numpy(), k, n_init=n_init).labels_
    out = {}
    for block, cols in BLOCKS.items():
        kept = [c for c in MODEL if c not in cols]
        labels = kmeans(model_matrix(features, kept).to_numpy(), k, n_init=n_init).labels_
        out[block] = float(adjusted_rand_score(baseline, labels))
    return out


def run(csv=CSV, k_final=K_FINAL, n_seeds=N_SEEDS, seed_n_init=KMEANS["n_init"],
        silhouette_sample=None):
    """The whole analysis, CSV to PCA; returns the numbers the bench compares with segflow.

    The defaults are the Walsoft pipeline's settings; the bench passes segflow's own (K, the
    robustness effort, the silhouette sample) when it runs on a generated log."""
    seconds, clock = {}, time.perf_counter()

    def lap(step):  # wall clock per step, named after the segflow stage doing the same work
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = now - clock
        clock = now

    calls = load_calls(csv)
    lap("ingest")
    features = contact_features(calls)
    lap("features")
    matrix = model_matrix(features, MODEL)
    X = matrix.to_numpy(dtype=np.float64)
    lap("preprocess")
    k_table = k_sweep(X, silhouette_sample)
    lap("select_k")
    labels = canonical_labels(kmeans(X, k_final))
    lap("fit")
    seed_start = time.perf_counter()
    seed_ari = seed_stability(X, labels, k_final, n_seeds, seed_n_init)
    seed_seconds = time.perf_counter() - seed_start
    block_ari = block_sensitivity(features, k_final, seed_n_init)
    lap("robustness")
    pca_ratio = [float(r) for r in PCA(n_components=2).fit(X).explained_variance_ratio_]
    lap("visualize")

    return {
        "k_table": k_table,
        "sizes": [int(n) for n in np.bincount(labels)],  # canonical ids: largest first
        "seed_ari": seed_ari,
        "block_ari": block_ari,
        "pca_ratio": pca_ratio,
        # Extras: the final partition, so the bench can compare it with segflow's contact by
        # contact (ARI), not only by cluster sizes; and seconds per step.
        "labels": pd.Series(labels, index=matrix.index, name="cluster"),
        "seconds": seconds,
        # The seed refits' share of robustness, for estimating a run with more seeds.
        "seed_seconds": seed_seconds,
    }


if __name__ == "__main__":
    result = run()
    print(pd.DataFrame(result["k_table"]).to_string(index=False))
    print("final sizes", result["sizes"])
    print("seed ARI min", min(result["seed_ari"]), "max", max(result["seed_ari"]))
    print("block ARI", result["block_ari"])
    print("PCA ratio", result["pca_ratio"])
    print("seconds", {k: round(v, 2) for k, v in result["seconds"].items()})
