#!/usr/bin/env bash
# Build the SDK's native libraries, none of which are checked in:
#   - Android: android/src/main/jniLibs/<abi>/libgridsync_ffi.so for
#     arm64-v8a, armeabi-v7a and x86_64 (scripts/build-android.sh, cargo-ndk),
#     where the Android NDK is installed;
#   - iOS: ios/GridsyncFFI.xcframework (scripts/build-xcframework.sh), on a
#     Mac with Xcode.
# Builds what this machine can, and for the rest says exactly what is
# missing and how to get it.
#
# Usage: build-native.sh [--android | --ios] [--check] [--debug]
#   --android / --ios  only that platform (then a missing tool is an error)
#   --check            only say what can be built here; build nothing
#   --debug            debug libraries (release by default)
# Exits non-zero when a platform asked for (or, with neither asked, every
# platform) cannot be built here.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

want_android=1
want_ios=1
check=0
debug=()
for arg in "$@"; do
    case $arg in
        --android) want_ios=0 ;;
        --ios) want_android=0 ;;
        --check) check=1 ;;
        --debug) debug=(--debug) ;;
        -h | --help)
            sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "unknown argument: $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

# What is missing for a platform, one line each; empty when it can be built.
rust_targets_missing() {
    local missing=()
    local installed
    installed=$(rustup target list --installed 2>/dev/null || true)
    for t in "$@"; do
        grep -qx "$t" <<<"$installed" || missing+=("$t")
    done
    if ((${#missing[@]})); then
        echo "Rust targets: rustup target add ${missing[*]}"
    fi
}

ndk_home() {
    if [[ -n ${ANDROID_NDK_HOME:-} && -d $ANDROID_NDK_HOME ]]; then
        echo "$ANDROID_NDK_HOME"
    elif [[ -n ${ANDROID_NDK_ROOT:-} && -d $ANDROID_NDK_ROOT ]]; then
        echo "$ANDROID_NDK_ROOT"
    else
        # The newest NDK installed by Android Studio's SDK Manager.
        local sdk=${ANDROID_HOME:-${ANDROID_SDK_ROOT:-$HOME/Android/Sdk}}
        if [[ -d $sdk/ndk ]]; then
            find "$sdk/ndk" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n 1
        fi
    fi
}

android_missing() {
    local ndk
    ndk=$(ndk_home)
    if [[ -z $ndk ]]; then
        echo "the Android NDK (r26 or newer): Android Studio ▸ SDK Manager ▸ SDK Tools ▸ NDK, then export ANDROID_NDK_HOME=<sdk>/ndk/<version>"
    fi
    command -v cargo-ndk >/dev/null || echo "cargo-ndk: cargo install cargo-ndk"
    rust_targets_missing aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
    command -v perl >/dev/null || echo "perl (SQLCipher's vendored OpenSSL is built from source)"
    command -v make >/dev/null || echo "make (SQLCipher's vendored OpenSSL is built from source)"
}

ios_missing() {
    if [[ "$(uname -s)" != Darwin ]]; then
        echo "a Mac: the XCFramework is built with Xcode, on macOS only (this is $(uname -s))"
        return
    fi
    command -v xcodebuild >/dev/null || echo "Xcode (xcodebuild): install Xcode, then xcode-select -s /Applications/Xcode.app"
    command -v lipo >/dev/null || echo "lipo: xcode-select --install"
    rust_targets_missing aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
}

status=0
report() { # platform, what it builds, missing lines
    local platform=$1 what=$2 missing=$3
    if [[ -z $missing ]]; then
        echo "$platform: can be built here ($what)"
        return 0
    fi
    echo "$platform: cannot be built here ($what); missing:"
    sed 's/^/  - /' <<<"$missing"
    return 1
}

built=0
tried=0
if ((want_android)); then
    tried=$((tried + 1))
    missing=$(android_missing)
    if report Android "jniLibs/{arm64-v8a,armeabi-v7a,x86_64}/libgridsync_ffi.so" "$missing"; then
        if ((!check)); then
            ANDROID_NDK_HOME=$(ndk_home) bash mobile-bindings/scripts/build-android.sh "${debug[@]}"
        fi
        built=$((built + 1))
    elif ((!want_ios)); then
        status=1
    fi
fi
if ((want_ios)); then
    tried=$((tried + 1))
    missing=$(ios_missing)
    if report iOS "ios/GridsyncFFI.xcframework" "$missing"; then
        if ((!check)); then
            bash mobile-bindings/scripts/build-xcframework.sh "${debug[@]}"
        fi
        built=$((built + 1))
    elif ((!want_android)); then
        status=1
    fi
fi
if ((built == 0 && tried > 0)); then
    status=1
fi
exit "$status"
