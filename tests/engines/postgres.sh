#!/usr/bin/env bash
# A throwaway PostgreSQL server for the SQL tests, on a Unix socket in a temporary directory
# (no TCP port):
#   postgres.sh install      installs Debian's postgresql package when initdb is missing (root)
#   postgres.sh start        prints the directory of the running server (socket and data)
#   postgres.sh stop DIR     stops that server and removes DIR
# The superuser is `segflow`, trusted on the socket. initdb refuses to run as root, so as root
# the server runs as the `postgres` user that Debian's package creates.
set -euo pipefail

find_bin() {
    local name=$1 found
    found=$(command -v "$name" 2>/dev/null || true)
    if [[ -z $found ]]; then
        # Debian keeps the server programs out of PATH, under the major version.
        found=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1 || true)
    fi
    echo "$found"
}

as_server_user() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case ${1:-} in
install)
    if [[ -n $(find_bin initdb) ]]; then
        echo "PostgreSQL: $("$(find_bin initdb)" --version)"
        exit 0
    fi
    if [[ $(id -u) != 0 ]]; then
        echo "initdb is missing and installing PostgreSQL needs root (apt-get install postgresql)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    echo "PostgreSQL: $("$(find_bin initdb)" --version)"
    ;;
start)
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    if [[ -z $initdb || -z $pg_ctl ]]; then
        echo "initdb not found: run tests/engines/postgres.sh install" >&2
        exit 3
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/segflow-postgres.XXXXXX")
    chmod 755 "$dir"
    if [[ $(id -u) == 0 ]]; then chown postgres: "$dir"; fi
    as_server_user "$initdb" -D "$dir/data" -U segflow --auth=trust --encoding=UTF8 \
        --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_server_user "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses='' -k $dir -c fsync=off" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "$dir"
    ;;
stop)
    dir=${2:?usage: postgres.sh stop DIR}
    as_server_user "$(find_bin pg_ctl)" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: postgres.sh install | start | stop DIR" >&2
    exit 64
    ;;
esac
