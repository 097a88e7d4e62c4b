"""Peak memory and time of `segflow assign` on generated inputs of growing size.

Entity tables (`--table-rows`, default 10^6, 10^7, 10^8): a table-mode pipeline over 20
numeric columns and a hashed id (`customer_id`) is trained on 20,000 generated rows; then new
rows are generated as a directory of Parquet part files (10^6 rows each, integer values, so
10^8 rows take 2.9 GiB) and scored. Table-mode assign streams, so its peak memory should
not grow with the rows.

Event logs (`--events`, default 10^6, 10^7 and 10^8, each with 10^5 and 10^6 contacts): the
Walsoft pipeline is trained on a generated 10^5-call log, then a call log of each size is
generated (`segflow synth calls`, gzip level 1; 10^8 calls take 1.8 GiB, and 7.4 GiB before
compression) and scored. Events-mode assign sorts the events by contact on disk and holds the
contacts and a part of their events, plus a few bytes per event in ingest (see BENCHMARKS.md).

The bench fails (exit 1) when table-mode assign's peak memory at the largest size is more than
1.5 times that at the smallest: the check that it still streams.

Each run is one process; its wall time and peak resident set size come from GNU time
(`/usr/bin/time`, measure.py). Inputs
and outputs are deleted as soon as they are measured, so at most one input and its output
are on disk at a time. Prints a Markdown table.

    just bench-assign
    python3 tests/bench/bench_assign.py --binary target/debug/segflow --table-rows 1e6,1e7
    python3 tests/bench/bench_assign.py --events 1e6 --contacts 1e5 --table-rows ""
"""

import argparse
import gzip
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/bench"))
import measure  # noqa: E402  (same directory)
COLUMNS = [f"x{i:02d}" for i in range(1, 21)]
PART_ROWS = 1_000_000
TRAINING_ROWS = 20_000
# How much more peak memory the largest table may take than the smallest before the bench
# fails: streaming keeps it flat, a whole-table read grows it tenfold per size.
FLAT = 1.5


def sizes(text):
    return [int(float(s)) for s in text.split(",") if s.strip()]


def measured(cmd):
    """Runs cmd; returns (seconds, peak RSS in MiB), or exits with its stderr."""
    try:
        seconds, rss, _ = measure.measured(cmd)
    except RuntimeError as e:
        sys.exit(f"failed: {e}")
    return seconds, rss


def table_part(rng, first_id, rows):
    """rows of the generated table: four groups of customers over 20 integer columns."""
    group = rng.integers(0, 4, rows)
    data = {"customer_id": pa.array(np.arange(first_id, first_id + rows, dtype=np.int64))}
    for j, name in enumerate(COLUMNS):
        centre = 1000 + 2000 * ((group + j) % 4)
        data[name] = pa.array((centre + rng.integers(0, 1000, rows)).astype(np.int32))
    return pa.table(data)


def train_table(work, binary):
    rng = np.random.default_rng(1)
    csv = work / "training.csv"
    table_part(rng, 10**12, TRAINING_ROWS).to_pandas().to_csv(csv, index=False)
    pipeline = {
        "pipeline": "bench_table",
        "seed": 42,
        "run_dir": str(work / "table_run"),
        "stages": {
            "ingest": {
                "input": str(csv),
                "mode": "table",
                "table": {"id": "customer_id"},
                "privacy": {"id": {"method": "sha256", "hex_chars": 16}},
            },
            "features": {
                "needs": ["ingest"],
                "blocks": {"spend": {c: {"column": c} for c in COLUMNS}},
                "model_blocks": ["spend"],
            },
            "preprocess": {"needs": ["features"], "scale": "standard"},
            "select_k": {"needs": ["preprocess"], "k": [3, 5], "n_init": 2, "rule": "consensus"},
            "fit": {"needs": ["preprocess", "select_k", "features"], "n_init": 2},
        },
    }
    path = work / "bench_table.yaml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    subprocess.run([binary, "run", str(path)], check=True, stdout=subprocess.DEVNULL)
    return work / "table_run"


def new_table(work, rows):
    rng = np.random.default_rng(rows)
    folder = work / f"table_{rows}"
    folder.mkdir()
    for i, first in enumerate(range(0, rows, PART_ROWS)):
        part = table_part(rng, first, min(PART_ROWS, rows - first))
        pq.write_table(part, folder / f"part-{i:05d}.parquet", compression="zstd")
    return folder


def train_events(work, binary):
    calls = work / "training_calls.csv"
    subprocess.run(
        [binary, "synth", "calls", "--rows", "100000", "--contacts", "10000", "--seed", "1",
         "--output", str(calls)],
        check=True, stdout=subprocess.DEVNULL,
    )
    doc = yaml.safe_load((ROOT / "pipelines/walsoft.yaml").read_text())
    doc["run_dir"] = str(work / "events_run")
    doc["stages"]["ingest"]["input"] = str(calls)
    for stage in ("robustness", "visualize"):
        doc["stages"].pop(stage, None)
    path = work / "bench_events.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    subprocess.run([binary, "run", str(path)], check=True, stdout=subprocess.DEVNULL)
    return work / "events_run"


def new_calls(work, binary, rows, contacts):
    plain = work / f"calls_{rows}_{contacts}.csv"
    subprocess.run(
        [binary, "synth", "calls", "--rows", str(rows), "--contacts", str(contacts), "--seed",
         "7", "--output", str(plain)],
        check=True, stdout=subprocess.DEVNULL,
    )
    packed = plain.with_suffix(".csv.gz")
    with open(plain, "rb") as src, gzip.open(packed, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    plain.unlink()
    return packed


def size_on_disk(path):
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=str(ROOT / "target/release/segflow"))
    parser.add_argument("--table-rows", type=sizes, default=sizes("1e6,1e7,1e8"))
    parser.add_argument("--events", type=sizes, default=sizes("1e6,1e7,1e8"))
    parser.add_argument("--contacts", type=sizes, default=sizes("1e5,1e6"))
    parser.add_argument("--work", help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    binary = str(pathlib.Path(args.binary).resolve())
    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="segflow-bench-assign-"))
    work.mkdir(parents=True, exist_ok=True)
    rows_out = []
    try:
        if args.table_rows:
            run = train_table(work, binary)
            for rows in args.table_rows:
                folder = new_table(work, rows)
                out = work / "scored.parquet"
                seconds, rss = measured(
                    [binary, "assign", "--model", run, "--input", folder, "--output", out]
                )
                rows_out.append(("entity table", f"{rows:.0e}", "—", size_on_disk(folder),
                                 seconds, rss, rows / seconds))
                print(rows_out[-1], file=sys.stderr, flush=True)
                shutil.rmtree(folder)
                out.unlink()
        if args.events:
            run = train_events(work, binary)
            for rows in args.events:
                for contacts in args.contacts:
                    if contacts > rows:
                        continue
                    calls = new_calls(work, binary, rows, contacts)
                    out = work / "scored.parquet"
                    seconds, rss = measured(
                        [binary, "assign", "--model", run, "--input", calls, "--output", out]
                    )
                    rows_out.append(("event log", f"{rows:.0e}", f"{contacts:.0e}",
                                     size_on_disk(calls), seconds, rss, rows / seconds))
                    print(rows_out[-1], file=sys.stderr, flush=True)
                    calls.unlink()
                    out.unlink()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n`segflow assign`, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n")
    tables = [r for r in rows_out if r[0] == "entity table"]
    print("| input | rows | contacts | input on disk | time (s) | peak RSS (MiB) | rows/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, rows, contacts, disk, seconds, rss, speed in rows_out:
        print(f"| {kind} | {rows} | {contacts} | {disk / 2**30:.2f} GiB | {seconds:.1f} | "
              f"{rss:.0f} | {speed:,.0f} |")
    # Table-mode assign streams: its peak memory must not grow with the rows.
    if len(tables) > 1 and tables[-1][5] > FLAT * tables[0][5]:
        sys.exit(f"table-mode assign is not flat: {tables[0][5]:.0f} MiB at {tables[0][1]} rows, "
                 f"{tables[-1][5]:.0f} MiB at {tables[-1][1]}")


if __name__ == "__main__":
    main()
