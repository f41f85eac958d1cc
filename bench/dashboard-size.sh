#!/bin/sh
# What a browser downloads for the dashboard's first page, compressed, against the budget of
# 350 KB (gzip; the frontend issue's aim). Builds the dashboard, serves it with freshtoken on a
# free port, fetches the HTML shell and every file it names as a browser would (Accept-Encoding:
# gzip), and prints the bytes on the wire and their ratio to the budget. Run it with each change
# to frontend/.
set -eu
cd "$(dirname "$0")/.."
BUDGET=${BENCH_DASHBOARD_BUDGET:-358400}

cargo dashboard >/dev/null
cargo build --release --quiet --bin freshtoken
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FRESHTOKEN_DATA_DIR="$DATA" FRESHTOKEN_BIND="127.0.0.1:$PORT" FRESHTOKEN_DASHBOARD_DIR=frontend/dist \
    FRESHTOKEN_LOG=warn "$TARGET_DIR/release/freshtoken" serve >"$DATA/log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    curl -fs "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

wire() { curl -fs -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$BASE$1"; }
raw() { curl -fs -o /dev/null -w '%{size_download}' "$BASE$1"; }

printf '%-48s %10s %10s\n' "file" "bytes" "gzip"
total=0
for path in / $(curl -fs "$BASE/" | grep -o '/assets/[A-Za-z0-9._-]*' | sort -u); do
    gz=$(wire "$path")
    printf '%-48s %10s %10s\n' "$path" "$(raw "$path")" "$gz"
    total=$((total + gz))
done
python3 - "$total" "$BUDGET" <<'PY'
import sys
total, budget = int(sys.argv[1]), int(sys.argv[2])
print(f"first page, gzip on the wire: {total} bytes ({total / 1024:.1f} KiB)")
print(f"ratio to the budget of {budget / 1024:.0f} KiB: {total / budget:.2f} (under 1.00 meets it)")
PY
