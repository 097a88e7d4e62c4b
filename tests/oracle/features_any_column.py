"""A generated call-and-SMS log with columns of every type, and its features by pandas.

Writes, next to this script:

- features_any_column_events.csv: the events table (one row per event), the columns an
  events artifact of ingest holds: contact_id, ts, value (null on SMS rows, which have no
  duration), category, then derived and kept columns of each type, all with nulls:
  duration (number, -1 for a missed call), rate (number, few distinct values), answered
  (boolean), country and callee (text), source ("calls" or "sms"), day (timestamp);
- features_any_column.csv: the features of features_any_column.yaml computed by pandas
  groupby, one row per contact with at least min_events = 2 events, in ascending id order;
- features_any_column_excluded.csv: the contacts left out, with their event counts.

tests/tests/features_any_column.rs writes the events as an events artifact, runs segflow's
features stage on it and compares every value. Run from the repository root:

    python3 tests/oracle/features_any_column.py

Versions used are written into features_any_column.versions.
"""

import pathlib
import sys

import numpy as np
import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
EVENTS = HERE / "features_any_column_events.csv"
FEATURES = HERE / "features_any_column.csv"
EXCLUDED = HERE / "features_any_column_excluded.csv"
MIN_EVENTS = 2

rng = np.random.default_rng(20240517)

# Contacts with 1 to 40 events; a few with a single one (excluded by min_events) and a few
# with SMS only (every value null).
contacts = 70
sizes = rng.integers(1, 41, size=contacts)
sizes[rng.choice(contacts, size=6, replace=False)] = 1
ids = [f"c{i:03d}" for i in range(contacts)]
sms_only = set(rng.choice(contacts, size=4, replace=False).tolist())

rows = []
for c, n in enumerate(sizes):
    for _ in range(n):
        sms = c in sms_only or rng.random() < 0.3
        ts = pd.Timestamp("2024-01-01") + pd.Timedelta(
            seconds=int(rng.integers(0, 120 * 86400))
        )
        missed = not sms and rng.random() < 0.2
        duration = None
        if not sms:
            duration = -1.0 if missed else float(np.round(rng.gamma(2.0, 60.0), 1))
        elif rng.random() < 0.5:
            duration = 0.0
        rows.append(
            {
                "contact_id": ids[c],
                "ts": ts,
                "value": None if sms else (0.0 if missed else duration),
                "category": rng.choice(["Family", "Work", "Friends", "Ünknown", None]),
                "duration": duration if rng.random() > 0.05 else None,
                "rate": rng.choice([0.05, 0.1, 0.25, 1.5, np.nan], p=[0.3, 0.3, 0.2, 0.1, 0.1]),
                "answered": None if rng.random() < 0.1 else (not sms and not missed),
                "country": rng.choice(["NL", "DE", "Österreich", "BE", "Zambia", None]),
                "callee": None if rng.random() < 0.1 else f"h{int(rng.integers(0, 12)):02x}",
                "source": "sms" if sms else "calls",
                "day": None if rng.random() < 0.15 else ts.normalize(),
            }
        )

df = pd.DataFrame(rows)
df["rate"] = df["rate"].astype(float)
df["value"] = df["value"].astype(float)
df["duration"] = df["duration"].astype(float)
df["answered"] = df["answered"].astype("boolean")
df = df.sort_values("contact_id", kind="stable").reset_index(drop=True)

out = df.copy()
out["ts"] = out["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
out["day"] = out["day"].dt.strftime("%Y-%m-%d %H:%M:%S")
out["answered"] = out["answered"].map({True: "true", False: "false"}, na_action="ignore")
# Events in a shuffled order: segflow groups them itself.
out = out.sample(frac=1.0, random_state=7)
out.to_csv(EVENTS, index=False, float_format="%.17g")

# --- the features, as pandas computes them ---------------------------------------------------

as_of = df["ts"].max()  # the whole log's latest event, excluded contacts included
counts = df.groupby("contact_id").size()
kept_ids = counts[counts >= MIN_EVENTS].index
excluded = counts[counts < MIN_EVENTS]
index = pd.Index(sorted(kept_ids), name="contact_id")
g_all = df.groupby("contact_id")


def where(mask):
    """The events where a SQL condition is TRUE (a null is not TRUE)."""
    return df[mask.fillna(False).astype(bool)]


def by_contact(frame, fill=None):
    """Per-contact results over a subset, on every kept contact."""

    def apply(series):
        series = series.reindex(index)
        return series if fill is None else series.fillna(fill)

    return apply


def grouped(frame):
    return frame.groupby("contact_id")


def days(td):
    return td.dt.total_seconds() / 86400


def gaps(frame, how):
    def per_contact(ts):
        days_active = np.sort(ts.dt.normalize().unique())
        if len(days_active) < 2:
            return np.nan
        gaps_days = pd.Series(np.diff(days_active)).dt.days.astype(float)
        return gaps_days.mean() if how == "mean" else gaps_days.median()

    return grouped(frame)["ts"].apply(per_contact).reindex(index)


def mode(frame, column):
    def per_contact(values):
        counts = values.dropna().value_counts()
        if counts.empty:
            return None
        top = counts[counts == counts.max()].index
        return sorted(top)[0]  # the smallest of the most frequent; False < True

    return grouped(frame)[column].apply(per_contact).reindex(index)


def share(mask):
    hits = mask.fillna(False).astype(bool).groupby(df["contact_id"]).sum()
    return (hits / counts).reindex(index)


def category_shares(frame, name, top):
    ranked = frame["category"].dropna().value_counts()
    ranked = sorted(ranked.index, key=lambda c: (-ranked[c], c))[:top]
    seen = grouped(frame).size().reindex(index).fillna(0)
    columns = {}
    for c in ranked:
        hits = grouped(frame[frame["category"] == c]).size().reindex(index).fillna(0)
        columns[f"{name}_{c}"] = (hits / seen.where(seen > 0)).fillna(0.0)
    return columns


answered = df["answered"]
calls = df["source"] == "calls"
sms = df["source"] == "sms"
dur_ok = df["duration"] >= 0
late = df["ts"] >= pd.Timestamp("2024-03-01")
intl = df["country"].ne("NL").where(df["country"].notna())
rate_threshold = np.quantile(df["rate"].dropna(), 0.75)
g_ok = grouped(where(dur_ok))
g_answered = grouped(where(answered))
g_sms = grouped(where(sms))

f = {}
# volume
f["n_events"] = counts.reindex(index)
f["n_answered"] = g_ok.size().reindex(index).fillna(0).astype(int)
f["n_days"] = g_all["ts"].apply(lambda t: t.dt.normalize().nunique()).reindex(index)
f["n_days_sms"] = (
    g_sms["ts"].apply(lambda t: t.dt.normalize().nunique()).reindex(index).fillna(0).astype(int)
)
# money
f["total_value"] = g_all["value"].sum().reindex(index)
f["mean_value"] = g_all["value"].mean().reindex(index)
f["median_value"] = g_all["value"].median().reindex(index)
f["p90_value"] = g_all["value"].quantile(0.9).reindex(index)
f["min_value"] = g_all["value"].min().reindex(index)
f["max_value"] = g_all["value"].max().reindex(index)
f["sd_value"] = g_all["value"].std().reindex(index)
f["total_dur_answered"] = g_ok["duration"].sum().reindex(index).fillna(0.0)
f["mean_rate"] = g_all["rate"].mean().reindex(index)
f["median_answered"] = g_ok["duration"].median().reindex(index)
f["p25_answered"] = g_ok["duration"].quantile(0.25).reindex(index)
f["sd_rate"] = g_all["rate"].std().reindex(index)
f["sd_answered"] = g_answered["duration"].std().reindex(index)
f["min_rate_late"] = grouped(where(late))["rate"].min().reindex(index)
f["max_rate_intl"] = grouped(where(intl))["rate"].max().reindex(index)
f["long_share"] = share(df["duration"] >= 60)
f["long_q_share"] = share(df["rate"] >= rate_threshold)
# timing
f["recency"] = days(as_of - g_all["ts"].max()).reindex(index)
f["recency_answered"] = days(as_of - g_answered["ts"].max()).reindex(index)
f["tenure"] = days(g_all["ts"].max() - g_all["ts"].min()).reindex(index)
f["tenure_sms"] = days(g_sms["ts"].max() - g_sms["ts"].min()).reindex(index)
f["mean_gap"] = gaps(df, "mean")
f["median_gap"] = gaps(df, "median")
f["mean_gap_calls"] = gaps(where(calls), "mean")
f["missed_share"] = share(df["duration"] == -1)
f["null_share"] = share(df["value"].isna())
# context
f["n_callees"] = g_all["callee"].nunique().reindex(index)
f["n_callees_answered"] = g_answered["callee"].nunique().reindex(index).fillna(0).astype(int)
f["n_rates"] = g_all["rate"].nunique().reindex(index)
f["n_flags"] = g_all["answered"].nunique().reindex(index)
f["n_days_ts"] = g_all["day"].nunique().reindex(index)
f["top_country"] = mode(df, "country")
f["top_country_sms"] = mode(where(sms), "country")
f["top_rate"] = mode(df, "rate")
f["top_answered"] = mode(df, "answered")
f["first"] = g_all["ts"].min().reindex(index)
f["last"] = g_all["ts"].max().reindex(index)
f["first_answered"] = g_answered["ts"].min().reindex(index)
f["last_answered"] = g_answered["ts"].max().reindex(index)
f.update(category_shares(df, "cat", 3))
f.update(category_shares(where(calls), "cat_calls", 2))

features = pd.DataFrame(f, index=index)
for name in ["first", "last", "first_answered", "last_answered"]:
    features[name] = features[name].dt.strftime("%Y-%m-%d %H:%M:%S")
features["top_answered"] = features["top_answered"].map(
    {True: "true", False: "false"}, na_action="ignore"
)
features.to_csv(FEATURES, float_format="%.17g")

pd.DataFrame(
    {"events": excluded, "reason": f"fewer than {MIN_EVENTS} events"},
    index=excluded.index.rename("contact_id"),
).sort_index().to_csv(EXCLUDED)

FEATURES.with_suffix(".versions").write_text(
    f"python {sys.version.split()[0]}\npandas {pd.__version__}\nnumpy {np.__version__}\n"
    f"events {len(df)}\ncontacts {contacts}\nkept {len(index)}\nexcluded {len(excluded)}\n"
)
