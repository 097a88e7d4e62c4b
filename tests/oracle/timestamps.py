"""One small call log written three ways, and its per-contact features, computed by Python.

The same 60 calls are written as unix seconds (calls_unix_seconds.csv), unix milliseconds
(calls_unix_millis.csv) and seconds relative to an origin (calls_seconds_since.csv, some of
them negative), with decimals where the time has a fraction. features.csv is the oracle that
tests/tests/timestamps.rs compares segflow's ingest and features stages against: first and
last call (microseconds since the epoch), recency in days to the latest call of the log, and
the share of calls between 08:00 and 17:59. It is computed with Python's datetime from the
generated instants, independently of the text the log holds. Run from the repository root:

    python3 tests/oracle/timestamps.py
"""

import hashlib
import pathlib
import random
import sys
from datetime import datetime, timedelta

HERE = pathlib.Path(__file__).resolve().parent / "timestamps"
EPOCH = datetime(1970, 1, 1)
ORIGIN = datetime(2024, 3, 10, 12, 0, 0)  # the relative log's `formats.origin`

rng = random.Random(20240310)
calls = []
for _ in range(60):
    contact = str(600100 + rng.randrange(6))
    # Within March 2024, on a 500 µs grid, so some calls have a fractional second.
    instant = datetime(2024, 3, 1) + timedelta(
        seconds=rng.randrange(30 * 86400), microseconds=500 * rng.randrange(2000)
    )
    calls.append((contact, instant, rng.randrange(1, 600)))


def micros(t):
    d = t - EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def decimal(us, unit):
    """`us` microseconds written as a decimal count of `unit` microseconds."""
    sign = "-" if us < 0 else ""
    whole, frac = divmod(abs(us), unit)
    digits = len(str(unit)) - 1
    text = f"{sign}{whole}"
    if frac:
        text += "." + f"{frac:0{digits}d}".rstrip("0")
    return text


ORIGIN_US = micros(ORIGIN)
for name, write in [
    ("calls_unix_seconds.csv", lambda t: decimal(micros(t), 1_000_000)),
    ("calls_unix_millis.csv", lambda t: decimal(micros(t), 1_000)),
    ("calls_seconds_since.csv", lambda t: decimal(micros(t) - ORIGIN_US, 1_000_000)),
]:
    with (HERE / name).open("w", newline="\n") as f:
        f.write("contact,ts,duration\n")
        for contact, t, dur in calls:
            f.write(f"{contact},{write(t)},{dur}\n")

latest = max(t for _, t, _ in calls)
by_contact = {}
for contact, t, _ in calls:
    by_contact.setdefault(contact, []).append(t)
rows = []
for contact, times in by_contact.items():
    cid = hashlib.sha256(contact.encode()).hexdigest()[:12]
    last = max(times)
    recency = (latest - last).total_seconds() / 86400
    business = sum(8 <= t.hour <= 17 for t in times) / len(times)
    rows.append((cid, micros(min(times)), micros(last), recency, business))
with (HERE / "features.csv").open("w", newline="\n") as f:
    f.write("contact_id,first_ts_us,last_ts_us,recency_days,business_share\n")
    for r in sorted(rows):
        f.write(f"{r[0]},{r[1]},{r[2]},{r[3]!r},{r[4]!r}\n")
(HERE / "features.versions").write_text(
    f"python {sys.version.split()[0]}\ncalls {len(calls)}\ncontacts {len(rows)}\n"
)
