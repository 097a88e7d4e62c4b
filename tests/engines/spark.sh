#!/usr/bin/env bash
# Spark in local mode for the SQL checks (`just sql-check-spark`):
#   spark.sh install    PySpark from PyPI (pinned in spark-requirements.txt; its wheel ships
#                       Spark's jars and the spark-sql command) and, when `java` is missing,
#                       Debian's headless Java 17 runtime (root)
# Spark 4 needs Java 17 or later.
set -euo pipefail
here=$(dirname "$0")

case ${1:-} in
install)
    if ! command -v java >/dev/null; then
        if [[ $(id -u) != 0 ]]; then
            echo "java is missing and installing it needs root (apt-get install openjdk-17-jre-headless)" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
    fi
    # Debian's own Python refuses pip outside a virtual environment (PEP 668) unless told.
    python3 -m pip install --quiet -r "$here/spark-requirements.txt" \
        || python3 -m pip install --quiet --break-system-packages -r "$here/spark-requirements.txt"
    echo "Spark: $(python3 -c 'import pyspark; print(pyspark.__version__)'), $(java -version 2>&1 | head -1)"
    ;;
*)
    echo "usage: spark.sh install" >&2
    exit 64
    ;;
esac
