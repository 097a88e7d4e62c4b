#!/usr/bin/env bash
# Installs Debian's chromium for the report's browser check (`just report-check`), if it is
# not there yet. Needs root or sudo and the Debian package mirror.
set -euo pipefail

for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then
        echo "browser: $(command -v "$candidate")"
        exit 0
    fi
done

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
if ! command -v chromium >/dev/null 2>&1; then
    echo "chromium is not on PATH after the install" >&2
    exit 1
fi
echo "browser: $(command -v chromium)"
