"""A whitespace-aligned purchase log and its per-customer features, computed by pandas.

Writes purchases.txt (the classic column-aligned layout: a leading space on every line,
columns padded with runs of spaces, dates as %Y%m%d) and purchases_features.csv, the oracle
that tests/tests/readers.rs compares segflow's ingest (`delimiter: whitespace`) and features
stages against, value by value. Run from the repository root:

    python3 tests/oracle/purchases.py

Versions used are written into purchases_features.versions.
"""

import hashlib
import pathlib
import sys

import numpy as np
import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
LOG = HERE / "purchases.txt"
OUT = HERE / "purchases_features.csv"

rng = np.random.default_rng(20240101)
customers = 250
rows = 1500
customer = np.sort(rng.integers(1, customers + 1, size=rows))
day = pd.Timestamp("1997-01-01") + pd.to_timedelta(rng.integers(0, 540, size=rows), unit="D")
cds = rng.integers(1, 8, size=rows)
dollars = np.round(cds * rng.uniform(8.0, 18.0, size=rows), 2)

with LOG.open("w", newline="\n") as f:
    f.write(" customer_id      date  number_of_cds  dollar_value\n")
    for c, d, n, v in zip(customer, day, cds, dollars):
        f.write(f" {c:>11} {d:%Y%m%d} {n:>14} {v:>13.2f}\n")

# An independent reading of the file: pandas' own whitespace splitting.
df = pd.read_csv(LOG, sep=r"\s+", dtype={"customer_id": str})
df["contact_id"] = df["customer_id"].map(lambda s: hashlib.sha256(s.encode()).hexdigest()[:12])
df["day"] = pd.to_datetime(df["date"].astype(str), format="%Y%m%d")
g = df.groupby("contact_id", sort=True)
features = pd.DataFrame(
    {
        "n_purchases": g.size(),
        "n_days_active": g["day"].nunique(),
        "total_value": g["dollar_value"].sum(),
        "mean_value": g["dollar_value"].mean(),
    }
)
features.to_csv(OUT, float_format="%.17g")
OUT.with_suffix(".versions").write_text(
    f"python {sys.version.split()[0]}\npandas {pd.__version__}\nnumpy {np.__version__}\n"
    f"rows {len(df)}\ncustomers {len(features)}\n"
)
