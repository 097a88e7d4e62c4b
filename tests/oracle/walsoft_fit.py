"""Independent pandas/scikit-learn computation of the Walsoft clustering (fit stage).

Reads the model matrix oracle (walsoft_matrix.csv) and the raw features oracle
(walsoft_features.csv), runs scikit-learn's KMeans with k=4, relabels the clusters into
canonical order — size descending, ties by the centroid vector compared lexicographically —
and writes walsoft_fit.csv, a long table `cluster,stat,feature,value` with the cluster
sizes, inertia, silhouette, per-cluster profile statistics of the raw features, and the
centroids. Versions used are written into walsoft_fit.versions.

    python3 tests/oracle/walsoft_fit.py
"""

import pathlib
import sys

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

HERE = pathlib.Path(__file__).parent
OUT = HERE / "walsoft_fit.csv"
matrix = pd.read_csv(HERE / "walsoft_matrix.csv", index_col="contact_id")
features = pd.read_csv(HERE / "walsoft_features.csv", index_col="contact_id")
assert features.index.equals(matrix.index)

model = [
    "n_calls", "n_days_active", "calls_per_active_day", "calls_per_tenure_day", "log_n_calls",
    "total_dur_sec", "mean_dur_sec", "median_dur_sec", "p90_dur_sec", "log_total_dur",
    "log_median_dur", "long_call_share", "recency_days", "tenure_days",
    "share_business_hours", "share_evening", "share_early_morning", "share_late_night",
    "share_open_day", "share_closed_day",
]
shares = ["share_business_hours", "share_evening", "share_early_morning", "share_late_night",
          "share_open_day", "share_closed_day"]
median_cols = ["n_calls", "n_days_active", "calls_per_active_day", "total_dur_sec",
               "median_dur_sec", "long_call_share", "recency_days", "tenure_days", *shares]
quartile_cols = ["n_calls", "total_dur_sec", "recency_days", "median_dur_sec"]
any_cols = ["share_evening", "share_early_morning", "share_late_night", "share_closed_day"]

X = matrix.to_numpy(dtype=np.float64)
km = KMeans(n_clusters=4, n_init=50, random_state=42, max_iter=300, tol=1e-4).fit(X)
centers = km.cluster_centers_
sizes = np.bincount(km.labels_, minlength=4)
# sklearn numbers clusters in the order k-means++ chose their seeds; segflow's fit renumbers
# them. Sorting by size, then by centroid, gives both sides the same ids for the same partition.
order = sorted(range(4), key=lambda c: (-sizes[c], tuple(centers[c])))
canonical = np.empty(4, dtype=int)
canonical[order] = np.arange(4)
labels = pd.Series(canonical[km.labels_], index=matrix.index, name="cluster")
centers = centers[order]
silhouette = silhouette_score(X, labels.to_numpy())

raw = features.astype(float)
g = raw.groupby(labels)
median, mean = g.median(), g.mean()
q25, q75 = g.quantile(0.25), g.quantile(0.75)
pct_any = (raw[any_cols] > 0).groupby(labels).mean() * 100
overall_std = raw[model].std(ddof=0)
# A constant column carries no contrast between clusters; report 0 instead of dividing by 0.
std_diff = ((mean[model] - raw[model].mean()) / overall_std.replace(0.0, np.nan)).fillna(0.0)

rows = [("", "inertia", "", km.inertia_), ("", "silhouette", "", silhouette)]
for c in range(4):
    rows.append((c, "n_contacts", "", int((labels == c).sum())))
    rows += [(c, "median", f, median.at[c, f]) for f in median_cols]
    for f in quartile_cols:
        rows += [(c, "q25", f, q25.at[c, f]), (c, "q75", f, q75.at[c, f])]
    rows += [(c, "mean", f, mean.at[c, f]) for f in shares]
    rows += [(c, "pct_any", f, pct_any.at[c, f]) for f in any_cols]
    rows += [(c, "std_diff", f, std_diff.at[c, f]) for f in model]
    rows += [(c, "centroid", f, centers[c, j]) for j, f in enumerate(matrix.columns)]

out = pd.DataFrame(rows, columns=["cluster", "stat", "feature", "value"])
out["value"] = out["value"].astype(float)
out.to_csv(OUT, index=False, float_format="%.17g", lineterminator="\n")
OUT.with_suffix(".versions").write_text(
    f"python {sys.version.split()[0]}\npandas {pd.__version__}\nnumpy {np.__version__}\n"
    f"scikit-learn {sklearn.__version__}\n"
)
print(f"sizes {sizes[order].tolist()}, inertia {km.inertia_!r}, silhouette {silhouette!r}")
print(f"wrote {OUT} ({len(out)} rows)")
