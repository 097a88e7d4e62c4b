"""Issue 17's performance table in one invocation: k-means against scikit-learn, and the Walsoft
pipeline at 10⁵ and 10⁶ contacts and on the reference log against pandas + scikit-learn.

Run from the repository root after `cargo build --release` (`just bench-scale` does both):

    python3 tests/bench/bench_scale.py [--segflow target/release/segflow]
        [--rows kmeans,defaults-1e5,defaults-1e6,walsoft-1e5,walsoft-log]
        [--reference-seeds 5 | --full-reference | --no-reference] [--threads N]
        [--output table.md]

Rows (all by default, in this order; --rows picks a subset):

  kmeans         `cargo bench -p segflow-cluster --bench vs_scikit_learn`, which times segflow and
                 scikit-learn on the same files; its k-means 10⁶ × 12 (k = 5, 10 restarts) and
                 10⁵ × 20 (k = 8 and 12, 50 restarts) rows are copied into the table.
  defaults-1e5   pipelines/walsoft.yaml with its robustness block left at the defaults (the rule
                 of n, docs/robustness.md) on a generated log of 10⁵ contacts (10⁶ calls, `segflow
                 synth calls --seed 3`), then tests/bench/walsoft_reference.py with segflow's
                 settings, as `bench_pipeline.py --contacts 100000 --robustness-defaults` does.
  defaults-1e6   the same pipeline on 10⁶ contacts (10⁷ calls): segflow only, seconds and peak RSS.
  walsoft-1e5    pipelines/walsoft.yaml as written (robustness 50 seeds × 50 restarts, 100
                 bootstrap resamples) on the 10⁵-contact log, against the reference with the same
                 settings. The reference's 50 seed refits of 50 restarts each take about half an
                 hour on two cores, so by default it runs the first --reference-seeds seeds and its
                 time is extrapolated to 50 (its seed refits scaled by 50 / seeds; the table says
                 "estimated"); --full-reference runs all 50.
  walsoft-log    pipelines/walsoft.yaml on the 2,091-contact reference log, both sides in full.

--no-reference runs segflow alone in every pipeline row (seconds and peak RSS), for a machine
too busy to time the reference.

--threads N caps both sides of the pipeline rows as bench_pipeline.py does (RAYON_NUM_THREADS,
a threadpoolctl limit); without it each library uses its own default. On a machine loaded well
beyond its cores, scikit-learn's OpenMP threads lose far more than segflow's: say which was used.

segflow's wall time and peak RSS come from GNU time (measure.py); the reference is timed in
this process (importing pandas and scikit-learn not counted). Ratios are reference seconds over
segflow seconds. Each pipeline row also checks that both sides found the same results (K, the
final partition contact by contact, the seed and block ARIs, PCA), as bench_pipeline.py prints
them. The load average before and after each row is part of the table: on a shared machine it
says how far the seconds can be trusted.

Writes the Markdown table to --output (and prints it last). Exit code 0 unless a row failed.
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import pandas as pd
import sklearn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_pipeline  # noqa: E402  (same directory)
from measure import measured  # noqa: E402

ROOT = bench_pipeline.ROOT
ROWS = ["kmeans", "defaults-1e5", "defaults-1e6", "walsoft-1e5", "walsoft-log"]
# The cluster bench's printed task names and the table's words for them.
KMEANS_ROWS = {
    "k-means 1e6×12 k=5 n_init=10": "k-means 10⁶ × 12, k = 5, 10 restarts",
    "k-means 1e5×20 k=8 n_init=50": "k-means 10⁵ × 20, k = 8, 50 restarts",
    "k-means 1e5×20 k=12 n_init=50": "k-means 10⁵ × 20, k = 12, 50 restarts",
}
WALSOFT_SEEDS = 50


def load():
    """The load averages over 1, 5 and 15 minutes, as `uptime` prints them."""
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def measured_segflow(cmd, threads=None):
    """Runs a segflow command; returns (seconds, peak RSS in MiB, stdout)."""
    env = dict(os.environ)
    if threads is not None:
        env["RAYON_NUM_THREADS"] = str(threads)  # segflow's parallelism is rayon's pool
    return measured(cmd, cwd=ROOT, env=env)


def synth_log(binary, contacts, dest):
    """A generated call log of `contacts` contacts and ten calls each (bench_pipeline's)."""
    print(f"generating a log of {contacts} contacts ...", flush=True)
    subprocess.run([str(binary), "synth", "calls", "--rows", str(10 * contacts),
                    "--contacts", str(contacts), "--seed", "3", "--output", str(dest)],
                   check=True, capture_output=True)
    return dest


def run_segflow(binary, work, name, log, robustness_defaults, threads):
    """segflow run on a copy of walsoft.yaml; returns the run directory, seconds, peak RSS and
    seconds per stage."""
    run_dir = work / f"run-{name}"
    pipeline = bench_pipeline.write_pipeline(run_dir, work / f"{name}.yaml", log,
                                             robustness_defaults)
    print(f"[{name}] segflow run ... (load {load()})", flush=True)
    seconds, rss, stdout = measured_segflow([binary, "run", pipeline, "--force", "--json"], threads)
    stages = {s["stage"]: float(s["seconds"]) for s in json.loads(stdout)["stages"]}
    print(f"[{name}] segflow {seconds:.1f} s, peak RSS {rss:.0f} MiB", flush=True)
    return run_dir, seconds, rss, stages


def pipeline_row(binary, work, name, log, robustness_defaults, threads, reference_seeds=None):
    """One pipeline row. reference_seeds: run the reference with only the first seeds and
    extrapolate its time to all of them (None: the reference runs segflow's settings in full)."""
    before = load()
    run_dir, seg_s, rss, stages = run_segflow(binary, work, name, log, robustness_defaults,
                                              threads)
    settings, effort = bench_pipeline.segflow_settings(run_dir, log)
    seeds = settings["n_seeds"]
    if reference_seeds is not None and reference_seeds < seeds:
        settings["n_seeds"] = reference_seeds
    print(f"[{name}] reference: K = {settings['k_final']}, {settings['n_seeds']} seeds × "
          f"{settings['seed_n_init']} restarts ...", flush=True)
    ref_s, ref = bench_pipeline.run_reference(threads, settings)
    estimated = settings["n_seeds"] < seeds
    if estimated:
        rest = ref["seed_seconds"] * (seeds / settings["n_seeds"] - 1)
        ref_s += rest
        ref["seconds"]["robustness"] += rest
    seg = bench_pipeline.read_segflow(run_dir)
    seg["seconds"] = stages
    seg["effort"] = effort
    # Compare the seeds both sides ran (segflow's seed_stability is sorted by seed).
    seg["seed_ari"] = seg["seed_ari"][: settings["n_seeds"]]
    print()
    checks = bench_pipeline.report(seg_s, ref_s, seg, ref, threads, settings)
    print()
    return {
        "name": name, "segflow": seg_s, "reference": ref_s, "estimated": estimated,
        "rss": rss, "stages": stages, "reference_stages": ref["seconds"],
        "effort": effort["text"], "k": settings["k_final"], "checks": checks,
        "reference_seeds": settings["n_seeds"], "seeds": seeds,
        "sampled": settings["silhouette_sample"] is not None,
        "load": f"{before} → {load()}",
    }


def segflow_only_row(binary, work, name, log, robustness_defaults, threads):
    before = load()
    run_dir, seg_s, rss, stages = run_segflow(binary, work, name, log, robustness_defaults,
                                              threads)
    _, effort = bench_pipeline.segflow_settings(run_dir, log)
    k = int(pd.read_parquet(run_dir / "select_k/decision.parquet")["k"].iloc[0])
    return {"name": name, "segflow": seg_s, "reference": None, "rss": rss, "stages": stages,
            "effort": effort["text"], "k": k, "load": f"{before} → {load()}"}


def kmeans_rows():
    """The cluster bench's k-means rows, segflow's and scikit-learn's seconds each."""
    before = load()
    print(f"[kmeans] cargo bench -p segflow-cluster --bench vs_scikit_learn (load {before}) ...",
          flush=True)
    proc = subprocess.run(["cargo", "bench", "-p", "segflow-cluster", "--bench",
                           "vs_scikit_learn"], cwd=ROOT, capture_output=True, text=True)
    print(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"cargo bench exited {proc.returncode}\n{proc.stderr[-4000:]}")
    rows = []
    for task, words in KMEANS_ROWS.items():
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(task + " ")), None)
        if line is None:
            raise RuntimeError(f"no row {task!r} in the cluster bench's output")
        ours, theirs = (float(v) for v in re.findall(r"\d+\.\d+", line[len(task):])[:2])
        rows.append({"name": words, "segflow": ours, "reference": theirs,
                     "load": f"{before} → {load()}"})
    return rows


def fmt(seconds):
    return f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"


def markdown(results, machine):
    """The issue's table, then seconds per stage of the pipeline rows."""
    lines = [machine, "",
             "| measurement | segflow s | reference s | ratio | goal | met | notes | load "
             "before → after |",
             "|---|---:|---:|---:|---|---|---|---|"]
    goals = {
        "kmeans": ("≥ 3× scikit-learn", 3.0),
        "defaults-1e5": ("≥ 3× the reference; ≤ 60 s", 3.0),
        "defaults-1e6": ("≤ 10 min; seconds and peak RSS", None),
        "walsoft-1e5": ("ratio reported", None),
        "walsoft-log": ("ratio reported", None),
    }
    titles = {
        "defaults-1e5": "pipeline, robustness at defaults, 10⁵ contacts",
        "defaults-1e6": "pipeline, robustness at defaults, 10⁶ contacts",
        "walsoft-1e5": "walsoft.yaml (50 × 50), 10⁵ contacts",
        "walsoft-log": "walsoft.yaml, reference log (2,091 contacts)",
    }
    for key, rows in results.items():
        goal_text, goal = goals[key]
        for r in rows:
            ref, seg = r["reference"], r["segflow"]
            ratio = ref / seg if ref is not None else None
            notes = []
            if "rss" in r:
                notes.append(f"peak RSS {r['rss']:.0f} MiB; K = {r['k']}; ran {r['effort']}")
            if r.get("estimated"):
                notes.append(f"reference estimated from {r['reference_seeds']} of "
                             f"{r['seeds']} seeds")
            if "checks" in r:
                differ = [n for n, ok in r["checks"].items() if not ok]
                notes.append("same results" if not differ else "differs: " + ", ".join(differ))
                if r["sampled"]:
                    # Each side scores its own random sample, so the K table's silhouettes
                    # agree to about the third decimal, not to rounding.
                    notes.append("silhouette on each side's own 10,000-row sample")
            if key == "defaults-1e5":
                met = [] if ratio is None else [f"{'yes' if ratio >= goal else 'no'} (ratio)"]
                met_text = ", ".join(met + [f"{'yes' if seg <= 60 else 'no'} (60 s)"])
            elif key == "defaults-1e6":
                met_text = "yes" if seg <= 600 else "no"
            elif goal is not None and ratio is not None:
                met_text = "yes" if ratio >= goal else "no"
            else:
                met_text = "—"
            ratio_text = "—" if ratio is None else f"{ratio:.2f}×" + ("*" if r.get("estimated")
                                                                      else "")
            ref_text = "—" if ref is None else fmt(ref) + ("*" if r.get("estimated") else "")
            lines.append(f"| {titles.get(key, r['name'])} | {fmt(seg)} | {ref_text} | "
                         f"{ratio_text} | {goal_text} | {met_text} | {'; '.join(notes)} | "
                         f"{r['load']} |")
    staged = [(key, r) for key, rows in results.items() for r in rows if "stages" in r]
    if staged:
        lines += ["", "Seconds per stage (segflow / reference where it ran):", "",
                  "| stage | " + " | ".join(titles[key] for key, _ in staged) + " |",
                  "|---|" + "---:|" * len(staged)]
        names = list(dict.fromkeys(s for _, r in staged for s in r["stages"]))
        for stage in names:
            cells = []
            for _, r in staged:
                seg = r["stages"].get(stage)
                ref = r.get("reference_stages", {}).get(stage) if r.get("reference") else None
                cell = "—" if seg is None else fmt(seg)
                if ref is not None:
                    cell += f" / {fmt(ref)}"
                cells.append(cell)
            lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segflow", default="target/release/segflow",
                        help="segflow binary (default: target/release/segflow)")
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated subset of {','.join(ROWS)} (default: all)")
    parser.add_argument("--reference-seeds", type=int, default=5,
                        help="walsoft-1e5: seeds the reference runs before its time is "
                             "extrapolated to 50 (default 5)")
    parser.add_argument("--full-reference", action="store_true",
                        help="walsoft-1e5: the reference runs all 50 seeds (about half an hour)")
    parser.add_argument("--no-reference", action="store_true",
                        help="pipeline rows run segflow only (seconds and peak RSS)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both sides of the pipeline rows (default: each "
                             "library's own)")
    parser.add_argument("--output", type=pathlib.Path, default=None,
                        help="also write the Markdown table to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        parser.error(f"--rows takes names from {','.join(ROWS)}; unknown: {','.join(unknown)}")
    if args.reference_seeds < 1:
        parser.error("--reference-seeds must be ≥ 1")
    binary = pathlib.Path(args.segflow)
    if not binary.is_absolute():
        binary = (pathlib.Path.cwd() / binary).resolve()
    if rows != ["kmeans"] and not binary.exists():
        sys.exit(f"no segflow binary at {binary}; build it with `cargo build --release`")

    threads = "each library's default" if args.threads is None else str(args.threads)
    machine = (f"{os.cpu_count()} CPUs; segflow binary {binary}; "
               f"pandas {pd.__version__}, numpy {np.__version__}, scikit-learn "
               f"{sklearn.__version__}, python {sys.version.split()[0]}; threads per side: {threads}; "
               f"started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
               f"average (1/5/15 min) {load()}")
    work = pathlib.Path(tempfile.mkdtemp(prefix="segflow-scale-"))
    results, failed = {}, []
    logs = {}

    def log_of(contacts):
        if contacts not in logs:
            logs[contacts] = synth_log(binary, contacts, work / f"calls-{contacts}.csv")
        return logs[contacts]

    try:
        for row in rows:
            try:
                if row == "kmeans":
                    results[row] = kmeans_rows()
                elif args.no_reference and row != "kmeans":
                    log = None if row == "walsoft-log" else log_of(
                        1_000_000 if row == "defaults-1e6" else 100_000)
                    results[row] = [segflow_only_row(binary, work, row, log,
                                                     row.startswith("defaults"), args.threads)]
                elif row == "defaults-1e5":
                    results[row] = [pipeline_row(binary, work, row, log_of(100_000), True,
                                                 args.threads)]
                elif row == "defaults-1e6":
                    results[row] = [segflow_only_row(binary, work, row, log_of(1_000_000), True,
                                                     args.threads)]
                    shutil.rmtree(work / f"run-{row}", ignore_errors=True)
                elif row == "walsoft-1e5":
                    seeds = None if args.full_reference else args.reference_seeds
                    results[row] = [pipeline_row(binary, work, row, log_of(100_000), False,
                                                 args.threads, seeds)]
                elif row == "walsoft-log":
                    results[row] = [pipeline_row(binary, work, row, None, False, args.threads)]
            except Exception as e:  # noqa: BLE001 - a failed row is reported, the rest run
                traceback.print_exc()
                failed.append(f"{row}: {e}")
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    table = markdown(results, machine)
    if args.output is not None:
        args.output.write_text(table)
    print(table)
    for f in failed:
        print(f"row failed: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
