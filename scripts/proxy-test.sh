#!/usr/bin/env bash
# A real nginx in front of scim-api on loopback, serving the API under the /idp prefix
# (deploy/nginx/test.conf.template). Checks that meta.location and Location carry the public scheme, host
# and prefix, and that a direct request from an untrusted peer cannot spoof them with forwarded headers.
# Then the setup portal: token-admin serves it on a listener of its own, nginx routes /portal/ there, a
# setup link made with the CLI carries the public URL and opens once through the proxy, and /admin/v1 is
# reachable neither through the proxy nor on the portal listener.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v nginx >/dev/null || { apt-get install -y -qq nginx-light >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nginx-light; }; }
command -v envsubst >/dev/null || apt-get install -y -qq gettext-base >/dev/null

cargo build --quiet -p scim-api -p token-admin
work="$(mktemp -d /tmp/scim-proxy.XXXXXX)"
server_pid=""
admin_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n "$admin_pid" ]] && kill "$admin_pid" 2>/dev/null && wait "$admin_pid" 2>/dev/null
  [[ -f "$work/nginx/nginx.pid" ]] && nginx -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -p "$work/nginx" -s quit 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

api_port="$(free_port)"
export SCIM_DATABASE_URL="sqlite://$work/scim.db" SCIM_LISTEN="127.0.0.1:$api_port" SCIM_TRUSTED_PROXIES="127.0.0.2/32" RUST_LOG=warn
"$root/target/debug/scim-api" --bootstrap-tenant proxied >"$work/issued.json" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$api_port/readyz" >/dev/null && break; sleep 0.1; done
token="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["apiToken"])' <"$work/issued.json")"

mkdir -p "$work/nginx"
export NGINX_DIR="$work/nginx" UPSTREAM_PORT="$api_port" NGINX_PORT="$(free_port)" PORTAL_PORT="$(free_port)"
envsubst '${NGINX_DIR} ${NGINX_PORT} ${UPSTREAM_PORT} ${PORTAL_PORT}' <deploy/nginx/test.conf.template >"$NGINX_DIR/nginx.conf"
nginx -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR"
for _ in $(seq 1 50); do [[ -f "$NGINX_DIR/nginx.pid" ]] && break; sleep 0.1; done

public="http://127.0.0.1:$NGINX_PORT/idp/scim/v2/proxied"
created="$(curl -sf -D "$work/headers" -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' \
  -d '{"userName":"proxied-user"}' "$public/Users")"
location="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["location"])' <<<"$created")"
[[ "$location" == "$public/Users/"* ]] || { echo "meta.location $location does not start with $public" >&2; exit 1; }
grep -qi "^location: $public/Users/" "$work/headers" || { echo "Location header lacks the public prefix" >&2; cat "$work/headers" >&2; exit 1; }
grep -qi "^x-request-id: " "$work/headers" || { echo "no X-Request-Id in the response" >&2; exit 1; }

direct="$(curl -sf -H "Authorization: Bearer $token" -H 'X-Forwarded-Host: evil.example' -H 'X-Forwarded-Proto: https' \
  -H 'X-Forwarded-Prefix: /phish' "http://127.0.0.1:$api_port/scim/v2/proxied/Users?filter=userName%20eq%20%22proxied-user%22")"
if grep -q "evil.example" <<<"$direct"; then echo "an untrusted peer spoofed meta.location" >&2; exit 1; fi
echo "proxy test: OK (meta.location $location)"

# --- the setup portal ---------------------------------------------------------------------------------------
admin_port="$(free_port)"
export SCIM_ADMIN_LISTEN="127.0.0.1:$admin_port" SCIM_PORTAL_LISTEN="127.0.0.1:$PORTAL_PORT" \
  SCIM_PORTAL_PUBLIC_URL="http://127.0.0.1:$NGINX_PORT" SCIM_ADMIN_JWT_HS256_SECRET="proxy-test-operator-secret-0123456789" \
  SCIM_ADMIN_JWT_ISSUER="https://idp.test" SCIM_ADMIN_JWT_AUDIENCE="token-admin" SCIM_WEBHOOK_WORKER=false
"$root/target/debug/token-admin" serve 2>"$work/admin.log" &
admin_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORTAL_PORT/healthz" >/dev/null && break; sleep 0.1; done
link="$("$root/target/debug/token-admin" portal-link proxied --expires-in 10m 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')"
[[ "$link" == "http://127.0.0.1:$NGINX_PORT/portal/start?code="* ]] || { echo "setup link $link lacks the public URL" >&2; exit 1; }
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
opened="$(status -D "$work/portal-headers" "$link")"
[[ "$opened" == 200 ]] || { echo "setup link through the proxy answered $opened" >&2; exit 1; }
grep -qi '^set-cookie: scim_portal=.*HttpOnly.*SameSite=Strict' "$work/portal-headers" ||
  { echo "no strict session cookie through the proxy" >&2; cat "$work/portal-headers" >&2; exit 1; }
grep -qi "^content-security-policy: .*frame-ancestors 'none'" "$work/portal-headers" ||
  { echo "no Content-Security-Policy through the proxy" >&2; exit 1; }
[[ "$(status "$link")" == 404 ]] || { echo "a setup link opened twice" >&2; exit 1; }
[[ "$(status "http://127.0.0.1:$NGINX_PORT/admin/v1/tenants")" == 404 ]] ||
  { echo "/admin/v1 is reachable through the proxy" >&2; exit 1; }
[[ "$(status "http://127.0.0.1:$PORTAL_PORT/admin/v1/tenants")" == 404 ]] ||
  { echo "the portal listener serves /admin/v1" >&2; exit 1; }
[[ "$(status "http://127.0.0.1:$admin_port/admin/v1/tenants")" == 401 ]] ||
  { echo "the admin listener does not serve /admin/v1" >&2; exit 1; }
[[ "$(status "http://127.0.0.1:$admin_port/portal/")" == 404 ]] ||
  { echo "with portal_listen set, the admin listener still serves /portal/" >&2; exit 1; }
if grep -q "${link#*code=}" "$work/admin.log"; then echo "the setup link's code is in token-admin's log" >&2; exit 1; fi
echo "proxy test: OK (portal through the proxy at /portal/, /admin/v1 not reachable there)"
