#!/usr/bin/env bash
# run.sh — printdesk's benchmarks: /healthz throughput (printdesk at two log
# levels and a bare libmicrohttpd baseline), start-up time on a 100,000-order
# SQLite database, and resident memory idle and under load.
# Usage: bench/run.sh BUILD_DIR   (make bench runs `bench/run.sh build`)
# Prints one figure a line with its target; it never fails on slow figures,
# only when a measurement cannot be taken (exit 1 after the rest ran).
set -euo pipefail

usage() { echo "usage: bench/run.sh BUILD_DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=$1
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/printdesk
OUT=$BENCH_DIR/.out                     # cache of seeded databases
ORDERS=${BENCH_ORDERS:-100000}          # orders in the start-up database
STARTS=${BENCH_STARTS:-10}              # timed starts
WRK_SECONDS=${BENCH_WRK_SECONDS:-10}    # length of each wrk run
THREADS=2                               # server threads, as bare_mhd's pool
THUMB_RUNS=${BENCH_THUMB_RUNS:-30}      # timed runs of each image operation
UPLOADS=${BENCH_UPLOADS:-40}            # multipart uploads per concurrency
FAILED=0
SERVER_PID=
declare -A RPS=()                       # req/s by server, for the ratio
TMP=$(mktemp -d "${TMPDIR:-/tmp}/printdesk-bench.XXXXXX")

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT

# Keep the caller's printdesk settings out of the measurements.
unset DATABASE_URL STORAGE_URL PRINTDESK_DATA_DIR LOG_LEVEL LOG_FORMAT \
      PRINTDESK_THREADS

fail() { echo "$1: FAILED ($2)"; FAILED=1; }

# Compiles the baseline server and the timing helper into $TMP.
build_helpers() {
    local mhd
    mhd=$(pkg-config --cflags --libs libmicrohttpd)
    # shellcheck disable=SC2086  # pkg-config output is a list of flags
    gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$TMP/bare_mhd" \
        "$BENCH_DIR/bare_mhd.c" $mhd -lpthread
    gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$TMP/probe" \
        "$BENCH_DIR/probe.c"
}

print_machine() {
    local cpu
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
    echo "# machine: $(nproc) cores, ${cpu:-unknown CPU}; $(wrk -v 2>&1 |
        head -1 | cut -d' ' -f1-2); libmicrohttpd" \
        "$(pkg-config --modversion libmicrohttpd)"
    echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" \
        "(other processes on these cores lower every figure)"
}

# start_server PORT CMD... : runs CMD in the background with its output
# discarded, and waits (up to 30 s, or until CMD exits) until /healthz
# answers 200.
start_server() {
    local port=$1
    shift
    "$@" </dev/null >/dev/null 2>&1 &
    SERVER_PID=$!
    "$TMP/probe" wait "$port" 30000 "$SERVER_PID" >/dev/null
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# rss_mib PID FIELD : a /proc/PID/status size (VmRSS now, VmHWM peak,
# RssAnon heap and stacks, RssFile mapped files: mostly shared libraries)
# in MiB.
rss_mib() {
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# idle_rss PID : "VmRSS MiB (anon A, files F" for the idle figures.
idle_rss() {
    echo "$(rss_mib "$1" VmRSS) MiB (anon $(rss_mib "$1" RssAnon)," \
        "files $(rss_mib "$1" RssFile)"
}

# wrk_healthz PORT : 64 keep-alive connections, one wrk thread; prints
# "REQ_PER_S P99_MS ERRORS" from wrk's report.
wrk_healthz() {
    wrk -t1 -c64 -d"${WRK_SECONDS}s" --latency \
        "http://127.0.0.1:$1/healthz" > "$TMP/wrk.txt"
    awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /s$/)  return v * 1000
            return v
        }
        /Requests\/sec:/            { rps = $2 }
        $1 == "99%"                 { p99 = ms($2) }
        /Non-2xx or 3xx responses/  { errors += $NF }
        /Socket errors/ {
            gsub(/,/, ""); errors += $4 + $6 + $8 + $10
        }
        END { printf "%.0f %.2f %d\n", rps, p99, errors }
    ' "$TMP/wrk.txt"
}

# load_run NAME TARGET PORT CMD... : measures (1) throughput and (3) memory
# of one server: idle RSS one second after its first 200, then wrk, then
# its peak RSS (VmHWM), which the load has pushed up.
load_run() {
    local name=$1 target=$2 port=$3 idle peak res rps p99 errors note=''
    shift 3
    if ! start_server "$port" "$@"; then
        fail "healthz_rps_64conn_$name" "the server did not start"
        stop_server
        return 0
    fi
    sleep 1
    idle=$(idle_rss "$SERVER_PID")
    if ! res=$(wrk_healthz "$port"); then
        fail "healthz_rps_64conn_$name" "wrk failed"
        stop_server
        return 0
    fi
    peak=$(rss_mib "$SERVER_PID" VmHWM)
    stop_server
    read -r rps p99 errors <<< "$res"
    [ "$errors" -eq 0 ] || note=", $errors socket errors or non-2xx"
    printf 'healthz_rps_64conn_%s: %s req/s (p99 %s ms%s; %s)\n' \
        "$name" "$rps" "$p99" "$note" "$target"
    RPS[$name]=$rps
    record_rss "$name" "$idle" "$peak"
}

# Keeps the memory figures of load_run to print them as their own section.
record_rss() {
    local idle_target="target < 15 MiB" load_target="target < 40 MiB"
    if [ "$1" = bare_mhd ]; then
        idle_target=baseline
        load_target=baseline
    fi
    RSS_LINES+=("rss_idle_$1: $2; $idle_target)"
                "rss_peak_under_load_$1: $3 MiB ($load_target)")
}

# Measurement 1 and 3: /healthz under wrk, and resident memory.
bench_throughput() {
    local port data level
    RSS_LINES=()
    for level in info warning; do
        port=$("$TMP/probe" free-port)
        data=$TMP/data-$level
        mkdir -p "$data"
        load_run "printdesk_$level" "target >= 100000 req/s" "$port" \
            env LOG_LEVEL=$level PRINTDESK_THREADS=$THREADS \
            "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data"
    done
    port=$("$TMP/probe" free-port)
    load_run bare_mhd "baseline: about 200000 req/s on 2 cores" "$port" \
        "$TMP/bare_mhd" "$port"
    print_ratio
}

# printdesk's req/s as a share of bare_mhd's in the same run: the figure
# least moved by other load on the machine.
print_ratio() {
    local level line='' bare=${RPS[bare_mhd]:-0} rps share
    [ "$bare" -gt 0 ] || return 0
    [ -n "${RPS[printdesk_info]:-}${RPS[printdesk_warning]:-}" ] || return 0
    for level in info warning; do
        rps=${RPS[printdesk_$level]:-}
        [ -n "$rps" ] || continue
        share=$((rps * 100 / bare))
        line+="${line:+, }$level $share%"
    done
    echo "healthz_printdesk_share_of_bare: $line (of bare_mhd's req/s;" \
        "target 100000/200000 = 50%)"
}

# Seeds $ORDERS demo orders once into $OUT/seed-$ORDERS and sets SEED_DIR;
# later runs reuse it. A half-written seed is never reused.
seed_once() {
    local start
    SEED_DIR=$OUT/seed-$ORDERS
    if [ -f "$SEED_DIR/.complete" ]; then
        echo "# seed: reusing $SEED_DIR"
        return 0
    fi
    rm -rf "$SEED_DIR" "$SEED_DIR.partial"
    mkdir -p "$SEED_DIR.partial"
    start=$(date +%s)
    if ! "$BIN" seed-demo --orders "$ORDERS" --data-dir "$SEED_DIR.partial" \
            > "$OUT/seed.log" 2>&1; then
        echo "# seed: seed-demo failed, see $OUT/seed.log"
        rm -rf "$SEED_DIR.partial"
        return 1
    fi
    touch "$SEED_DIR.partial/.complete"
    mv "$SEED_DIR.partial" "$SEED_DIR"
    echo "# seed: $ORDERS orders in $(( $(date +%s) - start )) s into" \
        "$SEED_DIR (kept for the next runs)"
}

# Measurement 2: spawn to first 200 from /healthz, $STARTS times, on a copy
# of the seeded database (the page cache is warm after the first start).
bench_startup() {
    local name=startup_to_healthz_${ORDERS}_orders data port t
    local times=()
    if ! seed_once; then
        fail "$name" "could not seed the database"
        return 0
    fi
    data=$TMP/startup
    cp -a "$SEED_DIR" "$data"
    for _ in $(seq "$STARTS"); do
        port=$("$TMP/probe" free-port)
        if ! t=$(PRINTDESK_THREADS=$THREADS "$TMP/probe" start "$port" \
                30000 "$BIN" serve --listen "127.0.0.1:$port" \
                --data-dir "$data"); then
            fail "$name" "a start gave no 200 within 30 s"
            return 0
        fi
        times+=("$t")
    done
    # The first start also writes the local secrets into the fresh copy.
    printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" \
        -v first="${times[0]}" '
        { t[NR] = $1 }
        END {
            med = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "%s: median %.1f ms, max %.1f ms over %d starts, " \
                   "first %.1f ms (target < 100 ms)\n",
                   name, med, t[NR], NR, first
        }'
    idle_rss_seeded "$data"
}

# Idle RSS one second after start with the seeded database open.
idle_rss_seeded() {
    local port
    port=$("$TMP/probe" free-port)
    if ! start_server "$port" env PRINTDESK_THREADS=$THREADS "$BIN" serve \
            --listen "127.0.0.1:$port" --data-dir "$1"; then
        fail "rss_idle_${ORDERS}_orders" "the server did not start"
        stop_server
        return 0
    fi
    sleep 1
    echo "rss_idle_${ORDERS}_orders: $(idle_rss "$SERVER_PID");" \
        "target < 15 MiB)"
    stop_server
}

# 4. Letting a proxied staff request in: signature + staff lookup.
bench_auth() {
    "$BUILD/bench/bench_auth" 2>/dev/null || {
        echo "auth: FAILED"; FAILED=1; }
}

# 5. The orders list and search at $ORDERS orders (needs the seed of 2.).
bench_orders() {
    local db
    seed_once || { fail orders "could not seed the database"; return 0; }
    db="sqlite:$SEED_DIR/printdesk.db"

    "$BUILD/bench/bench_orders" "$db" 300 2>/dev/null | sed 's/^/orders_/' ||
        { echo "orders: FAILED"; FAILED=1; }
}

# 6. Webhook deliveries, 20 at a time, on SQLite and on PostgreSQL.
webhook_run() {
    local name=$1 db=$2 dir=$TMP/webhooks-$1 port
    local secret=bench-secret-0123456789abcdef shop=bench.myshopify.com

    mkdir -p "$dir"
    DATABASE_URL=$db SHOPIFY_APP_SECRET=$secret SHOPIFY_SHOP=$shop \
        LOG_LEVEL=notice "$BIN" serve --listen 127.0.0.1:0 \
        --data-dir "$dir" 2>"$dir/log" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        port=$(grep -o '"port":[0-9]*' "$dir/log" | head -n 1 |
            cut -d: -f2 || true)
        [ -n "$port" ] && break
        sleep 0.1
    done
    printf 'webhooks_%s: ' "$name"
    NODE_PATH=$ROOT/tests/node_modules node "$BENCH_DIR/webhooks.mjs" \
        "http://127.0.0.1:$port" "$secret" "$shop" 2000 ||
        { echo "FAILED"; FAILED=1; }
    stop_server
}

bench_webhooks() {
    local pgdir=$TMP/pg url

    webhook_run sqlite "sqlite:$TMP/webhooks-sqlite.db"
    if url=$("$ROOT/tests/db-pg.sh" start "$pgdir" 25990 2>/dev/null); then
        webhook_run postgres "$url"
        "$ROOT/tests/db-pg.sh" stop "$pgdir"
    else
        echo "webhooks_postgres: skipped (PostgreSQL did not start)"
    fi
}

# 7. The image work of an upload on a 12 MP phone JPEG, one thread, with
# Pillow's draft-mode thumbnail of the same file beside it. Leaves the
# photo in $PHOTO for 8.
bench_thumb() {
    PHOTO=$TMP/phone-12mp.jpg
    "$BUILD/bench/bench_thumb" "$PHOTO" "$THUMB_RUNS" 2>&1 |
        sed '/^#/!s/^/image_/' || { echo "image: FAILED"; FAILED=1; }
}

# 8. Uploads through the server: multipart ingest of the photo of 7, and
# resident memory while tus uploads of 20 and 200 MiB stream in.
bench_uploads() {
    if [ ! -s "${PHOTO:-}" ]; then
        PHOTO=$TMP/phone-12mp.jpg
        "$BUILD/bench/bench_thumb" --make "$PHOTO" >/dev/null ||
            { fail uploads "could not make the photo"; return 0; }
    fi
    node "$BENCH_DIR/uploads.mjs" "$BIN" "$PHOTO" "$UPLOADS" ||
        { echo "uploads: FAILED"; FAILED=1; }
}

# A session cookie for a demo admin of the database in $1 (data dir).
session_cookie() {
    local data=$1 port=$2 link
    "$BIN" staff add 9001 --role admin --name "Bench admin" \
        --data-dir "$data" >/dev/null 2>&1 || true
    link=$("$BIN" login-url --customer 9001 --ttl 300 \
        --base "http://127.0.0.1:$port" --data-dir "$data" 2>/dev/null) \
        || return 1
    curl -s -o /dev/null -D - "$link" | tr -d '\r' |
        sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1
}

# wrk at 32 connections against one URL with the session (and any more
# wrk arguments, e.g. a header); one line.
wrk_page() {
    local name=$1 url=$2 cookie=$3 floor=$4 out
    shift 4
    out=$(wrk -t1 -c32 -d"${WRK_SECONDS}s" --latency -H "Cookie: $cookie" \
        "$@" "$url" 2>&1) || { fail "$name" "wrk failed"; return 0; }
    echo "$out" | awk -v name="$name" -v floor="$floor" '
        /Requests\/sec/ { rps = $2 }
        /^ +99%/ { p99 = $2 }
        /Non-2xx/ { bad = $NF }
        END {
            printf "%s: %.0f req/s, p99 %s%s (floor %s req/s, p99 < 10 ms)\n",
                   name, rps, p99, bad ? ", " bad " non-2xx" : "", floor
        }'
}

# One list URL with wrk against a fresh server (its own rate-limit bucket)
# started with the given environment: pages_one NAME PATH FLOOR DATA
# [ENV...] [-- WRK ARGS...].
pages_one() {
    local name=$1 path=$2 floor=$3 data=$4 port cookie env=() extra=()
    shift 4
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do env+=("$1"); shift; done
    [ $# -gt 0 ] && { shift; extra=("$@"); }
    port=$("$TMP/probe" free-port)
    if ! start_server "$port" env STAFF_RATE_PER_MINUTE=1000000 \
            LOG_LEVEL=warning PRINTDESK_THREADS="$THREADS" "${env[@]}" \
            "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data"; then
        fail "$name" "the server did not start"
        stop_server
        return 0
    fi
    if ! cookie=$(session_cookie "$data" "$port") || [ -z "$cookie" ]; then
        fail "$name" "no session cookie"
        stop_server
        return 0
    fi
    wrk_page "$name" "http://127.0.0.1:$port$path" "$cookie" "$floor" \
        "${extra[@]}"
    stop_server
}

# The three list URLs; names end in suffix.
pages_pass() {
    local suffix=$1 data=$2
    shift 2
    pages_one "orders_json_50_in_production$suffix" \
        "/api/v1/orders?status=in_production&limit=50" 20000 "$data" "$@"
    pages_one "orders_json_search_pet_name$suffix" \
        "/api/v1/orders?q=bella&limit=50" 20000 "$data" "$@"
    pages_one "dashboard_list_50_in_production$suffix" \
        "/dashboard?status=in_production" 10000 "$data" "$@" -- \
        -H "Accept-Encoding: gzip"
}

# The dashboard's list page and the JSON list over the seeded orders: as
# served (recent answers kept for LIST_CACHE_MS), then built afresh for
# every request (LIST_CACHE_MS=0).
bench_pages() {
    local data=$TMP/pages
    if ! seed_once; then
        fail pages "could not seed the database"
        return 0
    fi
    cp -a "$SEED_DIR" "$data"
    pages_pass "" "$data"
    pages_pass "_uncached" "$data" LIST_CACHE_MS=0
}

# Lighthouse (bench/node_modules, `npm ci --prefix bench`) with its default
# mobile settings on the list page and an order page, in Debian's Chromium:
# the median of BENCH_LIGHTHOUSE_RUNS runs (3) of each.
bench_lighthouse() {
    local data=$TMP/lighthouse port cookie runs=${BENCH_LIGHTHOUSE_RUNS:-3}
    if [ ! -d "$BENCH_DIR/node_modules/lighthouse" ]; then
        fail lighthouse "no bench/node_modules; run npm ci --prefix bench"
        return 0
    fi
    if ! seed_once; then
        fail lighthouse "could not seed the database"
        return 0
    fi
    cp -a "$SEED_DIR" "$data"
    port=$("$TMP/probe" free-port)
    if ! start_server "$port" env LOG_LEVEL=warning \
            PRINTDESK_THREADS="$THREADS" "$BIN" serve \
            --listen "127.0.0.1:$port" --data-dir "$data"; then
        fail lighthouse "the server did not start"
        stop_server
        return 0
    fi
    if ! cookie=$(session_cookie "$data" "$port") || [ -z "$cookie" ]; then
        fail lighthouse "no session cookie"
        stop_server
        return 0
    fi
    CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium} node \
        "$BENCH_DIR/lighthouse.mjs" "http://127.0.0.1:$port" "$cookie" \
        "$runs" || FAILED=1
    stop_server
}

# Backup and restore of the seeded SQLite database (online copy, integrity
# check, gzip; restore with digest and count checks), wall-clock seconds.
bench_backup() {
    local dir=$TMP/backup out line
    seed_once || { fail backup "could not seed the database"; return 0; }
    mkdir -p "$dir"
    cp -a "$SEED_DIR" "$dir/src"
    out=$( { /usr/bin/time -f '%e s, peak %M KiB' "$BIN" backup \
        --to "$dir/out" --data-dir "$dir/src"; } 2>&1 ) ||
        { fail backup "printdesk backup failed: $out"; return 0; }
    line=$(echo "$out" | grep -o '[0-9]*\.[0-9]* s, peak [0-9]* KiB' | tail -1)
    echo "backup_sqlite_${ORDERS}_orders: $line ($(du -m "$SEED_DIR/printdesk.db" |
        cut -f1) MiB database, $(du -m "$dir/out/backups" | cut -f1) MiB" \
        "backup)"
    out=$( { /usr/bin/time -f '%e s, peak %M KiB' "$BIN" restore \
        --from "$dir/out" --database "sqlite:$dir/restored.db" \
        --data-dir "$dir/src"; } 2>&1 ) ||
        { fail restore "printdesk restore failed: $out"; return 0; }
    line=$(echo "$out" | grep -o '[0-9]*\.[0-9]* s, peak [0-9]* KiB' | tail -1)
    echo "restore_sqlite_${ORDERS}_orders: $line (digest, integrity and" \
        "row counts checked)"
    rm -rf "$dir"
}

# The S3 backend: printdesk on the tests' S3-protocol server (s3rver
# behind the signature-checking proxy), 20 and 200 MiB photos: upload
# and download MiB/s, and peak memory (VmHWM) while they move.
bench_s3() {
    [ -d "$ROOT/tests/node_modules/s3rver" ] ||
        { fail s3 "tests/node_modules lacks s3rver (make test-deps)"; return 0; }
    node "$BENCH_DIR/s3.mjs" "$BIN" || { echo "s3: FAILED"; FAILED=1; }
}

# copy-db: the seeded SQLite database into a PostgreSQL started for it.
bench_copydb() {
    seed_once || { fail copydb "could not seed the database"; return 0; }
    "$BENCH_DIR/copy_db.sh" "$BUILD" "$SEED_DIR/printdesk.db" || FAILED=1
}

main() {
    [ -x "$BIN" ] || { echo "run.sh: no $BIN; build first" >&2; exit 2; }
    mkdir -p "$OUT"
    build_helpers
    print_machine
    if [ -n "${BENCH_ONLY:-}" ]; then
        for section in $BENCH_ONLY; do "bench_$section"; done
        exit "$FAILED"
    fi
    echo "# 1. GET /healthz, wrk -t1 -c64 -d${WRK_SECONDS}s, same machine;" \
        "server output to /dev/null"
    bench_throughput
    echo "# 3. resident memory: idle 1 s after start; peak (VmHWM) after wrk"
    printf '%s\n' "${RSS_LINES[@]}"
    echo "# 2. spawn to first 200 from /healthz (tried every 1 ms)," \
        "$ORDERS-order SQLite database"
    bench_startup
    echo "# 4. auth: App Proxy signature + staff lookup, one core"
    bench_auth
    echo "# 5. orders list/search/counts on the $ORDERS-order SQLite seed"
    bench_orders
    echo "# 6. webhooks: orders/create with 3 line items, 20 in flight"
    bench_webhooks
    echo "# 7. image work on a 12 MP phone JPEG, $THUMB_RUNS runs, one" \
        "thread (VIPS_CONCURRENCY=1); Pillow on the same file"
    bench_thumb
    echo "# 8. uploads: multipart ingest ($UPLOADS uploads, 2 and 4 in" \
        "flight; server on $(nproc) cores), tus memory"
    bench_uploads
    echo "# 9. the order list over HTTP on the $ORDERS-order seed: JSON" \
        "and the dashboard page, wrk -t1 -c32 with a staff session"
    bench_pages
    echo "# 10. Lighthouse, default mobile settings (simulated slow 4G," \
        "4x CPU slowdown), Debian's Chromium, staff session; median run"
    bench_lighthouse
    echo "# 11. backup and restore of the $ORDERS-order SQLite database"
    bench_backup
    echo "# 12. S3 backend: 20 and 200 MiB photos through printdesk to" \
        "s3rver behind the signature-checking proxy, same machine"
    bench_s3
    echo "# 13. copy-db: the $ORDERS-order SQLite seed into PostgreSQL"
    bench_copydb
    exit "$FAILED"
}

main
