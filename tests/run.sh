#!/bin/bash
# The whole test suite: unit tests (cmocka) and integration tests (Node's
# test runner driving the real binary), on SQLite and on a PostgreSQL
# server started here, once with the normal build and once with the
# sanitizer build. Every suite speaks TAP; the last line counts them all.
set -u
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build build-asan)

top=$(pwd)
tmp=$(mktemp -d /tmp/printdesk-tests.XXXXXX)
pgdir="$tmp/pg"
pgport=$((20000 + RANDOM % 20000))
log="$tmp/tap.log"
: >"$log"

cleanup() {
    tests/db-pg.sh stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

if ! pg_url=$(tests/db-pg.sh start "$pgdir" "$pgport"); then
    echo "not ok - PostgreSQL could not be started for the tests" | tee -a "$log"
    pg_url=""
fi
export TEST_PG_URL="$pg_url"
export TEST_PG_DIR="$pgdir"
export TEST_PG_RESTART_CMD="$top/tests/db-pg.sh restart $pgdir"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"

# Runs one TAP-speaking command; its lines go to the screen and the log.
suite() {
    local name=$1
    shift
    echo "# ---- $name"
    "$@" 2>"$tmp/stderr" | tee "$tmp/out"
    local rc=${PIPESTATUS[0]}
    cat "$tmp/out" >>"$log"
    if [ "$rc" -ne 0 ] && ! grep -qE '^ *not ok' "$tmp/out"; then
        # A crash or sanitizer report outside any test case still fails.
        tail -n 40 "$tmp/stderr"
        echo "not ok - $name exited with status $rc" | tee -a "$log"
    fi
}

for b in "${builds[@]}"; do
    echo "# ==== build: $b"
    for t in "$b"/tests/unit/test_*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        CMOCKA_MESSAGE_OUTPUT=TAP suite "unit $(basename "$t") ($b)" "$t"
    done
    for backend in sqlite postgres; do
        PRINTDESK_BIN="$top/$b/printdesk" TEST_BACKEND=$backend \
            suite "integration $backend ($b)" \
            node --test --test-reporter=tap --test-concurrency=1 \
            tests/integration/
    done
done

passed=$(grep -cE '^ok [0-9]+' "$log")
failed=$(grep -E '^not ok' "$log" | grep -vc '# SKIP')
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
