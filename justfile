# segflow task runner. `just --list` shows every recipe.
# Without just, each recipe's body is the plain cargo command to run.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Run a pipeline end to end (default: the Walsoft call log), skipping up-to-date stages.
pipeline name="walsoft" *flags="":
    cargo run --bin segflow -- run pipelines/{{name}}.yaml {{flags}}

# Run one stage of a pipeline (its inputs must exist).
stage stage name="walsoft":
    cargo run --bin segflow -- run pipelines/{{name}}.yaml --only {{stage}}

# Which stages are stale, and why.
status name="walsoft":
    cargo run --bin segflow -- status pipelines/{{name}}.yaml

# Check every artifact of a run against its lock file.
verify name="walsoft":
    cargo run --bin segflow -- verify runs/{{name}}

# Print a pipeline's DAG (format: text or mermaid).
dag name="walsoft" format="text":
    cargo run --bin segflow -- dag pipelines/{{name}}.yaml --format {{format}}

# Score new records (same CSV layout as the pipeline's input) with a finished run.
assign input output name="walsoft":
    cargo run --bin segflow -- assign --model runs/{{name}} --input {{input}} --output {{output}}

# Open the report in headless Chromium (installed by the project's script): every chart must
# render and every segment be named; the screenshot is saved as report.png.
report-check:
    bash tests/browser/install-chromium.sh
    SEGFLOW_REPORT_SCREENSHOT="$PWD/report.png" cargo test -p segflow-tests --test report_browser -- --nocapture
    @echo "screenshot: report.png"

# Installs both engines when missing (PostgreSQL needs root and Debian's apt).
# The scoring query in DuckDB and a throwaway PostgreSQL against `assign`.
sql-check-score:
    python3 -m pip install --quiet -r tests/engines/requirements.txt || python3 -m pip install --quiet --break-system-packages -r tests/engines/requirements.txt
    bash tests/engines/postgres.sh install
    CI=true cargo test -p segflow-tests --test sql_score -- --nocapture

# Fuzz CSV ingest and pipeline YAML for `seconds` (property-based, corpus in tests/fuzz/).
fuzz seconds="600":
    SEGFLOW_FUZZ_SECONDS={{seconds}} cargo test --release -p segflow-tests --test fuzz -- --nocapture

# The whole test suite (the README's test command).
test:
    cargo test --workspace

# Re-record insta snapshots after an intended artifact change, then review the diff with git.
snapshots:
    INSTA_UPDATE=always cargo test -p segflow-tests
    git diff --stat -- tests/tests/snapshots

# The committed scikit-learn fixtures were computed with OpenBLAS's AVX-512 (SkylakeX) kernels,
# which OpenBLAS picks by itself on such CPUs. Other kernels, or an OPENBLAS_CORETYPE inherited
# from the environment, move the last bits of PCA, index and mixture values (and can swap the
# component numbering of a mixture), so the oracle recipe asks for those kernels where the CPU
# has AVX-512 and otherwise lets OpenBLAS choose.
openblas_kernels := if `grep -qsw avx512f /proc/cpuinfo && echo avx512 || true` == "avx512" { "SkylakeX" } else { "" }

# Regenerate every oracle fixture: the pandas Walsoft features, matrix, transform and fit
# (each script reads the previous one's output), the expected values of the SQL expressions,
# the scikit-learn clustering fixtures (k-means, indices and PCA; DBSCAN and Ward; Gaussian
# mixtures; numpy's RandomState draws; scikit-learn's KMeans seed by seed; the gap statistic,
# whose numpy half reads the draws segflow writes), the timestamp and time-zone fixtures, the
# event-log features (the retail log, a relative-second call log, calls + SMS as two sources,
# an events table with columns of every type and nulls), the Parquet inputs with their CSV
# twins, and the value histogram's bins and the PCA density's cells. `git diff --stat`
# should then show no change.
oracle:
    python3 -m pip install --quiet -r tests/oracle/requirements.txt -r tests/oracle/cluster/requirements.txt
    OPENBLAS_CORETYPE={{openblas_kernels}} python3 tests/oracle/walsoft_features.py
    OPENBLAS_CORETYPE={{openblas_kernels}} python3 tests/oracle/walsoft_matrix.py
    OPENBLAS_CORETYPE={{openblas_kernels}} python3 tests/oracle/walsoft_fit.py
    python3 tests/oracle/purchases.py
    python3 tests/oracle/timestamps.py
    python3 tests/oracle/timezone.py
    python3 tests/oracle/retail.py
    python3 tests/oracle/calllog.py
    python3 tests/oracle/twosource.py
    python3 tests/oracle/expressions.py
    python3 tests/oracle/features_any_column.py
    python3 tests/oracle/parquet_input.py
    python3 tests/oracle/histogram.py
    python3 tests/oracle/density.py
    OPENBLAS_CORETYPE={{openblas_kernels}} python3 tests/oracle/cluster/make_fixtures.py
    OPENBLAS_CORETYPE={{openblas_kernels}} python3 tests/oracle/cluster/dbscan_ward.py
    OPENBLAS_CORETYPE={{openblas_kernels}} python3 tests/oracle/cluster/gmm.py
    python3 tests/oracle/cluster/random_state.py
    OPENBLAS_CORETYPE={{openblas_kernels}} python3 tests/oracle/cluster/kmeans_random_state.py
    python3 tests/oracle/gap/gap.py matrix
    SEGFLOW_WRITE_GAP_DRAWS=1 cargo test -p segflow-tests --test gap_oracle
    python3 tests/oracle/gap/gap.py expected

# Clustering benchmark: segflow-cluster and scikit-learn on the same data, as speed ratios.
bench:
    python3 -m pip install --quiet -r crates/segflow-cluster/benches/requirements.txt
    cargo bench -p segflow-cluster --bench vs_scikit_learn

# Mini-batch k-means on generated 10^6 and 10^7 rows x 20 features beside scikit-learn's
# MiniBatchKMeans (same data, batch size and seed): fit time, inertia ratio, peak memory.
bench-minibatch sizes="1e6,1e7":
    python3 -m pip install --quiet -r crates/segflow-cluster/benches/requirements.txt
    cargo build --release -p segflow-cluster --example minibatch_fit
    python3 crates/segflow-cluster/benches/minibatch_bench.py target/release/examples/minibatch_fit --sizes {{sizes}}

# SQL expression evaluation over 10^6 rows: segflow-expr, then pandas doing the same.
bench-expressions:
    python3 -m pip install --quiet -r tests/bench/requirements.txt
    cargo run -p segflow-tests --example expression_speed
    python3 tests/bench/expression_speed.py

# The whole Walsoft pipeline against pandas + scikit-learn doing the same steps, side by side
# (--contacts N: on a generated log of N contacts; --robustness-defaults: robustness at defaults).
bench-pipeline *flags="":
    python3 -m pip install --quiet -r tests/bench/requirements.txt
    cargo build --release
    python3 tests/bench/bench_pipeline.py {{flags}}

# Issue 17's table in one invocation: k-means against scikit-learn (the cluster bench), and the
# Walsoft pipeline at 10^5 and 10^6 contacts and on the reference log against pandas +
# scikit-learn (--rows kmeans,defaults-1e5,defaults-1e6,walsoft-1e5,walsoft-log picks a subset;
# --full-reference runs walsoft-1e5's reference with all 50 seeds, about half an hour).
bench-scale *flags="":
    python3 -m pip install --quiet -r tests/bench/requirements.txt -r crates/segflow-cluster/benches/requirements.txt
    cargo build --release
    python3 tests/bench/bench_scale.py {{flags}}

# Peak memory and time of ingest + features on generated 10^6- and 10^7-call logs, beside pandas.
bench-memory *flags="":
    python3 -m pip install --quiet -r tests/bench/requirements.txt
    cargo build --release
    python3 tests/bench/bench_memory.py {{flags}}

# Peak memory and time of `assign` at 10^6-10^8 table rows and 10^6-10^7 events (10^5 and
# 10^6 contacts), generated; at most one input (2.9 GiB at 10^8 rows, plus 4 GiB of scratch runs) on disk at a time.
bench-assign *flags="":
    python3 -m pip install --quiet -r tests/bench/requirements.txt
    cargo build --release
    python3 tests/bench/bench_assign.py {{flags}}

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The 10⁶-call check takes about 25–40 s on two cores; the other checks also run in `cargo test`.
# The features query in DuckDB (Walsoft log, timestamp cases, 10⁶ generated calls) against segflow's.
sql-check-duckdb:
    python3 -m pip install --quiet -r tests/engines/requirements.txt || python3 -m pip install --quiet --break-system-packages -r tests/engines/requirements.txt
    SEGFLOW_ENGINES=duckdb CI=true cargo test -p segflow-tests --test sql_features -- --include-ignored --nocapture

# Installs PostgreSQL when missing (root and Debian's apt); the 10⁶-call check takes minutes.
# The features query in a throwaway PostgreSQL (Walsoft, timestamps, 10⁶ calls) against segflow's.
sql-check-postgres:
    python3 -m pip install --quiet -r tests/engines/requirements.txt || python3 -m pip install --quiet --break-system-packages -r tests/engines/requirements.txt
    bash tests/engines/postgres.sh install
    SEGFLOW_ENGINES=postgres CI=true cargo test -p segflow-tests --test sql_features -- --include-ignored --nocapture

# Installs PySpark from PyPI and, when java is missing, Debian's headless Java 17. One Spark
# session per query: about 15 minutes on two busy cores, so CI leaves it out (docs/decisions.md).
# Every SQL check in Spark's local mode: features (Walsoft, retail, timestamps, epoch counts, two
# sources, 10⁶ calls), the row expressions and scoring.
sql-check-spark:
    python3 -m pip install --quiet -r tests/engines/requirements.txt || python3 -m pip install --quiet --break-system-packages -r tests/engines/requirements.txt
    bash tests/engines/spark.sh install
    SEGFLOW_ENGINES=spark CI=true cargo test -p segflow-tests --test sql_features --test sql_score --test sql_epoch --test sql_sources --test sql_expressions -- --include-ignored --nocapture
