"""Independent pandas/scikit-learn computation of the Walsoft model matrix (preprocess stage).

Reads the pandas features oracle (walsoft_features.csv), applies the spec's preprocessing —
model columns, drop constant columns, winsorize to each column's [0.01, 0.99] quantiles,
median imputation, robust scaling with IQR 0 → 1, cap at ±10 — and writes
walsoft_matrix.csv and the fitted statistics walsoft_transform.csv, which tests/tests/oracle.rs
compares with segflow's matrix.parquet and transform.parquet.

    python3 tests/oracle/walsoft_matrix.py
"""

import pathlib

import numpy as np
import pandas as pd
from sklearn.preprocessing import RobustScaler

HERE = pathlib.Path(__file__).parent
features = pd.read_csv(HERE / "walsoft_features.csv", index_col="contact_id")
model = [
    "n_calls", "n_days_active", "calls_per_active_day", "calls_per_tenure_day", "log_n_calls",
    "total_dur_sec", "mean_dur_sec", "median_dur_sec", "p90_dur_sec", "log_total_dur",
    "log_median_dur", "long_call_share", "recency_days", "tenure_days",
    "share_business_hours", "share_evening", "share_early_morning", "share_late_night",
    "share_open_day", "share_closed_day",
]
X = features[model].astype(float)
assert np.isfinite(X.to_numpy()).all()
X = X.loc[:, X.nunique() > 1]
low, high = X.quantile(0.01), X.quantile(0.99)
X = X.clip(low, high, axis=1)
X = X.fillna(X.median())
median = X.median()
iqr = X.quantile(0.75) - X.quantile(0.25)
scaled = (X - median) / iqr.replace(0.0, 1.0)
# scikit-learn's RobustScaler applies the same rule (IQR 0 → scale 1).
reference = RobustScaler().fit_transform(X)
assert np.allclose(reference, scaled.to_numpy(), rtol=1e-12, atol=1e-12)
print(f"IQR 0 after clipping: {int((iqr == 0).sum())} of {len(iqr)} columns")
scaled.clip(-10, 10).to_csv(HERE / "walsoft_matrix.csv", float_format="%.17g", lineterminator="\n")
# The fitted statistics themselves, compared with segflow's transform.parquet.
pd.DataFrame(
    {"clip_low": low, "clip_high": high, "center": median, "scale": iqr.replace(0.0, 1.0)}
).rename_axis("column").to_csv(
    HERE / "walsoft_transform.csv", float_format="%.17g", lineterminator="\n"
)
