#!/usr/bin/env bash
# Run every fuzz target of the server (server/fuzz, cargo-fuzz) for a
# bounded time, starting from its saved corpus; fails on any crash.
#
#   bash scripts/fuzz.sh [seconds per target, default 30] [target…]
#
# Stable Rust is enough: no sanitizer (`--sanitizer none`). New inputs go to
# a scratch directory, not the saved corpus (server/fuzz/README.md says how
# to keep them). Needs cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -euo pipefail

cd "$(dirname "$0")/../server"
SECS=${1:-30}
shift || true
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
    TARGETS=(sync_binary sync_json cursors push territory ledger_import)
fi
SCRATCH=$(mktemp -d /tmp/gridsync-fuzz.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

if ! cargo fuzz build --sanitizer none -O >"$SCRATCH/build.log" 2>&1; then
    tail -n 30 "$SCRATCH/build.log" >&2
    echo "fuzz: building the targets failed" >&2
    exit 1
fi
for t in "${TARGETS[@]}"; do
    echo "fuzz: $t for ${SECS}s" >&2
    mkdir -p "$SCRATCH/$t"
    cargo fuzz run --sanitizer none -O "$t" "$SCRATCH/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECS" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 2>"$SCRATCH/$t.log" || {
        tail -n 40 "$SCRATCH/$t.log" >&2
        echo "fuzz: $t crashed; the input is under server/fuzz/artifacts/$t/" >&2
        exit 1
    }
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$SCRATCH/$t.log" | tr '\n' ' ' >&2
    echo >&2
done
echo "fuzz: no crash in ${#TARGETS[@]} target(s)" >&2
