#!/usr/bin/env bash
# Property-based API testing of scim-api against its own OpenAPI document (crates/scim-api/openapi.json)
# with Schemathesis: a fresh server on a temporary SQLite database, loopback only, bounded in time.
#
# Usage: scripts/schemathesis.sh            (env: SCHEMATHESIS_SECONDS=600, SCHEMATHESIS_MAX_EXAMPLES=40,
#                                              SCHEMATHESIS_CHECKS=..., SCHEMATHESIS_EXCLUDE_PATH_REGEX='/Me$',
#                                              SCHEMATHESIS_VENV=target/schemathesis-venv)
#
# Checks: no 5xx (not_a_server_error), and conformance of status codes, content types, headers and bodies
# to the document. Exit status is Schemathesis's (non-zero when a check failed) or 124 when the time
# budget ran out. The server log is kept in the printed directory; every 5xx there is listed at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SECONDS_BUDGET="${SCHEMATHESIS_SECONDS:-600}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
CHECKS="${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance}"
VENV="${SCHEMATHESIS_VENV:-$ROOT/target/schemathesis-venv}"
# /Me answers 501 on purpose (RFC 7644 §3.11: a provider without /Me SHOULD answer 501), which the
# no-5xx check would report; the isolation tests cover it instead.
EXCLUDE="${SCHEMATHESIS_EXCLUDE_PATH_REGEX:-/Me\$}"

if [ ! -x "$VENV/bin/st" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis>=4,<5"
fi
"$VENV/bin/st" --version

cargo build --quiet -p scim-api --bin scim-api
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/debug/scim-api"

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    echo "server log and report: $WORK"
}
trap cleanup EXIT

SCIM_DATABASE_URL="sqlite://$WORK/scim.db" SCIM_LISTEN="127.0.0.1:$PORT" SCIM_RATE_LIMIT_PER_SECOND=0 SCIM_UNAUTHENTICATED_RATE_LIMIT_PER_SECOND=0 \
    SCIM_LOG_FORMAT=json RUST_LOG=info \
    "$BIN" --bootstrap-tenant acme >"$WORK/bootstrap.json" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
    sleep 0.2
done
TOKEN="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiToken"])' "$WORK/bootstrap.json")"

# The tenant path parameter is pinned to the bootstrapped tenant; everything else is generated.
cat >"$WORK/schemathesis.toml" <<TOML
[parameters]
"path.tenant" = "acme"
TOML

set +e
# Run from the work directory so Schemathesis's cache (.schemathesis/) stays out of the repository.
cd "$WORK"
timeout "$SECONDS_BUDGET" "$VENV/bin/st" --config-file "$WORK/schemathesis.toml" run \
    "http://127.0.0.1:$PORT/openapi.json" \
    --url "http://127.0.0.1:$PORT" \
    -H "Authorization: Bearer $TOKEN" \
    --checks "$CHECKS" \
    --exclude-path-regex "$EXCLUDE" \
    --max-examples "$MAX_EXAMPLES" \
    --request-timeout 30 \
    --report junit --report-dir "$WORK/report" \
    --no-color
STATUS=$?
set -e

SERVER_ERRORS="$(grep -c '"status":5' "$WORK/server.log" || true)"
echo "5xx answers in the server log: $SERVER_ERRORS"
if [ "$SERVER_ERRORS" != "0" ]; then
    grep '"status":5' "$WORK/server.log" | head -20
fi
exit "$STATUS"
