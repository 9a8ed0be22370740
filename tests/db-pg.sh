#!/bin/sh
# db-pg.sh — a throwaway local PostgreSQL 15 server for the tests.
#   db-pg.sh start DIR PORT   initdb DIR if needed, start on 127.0.0.1:PORT,
#                             create printdesk_test, print its URL
#   db-pg.sh stop DIR         stop the server (no-op when not running)
#   db-pg.sh restart DIR      restart it on the same address
# Idempotent and quiet: only the URL goes to stdout; failures print the
# server log's tail to stderr and exit 1. Trust auth: tests only.
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DBNAME=printdesk_test

die() {
    echo "db-pg.sh: $*" >&2
    exit 1
}

usage() {
    die "usage: db-pg.sh start DIR PORT | stop DIR | restart DIR"
}

# Runs a PostgreSQL binary as the postgres user when we are root (the server
# refuses to run as root), else as ourselves.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

show_log() {
    for f in "$DIR/setup.log" "$DIR/server.log"; do
        [ -f "$f" ] && tail -n 20 "$f" >&2
    done
    return 0
}

is_running() {
    [ -f "$DIR/data/PG_VERSION" ] &&
        as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

# The postgres user must pass through every parent of DIR (mktemp -d makes
# 0700 folders): grant search-only access (o+x) on parents we own.
grant_traverse() {
    path=
    for part in $(echo "${DIR#/}" | tr '/' ' '); do
        path="$path/$part"
        [ "$path" = "$DIR" ] && break
        as_pg test -x "$path" && continue
        if [ -O "$path" ]; then
            chmod o+x "$path"
        else
            die "user postgres cannot enter $path (needs o+x)"
        fi
    done
}

init_cluster() {
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then
        grant_traverse
        chown postgres:postgres "$DIR"
        as_pg test -w "$DIR" || die "user postgres cannot write $DIR"
    fi
    [ -f "$DIR/data/PG_VERSION" ] && return 0
    if ! as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust \
        -E UTF8 --locale=C --no-sync >"$DIR/setup.log" 2>&1; then
        show_log
        die "initdb failed in $DIR/data"
    fi
    cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
EOF
}

create_db() {
    psql="$PGBIN/psql -X -q -h 127.0.0.1 -p $PORT -U postgres -d postgres"
    found=$(as_pg $psql -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'" \
        2>>"$DIR/setup.log") ||
        { show_log; die "cannot query the server on port $PORT"; }
    if [ "$found" != 1 ]; then
        as_pg $psql -c "CREATE DATABASE $DBNAME" >>"$DIR/setup.log" 2>&1 ||
            { show_log; die "cannot create database $DBNAME"; }
    fi
}

cmd_start() {
    init_cluster
    # The configured port wins: a second start with another PORT reuses it.
    PORT=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$DIR/data/postgresql.conf" |
        tail -n 1)
    if ! is_running; then
        as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
            start >>"$DIR/setup.log" 2>&1 ||
            { show_log; die "server did not start (port $PORT)"; }
    fi
    create_db
    echo "postgres://postgres@127.0.0.1:$PORT/$DBNAME"
}

cmd_stop() {
    is_running || return 0
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop \
        >>"$DIR/setup.log" 2>&1 || { show_log; die "stop failed"; }
}

cmd_restart() {
    [ -f "$DIR/data/PG_VERSION" ] || die "no cluster in $DIR"
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -m fast -w \
        -t 60 restart >>"$DIR/setup.log" 2>&1 ||
        { show_log; die "restart failed"; }
}

[ $# -ge 2 ] || usage
CMD=$1
DIR=$2
case "$DIR" in
/*) ;;
*) DIR="$(pwd)/$DIR" ;;
esac
case "$CMD" in
start)
    [ $# -eq 3 ] || usage
    PORT=$3
    case "$PORT" in
    '' | *[!0-9]*) die "PORT must be a number" ;;
    esac
    cmd_start
    ;;
stop)
    [ $# -eq 2 ] || usage
    cmd_stop
    ;;
restart)
    [ $# -eq 2 ] || usage
    cmd_restart
    ;;
*) usage ;;
esac
