#!/usr/bin/env bash
# Build libgridsync_ffi.so for Android (arm64-v8a, armeabi-v7a, x86_64)
# into mobile-bindings/android/src/main/jniLibs/<abi>/, with cargo-ndk.
#
# Needs (not available on the gridsync CI machine; run on a developer's
# machine):
#   - the Android NDK (r26 or newer), ANDROID_NDK_HOME pointing at it;
#   - rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
#   - cargo install cargo-ndk
#   - perl and make (SQLCipher's vendored OpenSSL is built from source).
#
# Usage: build-android.sh [--debug]   (release by default)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
profile=(--release)
[[ "${1:-}" == "--debug" ]] && profile=()

: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK}"
command -v cargo-ndk >/dev/null || { echo "cargo install cargo-ndk" >&2; exit 1; }

# --platform 24: the module's minSdk. Only the library is built for the
# phones (the uniffi-bindgen binary is a development tool).
cargo ndk \
    -t arm64-v8a -t armeabi-v7a -t x86_64 \
    --platform 24 \
    -o mobile-bindings/android/src/main/jniLibs \
    build -p gridsync-ffi --lib "${profile[@]}"

# The bindings must match the library just built.
bash mobile-bindings/scripts/generate.sh --check
ls -l mobile-bindings/android/src/main/jniLibs/*/libgridsync_ffi.so
