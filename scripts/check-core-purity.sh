#!/usr/bin/env bash
# scim-core is the pure SCIM model: no database, web framework, async runtime or HTTP client may enter its
# normal dependency graph.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for forbidden in diesel actix-web tokio reqwest; do
  if cargo tree -p scim-core -e normal -i "$forbidden" >/dev/null 2>&1; then
    echo "scim-core depends on $forbidden:" >&2
    cargo tree -p scim-core -e normal -i "$forbidden" >&2
    status=1
  fi
done
[[ $status -eq 0 ]] && echo "scim-core purity: OK (no diesel, actix-web, tokio, reqwest)"
exit $status
