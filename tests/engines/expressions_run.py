"""Runs segflow's row expressions, rendered as SQL, over the expression oracle's input in an
engine, for tests/tests/sql_expressions.rs.

    python3 expressions_run.py duckdb|postgres|spark INPUT.csv QUERIES.json OUT.csv

PostgreSQL is reached through psql on the server PGHOST names (tests/engines/postgres.sh
start), as user `segflow`.

INPUT.csv is tests/oracle/expressions_input.csv (NULL written \\N). Its columns are loaded with
the types the SQL rendering gives them: numbers as doubles, booleans as booleans, text as
text and timestamps as microseconds since 1970-01-01 00:00:00 (a 64-bit integer), with the
row's index as `sf_row`. QUERIES.json lists {"expression", "type", "sql"}; each SQL expression
is selected over every row. OUT.csv has the oracle's layout (expression, type, row, value):
doubles as Python's repr, booleans true/false, timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]`, NULL
as \\N. DuckDB evaluates each expression over all rows (an engine error goes to stderr with
exit status 1); PostgreSQL, which stops a query where a double leaves its range, evaluates
each (expression, row) alone and writes such a cell as `ERROR: ` and the message. Spark runs
in local mode (PySpark), with its defaults (ANSI mode on in Spark 4).
"""

import csv
import datetime as dt
import io
import json
import subprocess
import sys

import duckdb

NULL = r"\N"
TYPES = {
    "Quantity": "DOUBLE",
    "UnitPrice": "DOUBLE",
    "Customer ID": "DOUBLE",
    "InvoiceDate": "BIGINT",
    "Returned": "BOOLEAN",
}
EPOCH = dt.datetime(1970, 1, 1)


def typed(name, text):
    if text == NULL:
        return None
    kind = TYPES.get(name, "VARCHAR")
    if kind == "DOUBLE":
        return float(text) + 0.0
    if kind == "BOOLEAN":
        return {"true": True, "false": False}[text]
    if kind == "BIGINT":
        return (dt.datetime.fromisoformat(text) - EPOCH) // dt.timedelta(microseconds=1)
    return text


def written(value, kind):
    if value is None:
        return NULL
    if kind == "number":
        return repr(float(value))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return (EPOCH + dt.timedelta(microseconds=value)).isoformat(sep=" ")
    return value


def from_postgres(text, kind):
    """A value as psql's CSV writes it, in the engine-neutral form `written` expects."""
    if text == NULL:
        return None
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return text == "t"
    if kind == "timestamp":
        return int(text)
    return text


def postgres(header, rows, queries):
    """(expression, row, value or `ERROR: …`) for every cell, in one psql session."""
    types = {"DOUBLE": "DOUBLE PRECISION"}
    columns = ", ".join(f'"{n}" {types.get(TYPES.get(n), TYPES.get(n, "TEXT"))}' for n in header)
    data = io.StringIO()
    writer = csv.writer(data, lineterminator="\n")
    for row in rows:
        writer.writerow([NULL if v is None else repr(v) if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else v for v in row])
    script = [
        "\\set ON_ERROR_STOP 0",
        f"CREATE TEMPORARY TABLE input (sf_row INTEGER, {columns});",
        f"COPY input FROM STDIN WITH (FORMAT csv, NULL '{NULL}');",
        data.getvalue() + "\\.",
    ]
    for i, q in enumerate(queries):
        for r in range(len(rows)):
            script.append(f"\\echo @@ {i} {r}")
            script.append(
                f"COPY (SELECT {q['sql']} FROM input WHERE sf_row = {r}) TO STDOUT "
                f"WITH (FORMAT csv, NULL '{NULL}');"
            )
    out = subprocess.run(
        ["psql", "-X", "-q", "-U", "segflow", "-d", "postgres"],
        input="\n".join(script) + "\n",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=True,
    ).stdout
    cells, key = [], None
    for line in out.splitlines():
        if line.startswith("@@ "):
            key = tuple(int(x) for x in line.split()[1:])
        elif key is not None:
            i, r = key
            kind = queries[i]["type"]
            if line.startswith("psql:") or line.startswith("ERROR:"):
                value = "ERROR: " + line.split("ERROR:", 1)[1].strip()
            else:
                value = written(from_postgres(next(csv.reader([line])) [0], kind), kind)
            cells.append((queries[i]["expression"], kind, r, value))
            key = None
    return cells


def spark(header, rows, queries):
    """(expression, row, value) for every cell, in one local Spark session."""
    from pyspark.sql import SparkSession
    from pyspark.sql import types as t

    kinds = {"DOUBLE": t.DoubleType(), "BIGINT": t.LongType(), "BOOLEAN": t.BooleanType()}
    schema = t.StructType(
        [t.StructField("sf_row", t.IntegerType())]
        + [t.StructField(n, kinds.get(TYPES.get(n), t.StringType())) for n in header]
    )
    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    try:
        session.createDataFrame(rows, schema).createOrReplaceTempView("input")
        cells = []
        for q in queries:
            result = session.sql(f"SELECT sf_row, {q['sql']} FROM input ORDER BY sf_row").collect()
            for row, value in result:
                cells.append((q["expression"], q["type"], row, written(value, q["type"])))
        return cells
    finally:
        session.stop()


def main():
    engine, input_csv, queries_json, out_csv = sys.argv[1:]
    with open(input_csv, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [[i] + [typed(n, v) for n, v in zip(header, record)] for i, record in enumerate(reader)]
    with open(queries_json, encoding="utf-8") as f:
        queries = json.load(f)
    if engine in ("postgres", "spark"):
        cells = (postgres if engine == "postgres" else spark)(header, rows, queries)
        with open(out_csv, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(["expression", "type", "row", "value"])
            out.writerows(cells)
        return 0
    if engine != "duckdb":
        print(f"unknown engine {engine}", file=sys.stderr)
        return 1
    con = duckdb.connect()
    columns = ", ".join(f'"{n}" {TYPES.get(n, "VARCHAR")}' for n in header)
    con.execute(f"CREATE TABLE input (sf_row INTEGER, {columns})")
    con.executemany(f"INSERT INTO input VALUES ({', '.join('?' * (len(header) + 1))})", rows)
    with open(out_csv, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["expression", "type", "row", "value"])
        for q in queries:
            try:
                result = con.execute(f"SELECT sf_row, {q['sql']} FROM input ORDER BY sf_row").fetchall()
            except duckdb.Error as e:
                print(f"{q['expression']}: {e}", file=sys.stderr)
                return 1
            for row, value in result:
                out.writerow([q["expression"], q["type"], row, written(value, q["type"])])
    return 0


if __name__ == "__main__":
    sys.exit(main())
