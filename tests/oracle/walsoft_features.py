"""Independent pandas computation of the Walsoft contact features (spec: shared walsoft.md).

Writes walsoft_features.csv, the oracle that tests/tests/oracle.rs compares segflow's
features stage against, value by value. Run from the repository root:

    python3 tests/oracle/walsoft_features.py

Versions used are written into the CSV's companion file walsoft_features.versions.
"""

import hashlib
import pathlib
import sys

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[2]
CSV = ROOT / "data/walsoft/walsoft_semi_categorized_phone_dataset.csv"
OUT = pathlib.Path(__file__).with_name("walsoft_features.csv")

df = pd.read_csv(CSV)
df["contact_id"] = df["dialled_phone_number"].astype("int64").astype(str).map(
    lambda s: hashlib.sha256(s.encode()).hexdigest()[:12]
)
df["call_ts"] = pd.to_datetime(df["date_stamp"] + " " + df["time"], format="%m/%d/%Y %H:%M:%S")
df["hour"] = df["call_ts"].dt.hour
df["dow"] = df["call_ts"].dt.day_of_week
df["date"] = df["call_ts"].dt.normalize()
dur = df["duration_in_seconds"].astype(float)
df["dur"] = dur
as_of = df["call_ts"].max()
long_threshold = dur.quantile(0.95)

band = pd.cut(df["hour"], bins=[-1, 7, 17, 20, 23], labels=["early_morning", "business_hours", "evening", "late_night"])
df["band"] = band.astype(str)
df["open_day"] = (df["dow"] <= 5).astype(float)
df["long"] = (df["dur"] >= long_threshold).astype(float)

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
f["calls_per_active_day"] = np.where(f["n_days_active"] > 0, f["n_calls"] / f["n_days_active"], 0.0)
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
top = df["category"].value_counts().head(8).index
cats = pd.crosstab(df["contact_id"], df["category"], normalize="index")
for c in top:
    f[f"share_cat_{c}"] = cats[c]

f.index.name = "contact_id"
f.to_csv(OUT, float_format="%.17g", lineterminator="\n")
OUT.with_suffix(".versions").write_text(
    f"python {sys.version.split()[0]}\npandas {pd.__version__}\nnumpy {np.__version__}\n"
    f"long_call_threshold {long_threshold!r}\nas_of {as_of}\n"
)
print(f"wrote {OUT} ({len(f)} contacts, {f.shape[1]} features)")
