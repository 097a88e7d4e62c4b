"""Peak memory and time of ingest + features on generated call logs, segflow against pandas.

For each size it generates a call log in the Walsoft layout (`segflow synth calls`, one contact
per ten calls unless told otherwise, seed 1), then runs in separate processes, one after the other:

  segflow   `segflow ingest` then `segflow features`, with the default pipeline's params;
  pandas    `load_calls` + `contact_features` of tests/bench/walsoft_reference.py, the same
            definitions read with `pd.read_csv`.

`--expressions` adds one derived column, one row filter and one feature over the derived
column to both sides: ingest derives `minutes: "duration_in_seconds / 60"` and keeps `where: "duration_in_seconds >= 5"`,
features adds `mean_minutes: {mean: {of: minutes}}`; pandas divides, filters and averages the
same way before and after `contact_features`.

`--baseline BINARY` also runs a previous segflow build, on the plain pipeline (without the
expressions, which an older build may not read), in the same invocation: its ingest and
features are timed the same way, and the new build's time and peak RSS are reported over the
baseline's, so below 1 means the new build is faster or smaller.

Each process's wall time and peak resident set size come from GNU time (measure.py). Ratios against pandas
are pandas over segflow, so above 1 means segflow is faster or smaller. Afterwards the two
feature tables are compared column by column over every contact (relative tolerance 1e-9).

    just bench-memory                                        # 10^6 and 10^7 calls
    just bench-memory --rows 1000000 --expressions
    just bench-memory --rows 1000000 --baseline /path/to/previous/segflow
    python3 tests/bench/bench_memory.py --rows 1000000 --no-reference
"""

import argparse
import multiprocessing
import os
import pathlib
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import measure  # noqa: E402  (same directory)
PIPELINE = ROOT / "pipelines/walsoft.yaml"

# The expressions, as segflow params and as the pandas steps that compute the same.
# Ingest expressions name the file's columns: the duration column of the Walsoft layout.
DERIVE = {"minutes": "duration_in_seconds / 60"}
WHERE = "duration_in_seconds >= 5"
EXPRESSION_FEATURE = ("duration", "mean_minutes", {"mean": {"of": "minutes"}})

REFERENCE = """
import sys
sys.path.insert(0, {bench!r})
import walsoft_reference as ref
calls = ref.load_calls({csv!r})
{derive_where}features = ref.contact_features(calls)
{expression_feature}features.to_parquet({out!r})
"""
PANDAS_DERIVE_WHERE = 'calls["minutes"] = calls["dur"] / 60\ncalls = calls[calls["dur"] >= 5]\n'
PANDAS_EXPRESSION_FEATURE = (
    'features["mean_minutes"] = calls.groupby("contact_id", sort=True)["minutes"].mean()\n'
)


def measured(cmd):
    """Runs `cmd`; returns (seconds, peak RSS in MiB), or raises with its stderr."""
    seconds, rss, _ = measure.measured(cmd, cwd=ROOT)
    return seconds, rss


def stage_params(work, expressions):
    """The default pipeline's ingest and features params as standalone files, with or without
    the expressions."""
    stages = yaml.safe_load(PIPELINE.read_text())["stages"]
    params = {name: {k: v for k, v in stages[name].items() if k not in drop}
              for name, drop in (("ingest", ("needs", "input")), ("features", ("needs",)))}
    if expressions:
        params["ingest"]["derive"] = dict(DERIVE)
        params["ingest"]["where"] = WHERE
        block, name, feature = EXPRESSION_FEATURE
        params["features"]["blocks"][block][name] = feature
    variant = "expressions" if expressions else "plain"
    paths = {}
    for name, values in params.items():
        paths[name] = work / f"{variant}_{name}.yaml"
        paths[name].write_text(yaml.safe_dump(values, sort_keys=False))
    return paths


def segflow_stages(binary, csv, out, params):
    """Runs `binary`'s ingest then features into `out`; returns their measurements."""
    ingest = measured([binary, "ingest", "--input", csv, "--output-dir", out / "ingest",
                       "--params", params["ingest"]])
    features = measured([binary, "features", "--input", out / "ingest/events.parquet",
                         "--output-dir", out / "features", "--params", params["features"]])
    return ingest, features


def compare(segflow_features, pandas_features):
    """Largest relative difference over the model columns, and the number of contacts."""
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(segflow_features).set_index("contact_id")
    theirs = pd.read_parquet(pandas_features)
    assert list(ours.index) == list(theirs.index), "contacts differ"
    worst = 0.0
    for column in theirs.columns:
        a, b = ours[column].to_numpy(float), theirs[column].to_numpy(float)
        worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0))))
    return worst, len(ours)


def compared(segflow_features, pandas_features):
    """`compare` in a process of its own: a child starts with its parent's peak RSS (Linux
    keeps it across fork and exec), so pandas must never be loaded in this one."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(compare, (segflow_features, pandas_features))


def row_counts(text):
    """The --rows list: positive integers, comma-separated."""
    try:
        counts = [int(r) for r in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 1000000,10000000, "
                                         f"got {text!r}")
    return counts


def executable(parser, path, option):
    binary = (ROOT / path).resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        parser.error(f"{option}: {binary} is not an executable file")
    return binary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=row_counts, default=[1_000_000, 10_000_000],
                        help="comma-separated call counts (default: 10^6 and 10^7)")
    parser.add_argument("--calls-per-contact", type=int, default=10,
                        help="contacts = calls / this (default 10)")
    parser.add_argument("--segflow", default="target/release/segflow")
    parser.add_argument("--no-reference", action="store_true", help="segflow only")
    parser.add_argument("--expressions", action="store_true",
                        help=f"derive minutes = {DERIVE['minutes']}, keep rows where {WHERE}, "
                             "and add mean_minutes, in segflow and pandas alike")
    parser.add_argument("--baseline", metavar="BINARY",
                        help="a previous segflow build, also run on the plain pipeline; "
                             "reports new / baseline time and peak RSS")
    args = parser.parse_args(argv)
    if args.calls_per_contact < 1:
        parser.error("--calls-per-contact must be at least 1")
    args.segflow = executable(parser, args.segflow, "--segflow")
    if args.baseline is not None:
        args.baseline = executable(parser, args.baseline, "--baseline")
    return args


def main():
    args = parse_args()
    binary = args.segflow

    results = []
    with tempfile.TemporaryDirectory(prefix="segflow-bench-memory-") as tmp:
        work = pathlib.Path(tmp)
        params = stage_params(work, args.expressions)
        plain = stage_params(work, False) if args.expressions else params
        for rows in args.rows:
            contacts = max(rows // args.calls_per_contact, 1)
            csv = work / f"calls_{rows}.csv"
            subprocess.run([binary, "synth", "calls", "--rows", str(rows), "--contacts",
                            str(contacts), "--seed", "1", "--output", csv],
                           check=True, stdout=subprocess.DEVNULL)
            mib = csv.stat().st_size / 2**20
            out = work / f"run_{rows}"
            ingest, features = segflow_stages(binary, csv, out, params)
            row = {"rows": rows, "contacts": contacts, "csv": mib, "ingest": ingest,
                   "features": features, "expressions": args.expressions}
            if args.baseline is not None:
                row["baseline"] = segflow_stages(args.baseline, csv, work / f"baseline_{rows}",
                                                 plain)
            if not args.no_reference:
                ref_out = work / f"pandas_{rows}.parquet"
                script = REFERENCE.format(
                    bench=str(ROOT / "tests/bench"), csv=str(csv), out=str(ref_out),
                    derive_where=PANDAS_DERIVE_WHERE if args.expressions else "",
                    expression_feature=PANDAS_EXPRESSION_FEATURE if args.expressions else "")
                row["pandas"] = measured([sys.executable, "-c", script])
                row["agreement"] = compared(out / "features/features.parquet", ref_out)
                ref_out.unlink()
            csv.unlink()
            results.append(row)
            report(results)


def report(results):
    print("\n| calls | contacts | CSV MiB | stage | seconds | peak RSS MiB | RSS / CSV |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        stages = [("segflow ingest", r["ingest"]), ("segflow features", r["features"])]
        if "baseline" in r:
            stages += [("baseline ingest", r["baseline"][0]),
                       ("baseline features", r["baseline"][1])]
        if "pandas" in r:
            stages.append(("pandas load + features", r["pandas"]))
        for name, (seconds, rss) in stages:
            print(f"| {r['rows']:,} | {r['contacts']:,} | {r['csv']:.0f} | {name} | "
                  f"{seconds:.2f} | {rss:.0f} | {rss / r['csv']:.2f} |")
    with_ref = [r for r in results if "pandas" in r]
    if with_ref:
        print("\n| calls | time ratio (pandas / segflow) | peak RSS ratio (pandas / segflow) |"
              " max relative difference | contacts compared |")
        print("|---:|---:|---:|---:|---:|")
        for r in with_ref:
            seconds, peak = totals(r["ingest"], r["features"])
            worst, n = r["agreement"]
            print(f"| {r['rows']:,} | {r['pandas'][0] / seconds:.2f}x | "
                  f"{r['pandas'][1] / peak:.2f}x | {worst:.1e} | {n:,} |")
    with_baseline = [r for r in results if "baseline" in r]
    if with_baseline:
        print("\n| calls | new build's pipeline | time ratio (new / baseline) |"
              " peak RSS ratio (new / baseline) |")
        print("|---:|---|---:|---:|")
        for r in with_baseline:
            new_seconds, new_peak = totals(r["ingest"], r["features"])
            old_seconds, old_peak = totals(*r["baseline"])
            pipeline = "with expressions" if r["expressions"] else "plain"
            print(f"| {r['rows']:,} | {pipeline} | {new_seconds / old_seconds:.2f}x | "
                  f"{new_peak / old_peak:.2f}x |")
    sys.stdout.flush()


def totals(ingest, features):
    """Seconds of both stages together, and the larger of their peak RSS."""
    return ingest[0] + features[0], max(ingest[1], features[1])


if __name__ == "__main__":
    main()
