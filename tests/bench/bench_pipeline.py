"""End-to-end bench: segflow's default pipeline against the same analysis in pandas + scikit-learn.

Run from the repository root after `cargo build --release`:

    python3 -m pip install -r tests/bench/requirements.txt
    python3 tests/bench/bench_pipeline.py [--segflow target/release/segflow] [--threads N]
        [--contacts N] [--robustness-defaults]

Both sides run in this one invocation, on the same machine and data:

  segflow    `segflow run <copy of pipelines/walsoft.yaml> --force`, with run_dir moved to a
             temporary directory so runs/walsoft is left alone. Wall clock of the whole process:
             7 stages (ingest, features, preprocess, select_k, fit, robustness, visualize),
             including work the reference does not do (audit tables, cards and names, a
             100-resample bootstrap, charts and the HTML report).
  reference  tests/bench/walsoft_reference.run(), timed in-process; importing pandas and
             scikit-learn is not counted.

--contacts N runs both sides on a generated log of N contacts and 10·N calls (`segflow synth
calls --seed 3`) instead of the Walsoft log; --robustness-defaults leaves the robustness block
at its defaults, so its effort follows the rule of n (docs/robustness.md). The reference then
runs segflow's settings, read from segflow's artifacts: K from select_k's decision, the seeds
and restarts from the verdict's segflow.effort, and a 10,000-row silhouette sample where
select_k sampled (it does from 20,000 rows on). Neither side is told the other's results.

--threads N caps both sides (RAYON_NUM_THREADS for segflow, a threadpoolctl limit for
scikit-learn's OpenMP/BLAS pools); without it each library uses its own default (all CPUs).
On a small, busy machine scikit-learn's OpenMP k-means can be several times slower with 2
threads than with 1, so the ratio depends on this setting and on other load: report both.

It prints both timings, the ratio reference seconds / segflow seconds (higher is better for
segflow), then the two sides' results next to each other, read from segflow's Parquet artifacts.
Exit code 0 unless one of the sides failed to run or its artifacts could not be read.
"""

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.parquet
import sklearn
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits  # installed with scikit-learn

try:
    import yaml
except ImportError:  # PyYAML is optional: fall back to editing the run_dir line as text
    yaml = None

ROOT = pathlib.Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipelines/walsoft.yaml"
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

BLOCKS = ["volume", "duration", "recency", "timing"]
# Floating-point results agree to rounding when both sides find the same partition; these
# tolerances say "the same number", not "close enough".
REL_TOL = 1e-9
ARI_TOL = 1e-9


def edit(config, run_dir, log=None, robustness_defaults=False):
    """The bench's changes to pipelines/walsoft.yaml: its run_dir, and optionally its input
    (a generated log) and a robustness block left at its defaults."""
    config["run_dir"] = str(run_dir)
    if log is not None:
        config["stages"]["ingest"]["input"] = str(log)
    if robustness_defaults:
        config["stages"]["robustness"] = {"needs": config["stages"]["robustness"]["needs"]}
    return config


def write_pipeline(run_dir, dest, log=None, robustness_defaults=False):
    """A copy of pipelines/walsoft.yaml with the bench's edits (all else unchanged)."""
    text = PIPELINE.read_text()
    if yaml is None and (log is not None or robustness_defaults):
        sys.exit("--contacts and --robustness-defaults edit the pipeline with PyYAML: "
                 "python3 -m pip install -r tests/bench/requirements.txt")
    if yaml is not None:
        config = edit(yaml.safe_load(text), run_dir, log, robustness_defaults)
        # sort_keys=False: segflow runs stages in the file's order.
        out = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000)
        # The edited copy must say the same thing as the original with the same edits.
        expected = edit(yaml.safe_load(text), run_dir, log, robustness_defaults)
        assert yaml.safe_load(out) == expected, "YAML round trip changed the pipeline"
    else:
        lines = text.splitlines(keepends=True)
        hits = [i for i, line in enumerate(lines) if line.startswith("run_dir:")]
        assert len(hits) == 1, "expected one top-level run_dir line in pipelines/walsoft.yaml"
        lines[hits[0]] = f"run_dir: '{run_dir}'\n"
        out = "".join(lines)
    dest.write_text(out)
    return dest


def run_segflow(binary, pipeline, threads=None):
    """Run the whole pipeline; returns wall-clock seconds and seconds per stage (segflow's own
    --json summary), or raises with segflow's stderr."""
    cmd = [str(binary), "run", str(pipeline), "--force", "--json"]
    env = dict(os.environ)
    if threads is not None:
        env["RAYON_NUM_THREADS"] = str(threads)  # segflow's parallelism is rayon's pool
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stderr}{proc.stdout}")
    stages = {s["stage"]: float(s["seconds"]) for s in json.loads(proc.stdout)["stages"]}
    return seconds, stages


def run_reference(threads=None, settings=None):
    """settings: keyword arguments of walsoft_reference.run (segflow's, on a generated log)."""
    import walsoft_reference  # import (pandas, scikit-learn) outside the timed region

    # scikit-learn's k-means and metrics run on OpenMP (and BLAS) threads.
    limits = threadpool_limits(limits=threads) if threads is not None else contextlib.nullcontext()
    with limits:
        start = time.perf_counter()
        result = walsoft_reference.run(**(settings or {}))
        return time.perf_counter() - start, result


def segflow_settings(run_dir, log):
    """What segflow ran, for the reference to run the same: the log, K, the robustness seeds
    and restarts (the verdict's segflow.effort), and the silhouette sample when select_k
    sampled."""
    decision = pd.read_parquet(run_dir / "select_k/decision.parquet")
    k_scores = pd.read_parquet(run_dir / "select_k/k_scores.parquet")
    meta = pyarrow.parquet.read_metadata(run_dir / "robustness/verdict.parquet").metadata
    effort = json.loads(meta[b"segflow.effort"])
    sampled = bool((k_scores["silhouette_method"] == "sampled").any())
    import walsoft_reference

    return {
        "csv": log if log is not None else walsoft_reference.CSV,
        "k_final": int(decision["k"].iloc[0]),
        "n_seeds": int(effort["seeds"]),
        "seed_n_init": int(effort["n_init"]),
        "silhouette_sample": 10_000 if sampled else None,
    }, effort


def read_segflow(run_dir):
    """segflow's results in the reference's shape, from the run's Parquet artifacts."""
    k_scores = pd.read_parquet(run_dir / "select_k/k_scores.parquet")
    cards = pd.read_parquet(run_dir / "fit/cards.parquet")
    seeds = pd.read_parquet(run_dir / "robustness/seed_stability.parquet").sort_values("seed")
    blocks = pd.read_parquet(run_dir / "robustness/block_sensitivity.parquet")
    pca = pd.read_parquet(run_dir / "visualize/pca_variance.parquet")
    assignments = pd.read_parquet(run_dir / "fit/assignments.parquet")
    blocks = blocks[blocks["dropped_block"].notna()]  # the null row is the baseline itself
    return {
        "k_table": k_scores[["k", "inertia", "silhouette", "davies_bouldin",
                             "calinski_harabasz", "sizes"]].to_dict("records"),
        "sizes": [int(n) for n in cards["n_contacts"]],
        "seed_ari": [float(a) for a in seeds["ari"]],
        "block_ari": {str(b): float(a) for b, a in zip(blocks["dropped_block"], blocks["ari"])},
        "pca_ratio": [float(r) for r in pca["explained_variance_ratio"]],
        "labels": assignments.set_index("contact_id")["cluster"],
    }


def same(a, b, tol=REL_TOL):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def yes(flag):
    return "yes" if flag else "no"


def table(header, rows):
    """Plain right-aligned text table."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print(("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths))).rstrip())
        if n == 0:
            print(("  " + "  ".join("-" * w for w in widths if w)).rstrip())


def seed_summary(ari):
    a = np.asarray(ari)
    return [f"{a.min():.6f}", f"{np.median(a):.6f}", f"{a.max():.6f}",
            f"{int((a == 1.0).sum())}/{len(a)}"]


def report(seg_s, ref_s, seg, ref, threads, settings):
    ratio = ref_s / seg_s
    word = "faster" if ratio >= 1 else "slower"
    factor = ratio if ratio >= 1 else 1 / ratio
    print(f"segflow {seg_s:.1f} s, pandas+scikit-learn {ref_s:.1f} s: "
          f"segflow is {factor:.1f}× {word} (reference / segflow = {ratio:.2f})")
    print(f"(pandas {pd.__version__}, numpy {np.__version__}, scikit-learn {sklearn.__version__},"
          f" pyarrow {pyarrow.__version__}, python {sys.version.split()[0]}; threads: "
          f"{'each library default' if threads is None else threads}, {os.cpu_count()} CPUs)")

    print("\nseconds per stage (the reference's steps named after the segflow stage doing that work)")
    stage_rows = [[name, f"{s:.2f}", f"{ref['seconds'][name]:.2f}" if name in ref["seconds"] else "-"]
                  for name, s in seg["seconds"].items()]
    table(["stage", "segflow", "reference"], stage_rows)
    print(f"  segflow's robustness also runs a {seg['effort']['resamples']}-resample bootstrap "
          f"({seg['effort']['bootstrap_n_init']} restarts each), and its\n"
          "  ingest/fit/visualize write audit tables, cards, 15 charts and report.html")
    print(f"  robustness ran {seg['effort']['text']}; the reference ran its seeds and restarts")

    print("\nK sweep (s = segflow, r = reference)")
    ref_k = {row["k"]: row for row in ref["k_table"]}
    rows, k_sizes_same, k_scores_same = [], True, True
    for s in seg["k_table"]:
        r = ref_k.get(int(s["k"]))
        if r is None:
            k_sizes_same = k_scores_same = False
            continue
        k_sizes_same &= s["sizes"] == r["sizes"]
        k_scores_same &= all(same(s[m], r[m]) for m in
                             ["inertia", "silhouette", "davies_bouldin", "calinski_harabasz"])
        rows.append([int(s["k"]),
                     f"{s['inertia']:.4f}", f"{r['inertia']:.4f}",
                     f"{s['silhouette']:.6f}", f"{r['silhouette']:.6f}",
                     f"{s['davies_bouldin']:.6f}", f"{r['davies_bouldin']:.6f}",
                     f"{s['calinski_harabasz']:.3f}", f"{r['calinski_harabasz']:.3f}",
                     s["sizes"], r["sizes"],
                     "" if s["sizes"] == r["sizes"] else
                     "<- differs, lower inertia: "
                     + ("segflow" if s["inertia"] < r["inertia"] else "reference")])
    k_sizes_same &= len(seg["k_table"]) == len(ref["k_table"])
    table(["k", "inertia s", "inertia r", "silh s", "silh r", "DB s", "DB r", "CH s", "CH r",
           "sizes s", "sizes r", ""], rows)
    if not k_sizes_same:
        # Both sides keep the best of 50 k-means++ restarts, but from different random streams,
        # so at some K they can settle in different local optima.
        print("  where sizes differ, the two sides' best of 50 restarts are different local "
              "optima; the lower inertia is the better fit")

    print(f"\nfinal fit (K = {settings['k_final']})")
    final_ari = adjusted_rand_score(
        seg["labels"].sort_index().to_numpy(),
        ref["labels"].reindex(seg["labels"].sort_index().index).to_numpy(),
    )
    table(["", "segflow", "reference"],
          [["sizes", "/".join(map(str, seg["sizes"])), "/".join(map(str, ref["sizes"]))]])
    print(f"  ARI between segflow's and the reference's labels, contact by contact: "
          f"{final_ari:.6f}")

    print(f"\nseed stability (seeds 0..{settings['n_seeds'] - 1}, {settings['seed_n_init']} restarts "
          "each; ARI against the final fit)")
    table(["", "min", "median", "max", "ARI == 1"],
          [["segflow"] + seed_summary(seg["seed_ari"]),
           ["reference"] + seed_summary(ref["seed_ari"])])
    diff_seeds = [i for i, (a, b) in enumerate(zip(seg["seed_ari"], ref["seed_ari"]))
                  if not same(a, b, ARI_TOL)]
    if diff_seeds:
        print(f"  seeds whose ARI differs: {diff_seeds}")

    print("\ndrop-one-block sensitivity (ARI against the rebuilt baseline)")
    block_rows, blocks_same = [], True
    for b in BLOCKS:
        s, r = seg["block_ari"].get(b), ref["block_ari"].get(b)
        ok = s is not None and r is not None and same(s, r, ARI_TOL)
        blocks_same &= ok
        block_rows.append([b, "missing" if s is None else f"{s:.6f}",
                           "missing" if r is None else f"{r:.6f}", "" if ok else "<- differs"])
    table(["dropped", "segflow", "reference", ""], block_rows)
    if not blocks_same:
        print("  a refit that lands in a different local optimum also gives a different ARI")

    print("\nPCA explained variance ratio")
    pca_same = len(seg["pca_ratio"]) == len(ref["pca_ratio"]) == 2 and all(
        same(a, b) for a, b in zip(seg["pca_ratio"], ref["pca_ratio"]))
    table(["component", "segflow", "reference"],
          [[i + 1, f"{a:.9f}", f"{b:.9f}"]
           for i, (a, b) in enumerate(zip(seg["pca_ratio"], ref["pca_ratio"]))])

    seeds_same = len(seg["seed_ari"]) == len(ref["seed_ari"]) and not diff_seeds
    checks = {
        "same K table sizes": k_sizes_same,
        f"same K table scores (rel {REL_TOL:g})": k_scores_same,
        "same final sizes": seg["sizes"] == ref["sizes"],
        "same final partition": same(final_ari, 1.0, ARI_TOL),
        "same seed ARIs": seeds_same,
        "same block ARIs": blocks_same,
        "same PCA ratios": pca_same,
    }
    print()
    print(", ".join(f"{name}: {yes(flag)}" for name, flag in checks.items()))
    return checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segflow", default="target/release/segflow",
                        help="segflow binary (default: target/release/segflow)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both sides (segflow: RAYON_NUM_THREADS; reference: "
                             "threadpoolctl limit on OpenMP/BLAS); default: each library's own")
    parser.add_argument("--contacts", type=int, default=None,
                        help="run on a generated log (`segflow synth calls --rows 10N "
                             "--contacts N --seed 3`) instead of the Walsoft log")
    parser.add_argument("--robustness-defaults", action="store_true",
                        help="leave the pipeline's robustness block at its defaults (the "
                             "effort rule of n, docs/robustness.md)")
    parser.add_argument("--keep", action="store_true",
                        help="keep segflow's temporary run directory and print its path")
    args = parser.parse_args()
    binary = pathlib.Path(args.segflow)
    if not binary.is_absolute():
        binary = (pathlib.Path.cwd() / binary).resolve()
    if not binary.exists():
        sys.exit(f"no segflow binary at {binary}; build it with `cargo build --release`")

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="segflow-bench-"))
    try:
        run_dir = tmp / "run"
        log = None
        if args.contacts is not None:
            log = tmp / "calls.csv"
            print(f"generating a log of {args.contacts} contacts ...", flush=True)
            subprocess.run([str(binary), "synth", "calls", "--rows", str(10 * args.contacts),
                            "--contacts", str(args.contacts), "--seed", "3",
                            "--output", str(log)], check=True, capture_output=True)
        pipeline = write_pipeline(run_dir, tmp / "walsoft.yaml", log, args.robustness_defaults)
        print(f"running segflow ({binary}) ...", flush=True)
        seg_s, seg_stages = run_segflow(binary, pipeline, args.threads)
        settings, effort = segflow_settings(run_dir, log)
        print("running pandas + scikit-learn (tests/bench/walsoft_reference.py) with segflow's "
              f"settings: K = {settings['k_final']}, {settings['n_seeds']} seeds × "
              f"{settings['seed_n_init']} restarts ...", flush=True)
        ref_s, ref = run_reference(args.threads, settings)
        seg = read_segflow(run_dir)
        seg["seconds"] = seg_stages
        seg["effort"] = effort
        print()
        report(seg_s, ref_s, seg, ref, args.threads, settings)
    except Exception as e:  # noqa: BLE001 - any failure to run or read is exit code 1
        traceback.print_exc()
        print(f"bench failed: {e}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"segflow run directory kept: {tmp / 'run'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
