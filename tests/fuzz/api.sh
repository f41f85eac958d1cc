#!/usr/bin/env bash
# Fuzzes the JSON API from its own OpenAPI document with schemathesis (from PyPI), against the
# real `freshtoken serve` (Instagram being `freshtoken fake-instagram`) on the database named by
# $1 (SQLite in a temporary folder when absent), as a signed-up owner's API key. Fails on any 5xx and on any status the document
# does not list for that route. Bounded: FUZZ_SECONDS (default 120) of generation. One
# worker: several threads trip a thread-safety bug of CPython 3.11's `ast` inside hypothesis.
#
#   tests/fuzz/api.sh                                        # SQLite
#   tests/fuzz/api.sh postgres://postgres@127.0.0.1:5432/test  # a fresh database on that server
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --bin freshtoken
BIN="$TARGET/debug/freshtoken"
VENV=/var/tmp/freshtoken-fuzz-venv
[ -x "$VENV/bin/schemathesis" ] || {
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet schemathesis==4.32.5
}

WORK="$(mktemp -d)"
DATABASE_URL=""
FUZZ_DB=""
if [ -n "${1:-}" ]; then
  FUZZ_DB="ft_fuzz_$$"
  psql "$1" -qc "CREATE DATABASE $FUZZ_DB"
  DATABASE_URL="${1%/*}/$FUZZ_DB"
fi
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

cleanup() {
  for process in "${SERVER:-}" "${FAKE:-}"; do
    [ -n "$process" ] && kill "$process" 2>/dev/null && wait "$process" 2>/dev/null || true
  done
  [ -n "$FUZZ_DB" ] && psql "$1" -qc "DROP DATABASE IF EXISTS $FUZZ_DB WITH (FORCE)" || true
  rm -rf "$WORK"
}
trap 'cleanup "${1:-}"' EXIT

# Instagram, Threads and Facebook are our fake, as everywhere in tests: pasted tokens are
# checked against it (the real ones are out of reach here, and a 502 for "Meta is away" is not
# what this run looks for).
FAKE_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
FRESHTOKEN_BIND="127.0.0.1:$FAKE_PORT" FRESHTOKEN_LOG=warn "$BIN" fake-instagram >"$WORK/fake.log" 2>&1 &
FAKE=$!
for _ in $(seq 1 100); do
  grep -q "^fake Instagram at" "$WORK/fake.log" && break
  sleep 0.1
done
FAKE_URL="http://127.0.0.1:$FAKE_PORT"
APP_ID="$(sed -n 's/.*(app id \([^,]*\), app secret \([^;]*\);.*/\1/p' "$WORK/fake.log")"
APP_SECRET="$(sed -n 's/.*(app id \([^,]*\), app secret \([^;]*\);.*/\2/p' "$WORK/fake.log")"

# PostgreSQL wants the key given (every process must share it); SQLite makes one in $WORK.
SECRET_KEY=""
[ -n "$DATABASE_URL" ] && SECRET_KEY="$("$BIN" admin generate-key | tail -n 1)"
FRESHTOKEN_DATA_DIR="$WORK" FRESHTOKEN_BIND="127.0.0.1:$PORT" FRESHTOKEN_PUBLIC_URL="$BASE" \
  FRESHTOKEN_DATABASE_URL="$DATABASE_URL" FRESHTOKEN_SECRET_KEY="$SECRET_KEY" FRESHTOKEN_LOG=warn \
  FRESHTOKEN_INSTAGRAM_OAUTH_URL="$FAKE_URL" FRESHTOKEN_INSTAGRAM_API_URL="$FAKE_URL" \
  FRESHTOKEN_INSTAGRAM_GRAPH_URL="$FAKE_URL" FRESHTOKEN_FACEBOOK_GRAPH_URL="$FAKE_URL" \
  FRESHTOKEN_FACEBOOK_OAUTH_URL="$FAKE_URL" FRESHTOKEN_THREADS_OAUTH_URL="$FAKE_URL" \
  FRESHTOKEN_THREADS_GRAPH_URL="$FAKE_URL" \
  FRESHTOKEN_INSTAGRAM_CLIENT_ID="$APP_ID" FRESHTOKEN_INSTAGRAM_CLIENT_SECRET="$APP_SECRET" \
  FRESHTOKEN_THREADS_CLIENT_ID="$APP_ID" FRESHTOKEN_THREADS_CLIENT_SECRET="$APP_SECRET" \
  FRESHTOKEN_FACEBOOK_APP_ID="$APP_ID" FRESHTOKEN_FACEBOOK_APP_SECRET="$APP_SECRET" \
  "$BIN" serve >"$WORK/service.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$BASE/readyz" >/dev/null || { echo "the service did not come up:"; cat "$WORK/service.log"; exit 1; }

# An owner (the first user, so also the operator) and an API key of their workspace.
curl -fsS -c "$WORK/cookies" -H "Origin: $BASE" -H 'Content-Type: application/json' \
  -d '{"email": "fuzz@example.com", "password": "a long enough password", "name": "Fuzz"}' \
  "$BASE/api/v1/auth/signup" >"$WORK/me.json"
TENANT="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["tenants"][0]["id"])' "$WORK/me.json")"
curl -fsS -b "$WORK/cookies" -H "Origin: $BASE" -H 'Content-Type: application/json' \
  -d '{"name": "fuzz"}' "$BASE/api/v1/tenants/$TENANT/api-keys" >"$WORK/key.json"
KEY="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secret"])' "$WORK/key.json")"

status=0
"$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json" --url "$BASE" \
  --header "Authorization: Bearer $KEY" --header "Origin: $BASE" \
  --checks not_a_server_error,status_code_conformance \
  --max-time "${FUZZ_SECONDS:-120}" --workers 1 --seed 16 \
  --no-color --warnings off --suppress-health-check all || status=$?
if grep -q "panicked" "$WORK/service.log"; then
  echo "the service panicked:"; grep -A3 "panicked" "$WORK/service.log"; status=1
fi
exit "$status"
