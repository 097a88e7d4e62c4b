"""segflow's events-mode ingest rules and feature definitions, written independently in pandas.

The event-log oracles (retail.py, calllog.py, twosource.py) import this module. Logs are read as
text (`dtype=str, keep_default_na=False`) and every rule is applied here, row by row in file
order, as the documentation defines it:

  ingest    a blank contact id (empty after trimming) is excluded; with `dedupe: exact` a record
            whose raw fields all equal an EARLIER record's is excluded as a duplicate (counted
            only among rows not already excluded as blank); text that should be a number and is
            not is rejected, a blank one is null; a `where:` condition that is false or null
            excludes the row; rows_in = accepted + excluded + rejected.
  ids       first `hex_chars` hex digits of SHA-256 of the trimmed raw id, a number written
            `123.0` losing its `.0`; a `privacy.hash` column is the same hash of its trimmed text.
  features  per contact over the accepted events, optionally restricted to the rows matching a
            condition (a boolean Series; a null condition is not a match). Counts, distinct
            counts and sums are 0 over no rows; means, medians, standard deviations (ddof 1),
            recency and tenure are null over no rows; gap features are null below two active
            dates; the mode breaks ties by the smallest value.
"""

import hashlib
import json
import re
import sys

import numpy as np
import pandas as pd

# A decimal number as text: what segflow reads as a number (no `inf`, `nan` or `1_000`).
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
ZERO_FRACTION = re.compile(r"(\d+)\.0+")
DAY = pd.Timedelta(days=1)


def sha256_hex(text, hex_chars):
    return hashlib.sha256(text.encode()).hexdigest()[:hex_chars]


def contact_ids(raw, hex_chars):
    """The pseudonymous contact id of each raw id (trimmed; `648578192.0` reads `648578192`)."""

    def one(text):
        text = text.strip()
        whole = ZERO_FRACTION.fullmatch(text)
        return sha256_hex(whole.group(1) if whole else text, hex_chars)

    return raw.map(one)


def hashed(raw, hex_chars):
    """A `privacy.hash` column: SHA-256 of each trimmed value."""
    return raw.map(lambda t: sha256_hex(t.strip(), hex_chars))


def numbers(text):
    """(values, bad): floats of a text column, blank → NaN; `bad` marks text that is no number.

    Python's float() rounds correctly, as segflow's parser does.
    """
    stripped = text.str.strip()
    ok = stripped.map(lambda t: NUMBER.fullmatch(t) is not None)
    values = stripped.where(ok).map(lambda t: float(t) if isinstance(t, str) else np.nan)
    return values.astype(float), ~ok & (stripped != "")


def screened(raw, contact, dedupe):
    """(blank, duplicate): the rows excluded for a blank id, then as exact duplicates, decided
    on the raw text before anything is parsed."""
    blank = raw[contact].str.strip() == ""
    duplicate = raw.duplicated(keep="first") & ~blank if dedupe else pd.Series(False, raw.index)
    return blank, duplicate


def tally(rows_in, blank, duplicate, rejected, by_where, events):
    """The ingest tally, checked to add up."""
    result = {
        "rows_in": int(rows_in),
        "accepted": len(events),
        "rejected": int(rejected.sum()),
        "excluded_blank_ids": int(blank.sum()),
        "excluded_duplicates": int(duplicate.sum()),
        "excluded_by_where": int(by_where.sum()),
        "contacts": int(events["contact_id"].nunique()),
    }
    parts = ["accepted", "rejected", "excluded_blank_ids", "excluded_duplicates",
             "excluded_by_where"]
    assert sum(result[p] for p in parts) == result["rows_in"], result
    return result


class Features:
    """Per-contact aggregations over an accepted event log (columns contact_id, ts, …)."""

    def __init__(self, events):
        self.events = events
        self.contacts = pd.Index(np.sort(events["contact_id"].unique()), name="contact_id")
        self.as_of = events["ts"].max()  # `as_of: latest_event`

    def _rows(self, where):
        return self.events if where is None else self.events[where.fillna(False).astype(bool)]

    def _per_contact(self, series, fill):
        out = series.reindex(self.contacts)
        return out if fill is None else out.fillna(fill)

    def count(self, where=None):
        sizes = self._rows(where).groupby("contact_id").size()
        return self._per_contact(sizes, 0).astype("int64")

    def distinct(self, column, where=None):
        rows = self._rows(where)
        return self._per_contact(rows.groupby("contact_id")[column].nunique(), 0).astype("int64")

    def distinct_days(self, where=None):
        rows = self._rows(where)
        days = rows["ts"].dt.normalize()
        return self._per_contact(days.groupby(rows["contact_id"]).nunique(), 0).astype("int64")

    def sum(self, column="value", where=None):
        rows = self._rows(where)
        return self._per_contact(rows.groupby("contact_id")[column].sum(), 0.0).astype(float)

    def stat(self, how, column="value", where=None):
        """mean, median, std (ddof 1), min or max of the non-null values; null over none."""
        rows = self._rows(where)
        grouped = rows.groupby("contact_id")[column]
        result = grouped.std(ddof=1) if how == "std" else getattr(grouped, how)()
        return self._per_contact(result, None).astype(float)

    def share(self, where):
        return self.count(where) / self.count()

    def recency_days(self, where=None):
        last = self._rows(where).groupby("contact_id")["ts"].max()
        return self._per_contact((self.as_of - last).dt.total_seconds() / 86400, None)

    def tenure_days(self, where=None):
        ts = self._rows(where).groupby("contact_id")["ts"]
        return self._per_contact((ts.max() - ts.min()).dt.total_seconds() / 86400, None)

    def gap_days(self, how, where=None):
        """mean or median of the days between consecutive distinct active dates."""
        rows = self._rows(where)
        days = rows["ts"].dt.normalize()

        def gaps(d):
            active = np.sort(d.unique())
            if len(active) < 2:
                return np.nan
            steps = pd.Series(np.diff(active)) / DAY
            return getattr(steps, how)()

        return self._per_contact(days.groupby(rows["contact_id"]).agg(gaps), None).astype(float)

    def mode(self, column):
        """The most frequent non-null value of each contact; ties go to the smallest value."""
        rows = self.events[self.events[column].notna()]
        n = rows.groupby(["contact_id", column]).size().rename("n").reset_index()
        n = n.sort_values(["contact_id", "n", column], ascending=[True, False, True],
                          kind="stable")
        return self._per_contact(n.groupby("contact_id")[column].first(), None)

    @staticmethod
    def ratio(num, den, den_offset=0.0, if_zero=0.0):
        den = den + den_offset
        safe = den.where(den != 0, 1.0)
        return (num / safe).where(den != 0, if_zero).astype(float)

    @staticmethod
    def log1p(feature):
        return np.log1p(feature.astype(float))


def write(features, counts, csv, counts_json, as_of, extra=()):
    """The features CSV (nulls empty, floats round-trip), the counts JSON and a .versions file."""
    frame = pd.DataFrame(features)
    frame.index.name = "contact_id"
    frame.to_csv(csv, float_format="%.17g", lineterminator="\n")
    counts_json.write_text(json.dumps(counts, indent=2) + "\n")
    lines = [f"python {sys.version.split()[0]}", f"pandas {pd.__version__}",
             f"numpy {np.__version__}", f"as_of {as_of}", *extra]
    csv.with_suffix(".versions").write_text("\n".join(lines) + "\n")
