#!/usr/bin/env bash
# Crash safety: `kill -9` scim-api in the middle of load, restart it, and check that every write it had
# acknowledged is there, and that the change feed replayed from the start (token-admin's events API) gives
# exactly what SCIM shows. Runs on SQLite, on PostgreSQL, and with two scim-api replicas on one PostgreSQL
# database (one replica is killed and restarted while both take load). Loopback only, bounded in time.
#
# A fourth scenario, `webhooks`, kills `token-admin serve` (the webhook worker) with SIGKILL mid-delivery
# while scim-api takes load, restarts it, and checks that every event of the feed reaches a local receiver
# at least once (deliveries in flight at the kill are sent again once their 60 s lease ends).
#
# Usage: scripts/crash-test.sh [sqlite|postgres|replicas|webhooks|all]     (default all)
#   CRASH_SECONDS=20   load per scenario (the kill lands in the middle)
#   CRASH_CLIENTS=16   concurrent clients
#   SCIM_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres   admin URL for a scratch database
#
# The load and the check are a small standard-library Python program (written to the work directory):
# clients create users, raise a per-user `title` sequence number, and add users to four shared groups;
# only monotonic writes, so "every acknowledged write is present" is an exact check. Writes in flight at
# the kill may land or not; both are fine.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SCENARIO="${1:-all}"
SECONDS_PER="${CRASH_SECONDS:-20}"
CLIENTS="${CRASH_CLIENTS:-16}"
ADMIN_URL="${SCIM_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

cargo build --quiet -p scim-api --bin scim-api -p token-admin --bin token-admin
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/debug/scim-api"
ADMIN_BIN="$TARGET_DIR/debug/token-admin"
OPERATOR_SECRET="crash-test-operator-secret-of-at-least-32-bytes"
WORK="$(mktemp -d)"
LOAD="$WORK/crash-load.py"
PIDS=()
SCRATCH_DB=""

cleanup() {
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    done
    if [ -n "$SCRATCH_DB" ]; then psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $SCRATCH_DB" >/dev/null 2>&1 || true; fi
    echo "logs: $WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME DATABASE_URL PORT [--bootstrap-tenant acme]; sets LAST_PID
start_server() {
    local name="$1" url="$2" port="$3"
    shift 3
    SCIM_DATABASE_URL="$url" SCIM_LISTEN="127.0.0.1:$port" SCIM_RATE_LIMIT_PER_SECOND=0 SCIM_LOG_FORMAT=json \
        "$BIN" "$@" >>"$WORK/$name.out" 2>>"$WORK/$name.log" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for _ in $(seq 1 300); do
        if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "server $name did not start"; tail -20 "$WORK/$name.log"; exit 1
}

token_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiToken"])' "$WORK/$1.out"; }

# scenario NAME DATABASE_URL REPLICAS
scenario() {
    local name="$1" url="$2" replicas="$3"
    echo "== $name: $CLIENTS clients, ${SECONDS_PER}s, $replicas replica(s), kill -9 of replica 1 at $((SECONDS_PER / 2))s"
    local ports=() pids=() bases=()
    local port
    port="$(free_port)"
    start_server "$name-1" "$url" "$port" --bootstrap-tenant acme
    ports+=("$port"); pids+=("$LAST_PID"); bases+=("http://127.0.0.1:$port/scim/v2/acme")
    local token
    token="$(token_of "$name-1")"
    if [ "$replicas" = 2 ]; then
        port="$(free_port)"
        start_server "$name-2" "$url" "$port"
        ports+=("$port"); pids+=("$LAST_PID"); bases+=("http://127.0.0.1:$port/scim/v2/acme")
    fi
    local joined
    joined="$(IFS=,; echo "${bases[*]}")"
    python3 "$LOAD" load "$joined" "$token" "$SECONDS_PER" "$CLIENTS" "$WORK/$name.acks" >"$WORK/$name.load.json" &
    local load_pid=$!
    sleep "$((SECONDS_PER / 2))"
    kill -9 "${pids[0]}"
    wait "${pids[0]}" 2>/dev/null || true
    echo "   killed replica 1 (pid ${pids[0]}) with SIGKILL after $(wc -l <"$WORK/$name.acks") acknowledged writes"
    sleep 1
    start_server "$name-1" "$url" "${ports[0]}"
    echo "   restarted replica 1"
    wait "$load_pid"
    echo "   load: $(cat "$WORK/$name.load.json")"
    # A second, cold check after stopping everything: nothing acknowledged lives only in memory.
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    PIDS=()
    port="$(free_port)"
    start_server "$name-verify" "$url" "$port"
    if python3 "$LOAD" verify "http://127.0.0.1:$port/scim/v2/acme" "$token" "$WORK/$name.acks"; then
        echo "   OK: every acknowledged write survived"
    else
        echo "   FAILED: acknowledged writes lost"; exit 1
    fi
    # The change feed, replayed from the start through token-admin, gives what SCIM shows.
    local admin_port server_pid="$LAST_PID"
    admin_port="$(free_port)"
    start_admin "$name-admin" "$url" "$admin_port"
    local admin_pid="$LAST_PID"
    if python3 "$LOAD" feed "http://127.0.0.1:$port/scim/v2/acme" "$token" "http://127.0.0.1:$admin_port" "$OPERATOR_SECRET"; then
        echo "   OK: the change feed replays to exactly what SCIM shows"
    else
        echo "   FAILED: the change feed disagrees with SCIM"; exit 1
    fi
    kill -TERM "$admin_pid"; wait "$admin_pid" 2>/dev/null || true
    kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true
    PIDS=()
    local server_errors
    server_errors="$(cat "$WORK/$name"-*.log | grep -c '"status":5' || true)"
    echo "   5xx answers logged: $server_errors"
}

# start_admin NAME DATABASE_URL PORT; sets LAST_PID
start_admin() {
    local name="$1" url="$2" port="$3"
    SCIM_DATABASE_URL="$url" SCIM_ADMIN_LISTEN="127.0.0.1:$port" SCIM_ADMIN_JWT_HS256_SECRET="$OPERATOR_SECRET" \
        SCIM_ADMIN_JWT_ISSUER=crash-test SCIM_ADMIN_JWT_AUDIENCE=token-admin SCIM_LOG_FORMAT=json \
        SCIM_WEBHOOK_ALLOW_PRIVATE_TARGETS=true "$ADMIN_BIN" serve >>"$WORK/$name.out" 2>>"$WORK/$name.log" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "token-admin $name did not start"; tail -20 "$WORK/$name.log"; exit 1
}

# The webhook worker killed with SIGKILL mid-delivery: every event still reaches the receiver.
webhook_scenario() {
    local url="sqlite://$WORK/webhooks.db"
    echo "== webhooks: $CLIENTS clients, ${SECONDS_PER}s on SQLite, kill -9 of token-admin serve at $((SECONDS_PER / 2))s"
    local api_port admin_port hook_port
    api_port="$(free_port)"; admin_port="$(free_port)"; hook_port="$(free_port)"
    python3 "$LOAD" receive "$hook_port" "$WORK/webhooks.received" &
    PIDS+=("$!")
    start_server webhooks-api "$url" "$api_port" --bootstrap-tenant acme
    start_admin webhooks-admin "$url" "$admin_port"
    local admin_pid="$LAST_PID"
    python3 "$LOAD" webhook "http://127.0.0.1:$admin_port" "$OPERATOR_SECRET" "http://127.0.0.1:$hook_port/hook"
    python3 "$LOAD" load "http://127.0.0.1:$api_port/scim/v2/acme" "$(token_of webhooks-api)" "$SECONDS_PER" "$CLIENTS" \
        "$WORK/webhooks.acks" >"$WORK/webhooks.load.json" &
    local load_pid=$!
    sleep "$((SECONDS_PER / 2))"
    kill -9 "$admin_pid"
    wait "$admin_pid" 2>/dev/null || true
    echo "   killed token-admin serve with SIGKILL after $(wc -l <"$WORK/webhooks.received") deliveries"
    start_admin webhooks-admin "$url" "$admin_port"
    echo "   restarted token-admin serve"
    wait "$load_pid"
    echo "   load: $(cat "$WORK/webhooks.load.json")"
    python3 "$LOAD" ids "http://127.0.0.1:$admin_port" "$OPERATOR_SECRET" | sort -u >"$WORK/webhooks.expected"
    local missing=1
    for _ in $(seq 1 100); do
        missing="$(sort -u "$WORK/webhooks.received" | comm -23 "$WORK/webhooks.expected" - | wc -l)"
        [ "$missing" = 0 ] && break
        sleep 1
    done
    local events deliveries
    events="$(wc -l <"$WORK/webhooks.expected")"; deliveries="$(wc -l <"$WORK/webhooks.received")"
    if [ "$missing" = 0 ]; then
        echo "   OK: all $events events delivered ($deliveries deliveries: the rest were sent again after the kill)"
    else
        echo "   FAILED: $missing of $events events never delivered"; exit 1
    fi
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

# Creates a scratch database; sets SCRATCH_DB and SCRATCH_URL.
new_pg_database() {
    SCRATCH_DB="scim_crash_$(date +%s)_$$"
    psql -q "$ADMIN_URL" -c "CREATE DATABASE $SCRATCH_DB" >/dev/null
    SCRATCH_URL="${ADMIN_URL%/*}/$SCRATCH_DB"
}

drop_pg_database() {
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $SCRATCH_DB" >/dev/null
    SCRATCH_DB=""
}

cat >"$LOAD" <<'PY'
#!/usr/bin/env python3
"""Load generator and verifier for scripts/crash-test.sh (standard library only).

load:   crash-load.py load BASE_URLS TOKEN SECONDS CLIENTS ACK_FILE
        Clients create users, raise each user's `title` sequence number, and add users to 4 shared groups,
        for SECONDS, spreading requests over the comma-separated BASE_URLS (replicas). Only monotonic writes,
        so "every acknowledged write is present" is exact: each 2xx is appended to ACK_FILE as it arrives.
        Connection errors (the server was killed) are counted, not fatal: clients keep going until the end.
verify: crash-load.py verify BASE_URL TOKEN ACK_FILE
        Every acknowledged user exists, its title is at least the last acknowledged one (a write in flight at
        the kill may have landed too), and every acknowledged membership is present. Exit 1 otherwise.
receive: crash-load.py receive PORT FILE
        A webhook receiver: appends each delivery's webhook-id to FILE and answers 204.
ids:    crash-load.py ids ADMIN_URL OPERATOR_SECRET
        Prints the ids of every event of the feed (all tenants), one per line.
webhook: crash-load.py webhook ADMIN_URL OPERATOR_SECRET URL
        Registers a webhook for every event type and tenant.
feed:   crash-load.py feed BASE_URL TOKEN ADMIN_URL OPERATOR_SECRET
        Replays tenant acme's change feed from the start (token-admin's events API, with an HS256 operator
        JWT) and compares users (documents), groups and memberships with what SCIM shows. Exit 1 otherwise.
"""
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.error
import urllib.request

SCIM = "application/scim+json"


def call(base, token, method, path, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", SCIM)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, None


def patch(ops):
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}


def ensure_groups(base, token):
    groups = []
    for g in range(4):
        name = f"crash-shared-{g}"
        status, body = call(base, token, "GET", "/Groups?filter=displayName%20eq%20%22" + name + "%22")
        if status == 200 and body["totalResults"] == 1:
            groups.append(body["Resources"][0]["id"])
            continue
        status, body = call(base, token, "POST", "/Groups", {"displayName": name})
        if status != 201:
            sys.exit(f"cannot create group {name}: {status}")
        groups.append(body["id"])
    return groups


def load(bases, token, seconds, clients, ack_path):
    groups = ensure_groups(bases[0], token)
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    ack = open(ack_path, "a", buffering=1)
    stats = {"requests": 0, "acknowledged": 0, "no_answer": 0, "5xx": 0, "4xx": 0}
    run = str(int(time.time() * 1000))

    def record(line, status):
        with lock:
            stats["requests"] += 1
            if line is not None:
                stats["acknowledged"] += 1
                ack.write(line + "\n")
            elif status == 0:
                stats["no_answer"] += 1
            elif status >= 500:
                stats["5xx"] += 1
            else:
                stats["4xx"] += 1

    def client(n):
        users = []
        seq = 0
        i = 0
        while time.monotonic() < deadline:
            seq += 1
            i += 1
            base = bases[i % len(bases)]
            roll = (seq * 7 + n) % 10
            if not users or roll < 3:
                name = f"crash-{run}-{n}-{seq}"
                status, body = call(base, token, "POST", "/Users", {"userName": name, "title": str(seq)})
                if status == 201:
                    users.append(body["id"])
                    record(f"user {body['id']} {seq}", status)
                else:
                    record(None, status)
                    if status == 0:
                        time.sleep(0.05)
            elif roll < 6:
                user = users[seq % len(users)]
                status, _ = call(base, token, "PATCH", f"/Users/{user}",
                                 patch([{"op": "replace", "path": "title", "value": str(seq)}]))
                record(f"title {user} {seq}" if status == 200 else None, status)
            else:
                user = users[seq % len(users)]
                group = groups[seq % len(groups)]
                status, _ = call(base, token, "PATCH", f"/Groups/{group}",
                                 patch([{"op": "add", "path": "members", "value": [{"value": user}]}]))
                record(f"member {group} {user}" if status == 204 else None, status)
            if status == 0:
                time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    ack.close()
    print(json.dumps({"clients": clients, "seconds": round(elapsed, 1), **stats,
                      "per_second": round(stats["requests"] / elapsed, 1)}))


def verify(base, token, ack_path):
    users, titles, members = {}, {}, {}
    title_acks = 0
    for line in open(ack_path):
        kind, a, b = line.split()
        if kind == "user":
            users[a] = int(b)
            titles[a] = max(titles.get(a, 0), int(b))
        elif kind == "title":
            title_acks += 1
            titles[a] = max(titles.get(a, 0), int(b))
        else:
            members.setdefault(a, set()).add(b)
    problems = []
    for user, last in titles.items():
        status, body = call(base, token, "GET", f"/Users/{user}?attributes=title")
        if status != 200:
            problems.append(f"acknowledged user {user} missing ({status})")
        elif int(body.get("title", "0")) < last:
            problems.append(f"user {user} title {body.get('title')} older than acknowledged {last}")
    for group, expected in members.items():
        status, body = call(base, token, "GET", f"/Groups/{group}")
        stored = {m["value"] for m in (body or {}).get("members", [])}
        lost = expected - stored
        if status != 200 or lost:
            problems.append(f"group {group}: {len(lost)} acknowledged members lost ({status})")
    memberships = sum(len(m) for m in members.values())
    print(json.dumps({"acknowledged_users": len(users), "acknowledged_title_updates": title_acks,
                      "acknowledged_memberships": memberships, "problems": len(problems)}))
    for p in problems[:20]:
        print("  " + p)
    sys.exit(1 if problems else 0)


def operator_jwt(secret):
    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"iss": "crash-test", "aud": "token-admin", "sub": "crash-test",
                             "role": "scim-admin", "exp": int(time.time()) + 600}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


def scim_state(base, token):
    users, groups, memberships = {}, {}, set()
    for endpoint, into in (("Users", users), ("Groups", groups)):
        start = 1
        while True:
            status, body = call(base, token, "GET", f"/{endpoint}?startIndex={start}&count=1000")
            if status != 200:
                sys.exit(f"GET /{endpoint}: {status}")
            for r in body["Resources"]:
                for m in r.get("members", []):
                    memberships.add((r["id"], m["value"]))
                into[r["id"]] = {k: v for k, v in r.items() if k not in ("id", "meta", "members", "groups")}
            start += len(body["Resources"])
            if not body["Resources"] or start > body["totalResults"]:
                break
    return users, groups, memberships


def replay(admin, jwt):
    users, groups, memberships = {}, {}, set()
    cursor, sequence = None, 0
    while True:
        query = "limit=1000" + (f"&after={cursor}" if cursor else "")
        status, page = call(admin, jwt, "GET", f"/admin/v1/tenants/acme/events?{query}")
        if status != 200:
            sys.exit(f"events API: {status}")
        for e in page["data"]:
            sequence += 1
            if e["sequence"] != sequence:
                sys.exit(f"sequence gap: expected {sequence}, got {e['sequence']}")
            kind, rid, data = e["type"], e["resourceId"], e["data"]
            doc = {k: v for k, v in data.items() if k not in ("id", "meta")}
            if kind in ("user.created", "user.updated"):
                users[rid] = doc
            elif kind in ("group.created", "group.updated"):
                groups[rid] = doc
            elif kind.endswith(".deleted"):
                users.pop(rid, None)
                groups.pop(rid, None)
                memberships = {m for m in memberships if rid not in m}
            elif kind == "group.member_added":
                memberships.add((data["groupId"], data["memberId"]))
            elif kind == "group.member_removed":
                memberships.discard((data["groupId"], data["memberId"]))
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            return users, groups, memberships, sequence


def receive(port, path):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    out = open(path, "a", buffering=1)

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            out.write(self.headers["webhook-id"] + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Hook).serve_forever()


def event_ids(admin, secret):
    jwt, cursor, ids = operator_jwt(secret), None, []
    while True:
        query = "limit=1000" + (f"&after={cursor}" if cursor else "")
        status, page = call(admin, jwt, "GET", f"/admin/v1/events?{query}")
        if status != 200:
            sys.exit(f"events API: {status}")
        ids += [e["id"] for e in page["data"]]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            return ids


def webhook(admin, secret, url):
    req = urllib.request.Request(admin + "/admin/v1/webhooks", data=json.dumps({"url": url}).encode(), method="POST")
    req.add_header("Authorization", "Bearer " + operator_jwt(secret))
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 201:
            sys.exit(f"cannot create the webhook: {resp.status}")


def feed(base, token, admin, secret):
    expected = scim_state(base, token)
    jwt = operator_jwt(secret)
    # Events a killed process committed are numbered by the next sequencer sweep (within a second).
    for _ in range(20):
        users, groups, memberships, events = replay(admin, jwt)
        if (users, groups, memberships) == expected:
            break
        time.sleep(0.5)
    print(json.dumps({"events": events, "users": len(users), "groups": len(groups),
                      "memberships": len(memberships),
                      "agrees": (users, groups, memberships) == expected}))
    for label, got, want in zip(("users", "groups", "memberships"), (users, groups, memberships), expected):
        if got != want:
            print(f"  {label}: feed has {len(got)}, SCIM shows {len(want)}")
    sys.exit(0 if (users, groups, memberships) == expected else 1)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "load":
        load(sys.argv[2].split(","), sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif mode == "verify":
        verify(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "feed":
        feed(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif mode == "receive":
        receive(int(sys.argv[2]), sys.argv[3])
    elif mode == "ids":
        print("\n".join(event_ids(sys.argv[2], sys.argv[3])))
    elif mode == "webhook":
        webhook(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
PY

case "$SCENARIO" in
sqlite | all) scenario sqlite "sqlite://$WORK/scim.db" 1 ;;&
postgres | all)
    new_pg_database
    scenario postgres "$SCRATCH_URL" 1
    drop_pg_database
    ;;&
replicas | all)
    new_pg_database
    scenario replicas "$SCRATCH_URL" 2
    drop_pg_database
    ;;&
webhooks | all) webhook_scenario ;;
sqlite | postgres | replicas) ;;
*) echo "usage: $0 [sqlite|postgres|replicas|webhooks|all]"; exit 2 ;;
esac
echo "crash test passed"
