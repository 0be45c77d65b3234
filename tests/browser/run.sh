#!/usr/bin/env bash
# The supervisor web pages in real headless Chromium: installs Chromium and
# the npm packages if missing, builds and starts the real server with the
# demo data on a free port, runs tests/browser/supervisor.test.mjs against it,
# then tests/browser/phone.test.mjs (every page at 390×844 and 1366×768),
# stops the server. Screenshots go to target/browser-artifacts/.
# Then walks one report's closed loop across the phone (the Kotlin SDK on the
# JVM, compiled by mobile-bindings/scripts/test-kotlin.sh) and Chromium:
# tests/browser/loop.test.mjs.
# Usage: tests/browser/run.sh   (from anywhere in the repository)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

# Chromium, and a Chinese font so the screenshots show the pages as people see them.
if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    echo "==> installing chromium and a Chinese font"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "==> installing nodejs and npm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
echo "==> npm ci (tests/browser)"
(cd "$here" && npm ci --no-audit --no-fund --silent)

echo "==> building the server and the command-line client"
cargo build -q -p gridsync-server -p gridsync-core --bin gridsync-server --bin gridsync

target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting gridsync-server --demo on 127.0.0.1:$port"
GRIDSYNC_LOG=warn "$target/debug/gridsync-server" serve --demo --addr "127.0.0.1:$port" \
    --data-dir "$work/server" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log"; exit 1; fi
    sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null

mkdir -p target/browser-artifacts
GRIDSYNC_URL="http://127.0.0.1:$port" \
GRIDSYNC_CLI="$target/debug/gridsync" \
GRIDSYNC_WORK="$work" \
ARTIFACTS="$root/target/browser-artifacts" \
    node "$here/supervisor.test.mjs"

echo "==> every page at phone width (390×844) and on an office screen (1366×768)"
GRIDSYNC_URL="http://127.0.0.1:$port" \
GRIDSYNC_CLI="$target/debug/gridsync" \
GRIDSYNC_WORK="$work" \
ARTIFACTS="$root/target/browser-artifacts" \
    node "$here/phone.test.mjs"

echo "==> one report's loop across the phone (Kotlin SDK on the JVM) and Chromium"
GRIDSYNC_KOTLIN_BUILD_ONLY=1 bash mobile-bindings/scripts/test-kotlin.sh
kotlin_lib=mobile-bindings/jvm-tests/node_modules/kotlin-compiler/lib
classpath="$target/jvm-tests/gridsync-sdk-tests.jar:/usr/share/java/jna.jar:$kotlin_lib/kotlinx-coroutines-core-jvm.jar:$kotlin_lib/kotlin-stdlib.jar"
GRIDSYNC_URL="http://127.0.0.1:$port" \
GRIDSYNC_WORK="$work" \
ARTIFACTS="$root/target/browser-artifacts" \
PHONE_JAVA_ARGS="$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
    "-Djna.library.path=$target/debug" -cp "$classpath")" \
    node "$here/loop.test.mjs"
