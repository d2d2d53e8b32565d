#!/usr/bin/env bash
# scripts/conformance.sh sqlite|postgres
#
# Starts a fresh scim-api on the given backend, creates a tenant with Lucid's custom User extension using the
# project's own CLI, and runs the external compliance suite (../shared/conformance/scim2-tester.sh) against
# it. Prints the suite's result line; exits non-zero when any check fails.
set -euo pipefail
backend="${1:?usage: $0 sqlite|postgres}"
root="$(cd "$(dirname "$0")/.." && pwd)"
suite="${SCIM_CONFORMANCE_SUITE:-$root/../shared/conformance/scim2-tester.sh}"
cd "$root"

cargo build --quiet -p scim-api -p token-admin
bin="$root/target/debug"
work="$(mktemp -d /tmp/scim-conformance.XXXXXX)"
server_pid=""
database=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n "$database" ]] && psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

case "$backend" in
  sqlite) export SCIM_DATABASE_URL="sqlite://$work/scim.db" ;;
  postgres)
    database="scim_conformance_$$"
    psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE $database" >/dev/null
    export SCIM_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" ;;
  *) echo "unknown backend $backend" >&2; exit 2 ;;
esac
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export SCIM_LISTEN="127.0.0.1:$port" SCIM_PUBLIC_URL="http://127.0.0.1:$port" SCIM_LOG_FORMAT=json RUST_LOG=warn

"$bin/token-admin" migrate >/dev/null
"$bin/token-admin" tenants create conformance --display-name "Conformance" --policy "$(cat docs/examples/lucid-policy.json)" >/dev/null
issued="$("$bin/token-admin" tokens issue conformance --label conformance)"
token="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["apiToken"])' <<<"$issued")"
base="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["baseUrl"])' <<<"$issued")"

"$bin/scim-api" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "scim-api did not become ready" >&2; cat "$work/server.log" >&2; exit 1; }

echo "conformance ($backend): $base"
set +e
"$suite" "$base" "$token"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "--- server log (last 40 lines)"; tail -40 "$work/server.log"
fi
exit $rc
