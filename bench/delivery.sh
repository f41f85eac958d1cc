#!/bin/sh
# The token URLs under wrk beside nginx (see README.md): installs Debian's wrk and nginx when
# they are missing, then runs the benchmark. Settings: BENCH_ACCOUNTS (1,100000),
# BENCH_CONNECTIONS (64), BENCH_SECONDS (10), BENCH_WARM (150000), BENCH_COUNTS_INTERVAL (30s),
# BENCH_PROFILE_DIR (unset: when set, `perf record -g` of the web process during its run, and
# its /proc smaps_rollup and status after, are written there).
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
# Line tables (no change to the code generated) so that perf's call graphs name our functions.
CARGO_PROFILE_BENCH_DEBUG="${CARGO_PROFILE_BENCH_DEBUG:-line-tables-only}"
export CARGO_PROFILE_BENCH_DEBUG
exec cargo bench -p freshtoken-bench --bench delivery
