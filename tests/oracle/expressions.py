"""Expected values of segflow's SQL row expressions, computed independently in Python.

Reads expressions_input.csv (hand-written: nulls written \\N, zeros, negative zero,
negatives, overflow, Unicode text, timestamps across weekdays and hours) with pandas, and
evaluates every expression of EXPRESSIONS below with a plain-Python reading of the rules
in docs/expressions.md: SQL NULLs, three-valued logic, division by zero and any non-finite
result as NULL, try-casts, ISO weekdays. Writes expressions_expected.csv, one line per
(expression, row), which tests/tests/expressions.rs compares with segflow-expr value by
value (floats bit for bit). Run from the repository root:

    python3 tests/oracle/expressions.py

Every float is computed with the same IEEE operation segflow uses (+ - * / fmod sqrt are
correctly rounded; ln and log1p are the C library's, which both Python's math module and
Rust's f64 call), so the comparison is exact. Versions are written to
expressions_expected.versions.
"""

import csv
import datetime as dt
import math
import pathlib
import re
import sys
from decimal import Decimal

import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
INPUT = HERE / "expressions_input.csv"
OUT = HERE / "expressions_expected.csv"
NULL_TEXT = r"\N"

TYPES = {
    "InvoiceNo": "text",
    "Description": "text",
    "Quantity": "number",
    "UnitPrice": "number",
    "Customer ID": "number",
    "InvoiceDate": "timestamp",
    "Returned": "boolean",
    "Code": "text",
}


# --- values -------------------------------------------------------------------------------


def num(x):
    """Numbers are finite or NULL, and -0 is 0."""
    if x is None or not math.isfinite(x):
        return None
    return x + 0.0


def read(value, kind):
    if value is None:
        return None
    if kind == "number":
        return num(float(value))
    if kind == "boolean":
        return {"true": True, "false": False}[value]
    if kind == "timestamp":
        return dt.datetime.fromisoformat(value)
    return value


def strict(f):
    """A function that is NULL when any argument is NULL."""

    def g(*args):
        return None if any(a is None for a in args) else f(*args)

    return g


add = strict(lambda a, b: num(a + b))
sub = strict(lambda a, b: num(a - b))
mul = strict(lambda a, b: num(a * b))
div = strict(lambda a, b: None if b == 0 else num(a / b))
mod = strict(lambda a, b: None if b == 0 else num(math.fmod(a, b)))
neg = strict(lambda a: num(-a))
eq = strict(lambda a, b: a == b)
ne = strict(lambda a, b: a != b)
lt = strict(lambda a, b: a < b)
le = strict(lambda a, b: a <= b)
gt = strict(lambda a, b: a > b)
ge = strict(lambda a, b: a >= b)


def text_lt(a, b):
    """Text compares by UTF-8 bytes (the same order as code points)."""
    return None if a is None or b is None else a.encode() < b.encode()


def and3(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def or3(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def not3(a):
    return None if a is None else not a


def in3(x, items):
    if x is None:
        return None
    if any(i is not None and x == i for i in items):
        return True
    return None if any(i is None for i in items) else False


def between(x, low, high):
    return and3(ge(x, low), le(x, high))


def like(s, pattern):
    if s is None:
        return None
    regex, chars = "", iter(pattern)
    for c in chars:
        if c == "\\":
            regex += re.escape(next(chars))
        elif c == "%":
            regex += ".*"
        elif c == "_":
            regex += "."
        else:
            regex += re.escape(c)
    return re.fullmatch(regex, s, re.DOTALL) is not None


def case(*branches, otherwise=None):
    """branches: (condition, value) pairs; the first TRUE condition wins."""
    for condition, value in branches:
        if condition is True:
            return value
    return otherwise


def coalesce(*args):
    return next((a for a in args if a is not None), None)


BLANK = " \t\n\r"
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def to_number(s):
    if s is None:
        return None
    s = s.strip(BLANK)
    return num(float(s)) if NUMBER.fullmatch(s) else None


def to_integer(x, bits):
    if x is None:
        return None
    t = float(math.trunc(x)) + 0.0
    return t if -(2 ** (bits - 1)) <= t < 2 ** (bits - 1) else None


def to_bool(s):
    if s is None:
        return None
    return {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}.get(
        s.strip(BLANK).lower()
    )


def number_text(x):
    """Shortest round-trip digits (Python's repr) laid out as JavaScript's Number.toString."""
    if x is None:
        return None
    if x == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(x)).normalize().as_tuple()
    digits = "".join(map(str, digits))
    k, n = len(digits), exponent + len(digits)
    out = "-" if sign else ""
    if k <= n <= 21:
        return out + digits + "0" * (n - k)
    if 0 < n <= 21:
        return out + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return out + "0." + "0" * -n + digits
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return out + f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def timestamp_text(t):
    if t is None:
        return None
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    return text + ("." + f"{t.microsecond:06d}".rstrip("0") if t.microsecond else "")


def round_away(x, digits=0):
    """x·10^d rounded half away from zero (ties judged on the exact product), over 10^d."""
    if x is None:
        return None
    scale = 10.0 ** abs(digits)
    y = x * scale if digits >= 0 else x / scale
    if not math.isfinite(y):
        return x
    whole = float(math.trunc(y))
    if abs(y - whole) >= 0.5:
        whole += math.copysign(1.0, y)
    r = whole / scale if digits >= 0 else whole * scale
    return num(r if math.isfinite(r) else x)


ln = strict(lambda x: math.log(x) if x > 0 else None)
log1p = strict(lambda x: math.log1p(x) if x > -1 else None)
sqrt = strict(lambda x: math.sqrt(x) if x >= 0 else None)
floor = strict(lambda x: num(float(math.floor(x))))
ceil = strict(lambda x: num(float(math.ceil(x))))
hour = strict(lambda t: float(t.hour))
weekday = strict(lambda t: float(t.isoweekday()))
date = strict(lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0))
stamp = dt.datetime.fromisoformat

# --- the expressions: segflow text, result type, and the same computation over a row r ---

EXPRESSIONS = [
    ("Quantity * UnitPrice", "number", lambda r: mul(r["Quantity"], r["UnitPrice"])),
    ("Quantity + UnitPrice - 1", "number", lambda r: sub(add(r["Quantity"], r["UnitPrice"]), 1.0)),
    ("Quantity / UnitPrice", "number", lambda r: div(r["Quantity"], r["UnitPrice"])),
    ("Quantity % UnitPrice", "number", lambda r: mod(r["Quantity"], r["UnitPrice"])),
    ("-Quantity", "number", lambda r: neg(r["Quantity"])),
    ("Quantity * 1e10", "number", lambda r: mul(r["Quantity"], 1e10)),
    ('"Customer ID" / 1000', "number", lambda r: div(r["Customer ID"], 1000.0)),
    ("Quantity > 0", "boolean", lambda r: gt(r["Quantity"], 0.0)),
    ("Quantity = UnitPrice", "boolean", lambda r: eq(r["Quantity"], r["UnitPrice"])),
    ("UnitPrice <> 0", "boolean", lambda r: ne(r["UnitPrice"], 0.0)),
    ("Quantity <= -0.5", "boolean", lambda r: le(r["Quantity"], -0.5)),
    ("InvoiceNo < Description", "boolean", lambda r: text_lt(r["InvoiceNo"], r["Description"])),
    ("Returned = TRUE", "boolean", lambda r: eq(r["Returned"], True)),
    ("Returned < (Quantity > 0)", "boolean", lambda r: lt(r["Returned"], gt(r["Quantity"], 0.0))),
    ("InvoiceDate >= '2024-01-03'", "boolean", lambda r: ge(r["InvoiceDate"], stamp("2024-01-03"))),
    (
        "InvoiceDate < '2024-01-05 17:30:15'",
        "boolean",
        lambda r: lt(r["InvoiceDate"], stamp("2024-01-05 17:30:15")),
    ),
    (
        "NOT starts_with(InvoiceNo, 'C') AND \"Customer ID\" IS NOT NULL",
        "boolean",
        lambda r: and3(
            not3(None if r["InvoiceNo"] is None else r["InvoiceNo"].startswith("C")),
            r["Customer ID"] is not None,
        ),
    ),
    ("Returned OR Quantity < 0", "boolean", lambda r: or3(r["Returned"], lt(r["Quantity"], 0.0))),
    ("NOT Returned", "boolean", lambda r: not3(r["Returned"])),
    ("Quantity IS NULL", "boolean", lambda r: r["Quantity"] is None),
    ("InvoiceDate IS NOT NULL", "boolean", lambda r: r["InvoiceDate"] is not None),
    ("Quantity IN (6, -1, 0, NULL)", "boolean", lambda r: in3(r["Quantity"], [6.0, -1.0, 0.0, None])),
    ("InvoiceNo NOT IN ('C', '536365')", "boolean", lambda r: not3(in3(r["InvoiceNo"], ["C", "536365"]))),
    ("Quantity BETWEEN -1 AND 6", "boolean", lambda r: between(r["Quantity"], -1.0, 6.0)),
    (
        "InvoiceDate NOT BETWEEN '2024-01-02' AND '2024-01-05'",
        "boolean",
        lambda r: not3(between(r["InvoiceDate"], stamp("2024-01-02"), stamp("2024-01-05"))),
    ),
    ("Description LIKE '%a%'", "boolean", lambda r: like(r["Description"], "%a%")),
    ("Description NOT LIKE '_t%'", "boolean", lambda r: not3(like(r["Description"], "_t%"))),
    ("Description LIKE '%100\\%'", "boolean", lambda r: like(r["Description"], "%100\\%")),
    ("Description LIKE 'a\\_b%'", "boolean", lambda r: like(r["Description"], "a\\_b%")),
    ("Description LIKE '%\\\\%'", "boolean", lambda r: like(r["Description"], "%\\\\%")),
    (
        "CASE WHEN Quantity < 0 THEN 'return' WHEN Quantity = 0 THEN 'zero' ELSE 'sale' END",
        "text",
        lambda r: case((lt(r["Quantity"], 0.0), "return"), (eq(r["Quantity"], 0.0), "zero"), otherwise="sale"),
    ),
    (
        "CASE weekday(InvoiceDate) WHEN 6 THEN 'weekend' WHEN 7 THEN 'weekend' ELSE 'weekday' END",
        "text",
        lambda r: case(
            (eq(weekday(r["InvoiceDate"]), 6.0), "weekend"),
            (eq(weekday(r["InvoiceDate"]), 7.0), "weekend"),
            otherwise="weekday",
        ),
    ),
    ("CASE WHEN Returned THEN Quantity END", "number", lambda r: case((r["Returned"], r["Quantity"]))),
    (
        'COALESCE(UnitPrice, "Customer ID", 0)',
        "number",
        lambda r: coalesce(r["UnitPrice"], r["Customer ID"], 0.0),
    ),
    ("CAST(Code AS DOUBLE)", "number", lambda r: to_number(r["Code"])),
    ("CAST(Code AS INTEGER)", "number", lambda r: to_integer(to_number(r["Code"]), 32)),
    ("CAST(Quantity AS BIGINT)", "number", lambda r: to_integer(r["Quantity"], 64)),
    ("CAST(Code AS BOOLEAN)", "boolean", lambda r: to_bool(r["Code"])),
    ("CAST(Quantity AS BOOLEAN)", "boolean", lambda r: ne(r["Quantity"], 0.0)),
    ("CAST(Returned AS INTEGER)", "number", lambda r: None if r["Returned"] is None else float(r["Returned"])),
    ("CAST(Returned AS TEXT)", "text", lambda r: None if r["Returned"] is None else str(r["Returned"]).lower()),
    ("CAST(Quantity * UnitPrice AS VARCHAR)", "text", lambda r: number_text(mul(r["Quantity"], r["UnitPrice"]))),
    ("CAST(UnitPrice / 7 AS TEXT)", "text", lambda r: number_text(div(r["UnitPrice"], 7.0))),
    ("CAST(InvoiceDate AS TEXT)", "text", lambda r: timestamp_text(r["InvoiceDate"])),
    ("abs(Quantity)", "number", lambda r: None if r["Quantity"] is None else abs(r["Quantity"])),
    ("ln(UnitPrice)", "number", lambda r: ln(r["UnitPrice"])),
    ("log1p(Quantity)", "number", lambda r: log1p(r["Quantity"])),
    ("sqrt(Quantity)", "number", lambda r: sqrt(r["Quantity"])),
    ("round(Quantity * UnitPrice, 2)", "number", lambda r: round_away(mul(r["Quantity"], r["UnitPrice"]), 2)),
    ("round(Quantity / 7)", "number", lambda r: round_away(div(r["Quantity"], 7.0))),
    ("round(Quantity, -1)", "number", lambda r: round_away(r["Quantity"], -1)),
    ("round(UnitPrice * 1000, 15)", "number", lambda r: round_away(mul(r["UnitPrice"], 1000.0), 15)),
    ("floor(UnitPrice)", "number", lambda r: floor(r["UnitPrice"])),
    ("ceil(UnitPrice)", "number", lambda r: ceil(r["UnitPrice"])),
    ("lower(Description)", "text", lambda r: None if r["Description"] is None else r["Description"].lower()),
    ("upper(Description)", "text", lambda r: None if r["Description"] is None else r["Description"].upper()),
    ("length(Description)", "number", lambda r: None if r["Description"] is None else float(len(r["Description"]))),
    (
        "starts_with(Description, 'Stra')",
        "boolean",
        lambda r: None if r["Description"] is None else r["Description"].startswith("Stra"),
    ),
    ("hour(InvoiceDate)", "number", lambda r: hour(r["InvoiceDate"])),
    ("weekday(InvoiceDate)", "number", lambda r: weekday(r["InvoiceDate"])),
    ("date(InvoiceDate)", "timestamp", lambda r: date(r["InvoiceDate"])),
    ("date(InvoiceDate) = '2024-01-01'", "boolean", lambda r: eq(date(r["InvoiceDate"]), stamp("2024-01-01"))),
    (
        "CASE WHEN hour(InvoiceDate) < 12 THEN 'am' WHEN hour(InvoiceDate) >= 12 THEN 'pm' END",
        "text",
        lambda r: case((lt(hour(r["InvoiceDate"]), 12.0), "am"), (ge(hour(r["InvoiceDate"]), 12.0), "pm")),
    ),
]


def write(value, kind):
    if value is None:
        return NULL_TEXT
    if kind == "number":
        assert isinstance(value, float) and math.isfinite(value) and not (value == 0 and math.copysign(1, value) < 0)
        return repr(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return value.isoformat(sep=" ")
    return value


def main():
    frame = pd.read_csv(INPUT, dtype=str, keep_default_na=False, na_values=[NULL_TEXT])
    rows = [
        {name: read(None if pd.isna(v) else v, TYPES[name]) for name, v in record.items()}
        for record in frame.to_dict("records")
    ]
    with open(OUT, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["expression", "type", "row", "value"])
        for text, kind, compute in EXPRESSIONS:
            for i, row in enumerate(rows):
                out.writerow([text, kind, i, write(compute(row), kind)])
    (HERE / "expressions_expected.versions").write_text(
        f"python {sys.version.split()[0]}\npandas {pd.__version__}\n"
        f"expressions {len(EXPRESSIONS)}\nrows {len(rows)}\n"
    )


if __name__ == "__main__":
    main()
