"""Runs a segflow SQL query in DuckDB or Spark (local mode) over its input tables, for the SQL
tests, and writes the result as CSV.

    python3 run_query.py duckdb|spark QUERY.sql OUT.csv NAME=INPUT... [--drop NAME=COLUMN]

Each INPUT is a Parquet file (a features artifact, read with its types) or a CSV log (every
column read as text, as ingest reads it; the delimiter the one of , ; | and tab its header
holds most of; `"` quotes and escapes, blank fields null), registered as table NAME. --drop
leaves one column of a table out, to check that the engine names it. The result is
written with a header; doubles with Python's repr (the shortest text that reads back as the
same double), timestamps as `YYYY-MM-DD HH:MM:SS.ffffff`, nulls empty. An engine error goes to
stderr with exit status 1.

Spark runs in local mode on two threads with its own defaults (ANSI mode on in Spark 4), and
only the shuffle partition count lowered: 200 partitions for a few thousand rows cost seconds
and change no result.
"""

import argparse
import csv
import datetime
import sys


def delimiter(path):
    """The one of , ; | and tab the header line holds most of (comma on a tie)."""
    with open(path, encoding="utf-8") as f:
        header = f.readline()
    return max([",", ";", "|", "\t"], key=lambda d: (header.count(d), d == ","))


def run_duckdb(tables, drops, query):
    import duckdb

    con = duckdb.connect()
    for name, path in tables:
        if path.endswith(".parquet"):
            source = "read_parquet(?)"
            params = [path]
        else:
            source = "read_csv(?, all_varchar = true, header = true, delim = ?)"
            params = [path, delimiter(path)]
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM {source}', params)
        if name in drops:
            con.execute(f'ALTER TABLE "{name}" DROP COLUMN "{drops[name]}"')
    try:
        cursor = con.execute(query)
    except duckdb.Error as e:
        raise EngineError(str(e)) from e
    return [d[0] for d in cursor.description], cursor.fetchall()


def run_spark(tables, drops, query):
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("segflow-sql-test")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for name, path in tables:
            if path.endswith(".parquet"):
                frame = spark.read.parquet(path)
            else:
                frame = spark.read.csv(
                    path, header=True, escape='"', inferSchema=False, sep=delimiter(path)
                )
            if name in drops:
                frame = frame.drop(drops[name])
            frame.createOrReplaceTempView(name)
        try:
            result = spark.sql(query.strip().rstrip(";"))
            rows = result.collect()
        except PySparkException as e:
            raise EngineError(str(e)) from e
        return result.columns, [tuple(r) for r in rows]
    finally:
        spark.stop()


class EngineError(Exception):
    pass


def text(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["duckdb", "spark"])
    parser.add_argument("query")
    parser.add_argument("out")
    parser.add_argument("tables", nargs="+", help="NAME=INPUT")
    parser.add_argument("--drop", action="append", default=[], help="NAME=COLUMN")
    args = parser.parse_args()
    tables = [t.split("=", 1) for t in args.tables]
    drops = dict(d.split("=", 1) for d in args.drop)
    with open(args.query, encoding="utf-8") as f:
        query = f.read()
    run = run_duckdb if args.engine == "duckdb" else run_spark
    try:
        columns, rows = run(tables, drops, query)
    except EngineError as e:
        print(e, file=sys.stderr)
        return 1
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([text(v) for v in row])
    return 0


if __name__ == "__main__":
    sys.exit(main())
