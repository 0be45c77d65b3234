#!/usr/bin/env bash
# Backup, wipe, restore; then phones sync and converge (docs/deploy.md).
#
#   cargo build --workspace --bins && bash scripts/backup-restore-test.sh
#
# SQLite always: an online `sqlite3 .backup` of a running server, the data
# directory wiped, the backup and the token secret put back. PostgreSQL too
# when GRIDSYNC_TEST_DATABASE_URL is set (e.g. eval "$(bash scripts/postgres.sh)"):
# `pg_dump -Fc` of a fresh database, the database dropped and created
# again, `pg_restore`. In both cases the backup is older than the last
# changes: a phone pushes a visit after the backup and another pulls it.
# After the restore: the phone signed in before the backup syncs with its
# old session, notices the restore and pushes the lost visit back, a new
# phone pulls everything (the lost visit too), an edit made after the
# restore reaches the others, and all hold the same households.
#
# Binaries from $GRIDSYNC_BIN_DIR (default $CARGO_TARGET_DIR/debug, or target/debug). Servers bind
# 127.0.0.1 on a free port and are stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${GRIDSYNC_BIN_DIR:-${CARGO_TARGET_DIR:-target}/debug}
SERVER=$BIN/gridsync-server
CLIENT=$BIN/gridsync
PW=gridsync-demo
WORK=$(mktemp -d /tmp/gridsync-backup.XXXXXX)
PID=
DB_NAME=

log() { echo "backup-restore-test: $*" >&2; }

cleanup() {
    if [[ -n $PID ]]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [[ -n $DB_NAME ]]; then
        psql "$GRIDSYNC_TEST_DATABASE_URL" -q -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

for b in "$SERVER" "$CLIENT"; do
    [[ -x $b ]] || { log "$b not found: cargo build --workspace --bins"; exit 1; }
done

# start_server DATA_DIR [--database-url URL]: sets PID and URL. The first
# start takes a free port; later ones reuse it (phones remember the address).
ADDR=127.0.0.1:0
start_server() {
    local out=$WORK/server.out
    : >"$out"
    GRIDSYNC_LOG=warn "$SERVER" --data-dir "$1" "${@:2}" serve --addr "$ADDR" >"$out" 2>>"$WORK/server.log" &
    PID=$!
    URL=
    for _ in $(seq 300); do
        URL=$(sed -n 's/^listening on //p' "$out")
        if [[ -n $URL ]]; then
            ADDR=${URL#http://}
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/server.log" >&2
    log "server did not start"
    exit 1
}

stop_server() {
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
}

# phone NAME ARGS...: the command-line client with the store of phone NAME.
phone() { GRIDSYNC_STORE=$WORK/$1.sqlite3 "$CLIENT" "${@:2}"; }
login() { printf '%s\n' "$PW" | phone "$1" login --server "$URL" --username "$2" --password-stdin >/dev/null; }
sync() { phone "$1" sync >/dev/null; }
households() { phone "$1" household list --json; }

# check BACKEND DATA_DIR BACKUP_FN WIPE_FN RESTORE_FN [server args...]
check() {
    local backend=$1 data=$2 backup=$3 wipe=$4 restore=$5
    shift 5
    rm -f "$WORK"/a.sqlite3* "$WORK"/b.sqlite3* "$WORK"/c.sqlite3*
    ADDR=127.0.0.1:0
    GRIDSYNC_LOG=warn "$SERVER" --data-dir "$data" "$@" demo >/dev/null
    start_server "$data" "$@"
    login a wangge1
    sync a
    local before
    before=$(households a)
    [[ $(grep -o '"id"' <<<"$before" | wc -l) -gt 0 ]] || { log "$backend: no households after seeding"; exit 1; }

    local h h2
    # sed reads all its input: no SIGPIPE under pipefail, unlike head.
    h=$(grep -o '"id": *"[^"]*"' <<<"$before" | sed -n '1s/.*"\([^"]*\)"$/\1/p')
    h2=$(grep -o '"id": *"[^"]*"' <<<"$before" | sed -n '2s/.*"\([^"]*\)"$/\1/p')

    "$backup"          # online, while the server runs
    # After the backup: a visit pushed by a, pulled by c. The restore
    # loses it on the server; the phones still hold it.
    phone a visit add "$h2" --method in_person --findings "备份后走访 / after the backup" >/dev/null
    sync a
    login c wangge1
    sync c
    local pushed
    pushed=$(households a)
    [[ $pushed != "$before" ]] || { log "$backend: the visit after the backup changed nothing"; exit 1; }
    stop_server
    "$wipe"
    "$restore"
    start_server "$data" "$@"

    sync a             # the session issued before the backup still works
    login b wangge1
    sync b
    [[ $(households b) == "$pushed" ]] || { log "$backend: the visit pushed after the backup was not pushed back"; exit 1; }
    phone a visit add "$h" --method in_person --findings "恢复后走访 / after the restore" >/dev/null
    sync a
    sync b
    login c wangge1    # its session was issued after the backup: sign in again
    sync c
    local after_a after_b after_c
    after_a=$(households a)
    after_b=$(households b)
    after_c=$(households c)
    [[ $after_a == "$after_b" && $after_a == "$after_c" && $after_a != "$pushed" ]] || { log "$backend: phones did not converge after the restore"; exit 1; }
    stop_server
    log "$backend: backup, wipe, restore, sync and converge: ok"
}

# SQLite: online backup with the sqlite3 shell, plus the token secret.
SQLITE_DATA=$WORK/sqlite-data
sqlite_backup() {
    sqlite3 "$SQLITE_DATA/gridsync.sqlite3" ".backup '$WORK/backup.sqlite3'"
    cp "$SQLITE_DATA/jwt-secret" "$WORK/jwt-secret.sqlite"
}
sqlite_wipe() { rm -rf "$SQLITE_DATA"; }
sqlite_restore() {
    mkdir -p "$SQLITE_DATA"
    cp "$WORK/backup.sqlite3" "$SQLITE_DATA/gridsync.sqlite3"
    cp "$WORK/jwt-secret.sqlite" "$SQLITE_DATA/jwt-secret"
}
command -v sqlite3 >/dev/null || { log "sqlite3 not found (apt-get install sqlite3)"; exit 1; }
check SQLite "$SQLITE_DATA" sqlite_backup sqlite_wipe sqlite_restore

# PostgreSQL: pg_dump/pg_restore of a fresh database.
if [[ -n ${GRIDSYNC_TEST_DATABASE_URL:-} ]]; then
    DB_NAME=gs_backup_$$_$RANDOM
    admin=$GRIDSYNC_TEST_DATABASE_URL
    base=${admin%%\?*}
    DB_URL=${base%/*}/$DB_NAME
    PG_DATA=$WORK/pg-data
    psql "$admin" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB_NAME"
    pg_backup() {
        pg_dump --format=custom --file="$WORK/backup.dump" "$DB_URL"
        cp "$PG_DATA/jwt-secret" "$WORK/jwt-secret.pg"
    }
    pg_wipe() {
        rm -rf "$PG_DATA"
        psql "$admin" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME"
    }
    pg_restore_db() {
        pg_restore --no-owner --exit-on-error --dbname="$DB_URL" "$WORK/backup.dump"
        mkdir -p "$PG_DATA"
        cp "$WORK/jwt-secret.pg" "$PG_DATA/jwt-secret"
    }
    check PostgreSQL "$PG_DATA" pg_backup pg_wipe pg_restore_db --database-url "$DB_URL"
else
    log "PostgreSQL skipped (set GRIDSYNC_TEST_DATABASE_URL)"
fi
