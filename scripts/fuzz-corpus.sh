#!/usr/bin/env bash
# Fold new fuzzer inputs into a target's saved corpus and keep it small:
# the fewest files (at most MAX, default 60) that cover the most code edges
# of everything found, plus every seed-* and crash-* file.
#
#   bash scripts/fuzz.sh 300 push                         # finds new inputs…
#   bash scripts/fuzz-corpus.sh push /tmp/new-push [MAX]  # …folded in here
#
# Uses the target built by `cargo fuzz build --sanitizer none -O` and
# libFuzzer's merge (edges only, -use_counters=0) to learn what each file
# covers, then picks greedily.
set -euo pipefail

cd "$(dirname "$0")/../server"
TARGET=$1
NEW=$2
MAX=${3:-60}
BIN=fuzz/target/x86_64-unknown-linux-gnu/release/$TARGET
CORPUS=fuzz/corpus/$TARGET
[[ -x $BIN ]] || { echo "fuzz-corpus: build first: cargo fuzz build --sanitizer none -O" >&2; exit 1; }
WORK=$(mktemp -d /tmp/gridsync-fuzz-corpus.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/all" "$WORK/out"
cp "$CORPUS"/* "$WORK/all/"
cp "$NEW"/* "$WORK/all/" 2>/dev/null || true
"$BIN" -merge=1 -use_counters=0 -merge_control_file="$WORK/control" "$WORK/out" "$WORK/all" \
    >"$WORK/merge.log" 2>&1 || { tail -n 20 "$WORK/merge.log" >&2; exit 1; }

python3 - "$WORK/control" "$CORPUS" "$MAX" <<'EOF'
import hashlib, os, shutil, sys
control, corpus, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(control).read().splitlines()
n = int(lines[0])
paths = lines[2:2 + n]
cov = {}
for line in lines[2 + n:]:
    parts = line.split()
    if parts and parts[0] == "COV":
        cov[int(parts[1])] = set(parts[2:])
keep = [i for i, p in enumerate(paths)
        if os.path.basename(p).startswith(("seed-", "crash-"))]
covered = set().union(*(cov.get(i, set()) for i in keep))
rest = [i for i in range(n) if i not in keep]
picked = 0
while picked < budget:
    best = max(rest, key=lambda i: len(cov.get(i, set()) - covered), default=None)
    if best is None or not cov.get(best, set()) - covered:
        break
    keep.append(best)
    covered |= cov[best]
    rest.remove(best)
    picked += 1
total = set().union(*cov.values()) if cov else set()
chosen = {}
for i in keep:
    data = open(paths[i], "rb").read()
    name = os.path.basename(paths[i])
    if not name.startswith(("seed-", "crash-")):
        name = hashlib.sha1(data).hexdigest()
    chosen[name] = data
for f in os.listdir(corpus):
    os.remove(os.path.join(corpus, f))
for name, data in chosen.items():
    open(os.path.join(corpus, name), "wb").write(data)
print(f"fuzz-corpus: {corpus}: {len(chosen)} files, "
      f"{sum(map(len, chosen.values()))} bytes, {len(covered)} of {len(total)} edges",
      file=sys.stderr)
EOF
