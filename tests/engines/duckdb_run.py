"""Runs a SQL query in DuckDB over a Parquet file loaded as a table, for segflow's SQL tests.

    python3 duckdb_run.py TABLE.parquet QUERY.sql OUT.csv [--name TABLE] [--drop COLUMN]

The table is named `features` unless --name says otherwise; --drop leaves one column out (the
test of a source table lacking a column). Doubles are written with Python's repr, the shortest
text that reads back as the same double. An engine error goes to stderr with exit status 1.
"""

import argparse
import csv
import sys

import duckdb


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("table")
    parser.add_argument("query")
    parser.add_argument("out")
    parser.add_argument("--name", default="features")
    parser.add_argument("--drop")
    args = parser.parse_args()
    con = duckdb.connect()
    select = "*" if args.drop is None else f'* EXCLUDE ("{args.drop}")'
    con.execute(
        f'CREATE TABLE "{args.name}" AS SELECT {select} FROM read_parquet(?)', [args.table]
    )
    with open(args.query, encoding="utf-8") as f:
        query = f.read()
    try:
        cursor = con.execute(query)
    except duckdb.Error as e:
        print(e, file=sys.stderr)
        return 1
    columns = [d[0] for d in cursor.description]
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in cursor.fetchall():
            writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    return 0


if __name__ == "__main__":
    sys.exit(main())
