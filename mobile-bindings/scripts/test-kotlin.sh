#!/usr/bin/env bash
# The Kotlin test suite of the phone SDK, on the JVM: compiles the committed
# Kotlin bindings and mobile-bindings/jvm-tests/src/*.kt with kotlinc, then
# runs them against the real libgridsync_ffi and a real gridsync-server.
#
# Installs what it needs when missing:
#   - JNA: Debian's libjna-java (/usr/share/java/jna.jar), with apt-get;
#   - kotlinc and the kotlinx-coroutines jar: the npm package
#     kotlin-compiler, into mobile-bindings/jvm-tests/node_modules (ignored
#     by git).
# Uses the machine's Java 17 (java, on PATH). Also compiles and runs the
# Kotlin quick-start of mobile-bindings/README.md.
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
here=mobile-bindings/jvm-tests
kotlin_version=2.4.20

jna=/usr/share/java/jna.jar
if [[ ! -f $jna ]]; then
    echo "installing libjna-java (apt)…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq libjna-java >/dev/null
fi

kotlin_home=$here/node_modules/kotlin-compiler
if [[ ! -x $kotlin_home/bin/kotlinc ]]; then
    echo "installing kotlin-compiler $kotlin_version (npm)…"
    npm install --no-save --no-package-lock --no-audit --no-fund --silent \
        --prefix "$here" "kotlin-compiler@$kotlin_version" >/dev/null
fi
coroutines=$kotlin_home/lib/kotlinx-coroutines-core-jvm.jar
stdlib=$kotlin_home/lib/kotlin-stdlib.jar

echo "building libgridsync_ffi and gridsync-server…"
# The whole workspace, as `cargo test --workspace` builds it: one feature set
# (Cargo unifies features), so nothing (vendored OpenSSL above all) is
# compiled a second time after the Rust tests.
cargo build --quiet --workspace
target=${CARGO_TARGET_DIR:-$root/target}

build=$target/jvm-tests
mkdir -p "$build"
jar=$build/gridsync-sdk-tests.jar

# The README's Kotlin quick-start: the ```kotlin block after the line
# "<!-- quick-start: …" in mobile-bindings/README.md, compiled with the
# suite (which runs its quickStart(...) against the server). The lines
# before the block are kept blank, so kotlinc's line numbers are the
# README's. Rewritten only when it changed, so an unchanged README does not
# force a recompile.
quickstart=$build/ReadmeQuickStart.kt
awk '
    /^<!-- quick-start:/ && !marked { marked = 1; print ""; next }
    marked && !inside && /^```kotlin/ { inside = 1; print ""; next }
    inside && /^```/ { exit }
    inside { print; next }
    { print "" }
' mobile-bindings/README.md >"$quickstart.new"
if ! grep -q "fun quickStart(" "$quickstart.new"; then
    echo "mobile-bindings/README.md: no Kotlin quick-start found (a \`\`\`kotlin block after \"<!-- quick-start:\" defining quickStart(...))" >&2
    exit 1
fi
if cmp -s "$quickstart.new" "$quickstart"; then rm "$quickstart.new"; else mv "$quickstart.new" "$quickstart"; fi

sources=(mobile-bindings/android/src/main/kotlin/cn/gridsync/sdk/*.kt "$here"/src/*.kt "$quickstart")
# Recompile only when a source changed.
if [[ ! -f $jar ]] || [[ -n $(find "${sources[@]}" -newer "$jar" 2>/dev/null) ]]; then
    echo "compiling the Kotlin bindings, tests and the README's quick-start…"
    if ! JAVA_OPTS="${JAVA_OPTS:--Xmx1g}" "$kotlin_home/bin/kotlinc" -nowarn \
        -cp "$jna:$coroutines" -d "$jar" "${sources[@]}"; then
        echo "compilation failed (errors in ReadmeQuickStart.kt are in mobile-bindings/README.md's quick-start, at the same line numbers)" >&2
        exit 1
    fi
fi

# The cross-surface loop (tests/browser/run.sh) only needs the compiled jar.
if [[ -n ${GRIDSYNC_KOTLIN_BUILD_ONLY:-} ]]; then exit 0; fi

echo "running the Kotlin suite…"
java -Djna.library.path="$target/debug" \
    -Dgridsync.server="$target/debug/gridsync-server" \
    -cp "$jar:$jna:$coroutines:$stdlib" GridsyncSdkTestKt
