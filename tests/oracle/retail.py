"""The retail pipeline's ingest counts and RFM features, computed independently by pandas.

Reads data/retail/online_retail_first20k.csv (UCI Online Retail, first 19,999 invoice lines)
as text and applies pipelines/retail.yaml's ingest and features stages by their documented
definitions (tests/oracle/eventlog.py): blank CustomerIDs excluded, exact duplicate lines
excluded, Quantity and UnitPrice read as numbers, `line_value = Quantity * UnitPrice`,
`is_return = starts_with(InvoiceNo, 'C')`, rows without `UnitPrice > 0` excluded; then the rfm,
returns and context feature blocks per customer. Writes retail_features.csv and
retail_counts.json, the oracles segflow's retail run is compared against, value by value.
Run from the repository root:

    python3 tests/oracle/retail.py

Versions used, as_of and the input's SHA-256 are written into retail_features.versions.
"""

import csv
import hashlib
import pathlib

import pandas as pd

import eventlog as log

ROOT = pathlib.Path(__file__).resolve().parents[2]
CSV = ROOT / "data/retail/online_retail_first20k.csv"
HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "retail_features.csv"
COUNTS = HERE / "retail_counts.json"
SHA256 = "6483270260c880701ed89dfc051df671f9cd9e48c30d3fcac8b57170d2c76dc6"

digest = hashlib.sha256(CSV.read_bytes()).hexdigest()
assert digest == SHA256, f"{CSV} changed: sha256 {digest}"

# Every record has the header's width (so no rejects for it, and pandas reads them all).
with CSV.open(newline="") as f:
    widths = {len(record) for record in csv.reader(f)}
assert widths == {8}, widths

raw = pd.read_csv(CSV, dtype=str, keep_default_na=False)
rows_in = len(raw)

# Blank customers, then exact duplicates among the rest.
blank, duplicate = log.screened(raw, "CustomerID", dedupe=True)
rows = raw[~blank & ~duplicate]

# Parsing: InvoiceDate is M/D/YY H:MM; Quantity and UnitPrice are declared numbers.
ts = pd.to_datetime(rows["InvoiceDate"].str.strip(), format="%m/%d/%y %H:%M", errors="coerce")
quantity, bad_quantity = log.numbers(rows["Quantity"])
unit_price, bad_price = log.numbers(rows["UnitPrice"])
rejected = ts.isna() | bad_quantity | bad_price
parsed = pd.DataFrame({
    "contact_id": log.contact_ids(rows["CustomerID"], 12),
    "ts": ts,
    "category": rows["Country"],
    "InvoiceNo": rows["InvoiceNo"],
    "Quantity": quantity,
    "UnitPrice": unit_price,
})[~rejected]
parsed["line_value"] = parsed["Quantity"] * parsed["UnitPrice"]
parsed["is_return"] = parsed["InvoiceNo"].str.startswith("C")

# The row filter, `where: "UnitPrice > 0"`; a null price is not > 0.
by_where = ~(parsed["UnitPrice"] > 0)
events = parsed[~by_where]
counts = log.tally(rows_in, blank, duplicate, rejected, by_where, events)

f = log.Features(events)
sale = ~events["is_return"]
ret = events["is_return"]
features = {}
# rfm
features["recency_days"] = f.recency_days(sale)
features["n_invoices"] = f.distinct("InvoiceNo", sale)
features["spend"] = f.sum("line_value", sale)
features["log_spend"] = f.log1p(features["spend"])
features["avg_basket"] = f.ratio(features["spend"], features["n_invoices"])
# returns
features["n_return_invoices"] = f.distinct("InvoiceNo", ret)
features["n_all_invoices"] = f.distinct("InvoiceNo")
features["return_rate"] = f.ratio(features["n_return_invoices"], features["n_all_invoices"])
# context
features["n_lines"] = f.count()
features["tenure_days"] = f.tenure_days(sale)
features["mean_gap_days"] = f.gap_days("mean", sale)
features["units"] = f.sum("Quantity", sale)
features["country"] = f.mode("category")

log.write(features, counts, OUT, COUNTS, f.as_of, [f"input_sha256 {SHA256}"])
