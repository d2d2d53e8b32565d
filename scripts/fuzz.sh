#!/usr/bin/env bash
# Runs the scim-core fuzz targets (filter_parse, patch_apply, validate) with cargo-fuzz/libFuzzer, each for
# a bounded time, and turns every crash into a reproducible artifact.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 600 s, all targets)
#
# libFuzzer instrumentation needs a nightly toolchain (`cargo +nightly fuzz`). The script installs
# cargo-fuzz from crates.io when missing. Without nightly it falls back to the stable proptest suites of
# scim-core (`PROPTEST_CASES` scaled to the time budget), which exercise the same parsers with less
# coverage guidance; the output says which mode ran.
#
# Crashes land in crates/scim-core/fuzz/artifacts/<target>/; reproduce one with
#   cargo +nightly fuzz run <target> <artifact>
# and turn it into a unit test in scim-core before fixing it.
set -euo pipefail

cd "$(dirname "$0")/../crates/scim-core"
SECONDS_PER_TARGET="${1:-600}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(filter_parse patch_apply validate)
fi

if rustup run nightly rustc --version >/dev/null 2>&1; then
    if ! command -v cargo-fuzz >/dev/null 2>&1; then
        cargo install cargo-fuzz --locked
    fi
    status=0
    for target in "${TARGETS[@]}"; do
        echo "== fuzzing $target for ${SECONDS_PER_TARGET}s (libFuzzer, nightly)"
        mkdir -p "fuzz/corpus/$target"
        # -jobs/-workers stay at 1: the machine is shared. rss_limit bounds memory per input.
        if ! cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
            -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
            -print_final_stats=1; then
            echo "!! $target found a crash: see fuzz/artifacts/$target/"
            status=1
        fi
    done
    exit "$status"
fi

echo "== no nightly toolchain: running scim-core property tests instead (stable)"
# Roughly 1,000 cases per second per suite on a CI core; scale to the budget.
export PROPTEST_CASES=$((SECONDS_PER_TARGET * 1000))
cargo test -p scim-core --release
