#!/usr/bin/env bash
# The change feed under load: webhook delivery lag while `scim-load create` writes, then how fast the events
# API pages through everything written. Release builds, a fresh database, loopback only.
#
#   scripts/feed-perf.sh sqlite   [USERS] [CLIENTS]      (defaults: 5000 users, 8 clients)
#   scripts/feed-perf.sh postgres [USERS] [CLIENTS]
#
# Build first: cargo build --release -p scim-api -p token-admin -p scim-load
# Prints one JSON line: writes/s during the run, webhook lag (delivery received minus the event's
# occurredAt) p50/p99/max over every event, deliveries received, and events API pages/s and events/s
# with limit=1000. The run fails if any write failed or any event was not delivered.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?usage: scripts/feed-perf.sh sqlite|postgres [USERS] [CLIENTS]}
users=${2:-5000}
clients=${3:-8}
bin=target/release
for b in scim-api token-admin scim-load; do
  [[ -x $bin/$b ]] || { echo "build first: cargo build --release -p scim-api -p token-admin -p scim-load" >&2; exit 1; }
done
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api_port=$(free_port); admin_port=$(free_port); hook_port=$(free_port)
case $backend in
  sqlite) export SCIM_DATABASE_URL="sqlite://$dir/scim.db" ;;
  postgres)
    pg=${PERF_PG:-postgres://postgres@127.0.0.1:5432}
    db="feedperf_$$"
    psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    export SCIM_DATABASE_URL="$pg/$db"
    ;;
  *) echo "backend must be sqlite or postgres" >&2; exit 2 ;;
esac
export SCIM_RATE_LIMIT_PER_SECOND=0 SCIM_LOG_FORMAT=json RUST_LOG=warn
export SCIM_ADMIN_JWT_HS256_SECRET="feed-perf-operator-secret-of-32-bytes-or-more" SCIM_ADMIN_JWT_ISSUER=feed-perf \
  SCIM_ADMIN_JWT_AUDIENCE=token-admin SCIM_WEBHOOK_ALLOW_PRIVATE_TARGETS=true
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [[ $backend == postgres ]]; then psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" >/dev/null || true; fi
}
trap cleanup EXIT

SCIM_LISTEN="127.0.0.1:$api_port" "$bin/scim-api" --bootstrap-tenant perf >"$dir/api.out" 2>"$dir/api.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api_port/healthz" >/dev/null && break; sleep 0.1; done
SCIM_ADMIN_LISTEN="127.0.0.1:$admin_port" "$bin/token-admin" serve >"$dir/admin.out" 2>"$dir/admin.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin_port/healthz" >/dev/null && break; sleep 0.1; done

python3 - "$dir" "$hook_port" "$admin_port" <<'PY' &
import base64, hashlib, hmac, json, os, sys, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
work, hook_port, admin_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = open(os.path.join(work, "deliveries"), "a", buffering=1)
class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        received = time.time()
        event = json.loads(body)
        out.write(json.dumps({"id": event["id"], "occurredAt": event["occurredAt"], "received": received}) + "\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", hook_port), Hook).serve_forever()
PY
pids+=($!)

jwt=$(python3 - <<'PY'
import base64, hashlib, hmac, json, os, time
b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({"iss": "feed-perf", "aud": "token-admin", "sub": "feed-perf", "role": "scim-admin",
                         "exp": int(time.time()) + 3600}).encode())
sig = hmac.new(os.environ["SCIM_ADMIN_JWT_HS256_SECRET"].encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
print(f"{header}.{claims}.{b64(sig)}")
PY
)
curl -sf -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' \
  -d "{\"url\": \"http://127.0.0.1:$hook_port/hook\"}" "http://127.0.0.1:$admin_port/admin/v1/webhooks" >/dev/null

base=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["baseUrl"])' <"$dir/api.out")
token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["apiToken"])' <"$dir/api.out")
"$bin/scim-load" --base-url "$base" --token "$token" --json --no-progress --max-requests $((users + 10)) \
  create --count "$users" -c "$clients" >"$dir/load.json"

python3 - "$dir" "$admin_port" "$jwt" "$users" <<'PY'
import json, sys, time, urllib.request
from datetime import datetime
work, admin_port, jwt, users = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
load = json.load(open(f"{work}/load.json"))
phase = load["phases"][0]
errors = phase["total"]["errors"]
deadline = time.time() + 120
def delivered():
    try:
        return [json.loads(line) for line in open(f"{work}/deliveries")]
    except FileNotFoundError:
        return []
while len({d["id"] for d in delivered()}) < users and time.time() < deadline:
    time.sleep(0.5)
rows = delivered()
lags = sorted(d["received"] - datetime.fromisoformat(d["occurredAt"].replace("Z", "+00:00")).timestamp() for d in rows)
pct = lambda p: round(lags[min(len(lags) - 1, int(p * len(lags)))] * 1000, 1) if lags else None
# The events API, from the start, 1000 a page.
started, pages, events, cursor = time.time(), 0, 0, None
while True:
    url = f"http://127.0.0.1:{admin_port}/admin/v1/events?limit=1000" + (f"&after={cursor}" if cursor else "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {jwt}"})
    page = json.load(urllib.request.urlopen(request))
    pages += 1
    events += len(page["data"])
    cursor = page["nextCursor"]
    if not page["hasMore"]:
        break
elapsed = time.time() - started
unique = len({d["id"] for d in rows})
print(json.dumps({
    "writesPerSec": round(load["results"]["usersPerSec"]), "writeErrors": errors,
    "deliveries": len(rows), "eventsDelivered": unique,
    "lagMs": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
    "eventsApi": {"events": events, "pages": pages, "pagesPerSec": round(pages / elapsed, 1),
                  "eventsPerSec": round(events / elapsed)},
}))
sys.exit(1 if errors or unique < users or events < users else 0)
PY
