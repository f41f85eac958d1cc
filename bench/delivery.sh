#!/bin/sh
# The token URLs under wrk beside nginx (see README.md): installs Debian's wrk and nginx when
# they are missing, then runs the benchmark. Settings: BENCH_ACCOUNTS (1,100000),
# BENCH_CONNECTIONS (64), BENCH_SECONDS (10).
set -eu
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # nginx-light: no modules we do not need; its service is not started (no init here).
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk nginx-light >/dev/null
fi
# Debian's nginx lives in /usr/sbin, which a non-root PATH may lack.
PATH="$PATH:/usr/sbin"
export PATH
exec cargo bench -p freshtoken-bench --bench delivery
