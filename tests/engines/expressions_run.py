"""Runs segflow's row expressions, rendered as SQL, over the expression oracle's input in an
engine, for tests/tests/sql_expressions.rs.

    python3 expressions_run.py duckdb INPUT.csv QUERIES.json OUT.csv

INPUT.csv is tests/oracle/expressions_input.csv (NULL written \\N). Its columns are loaded with
the types the SQL rendering gives them: numbers as doubles, booleans as booleans, text as
text and timestamps as microseconds since 1970-01-01 00:00:00 (a 64-bit integer), with the
row's index as `sf_row`. QUERIES.json lists {"expression", "type", "sql"}; each SQL expression
is selected over every row. OUT.csv has the oracle's layout (expression, type, row, value):
doubles as Python's repr, booleans true/false, timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]`, NULL
as \\N. An engine error goes to stderr with exit status 1.
"""

import csv
import datetime as dt
import json
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


def main():
    engine, input_csv, queries_json, out_csv = sys.argv[1:]
    if engine != "duckdb":
        print(f"unknown engine {engine}", file=sys.stderr)
        return 1
    with open(input_csv, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [[i] + [typed(n, v) for n, v in zip(header, record)] for i, record in enumerate(reader)]
    with open(queries_json, encoding="utf-8") as f:
        queries = json.load(f)
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
