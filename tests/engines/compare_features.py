"""Compares an engine's result of a `segflow sql features` query (the CSV that run_query.py or
psql --csv writes) with segflow's features.parquet: identical ids and rows, every value
within 1e-9 relative.

    python3 compare_features.py RESULT.csv FEATURES.parquet

Each cell is read by the artifact column's type: numbers as doubles, booleans as
true/false in any engine's spelling, timestamps as wall-clock
times to the microsecond, text as is; an empty cell is null. Columns are matched by position:
`category_shares` columns are named after the log's categories in the artifact and by rank
(`<name>_topK`) in the query. Prints one line; exits 1 on the first difference.
"""

import csv
import datetime
import math
import sys

import pyarrow.parquet as pq


def fail(message):
    print(f"DIFFERENT: {message}")
    sys.exit(1)


def timestamp(cell):
    """A timestamp as the engines print it (`T` or space, 0 to 9 fraction digits, the
    engine's own trailing zero trimming) as microseconds since 1970."""
    date, _, time = cell.replace("T", " ").partition(" ")
    clock, _, fraction = time.partition(".")
    whole = datetime.datetime.fromisoformat(f"{date} {clock}")
    micros = int((fraction + "000000")[:6])
    return (whole - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1) + micros


def main():
    result, features = sys.argv[1:]
    with open(result, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        names = next(reader)
        rows = [[None if cell == "" else cell for cell in row] for row in reader]
    expected = pq.read_table(features)
    exp_names = expected.column_names
    # Query column index per artifact column; a rank past the log's categories has no
    # artifact column and must be 0 for everyone.
    matched, unmatched, k = [], [], 0
    for j, got in enumerate(names):
        want = exp_names[k] if k < len(exp_names) else None
        rank = "_top" in got and got.rsplit("_top", 1)[1].isdigit()
        if got == want or (
            rank and want is not None and want.startswith(got.rsplit("_top", 1)[0] + "_")
        ):
            matched.append(j)
            k += 1
        elif rank:
            unmatched.append(j)
        else:
            fail(f"column {got} where segflow has {want}")
    if k != len(exp_names):
        fail(f"segflow's columns {exp_names[k:]} are missing from the query")
    for j in unmatched:
        if any(float(row[j]) != 0 for row in rows):
            fail(f"{names[j]} ranks past the log's categories but is not 0")
    rows = [[row[j] for j in matched] for row in rows]
    names = [names[j] for j in matched]
    exp_cols = [expected.column(i).to_pylist() for i in range(len(exp_names))]
    if len(rows) != len(exp_cols[0]):
        fail(f"{len(rows)} rows, segflow has {len(exp_cols[0])}")
    ids = [r[0] for r in rows]
    if ids != exp_cols[0]:
        fail("ids differ (or their order)")
    worst = 0.0
    for j in range(1, len(names)):
        for i, row in enumerate(rows):
            a, b = row[j], exp_cols[j][i]
            if a is None or b is None:
                if a is not None or b is not None:
                    fail(f"{names[j]} of {ids[i]}: {a} vs {b}")
                continue
            if isinstance(b, datetime.datetime):
                want = (b - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)
                if timestamp(a) != want:
                    fail(f"{names[j]} of {ids[i]}: {a} vs {b}")
                continue
            if isinstance(b, bool):
                # DuckDB and Spark print True/False, PostgreSQL t/f.
                if a.lower() not in ("true", "false", "t", "f") or a.lower()[0] != str(b).lower()[0]:
                    fail(f"{names[j]} of {ids[i]}: {a} vs {b}")
                continue
            if isinstance(b, str):
                if a != b:
                    fail(f"{names[j]} of {ids[i]}: {a} vs {b}")
                continue
            a, b = float(a), float(b)
            rel = abs(a - b) / max(abs(b), 1e-300) if a != b else 0.0
            if not math.isfinite(rel) or rel > 1e-9:
                fail(f"{names[j]} of {ids[i]}: {a!r} vs {b!r}")
            worst = max(worst, rel)
    print(f"same: {len(rows)} rows, {len(names)} columns, worst relative difference {worst:.3g}")


if __name__ == "__main__":
    main()
