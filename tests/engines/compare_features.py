"""Runs a `segflow sql features` query in DuckDB over a CSV log and compares its result with
segflow's features.parquet: identical ids and rows, every value within 1e-9 relative.

    python3 compare_features.py QUERY.sql LOG.csv FEATURES.parquet [--drop COLUMN]
        [--table NAME CSV]...

The log is loaded as table `events` with every column as text, as ingest reads it (`--drop`
leaves a column out, to check that the engine names it); each `--table` loads another CSV
likewise (its delimiter sniffed), for the tables of a several-source pipeline. Columns are matched by position: `category_shares` columns
are named after the log's categories in the artifact and by rank (`<name>_topK`) in the query.
Prints one line per check; exits 1 on the first difference.
"""

import math
import sys

import duckdb
import pyarrow.parquet as pq


def fail(message):
    print(f"DIFFERENT: {message}")
    sys.exit(1)


def main():
    args = sys.argv[1:]
    drop = None
    if "--drop" in args:
        i = args.index("--drop")
        drop = args[i + 1]
        del args[i : i + 2]
    tables = []
    while "--table" in args:
        i = args.index("--table")
        tables.append((args[i + 1], args[i + 2]))
        del args[i : i + 3]
    query_file, log, features = args
    con = duckdb.connect()
    for name, path in tables:
        con.execute(
            f'CREATE TABLE "{name}" AS SELECT * FROM read_csv(?, all_varchar = true, header = true)',
            [path],
        )
    con.execute(
        "CREATE TABLE events AS SELECT * FROM read_csv(?, all_varchar = true, header = true)",
        [log],
    )
    if drop is not None:
        con.execute(f'ALTER TABLE events DROP COLUMN "{drop}"')
    with open(query_file, encoding="utf-8") as f:
        query = f.read()
    result = con.execute(query)
    names = [c[0] for c in result.description]
    rows = result.fetchall()
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
        if any(row[j] != 0 for row in rows):
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
            if hasattr(b, "timestamp") or isinstance(b, str):
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
