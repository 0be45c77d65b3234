#!/usr/bin/env bash
# A throwaway PostgreSQL for the test suite.
#
#   eval "$(scripts/postgres.sh)"      # install if missing, start, export the URL
#   scripts/postgres.sh stop           # stop it and delete its data
#
# Starting installs the Debian `postgresql` package if no initdb is found
# (root only), initialises a cluster in a temporary directory with trust
# authentication (local test use only), starts it on 127.0.0.1 at a free
# port, creates the database `gridsync`, and prints
#   export GRIDSYNC_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/gridsync
# on stdout (everything else goes to stderr). The cluster's directory is
# remembered in $GRIDSYNC_PG_STATE (default /tmp/gridsync-postgres.state),
# which `stop` reads. Running as root, the server runs as the `postgres`
# OS user, as PostgreSQL requires.
set -euo pipefail

STATE=${GRIDSYNC_PG_STATE:-/tmp/gridsync-postgres.state}

log() { echo "postgres.sh: $*" >&2; }

# The directory of initdb/pg_ctl: PATH first, then Debian's layout.
pg_bin() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        # Resolve symlinks: the other tools live beside the real initdb.
        dirname "$(readlink -f "$(command -v initdb)")"
        return 0
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n $d && -x $d/initdb ]]; then
        echo "$d"
        return 0
    fi
    return 1
}

# Run a command as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    if [[ -f $STATE ]]; then
        # shellcheck disable=SC1090
        source "$STATE"
        if [[ -n ${PGDIR:-} && -f $PGDIR/data/postmaster.pid ]]; then
            log "already running on port $PGPORT (state in $STATE)"
            echo "export GRIDSYNC_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/gridsync"
            return 0
        fi
    fi
    local bin
    if ! bin=$(pg_bin); then
        if [[ $(id -u) -ne 0 ]]; then
            log "PostgreSQL is not installed; run as root or: apt-get install postgresql"
            exit 1
        fi
        log "installing PostgreSQL (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends postgresql >&2
        bin=$(pg_bin)
    fi
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi

    PGDIR=$(mktemp -d /tmp/gridsync-pg.XXXXXX)
    chmod 755 "$PGDIR"
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$PGDIR"; fi
    as_owner "$bin/initdb" -D "$PGDIR/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 ||
        { cat "$PGDIR/initdb.log" >&2; exit 1; }

    local tries=0
    while :; do
        PGPORT=$((20000 + RANDOM % 20000))
        if port_in_use "$PGPORT"; then continue; fi
        # fsync off: a test cluster, thrown away after the run.
        if as_owner "$bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
            -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $PGDIR -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >&2; then
            break
        fi
        tries=$((tries + 1))
        if [[ $tries -ge 5 ]]; then
            cat "$PGDIR/server.log" >&2 || true
            log "could not start PostgreSQL"
            exit 1
        fi
    done
    cat >"$STATE" <<EOF
PGDIR=$PGDIR
PGPORT=$PGPORT
PGBIN=$bin
EOF
    "$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE DATABASE gridsync" >&2
    log "PostgreSQL running on 127.0.0.1:$PGPORT, data in $PGDIR"
    echo "export GRIDSYNC_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/gridsync"
}

stop() {
    if [[ ! -f $STATE ]]; then
        log "nothing to stop ($STATE not found)"
        return 0
    fi
    # shellcheck disable=SC1090
    source "$STATE"
    if [[ -f $PGDIR/data/postmaster.pid ]]; then
        as_owner "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >&2 || true
    fi
    rm -rf "$PGDIR" "$STATE"
    log "stopped"
}

case ${1:-start} in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 [start|stop]" >&2
    exit 2
    ;;
esac
