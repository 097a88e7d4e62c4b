"""Calls and text messages of the same people, two sources in one event log, computed by pandas.

Writes twosource/calls.csv (caller,start,duration; start as YYYY-MM-DD HH:MM:SS) and
twosource/sms.csv (semicolon-delimited sender;sent_at;chars; sent_at in Unix epoch seconds),
over March 2024. Most people both call and text; some only call, some only text. Then the
oracles twosource_features.csv and twosource_counts.json for these params:

    ingest:
      mode: events
      sources:
        - name: calls
          input: tests/oracle/twosource/calls.csv
          columns: {contact: caller, timestamp: start, value: duration}
        - name: sms
          input: tests/oracle/twosource/sms.csv
          delimiter: ";"
          columns: {contact: sender, timestamp: sent_at}
          formats: {timestamp: unix_seconds}
      privacy: {id: {method: sha256, hex_chars: 12}}
    features:
      blocks:
        activity:
          n_events: count
          n_calls: {count: {where: "source = 'calls'"}}
          n_sms: {count: {where: "source = 'sms'"}}
          sms_share: {share: {where: "source = 'sms'"}}
          call_seconds: {sum: {of: value}}
          mean_call_seconds: {mean: {where: "source = 'calls'"}}
          n_days_active: distinct_days
          recency_days: recency_days
      model_blocks: [activity]

Text messages have a null value; epoch seconds are UTC and read as UTC wall time. The counts
are per source and in total. Run from the repository root:

    python3 tests/oracle/twosource.py

Versions used are written into twosource_features.versions.
"""

import pathlib

import numpy as np
import pandas as pd

import eventlog as log

HERE = pathlib.Path(__file__).resolve().parent
DIR = HERE / "twosource"
CALLS = DIR / "calls.csv"
SMS = DIR / "sms.csv"
OUT = HERE / "twosource_features.csv"
COUNTS = HERE / "twosource_counts.json"
START = pd.Timestamp("2024-03-01 00:00:00")
SECONDS = 31 * 86400

rng = np.random.default_rng(20240302)
people = (10**9 + rng.choice(9 * 10**9, size=60, replace=False)).astype(str)
# 0-39 call and text, 40-49 only call, 50-59 only text.
callers = np.concatenate([rng.choice(people[:50], size=700), people[:50]])
senders = np.concatenate([rng.choice(np.r_[people[:40], people[50:]], size=900),
                          people[:40], people[50:]])

call_at = START + pd.to_timedelta(np.sort(rng.integers(0, SECONDS, size=len(callers))), unit="s")
sent_at = np.sort(START.value // 10**9 + rng.integers(0, SECONDS, size=len(senders)))
rng.shuffle(callers)
rng.shuffle(senders)
duration = np.round(rng.gamma(1.3, 120.0, size=len(callers))).astype(np.int64)
chars = rng.integers(1, 161, size=len(senders))

DIR.mkdir(exist_ok=True)
with CALLS.open("w", newline="\n") as f:
    f.write("caller,start,duration\n")
    for c, t, d in zip(callers, call_at, duration):
        f.write(f"{c},{t:%Y-%m-%d %H:%M:%S},{d}\n")
with SMS.open("w", newline="\n") as f:
    f.write("sender;sent_at;chars\n")
    for s, t, n in zip(senders, sent_at, chars):
        f.write(f"{s};{t};{n}\n")

# The oracle: both files read back as text, one event log with a `source` column.
calls = pd.read_csv(CALLS, dtype=str, keep_default_na=False)
sms = pd.read_csv(SMS, sep=";", dtype=str, keep_default_na=False)
call_value, bad_call = log.numbers(calls["duration"])
assert not bad_call.any()
events = pd.concat([
    pd.DataFrame({
        "contact_id": log.contact_ids(calls["caller"], 12),
        "ts": pd.to_datetime(calls["start"], format="%Y-%m-%d %H:%M:%S"),
        "value": call_value,
        "source": "calls",
    }),
    pd.DataFrame({
        "contact_id": log.contact_ids(sms["sender"], 12),
        "ts": pd.to_datetime(sms["sent_at"].astype("int64"), unit="s"),
        "value": np.nan,
        "source": "sms",
    }),
], ignore_index=True)

none = pd.Series(False, index=events.index)
counts = log.tally(len(calls) + len(sms), none, none, none, none, events)
for name, rows in (("calls", calls), ("sms", sms)):
    counts[name] = {"rows_in": len(rows), "accepted": int((events["source"] == name).sum()),
                    "contacts": int(events.loc[events["source"] == name, "contact_id"].nunique())}

f = log.Features(events)
is_call = events["source"] == "calls"
is_sms = events["source"] == "sms"
features = {
    "n_events": f.count(),
    "n_calls": f.count(is_call),
    "n_sms": f.count(is_sms),
    "sms_share": f.share(is_sms),
    "call_seconds": f.sum("value"),
    "mean_call_seconds": f.stat("mean", where=is_call),
    "n_days_active": f.distinct_days(),
    "recency_days": f.recency_days(),
}
log.write(features, counts, OUT, COUNTS, f.as_of, [f"people {len(people)}"])
