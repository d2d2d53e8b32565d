#!/usr/bin/env bash
# One benchmark run: a fresh database, a fresh release `scim-api` with tenant `perf`, one `scim-load`
# scenario against it, then one JSON line: the scenario's results, each phase's requests and errors,
# the server's CPU seconds (user + system) during the run, its peak resident memory during the run and
# its resident memory idle afterwards.
#
#   scripts/perf.sh sqlite   filter --users 1000 -c 32 --duration 15s
#   scripts/perf.sh postgres create --count 5000
#   scripts/perf.sh sqlite   tenants --tenants 1000 --rate 25 --duration 60s \
#       --token-cmd 'target/release/token-admin tenants create {tenant} >/dev/null && target/release/token-admin tokens issue {tenant}'
#
# Build first: cargo build --release -p scim-api -p token-admin -p scim-load
# Environment: PERF_PORT (19080), PERF_DIR (a new temporary directory), PERF_PG (postgres://postgres@127.0.0.1:5432),
# PERF_SCIM_API (another scim-api binary, for before/after comparisons),
# PERF_BASE_URL (instead of tenant perf's URL, e.g. 'http://127.0.0.1:19080/scim/v2/{tenant}' for `tenants`),
# PERF_LOAD_FLAGS (extra global scim-load flags, default "--threads 1"), PERF_MAX_REQUESTS (3000000),
# PERF_MAX_DURATION (30m), and any SCIM_* setting for the server. The per-tenant rate limit is off
# (SCIM_RATE_LIMIT_PER_SECOND=0) unless set: it would cap a single-tenant run at 1,000 requests/s by design.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: scripts/perf.sh sqlite|postgres <scim-load scenario and flags>}
shift
port=${PERF_PORT:-19080}
dir=${PERF_DIR:-$(mktemp -d)}
bin=target/release
for b in scim-api token-admin scim-load; do
  [[ -x $bin/$b ]] || { echo "build first: cargo build --release -p scim-api -p token-admin -p scim-load" >&2; exit 1; }
done

case $backend in
  sqlite) export SCIM_DATABASE_URL="sqlite://$dir/scim.db" ;;
  postgres)
    pg=${PERF_PG:-postgres://postgres@127.0.0.1:5432}
    db="perf_$$"
    PGOPTIONS=--client-min-messages=warning psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    export SCIM_DATABASE_URL="$pg/$db"
    ;;
  *) echo "backend must be sqlite or postgres" >&2; exit 2 ;;
esac
export SCIM_LISTEN="127.0.0.1:$port"
export SCIM_RATE_LIMIT_PER_SECOND=${SCIM_RATE_LIMIT_PER_SECOND:-0}
# auth-timing sends hundreds of refused requests from one address on purpose.
export SCIM_UNAUTHENTICATED_RATE_LIMIT_PER_SECOND=${SCIM_UNAUTHENTICATED_RATE_LIMIT_PER_SECOND:-0}

"${PERF_SCIM_API:-$bin/scim-api}" --bootstrap-tenant perf >"$dir/server.out" 2>"$dir/server.log" &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [[ $backend == postgres ]]; then psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" >/dev/null || true; fi
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
kill -0 "$server" 2>/dev/null || { echo "scim-api did not start:" >&2; tail -n 5 "$dir/server.log" >&2; exit 1; }
base=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["baseUrl"])' <"$dir/server.out")
token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["apiToken"])' <"$dir/server.out")

cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
(
  while kill -0 "$server" 2>/dev/null; do rss_kib; sleep 0.5; done
) >"$dir/rss.samples" &
sampler=$!
load_flags=${PERF_LOAD_FLAGS-"--threads 1"}
cpu_before=$(cpu)
# shellcheck disable=SC2086 # load_flags is a list of flags
$bin/scim-load --base-url "${PERF_BASE_URL:-$base}" --token "$token" --json \
  --max-requests "${PERF_MAX_REQUESTS:-3000000}" --max-duration "${PERF_MAX_DURATION:-30m}" \
  $load_flags "$@" >"$dir/report.json"
cpu_after=$(cpu)
kill "$sampler" 2>/dev/null || true
peak=$(sort -n "$dir/rss.samples" | tail -n 1)
sleep 2
idle=$(rss_kib)
ticks=$(getconf CLK_TCK)
python3 - "$dir/report.json" "$(( cpu_after - cpu_before ))" "$ticks" "$peak" "$idle" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
ticks, hz, peak, idle = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4] or 0), int(sys.argv[5])
requests = sum(p["total"]["requests"] for p in report["phases"])
print(json.dumps({
    "results": report.get("extra"),
    "phases": [{"name": p["name"], "secs": round(p["elapsedSecs"], 2), "requests": p["total"]["requests"],
                "errors": p["total"]["errors"], "p99Ms": p["total"]["latencyMs"]["p99"]} for p in report["phases"]],
    "serverCpuSecs": round(ticks / hz, 2),
    "serverCpuMicrosPerRequest": round(ticks / hz * 1e6 / max(requests, 1)),
    "peakRssMiB": round(peak / 1024, 1),
    "idleRssMiB": round(idle / 1024, 1),
    "stoppedEarly": report.get("stoppedEarly"),
}))
EOF
