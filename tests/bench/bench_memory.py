"""Peak memory and time of ingest + features on generated call logs, segflow against pandas.

For each size it generates a call log in the Walsoft layout (`segflow synth calls`, one contact
per ten calls unless told otherwise, seed 1), then runs in separate processes, one after the other:

  segflow   `segflow ingest` then `segflow features`, with the default pipeline's params;
  pandas    `load_calls` + `contact_features` of tests/bench/walsoft_reference.py, the same
            definitions read with `pd.read_csv`.

Each process's wall time and peak resident set size come from wait4(2). Ratios are pandas
over segflow, so above 1 means segflow is faster or smaller. Afterwards the two feature
tables are compared column by column over every contact (relative tolerance 1e-9).

    python3 tests/bench/bench_memory.py                      # 10^6 and 10^7 calls
    python3 tests/bench/bench_memory.py --rows 1000000 --no-reference
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipelines/walsoft.yaml"

REFERENCE = """
import sys
sys.path.insert(0, {bench!r})
import walsoft_reference as ref
features = ref.contact_features(ref.load_calls({csv!r}))
features.to_parquet({out!r})
"""


def measured(cmd):
    """Runs `cmd`; returns (seconds, peak RSS in MiB), or raises with its stderr."""
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            stderr.seek(0)
            err = stderr.read().decode(errors="replace")
            raise RuntimeError(f"{' '.join(map(str, cmd))} exited {code}\n{err}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def stage_params(work):
    """The default pipeline's ingest and features params as standalone files."""
    stages = yaml.safe_load(PIPELINE.read_text())["stages"]
    paths = {}
    for name, drop in (("ingest", ("needs", "input")), ("features", ("needs",))):
        params = {k: v for k, v in stages[name].items() if k not in drop}
        paths[name] = work / f"{name}.yaml"
        paths[name].write_text(yaml.safe_dump(params, sort_keys=False))
    return paths


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1000000,10000000",
                        help="comma-separated call counts (default: 10^6 and 10^7)")
    parser.add_argument("--calls-per-contact", type=int, default=10,
                        help="contacts = calls / this (default 10)")
    parser.add_argument("--segflow", default="target/release/segflow")
    parser.add_argument("--no-reference", action="store_true", help="segflow only")
    args = parser.parse_args()
    binary = (ROOT / args.segflow).resolve()

    results = []
    with tempfile.TemporaryDirectory(prefix="segflow-bench-memory-") as tmp:
        work = pathlib.Path(tmp)
        params = stage_params(work)
        for rows in (int(r) for r in args.rows.split(",")):
            contacts = max(rows // args.calls_per_contact, 1)
            csv = work / f"calls_{rows}.csv"
            subprocess.run([binary, "synth", "calls", "--rows", str(rows), "--contacts",
                            str(contacts), "--seed", "1", "--output", csv],
                           check=True, stdout=subprocess.DEVNULL)
            mib = csv.stat().st_size / 2**20
            out = work / f"run_{rows}"
            ingest = measured([binary, "ingest", "--input", csv, "--output-dir",
                               out / "ingest", "--params", params["ingest"]])
            features = measured([binary, "features", "--input",
                                 out / "ingest/events.parquet", "--output-dir",
                                 out / "features", "--params", params["features"]])
            row = {"rows": rows, "contacts": contacts, "csv": mib, "ingest": ingest,
                   "features": features}
            if not args.no_reference:
                ref_out = work / f"pandas_{rows}.parquet"
                script = REFERENCE.format(bench=str(ROOT / "tests/bench"), csv=str(csv),
                                          out=str(ref_out))
                row["pandas"] = measured([sys.executable, "-c", script])
                row["agreement"] = compare(out / "features/features.parquet", ref_out)
                ref_out.unlink()
            csv.unlink()
            results.append(row)
            report(results)


def report(results):
    print("\n| calls | contacts | CSV MiB | stage | seconds | peak RSS MiB | RSS / CSV |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        stages = [("segflow ingest", r["ingest"]), ("segflow features", r["features"])]
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
            seconds = r["ingest"][0] + r["features"][0]
            peak = max(r["ingest"][1], r["features"][1])
            worst, n = r["agreement"]
            print(f"| {r['rows']:,} | {r['pandas'][0] / seconds:.2f}x | "
                  f"{r['pandas'][1] / peak:.2f}x | {worst:.1e} | {n:,} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
