#!/usr/bin/env bash
# Regenerate the Kotlin and Swift bindings from the built gridsync-ffi
# library (UniFFI library mode, names from ffi/uniffi.toml):
#
#   mobile-bindings/android/src/main/kotlin/cn/gridsync/sdk/gridsync_ffi.kt
#   mobile-bindings/ios/Sources/Gridsync/Gridsync.swift
#   mobile-bindings/ios/include/GridsyncFFI.h, module.modulemap
#
# Usage: generate.sh          regenerate in place (builds what it needs)
#        generate.sh --check  regenerate into a temporary folder and fail if
#                             the committed bindings differ (stale)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
check=false
[[ "${1:-}" == "--check" ]] && check=true

if [[ -n ${GRIDSYNC_BINDGEN:-} && -n ${GRIDSYNC_FFI_LIB:-} ]]; then
    # Already built (the stale-bindings test in ffi/tests passes them).
    bindgen=$GRIDSYNC_BINDGEN
    lib=$GRIDSYNC_FFI_LIB
else
    # The whole workspace: the same feature set as `cargo test --workspace`,
    # so its build is reused rather than redone with other features.
    cargo build --quiet --workspace
    target=${CARGO_TARGET_DIR:-$root/target}
    bindgen=$target/debug/uniffi-bindgen
    case "$(uname -s)" in
        Darwin) lib=$target/debug/libgridsync_ffi.dylib ;;
        *) lib=$target/debug/libgridsync_ffi.so ;;
    esac
fi

gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
# --no-format: the output must not depend on whether ktlint / swift-format
# happen to be installed.
"$bindgen" generate --library "$lib" \
    --language kotlin --language swift --no-format --out-dir "$gen/raw" >/dev/null

kt=$gen/raw/cn/gridsync/sdk/gridsync_ffi.kt
# UniFFI's Kotlin exceptions show a dump of their fields as `message`
# ("field=…, reason=…, text=…"). GridsyncException carries the text meant
# for a person in `text`: make `message` that text.
# GridsyncException.message: "中文 / English" (as Display and Swift's
# localizedDescription), not uniffi's dump of every field.
perl -0pi -e 's/get\(\) = "[^"\n]*zh=\$\{ `zh` \}, en=\$\{ `en` \}"/get() = "\$\{ `zh` \} \/ \$\{ `en` \}"/g' "$kt"
if grep -q 'zh=\${ `zh` }' "$kt"; then
    echo "generate.sh: could not rewrite GridsyncException.message" >&2
    exit 1
fi

out=$gen/out
mkdir -p "$out/android/src/main/kotlin/cn/gridsync/sdk" "$out/ios/Sources/Gridsync" "$out/ios/include"
cp "$kt" "$out/android/src/main/kotlin/cn/gridsync/sdk/gridsync_ffi.kt"
cp "$gen/raw/Gridsync.swift" "$out/ios/Sources/Gridsync/Gridsync.swift"
cp "$gen/raw/GridsyncFFI.h" "$out/ios/include/GridsyncFFI.h"
# An XCFramework's Headers folder wants the module map as module.modulemap.
cp "$gen/raw/GridsyncFFI.modulemap" "$out/ios/include/module.modulemap"

files=(
    android/src/main/kotlin/cn/gridsync/sdk/gridsync_ffi.kt
    ios/Sources/Gridsync/Gridsync.swift
    ios/include/GridsyncFFI.h
    ios/include/module.modulemap
)
if $check; then
    stale=0
    for f in "${files[@]}"; do
        if ! cmp -s "$out/$f" "mobile-bindings/$f"; then
            echo "stale: mobile-bindings/$f differs from the generated bindings" >&2
            stale=1
        fi
    done
    if [[ $stale == 1 ]]; then
        echo "run: bash mobile-bindings/scripts/generate.sh (and commit the result)" >&2
        exit 1
    fi
    echo "bindings up to date"
else
    for f in "${files[@]}"; do
        mkdir -p "$(dirname "mobile-bindings/$f")"
        cp "$out/$f" "mobile-bindings/$f"
    done
    echo "bindings written to mobile-bindings/"
fi
