#!/usr/bin/env bash
# Installs the public `standardwebhooks` Python package into a throw-away virtual environment (needs PyPI)
# and runs the token-admin test that has it verify a real delivery (docs/events.md, "Webhooks").
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet standardwebhooks
SCIM_TEST_PYTHON="$venv/bin/python" cargo test -p token-admin --test api \
  webhooks::the_standardwebhooks_python_package_verifies_a_delivery -- --nocapture
