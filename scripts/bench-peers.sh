#!/usr/bin/env bash
# Side by side with PouchDB (issue 15): the peer harness's PouchDB bench
# (../shared/peers, see its README) and gridsync's sync bench
# (server/benches/sync.rs) on the same sizes (one grid = 500 households,
# 1,500 residents, 5,000 visits; 20 grids for the supervisor's pull),
# alternating rounds (PouchDB 1, gridsync 1, PouchDB 2, ...), then one
# markdown table: each round's figure on each side and the ratio of the
# medians (PouchDB ÷ gridsync).
#
#   scripts/bench-peers.sh [--rounds N] [--no-build]
#
# Environment:
#   GRIDSYNC_PEERS_SRC  the harness (read-only is fine; default ../shared/peers
#                       next to the repository, else /work/shared/peers)
#   GRIDSYNC_PEERS_DIR  writable copy of it, `npm install` run there once
#                       (default /tmp/gridsync-peers)
#   CARGO_TARGET_DIR    where the release build of gridsync-server and the
#                       bench goes (default target/ of the repository)
#   GRIDSYNC_PEERS_STEP_TIMEOUT  seconds one round of one side may take
#                       (default 1200); the build may take 5400
#
# gridsync runs on the embedded SQLite default (GRIDSYNC_TEST_DATABASE_URL is
# unset for it). Everything binds 127.0.0.1. Each step runs in its own process
# group under `timeout`; on exit or interruption the running group is stopped
# by its id. Raw figures stay in $GRIDSYNC_PEERS_DIR/data/peers-<stamp>/.
set -euo pipefail

ROUNDS=2
BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "bench-peers.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || { echo "bench-peers.sh: --rounds must be 1-99, got $ROUNDS" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${GRIDSYNC_PEERS_SRC:-$ROOT/../shared/peers}
[[ -f $SRC/bench-pouch.mjs ]] || SRC=/work/shared/peers
[[ -f $SRC/bench-pouch.mjs ]] || { echo "bench-peers.sh: no peer harness at $SRC (set GRIDSYNC_PEERS_SRC)" >&2; exit 1; }
PEERS=${GRIDSYNC_PEERS_DIR:-/tmp/gridsync-peers}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
STEP=${GRIDSYNC_PEERS_STEP_TIMEOUT:-1200}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$PEERS/data/peers-$STAMP
log() { echo "[bench-peers $(date -u +%H:%M:%S)] $*" >&2; }

# The step running now (its process group), stopped on any exit.
CUR=""
stop_current() {
    if [[ -n $CUR ]] && kill -0 "$CUR" 2>/dev/null; then
        kill -TERM -- "-$CUR" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$CUR" 2>/dev/null || break; sleep 1; done
        kill -KILL -- "-$CUR" 2>/dev/null || true
    fi
    CUR=""
}
trap stop_current EXIT
trap 'stop_current; exit 130' INT TERM

# bounded SECONDS CMD...: run CMD in a process group of its own, at most
# SECONDS (timeout signals the whole group, servers included).
bounded() {
    local secs=$1; shift
    setsid timeout --kill-after=20 "$secs" "$@" &
    CUR=$!
    local rc=0
    wait "$CUR" || rc=$?
    CUR=""
    return "$rc"
}

# 1. The harness, copied somewhere writable; its packages installed once
# (again only when its package-lock.json changes) with `npm install`, as its
# README says: the exact versions of package-lock.json (`npm ci` refuses that
# lock file: it lacks cbor-extract's optional per-platform entries).
mkdir -p "$PEERS"
(cd "$SRC" && tar --exclude=./node_modules --exclude=./data -cf - .) | (cd "$PEERS" && tar -xf -)
chmod -R u+w "$PEERS"
if [[ ! -d $PEERS/node_modules ]] || ! cmp -s "$SRC/package-lock.json" "$PEERS/node_modules/.installed-lock.json"; then
    log "npm install in $PEERS"
    cd "$PEERS"
    bounded 900 npm install --no-audit --no-fund >&2
    cp "$SRC/package-lock.json" "$PEERS/node_modules/.installed-lock.json"
fi
mkdir -p "$OUT"

# 2. gridsync: the release build of the server and the sync bench (fat LTO:
# minutes from scratch). `cargo bench` builds the package's binaries too.
cd "$ROOT"
if [[ $BUILD == 1 ]]; then
    log "building gridsync-server and the sync bench (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    bounded 5400 nice -n 19 cargo bench -p gridsync-server --bench sync --no-run \
        --message-format=json-render-diagnostics >"$OUT/cargo.json"
fi
if [[ $BUILD == 1 ]]; then
    # shellcheck disable=SC2016
    BENCH=$(node -e '
        for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) { try { const m = JSON.parse(l);
            if (m.reason === "compiler-artifact" && m.target.name === "sync" && m.executable) console.log(m.executable); } catch {} }' "$OUT/cargo.json")
else
    # shellcheck disable=SC2012
    BENCH=$(ls -t "$CARGO_TARGET_DIR"/release/deps/sync-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
fi
[[ -x $BENCH && -x $CARGO_TARGET_DIR/release/gridsync-server ]] \
    || { echo "bench-peers.sh: the sync bench or target/release/gridsync-server is missing (build failed? drop --no-build)" >&2; exit 1; }

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# 3. Alternating rounds.
for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r/$ROUNDS: PouchDB (bench-pouch.mjs: one small run + one 20-grid pull)"
    cd "$PEERS"
    bounded "$STEP" node bench-pouch.mjs --runs 1 --scale-runs 1 --port "$(free_port)" \
        --data "$OUT/pouch-r$r" --out "peers-$STAMP/pouch-r$r.json" >"$OUT/pouch-r$r.log" 2>&1 \
        || { tail -20 "$OUT/pouch-r$r.log" >&2; echo "bench-peers.sh: PouchDB round $r failed (log: $OUT/pouch-r$r.log)" >&2; exit 1; }
    rm -rf "$OUT/pouch-r$r" # the LevelDB directories
    log "round $r/$ROUNDS: gridsync (server/benches/sync.rs on SQLite)"
    cd "$ROOT"
    bounded "$STEP" env -u GRIDSYNC_TEST_DATABASE_URL "$BENCH" --bench --json "$OUT/gridsync-r$r.json" \
        >"$OUT/gridsync-r$r.log" 2>&1 \
        || { tail -20 "$OUT/gridsync-r$r.log" >&2; echo "bench-peers.sh: gridsync round $r failed (log: $OUT/gridsync-r$r.log)" >&2; exit 1; }
done

# 4. One table.
cd "$PEERS"
ROUNDS=$ROUNDS OUT=$OUT node --input-type=module - <<'EOF'
import fs from "node:fs";
import os from "node:os";
import { makeGrid, DEFAULT_SEED, DEFAULTS } from "./lib/workload.mjs";
const n = Number(process.env.ROUNDS), out = process.env.OUT;
const read = f => JSON.parse(fs.readFileSync(`${out}/${f}`, "utf8"));
const P = [], G = [];
for (let r = 1; r <= n; r++) { P.push(read(`pouch-r${r}.json`)); G.push(read(`gridsync-r${r}.json`)); }
for (const p of P) if (p.error) throw new Error(`PouchDB run failed: ${p.error}`);
const median = v => { const s = [...v].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const MiB = b => b / 2 ** 20;
const cpuMs = c => c ? (c.userS + c.sysS) * 1000 : NaN;
const ms = v => !Number.isFinite(v) ? "n/a" : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
const mib = v => `${Math.round(v)} MiB`;
const ratio = (p, g) => `${(median(p) / median(g)).toFixed(1)}×`;
const rows = [], verdicts = [];
function row(label, p, g, f, target) {
  const pv = P.map(p), gv = G.map(g);
  rows.push(`| ${label} | ${pv.map(f).join(", ")} | ${gv.map(f).join(", ")} | ${ratio(pv, gv)} |`);
  if (target) verdicts.push(`- ${label}: ${ratio(pv, gv)} (target ≥ ${target}×): ${median(pv) / median(gv) >= target ? "**met**" : "**not met**"}`);
}
const sp = p => p.scale.runs[0];
row("push one grid (first grid, empty server)", p => p.runs[0].pushMs, g => g.push.first_ms, ms, 10);
row("push one grid: median of the 20 grids' pushes", p => median(p.scale.seed.perGrid.map(x => x.pushMs)), g => g.push.median_ms, ms, 10);
row("pull one grid, lists ready (sync + first list query)", p => p.runs[0].pullMs, g => g.pull.sync_ms + g.pull.list_ms, ms, 10);
row("… of which the sync alone", p => p.runs[0].pullMs, g => g.pull.sync_ms, ms);
row("supervisor pulls 20 grids, lists ready", p => sp(p).pullMs, g => g.scale.sync_ms + g.scale.list_ms, ms, 10);
row("… of which the sync alone", p => sp(p).pullMs, g => g.scale.sync_ms, ms);
row("incremental round (50 + 50 edits, 10 on the same households), PouchDB with its app merge", p => p.runs[0].incMs, g => g.incremental.ms, ms, 30);
row("incremental round, PouchDB until it agrees (10 edits left in `_conflicts`)", p => p.runs[0].convergeMs, g => g.incremental.ms, ms);
row("peak memory in the 20-grid pull: server", p => MiB(sp(p).serverPeakRss), g => g.scale.server_peak_mib, mib);
row("peak memory in the 20-grid pull: client", p => MiB(sp(p).clientPeakRss), g => g.scale.client_peak_mib, mib);
row("client CPU (user + sys), 20-grid pull, lists ready (PouchDB: whole supervisor process, 10 ms ticks)", p => cpuMs(sp(p).clientCpu), g => g.scale.sync_cpu_ms + g.scale.list_cpu_ms, ms);
const peaks = [...P.flatMap(p => [MiB(sp(p).serverPeakRss), MiB(sp(p).clientPeakRss)]), ...G.flatMap(g => [g.scale.server_peak_mib, g.scale.client_peak_mib])];
const gPeak = Math.max(...G.flatMap(g => [g.scale.server_peak_mib, g.scale.client_peak_mib]));
verdicts.push(`- peak memory ≤ 100 MB on each side (gridsync, 20-grid pull, server and client, every round): highest ${mib(gPeak)} (${(gPeak * 1.048576).toFixed(0)} MB): ${gPeak * 1.048576 <= 100 ? "**met**" : "**not met**"}`);
void peaks;

// gridsync's phone: CPU time next to wall time.
const cpu = [];
const crow = (label, wall, c) => cpu.push(`| ${label} | ${G.map(wall).map(ms).join(", ")} | ${G.map(c).map(ms).join(", ")} | ${(median(G.map(c)) / median(G.map(wall))).toFixed(2)} |`);
crow("push one grid (first grid)", g => g.push.first_ms, g => g.push.first_cpu_ms);
crow("push one grid (median of 20)", g => g.push.median_ms, g => g.push.median_cpu_ms);
crow("pull one grid, lists ready", g => g.pull.sync_ms + g.pull.list_ms, g => g.pull.sync_cpu_ms + g.pull.list_cpu_ms);
crow("supervisor pulls 20 grids, lists ready", g => g.scale.sync_ms + g.scale.list_ms, g => g.scale.sync_cpu_ms + g.scale.list_cpu_ms);
crow("incremental round (both phones)", g => g.incremental.ms, g => g.incremental.cpu_ms);

// Sizes on each side.
const grid = makeGrid(DEFAULT_SEED, 0, DEFAULTS).households;
const pSizes = `${grid.length} households, ${grid.reduce((s, h) => s + h.residents.length, 0)} residents, ${grid.reduce((s, h) => s + h.visits.length, 0)} visits per grid (gen-workload grid 0); pulled ${P.map(p => p.runs[0].pulled).join(", ")} and ${P.map(p => sp(p).households).join(", ")} docs`;
const gs = G[0].sizes;
const gSizes = `${gs.grid.households} households, ${gs.grid.residents} residents, ${gs.grid.visits} visits per grid (${gs.grid.changes} changes; demo::populate_households); supervisor holds ${G.map(g => g.sizes.supervisor_households).join(", ")} households`;
const load = os.loadavg().map(x => x.toFixed(1)).join(" ");
console.log(`## PouchDB ${P[0].versions["pouchdb-node"]} (express-pouchdb ${P[0].versions["express-pouchdb"]}, LevelDB) and gridsync (${G[0].storage}), ${n} alternating rounds, ${new Date().toISOString().slice(0, 16)}Z`);
console.log(`\nmachine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), load average at the end ${load}; node ${P[0].versions.node}\n`);
console.log(`sizes — PouchDB: ${pSizes}\nsizes — gridsync: ${gSizes}\n`);
console.log("| measurement | PouchDB (each round) | gridsync (each round) | ratio of medians (PouchDB ÷ gridsync) |");
console.log("|---|---|---|---|");
for (const l of rows) console.log(l);
console.log("\ngridsync's phone, CPU time (user + system, all threads of the phone's process) next to wall time:\n");
console.log("| measurement | wall (each round) | CPU (each round) | CPU ÷ wall (medians) |");
console.log("|---|---|---|---|");
for (const l of cpu) console.log(l);
console.log("\nTargets of issue 15 item 2 (ratios of medians):\n");
for (const l of verdicts) console.log(l);
console.log(`\nraw figures: ${out}`);
EOF
