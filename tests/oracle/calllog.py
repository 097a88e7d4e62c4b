"""A call log with relative-second timestamps and missed calls; its features, computed by pandas.

Writes calllog/calls.csv (caller,callee,offset_s,duration_s: 10-digit numbers, seconds after
2024-03-01 00:00:00 over 60 days, some with a fraction, duration -1 for a missed call), with a
few exact duplicate lines, two blank callers, and one caller's id sometimes written `N.0` or
padded with spaces; calllog/callees.txt, every raw callee number (none may appear in any
artifact); and the oracles calllog_features.csv and calllog_counts.json for these params:

    ingest:
      mode: events
      columns: {contact: caller, timestamp: offset_s, value: duration_s}
      formats: {timestamp: seconds_since, origin: "2024-03-01 00:00:00"}
      blank_ids: exclude
      dedupe: exact
      privacy: {id: {method: sha256, hex_chars: 16}, hash: [callee]}
    features:
      blocks:
        volume:
          n_calls: count
          n_callees: {distinct: callee}
          missed_share: {share: {where: "value = -1"}}
          median_answered: {median: {where: "value >= 0"}}
          sd_answered: {std: {where: "value >= 0"}}
          n_days_active: distinct_days
          mean_gap_days: mean_gap_days
          median_gap_days: median_gap_days
          night_share: {share: {hour_in: [0, 5]}}
          weekend_share: {share: {weekday_in: [sat, sun]}}
      model_blocks: [volume]

The features are computed from the file read back as text (tests/oracle/eventlog.py), with
offsets turned into microseconds exactly. Run from the repository root:

    python3 tests/oracle/calllog.py

Versions used are written into calllog_features.versions.
"""

import pathlib
from decimal import Decimal

import numpy as np
import pandas as pd

import eventlog as log

HERE = pathlib.Path(__file__).resolve().parent
DIR = HERE / "calllog"
LOG = DIR / "calls.csv"
CALLEES = DIR / "callees.txt"
OUT = HERE / "calllog_features.csv"
COUNTS = HERE / "calllog_counts.json"
ORIGIN = pd.Timestamp("2024-03-01 00:00:00")
DAYS = 60

rng = np.random.default_rng(20240301)
numbers = 10**9 + rng.choice(9 * 10**9, size=150 + 400, replace=False)
callers, callee_pool = numbers[:150].astype(str), numbers[150:].astype(str)

# Activity is skewed: a few heavy callers, many light ones (each with two calls at least). The
# first callers are edge cases: 0-4 call once, 5-7 only miss, 8-10 are answered once (so no
# standard deviation).
weights = rng.gamma(0.8, size=139)
regular = np.arange(11, 150)
who = [*np.repeat(regular, 2), *rng.choice(regular, size=2680, p=weights / weights.sum())]
who += [0, 1, 2, 3, 4] + [5, 6, 7] * 4 + [8, 9, 10] * 4
who = np.array(who)
n = len(who)
favourites = [rng.choice(callee_pool, size=rng.integers(1, 16), replace=False)
              for _ in range(150)]
callee = np.array([rng.choice(favourites[c]) for c in who])

# Whole seconds, or a fraction on a millisecond grid for about a third of the calls.
whole = rng.integers(0, DAYS * 86400, size=n)
millis = np.where(rng.random(n) < 0.3, rng.integers(1, 1000, size=n), 0)
missed = rng.random(n) < 0.2
missed[np.isin(who, [5, 6, 7])] = True
answered_once = np.isin(who, [8, 9, 10])
missed[answered_once] = True
for c in (8, 9, 10):
    missed[np.flatnonzero(who == c)[0]] = False
duration = np.where(missed, -1, np.round(rng.gamma(1.2, 150.0, size=n)).astype(np.int64))


def offset_text(s, ms):
    return f"{s}.{ms:03d}".rstrip("0") if ms else str(s)


rows = [[callers[c], e, offset_text(s, ms), str(d)]
        for c, e, s, ms, d in zip(who, callee, whole, millis, duration)]
rows = [rows[i] for i in np.argsort(whole * 1000 + millis, kind="stable")]

# The busiest caller is sometimes written as a spreadsheet float or padded; one id all the same.
heavy = callers[np.bincount(who).argmax()]
mine = [i for i, r in enumerate(rows) if r[0] == heavy]
for i in mine[1:4]:
    rows[i][0] = heavy + ".0"
rows[mine[4]][0] = f" {heavy} "
# Two more calls with a blank caller (one empty, one spaces only).
for i, blank in ((100, ""), (2000, "   ")):
    rows.insert(i, [blank, *rows[i][1:]])
# Exact duplicates, written later in the file; one line three times.
for i in (50, 700, 1500, 2500, 2500, 2900):
    rows.insert(int(rng.integers(i + 1, len(rows) + 1)), list(rows[i]))

DIR.mkdir(exist_ok=True)
with LOG.open("w", newline="\n") as f:
    f.write("caller,callee,offset_s,duration_s\n")
    for r in rows:
        f.write(",".join(r) + "\n")
CALLEES.write_text("".join(f"{c}\n" for c in sorted({r[1] for r in rows})))

# The oracle: the file read back as text, ingest steps in order.
raw = pd.read_csv(LOG, dtype=str, keep_default_na=False)
blank, duplicate = log.screened(raw, "caller", dedupe=True)
kept = raw[~blank & ~duplicate]
micros = kept["offset_s"].map(lambda t: int(Decimal(t.strip()) * 1_000_000))
value, bad_value = log.numbers(kept["duration_s"])
events = pd.DataFrame({
    "contact_id": log.contact_ids(kept["caller"], 16),
    "ts": ORIGIN + pd.to_timedelta(micros, unit="us"),
    "value": value,
    "callee": log.hashed(kept["callee"], 16),
})[~bad_value]
no_where = pd.Series(False, index=events.index)
counts = log.tally(len(raw), blank, duplicate, bad_value, no_where, events)

f = log.Features(events)
hour = events["ts"].dt.hour
features = {
    "n_calls": f.count(),
    "n_callees": f.distinct("callee"),
    "missed_share": f.share(events["value"] == -1),
    "median_answered": f.stat("median", where=events["value"] >= 0),
    "sd_answered": f.stat("std", where=events["value"] >= 0),
    "n_days_active": f.distinct_days(),
    "mean_gap_days": f.gap_days("mean"),
    "median_gap_days": f.gap_days("median"),
    "night_share": f.share((hour >= 0) & (hour <= 5)),
    "weekend_share": f.share(events["ts"].dt.day_of_week >= 5),
}
log.write(features, counts, OUT, COUNTS, f.as_of, [f"callers {len(set(callers))}"])
