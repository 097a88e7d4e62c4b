"""Wall-clock times of epoch timestamps in two IANA zones, computed by Python's zoneinfo.

Reads timestamps/calls_unix_seconds.csv (written by timestamps.py: March 2024, across the US
daylight-saving change of 10 March and the European one of 31 March) and writes
timestamps/timezone.csv: per data line, the wall-clock time in America/New_York and in
Europe/Berlin as microseconds since 1970-01-01 00:00:00 of that wall clock. It is the oracle
tests/tests/timestamps.rs compares segflow's `timezone:` against. Run from the repository root:

    python3 tests/oracle/timezone.py
"""

import csv
import pathlib
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

HERE = pathlib.Path(__file__).resolve().parent / "timestamps"
ZONES = ["America/New_York", "Europe/Berlin"]
NAIVE_EPOCH = datetime(1970, 1, 1)


def wall_micros(instant_us, zone):
    """The wall-clock time of an instant in `zone`, as naive microseconds since 1970."""
    seconds, micros = divmod(instant_us, 1_000_000)
    local = datetime.fromtimestamp(seconds, tz=timezone.utc).astimezone(ZoneInfo(zone))
    d = local.replace(tzinfo=None) - NAIVE_EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + micros


with (HERE / "calls_unix_seconds.csv").open(newline="") as f:
    reader = csv.reader(f)
    header = next(reader)
    column = header.index("ts")
    rows = []
    for line, record in enumerate(reader, start=2):
        instant = int(Decimal(record[column]) * 1_000_000)
        rows.append([line] + [wall_micros(instant, z) for z in ZONES])

with (HERE / "timezone.csv").open("w", newline="") as f:
    out = csv.writer(f, lineterminator="\n")
    out.writerow(["source_line"] + ZONES)
    out.writerows(rows)
