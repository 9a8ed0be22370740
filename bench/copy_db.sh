#!/usr/bin/env bash
# copy_db.sh — the speed of `printdesk copy-db`: a seeded SQLite database
# (BENCH_ORDERS demo orders, 100000) into a PostgreSQL server started here
# in a temporary folder (tests/db-pg.sh), default batch size. Prints one
# line: rows/s while copying, the time of the checks that follow, and
# whether the counts and checksums matched.
# Usage: bench/copy_db.sh BUILD_DIR [SQLITE_DB]
#   SQLITE_DB: an existing printdesk database to copy (bench/run.sh passes
#   its seed); without it, one is seeded into the temporary folder.
set -euo pipefail

usage() { echo "usage: bench/copy_db.sh BUILD_DIR [SQLITE_DB]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=$1
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/printdesk
ORDERS=${BENCH_ORDERS:-100000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/printdesk-copydb.XXXXXX")
NAME=copy_db_${ORDERS}_orders

cleanup() {
    "$ROOT/tests/db-pg.sh" stop "$TMP/pg" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
unset DATABASE_URL STORAGE_URL PRINTDESK_DATA_DIR LOG_LEVEL LOG_FORMAT

fail() { echo "$NAME: FAILED ($1)"; exit 1; }

[ -x "$BIN" ] || { echo "copy_db.sh: no $BIN; build first" >&2; exit 2; }
DB=${2:-}
if [ -z "$DB" ]; then
    DB=$TMP/seed/printdesk.db
    "$BIN" seed-demo --orders "$ORDERS" --data-dir "$TMP/seed" \
        >"$TMP/seed.log" 2>&1 || fail "seed-demo failed"
fi
[ -f "$DB" ] || fail "no database at $DB"

port=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=$("$ROOT/tests/db-pg.sh" start "$TMP/pg" "$port" 2>"$TMP/pg.log") ||
    fail "PostgreSQL did not start: $(tail -n 3 "$TMP/pg.log")"

start=$(date +%s.%N)
"$BIN" copy-db --from "sqlite:$DB" --to "$url" --log-level warning \
    >"$TMP/out" 2>"$TMP/err" ||
    fail "copy-db exited $?: $(tail -n 3 "$TMP/err")"
end=$(date +%s.%N)

line=$(grep -E '^copied [0-9]+ rows in' "$TMP/out") ||
    fail "no summary line in the output"
grep -q 'counts and checksums match' "$TMP/out" ||
    fail "the checks found differences"
echo "$line" | awk -v name="$NAME" -v total="$(echo "$end - $start" | bc)" '
    {
        rows = $2; secs = $5; rate = substr($7, 2)
        printf "%s: %s rows/s (%s rows in %s s; with the schema, the " \
               "sequences and the counts and checksums of both sides " \
               "%.1f s in all; checks match)\n", name, rate, rows, secs,
               total
    }'
