"""Oracle for the weak-data warnings (tests/tests/weak_data.rs).

Generates a random customer table (an id that counts rows, a constant column, a mostly
missing one, an almost constant one, a rare 0/1 flag, ordinary numbers) and a random event
log with a few events re-dated 9999-12-31, then computes with pandas and scikit-learn which
warnings segflow's rules must give, with their numbers:

- per table column: share missing (>= 0.5), one value in every non-missing row, or one value
  in >= 99 % of them (pandas value_counts);
- the id: consecutive integers in row order (numpy diff);
- the 0/1 model column: its rare value's z-score under StandardScaler, beyond 3;
- the events: day numbers, quartiles (numpy linear interpolation), margin max(10 x IQR, 365),
  and the input lines of the events beyond the upper quartile plus the margin.

Run from the repository root: python3 tests/oracle/weak_data.py
"""

import json
import platform

import numpy as np
import pandas as pd
import sklearn
from sklearn.preprocessing import StandardScaler

OUT = "tests/oracle/weak_data"
rng = np.random.default_rng(14)

# The customer table.
n = 400
table = pd.DataFrame(
    {
        "customer_no": np.arange(1, n + 1),
        "region": "north",
        "fax": [f"+351 21 {i:06d}" if rng.random() < 0.04 else "" for i in range(n)],
        "plan": ["basic"] * n,
        "senior": (rng.random(n) < 0.06).astype(int),
        "spend": np.round(rng.gamma(2.0, 40.0, n), 2),
        "visits": rng.integers(0, 40, n),
    }
)
table.loc[rng.choice(n, 2, replace=False), "plan"] = "gold"
table.to_csv(f"{OUT}/customers.csv", index=False)

read = pd.read_csv(f"{OUT}/customers.csv", keep_default_na=False, na_values=[""])
expected_table = []
for column in read.columns:
    if column == "customer_no":
        continue
    values = read[column]
    rows = len(values)
    nulls = int(values.isna().sum())
    if nulls / rows >= 0.5:
        expected_table.append(
            {"code": "mostly_missing_column", "column": column, "rows": nulls, "share": nulls / rows}
        )
    counts = values.dropna().value_counts()
    present = int(counts.sum())
    if len(counts) == 1:
        expected_table.append(
            {"code": "constant_column", "column": column, "rows": present, "share": 1.0}
        )
    elif counts.iloc[0] / present >= 0.99:
        expected_table.append(
            {
                "code": "almost_constant_column",
                "column": column,
                "rows": present - int(counts.iloc[0]),
                "share": counts.iloc[0] / present,
            }
        )
ids = read["customer_no"].to_numpy()
if (np.diff(ids) == 1).all():
    expected_table.append(
        {"code": "row_number_id", "column": "customer_no", "rows": len(ids), "share": None}
    )

# The model columns as preprocess sees them: standard scaling (population standard deviation).
model = read[["senior", "spend", "visits"]].astype(float)
scaled = pd.DataFrame(StandardScaler().fit_transform(model), columns=model.columns)
expected_matrix = []
for column in scaled.columns:
    counts = scaled[column].value_counts()
    if len(counts) != 2:
        continue
    rare = counts.index[-1]
    if abs(rare) > 3:
        expected_matrix.append(
            {
                "code": "dominant_binary",
                "column": column,
                "rows": int(counts.iloc[-1]),
                "share": counts.iloc[-1] / n,
                "z": round(float(rare), 2),
            }
        )

# The event log: 2,000 events over 2023, six of them re-dated 9999-12-31.
m = 2000
start = pd.Timestamp("2023-01-01")
stamps = start + pd.to_timedelta(rng.integers(0, 365 * 24 * 3600, m), unit="s")
events = pd.DataFrame(
    {
        "contact": [f"c{i:03d}" for i in rng.integers(0, 150, m)],
        "at": stamps.strftime("%Y-%m-%d %H:%M:%S"),
        "amount": rng.integers(1, 500, m),
    }
)
far_rows = np.sort(rng.choice(m, 6, replace=False))
events.loc[far_rows, "at"] = "9999-12-31 10:00:00"
events.to_csv(f"{OUT}/events.csv", index=False)

# Day numbers without pandas' nanosecond range limit: the date part as a proleptic day count.
dates = events["at"].str.slice(0, 10).map(
    lambda d: (np.datetime64(d, "D") - np.datetime64("1970-01-01", "D")).astype(int)
)
days = dates.to_numpy()
q1, q3 = np.quantile(days, [0.25, 0.75])
margin = max(10 * (q3 - q1), 365)
late = np.flatnonzero(days > q3 + margin)
expected_events = {
    "code": "far_timestamps",
    "rows": int(len(late)),
    "lines": [int(i) + 2 for i in late],
    "margin_days": round(float(margin)),
}

with open(f"{OUT}/expected.json", "w") as f:
    json.dump(
        {
            "table": expected_table,
            "matrix": expected_matrix,
            "events": expected_events,
        },
        f,
        indent=1,
    )
    f.write("\n")

with open("tests/oracle/weak_data.versions", "w") as f:
    f.write(f"python {platform.python_version()}\n")
    f.write(f"pandas {pd.__version__}\nnumpy {np.__version__}\nscikit-learn {sklearn.__version__}\n")
