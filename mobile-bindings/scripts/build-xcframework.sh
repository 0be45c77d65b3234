#!/usr/bin/env bash
# Build GridsyncFFI.xcframework (static libgridsync_ffi.a for iOS devices
# and the iOS simulator, arm64 and x86_64, with the C header and module map)
# into mobile-bindings/ios/, for the Swift package there.
#
# Runs on a Mac only: needs Xcode (xcodebuild, lipo) and
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
#
# Usage: build-xcframework.sh [--debug]   (release by default)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
[[ "$(uname -s)" == Darwin ]] || { echo "build-xcframework.sh runs on macOS (Xcode) only" >&2; exit 1; }
profile=release
flags=(--release)
if [[ "${1:-}" == "--debug" ]]; then
    profile=debug
    flags=()
fi
target=${CARGO_TARGET_DIR:-$root/target}
export IPHONEOS_DEPLOYMENT_TARGET=15.0

for t in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    cargo build -p gridsync-ffi --lib --target "$t" "${flags[@]}"
done

# Regenerate (or check) the Swift bindings from the host build.
bash mobile-bindings/scripts/generate.sh --check

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sim" "$work/headers"
cp mobile-bindings/ios/include/GridsyncFFI.h mobile-bindings/ios/include/module.modulemap "$work/headers/"
lipo -create \
    "$target/aarch64-apple-ios-sim/$profile/libgridsync_ffi.a" \
    "$target/x86_64-apple-ios/$profile/libgridsync_ffi.a" \
    -output "$work/sim/libgridsync_ffi.a"

out=mobile-bindings/ios/GridsyncFFI.xcframework
rm -rf "$out"
xcodebuild -create-xcframework \
    -library "$target/aarch64-apple-ios/$profile/libgridsync_ffi.a" -headers "$work/headers" \
    -library "$work/sim/libgridsync_ffi.a" -headers "$work/headers" \
    -output "$out"
echo "built $out; try it: (cd mobile-bindings/ios && xcodebuild -scheme Gridsync -destination 'generic/platform=iOS Simulator' build)"
