"""Parquet inputs for ingest, and the same rows as CSV, written by pyarrow.

tests/tests/parquet_input.rs ingests each Parquet input and the CSV of the same rows and
compares the artifacts value by value. Written here:

- events.parquet: one file as DuckDB writes it: an int64 contact, a timestamp[us, tz=UTC]
  (an instant), a float amount, a nullable string channel, an int32 item count, a boolean, a
  date and the country;
- events_by_country/: the same rows as a Hive-partitioned directory as Spark writes it
  (`country=…/part-0000.parquet`, the null country under `__HIVE_DEFAULT_PARTITION__`, a
  `_SUCCESS` marker and hidden `.crc` checksums, timestamps as legacy INT96 with no Arrow
  schema), one partition in two part files and one part compressed with zstd, one with gzip;
- events.csv: the same rows as text: timestamps as their UTC wall-clock time, booleans
  `true`/`false`, nulls as empty fields;
- events_ts_new_york.csv: each row's timestamp as wall-clock time in America/New_York, by
  pandas' `tz_convert` (the oracle for `timezone: America/New_York`);
- table.parquet / table.csv: an entity table with ints of two widths, a float, a decimal,
  a zero-padded code kept as a string, and nulls.

The rows are ordered by country (null last) as the directory's sorted part files are, so
the file, the directory and the CSV hold the rows in one order. Run from the repository
root:

    python3 tests/oracle/parquet_input.py
"""

import datetime as dt
import decimal
import pathlib
import random
import shutil
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).resolve().parent / "parquet_input"
rng = random.Random(20240310)

# Instants around both 2024 daylight-saving changes of New York (10 March 07:00 UTC, 3 November
# 06:00 UTC: the wall-clock hour 01:00–02:00 happens twice), some with microseconds.
starts = [dt.datetime(2024, 3, 10, 5, 0), dt.datetime(2024, 11, 3, 4, 30)]
rows = []
for i in range(40):
    start = starts[i % 2]
    instant = start + dt.timedelta(
        seconds=rng.randrange(4 * 3600), microseconds=rng.choice([0, 1, 500_000, 123_456])
    )
    rows.append(
        {
            "contact": 4_400_100 + rng.randrange(7),
            "ts": instant.replace(tzinfo=dt.timezone.utc),
            # Sums of tenths: values whose shortest text is long (0.30000000000000004).
            "amount": sum(rng.randrange(1, 50) / 10 for _ in range(rng.randrange(1, 4))),
            "channel": rng.choice(["web", "app", "phone", None]),
            "items": rng.randrange(1, 9),
            "first_visit": rng.random() < 0.3,
            "visit_date": instant.date(),
            "country": rng.choice(["DE", "FR", "GB", None]),
        }
    )
ORDER = ["DE", "FR", "GB", None]
rows.sort(key=lambda r: ORDER.index(r["country"]))

SCHEMA = pa.schema(
    [
        ("contact", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("amount", pa.float64()),
        ("channel", pa.string()),
        ("items", pa.int32()),
        ("first_visit", pa.bool_()),
        ("visit_date", pa.date32()),
        ("country", pa.string()),
    ]
)


def table_of(rs, schema=SCHEMA):
    return pa.Table.from_pylist(rs, schema=schema)


if HERE.exists():
    shutil.rmtree(HERE)
HERE.mkdir()
pq.write_table(table_of(rows), HERE / "events.parquet")

# Spark's layout: partition columns live only in the directory names.
spark = pa.schema([f for f in SCHEMA if f.name != "country"])
dataset = HERE / "events_by_country"
dataset.mkdir()
for country in ORDER:
    part_rows = [{k: v for k, v in r.items() if k != "country"} for r in rows if r["country"] == country]
    folder = dataset / f"country={country or '__HIVE_DEFAULT_PARTITION__'}"
    folder.mkdir()
    # Germany's rows in two part files; France's zstd-, Britain's gzip-compressed.
    chunks = [part_rows[:3], part_rows[3:]] if country == "DE" else [part_rows]
    codec = {"FR": "zstd", "GB": "gzip"}.get(country, "snappy")
    for n, chunk in enumerate(chunks):
        name = f"part-{n:04d}.parquet"
        pq.write_table(
            table_of(chunk, spark),
            folder / name,
            compression=codec,
            use_deprecated_int96_timestamps=True,
            store_schema=False,
        )
        (folder / f".{name}.crc").write_bytes(b"not parquet")
(dataset / "_SUCCESS").write_bytes(b"")


def text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(path, rs, names):
    with path.open("w", newline="\n") as f:
        f.write(",".join(names) + "\n")
        for r in rs:
            f.write(",".join(text(r[n]) for n in names) + "\n")


write_csv(HERE / "events.csv", rows, SCHEMA.names)

local = pd.Series([r["ts"] for r in rows]).dt.tz_convert("America/New_York").dt.tz_localize(None)
with (HERE / "events_ts_new_york.csv").open("w", newline="\n") as f:
    f.write("row,ts\n")
    for i, t in enumerate(local, start=1):
        f.write(f"{i},{t.strftime('%Y-%m-%d %H:%M:%S.%f')}\n")

TABLE_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("age", pa.int16()),
        ("visits", pa.int64()),
        ("spend", pa.float64()),
        ("balance", pa.decimal128(10, 2)),
        ("zip", pa.string()),
        ("segment", pa.string()),
    ]
)
customers = [
    {
        "customer_id": f"C{1000 + i}",
        "age": rng.randrange(18, 90),
        "visits": rng.choice([rng.randrange(0, 400), None]),
        "spend": round(rng.uniform(0, 500), rng.randrange(1, 4)),
        "balance": decimal.Decimal(rng.randrange(-50_000, 500_000)) / 100,
        "zip": f"{rng.randrange(0, 100_000):05d}",
        "segment": rng.choice(["gold", "silver", None]),
    }
    for i in range(25)
]
pq.write_table(pa.Table.from_pylist(customers, schema=TABLE_SCHEMA), HERE / "table.parquet")
write_csv(HERE / "table.csv", customers, TABLE_SCHEMA.names)

(HERE / "versions").write_text(
    f"python {sys.version.split()[0]}\npyarrow {pa.__version__}\npandas {pd.__version__}\n"
    f"events {len(rows)}\ncustomers {len(customers)}\n"
)
