#!/usr/bin/env bash
# What the metrics cost (issue 20): http_server with and without `--metrics` (the latency
# histogram, two atomic adds per request, and the endpoint, idle between scrapes) under the
# same wrk load, and echo with and without `--metrics` (its per-message histogram) under
# loadgen's echo load (16 connections, 64-byte messages), in alternating runs over several
# rounds, the server pinned to CPU 0 and the load to CPU 1. Prints, per mode, the mean request rate and the server's CPU time per request
# (the steadier figure on a shared machine) without and with, and their ratio (the target: a
# cost under 3 %).
#
#   bash bench/metrics_cost.sh [ROUNDS] [--against REV]   (default 5 rounds; needs wrk, taskset)
#
# --against REV also runs REV's http_server (built from `git archive REV` in a temporary
# directory, into its own target directory: the usual one's name with `-base`) as the base,
# for the cost of the counters that are always on (a request count per handler run, one
# TCP_INFO read per connection close). With the metrics work uncommitted, REV=HEAD is the
# tree without it.
#
# Modes: event with one loop thread (--mode event --workers 1) and pool (--workers 2), wrk -t1
# -c16 on a 1 KiB file, keep-alive; and event with `Connection: close` (a connection per
# request: the per-close TCP_INFO read at its most frequent). echo: --mode event --workers 1
# and --mode pool --workers 2, the modes where it times each message. Every server listens on
# 127.0.0.1 and is stopped at the end. Last, crates/bench's histogram_cost times what one
# timed request adds (two clock reads and an observation, on one thread and on every core).
# Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5
against=""
while [ $# -gt 0 ]; do
    case "$1" in
        --against) against="${2:?--against needs a revision}"; shift 2 ;;
        *) rounds="$1"; shift ;;
    esac
done
for tool in wrk taskset python3; do
    command -v "$tool" >/dev/null || { echo "metrics_cost: $tool is missing" >&2; exit 1; }
done
root=$(pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
work=$(mktemp -d)
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cargo build -q --release --example http_server --example echo
cargo build -q --release -p socketserver-loadgen
ours="$target/release/examples/http_server"
echo_program="$target/release/examples/echo"
loadgen="$target/release/loadgen"
variants="off on"
if [ -n "$against" ]; then
    mkdir "$work/base"
    git archive "$against" | tar -x -C "$work/base"
    echo "metrics_cost: building $against's http_server (release)" >&2
    (cd "$work/base" && CARGO_TARGET_DIR="$target-base" cargo build -q --release --example http_server)
    base="$target-base/release/examples/http_server"
    variants="base off on"
fi
mkdir -p "$work/site"
head -c 1024 /dev/urandom > "$work/site/small.bin"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts PROGRAM (with --metrics when the variant `$1` is `on`) with ARGS on CPU 0, at a free
# port; sets PORT and PID once it answers.
launch() {
    local variant=$1 program=$2; shift 2
    local extra=()
    [ "$variant" = on ] && extra=(--metrics 127.0.0.1:0)
    PORT=$(port)
    taskset -c 0 "$program" --addr "127.0.0.1:$PORT" "${extra[@]}" "$@" >/dev/null 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT)).close()" 2>/dev/null && return
        sleep 0.05
    done
    echo "metrics_cost: $program $* did not start" >&2; exit 1
}
# Starts the http_server variant `$1` (base: REV's build; off: ours; on: ours with --metrics)
# with ARGS.
start() {
    local variant=$1; shift
    local program=$ours
    [ "$variant" = base ] && program=$base
    launch "$variant" "$program" --directory "$work/site" "$@"
}
# Starts echo (off: without --metrics; on: with it) with ARGS.
start_echo() {
    local variant=$1; shift
    launch "$variant" "$echo_program" "$@"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
# The server's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# Prints "requests-per-second requests" of a 4 s wrk run on CPU 1 after a 1 s warm-up; ARGS
# go to wrk (a header, say).
http_rate() {
    taskset -c 1 wrk -t 1 -c 16 -d 1 "$@" "http://127.0.0.1:$PORT/small.bin" >/dev/null
    taskset -c 1 wrk -t 1 -c 16 -d 4 "$@" "http://127.0.0.1:$PORT/small.bin" | awk '/Requests\/sec/ {rps=$2} /requests in/ {n=$1} END {print rps, n}'
}
# Prints "messages-per-second messages" of a 4 s loadgen echo run on CPU 1 after a 1 s warm-up.
echo_rate() {
    taskset -c 1 "$loadgen" echo --target "127.0.0.1:$PORT" -c 16 -t 1 -d 4 -w 1 --json |
        python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["rps"], r["requests"])'
}
declare -A rates cpu
# Adds a run's rate and CPU per request (µs) to the lists under `$1`; the rest is wrk's ARGS
# (or `--echo`: a loadgen echo run).
measure() {
    local key=$1; shift
    local before after rate requests
    before=$(cpu_ticks)
    if [ "${1:-}" = --echo ]; then
        read -r rate requests < <(echo_rate)
    else
        read -r rate requests < <(http_rate "$@")
    fi
    after=$(cpu_ticks)
    echo "metrics_cost: $key: $rate req/s, $((after - before)) ticks for $requests requests" >&2
    rates["$key"]="${rates["$key"]:-} $rate"
    cpu["$key"]="${cpu["$key"]:-} $(python3 -c "import os; print(($after - $before) * 1e6 / os.sysconf('SC_CLK_TCK') / $requests)")"
}
for round in $(seq "$rounds"); do
    # Alternate the order each round, so a drift of the machine's speed favours neither.
    order=$variants
    [ $((round % 2)) = 0 ] && order=$(echo "$variants" | tr ' ' '\n' | tac | tr '\n' ' ')
    for variant in $order; do
        start "$variant" --mode event --workers 1
        measure "event-1 $variant"
        measure "event-1 close $variant" -H "Connection: close"
        stop
        start "$variant" --mode pool --workers 2
        measure "pool $variant"
        stop
        # echo has no base variant: its histogram is the example's own.
        [ "$variant" = base ] && continue
        start_echo "$variant" --mode event --workers 1
        measure "echo event-1 $variant" --echo
        stop
        start_echo "$variant" --mode pool --workers 2
        measure "echo pool $variant" --echo
        stop
    done
    echo "metrics_cost: round $round of $rounds done" >&2
done
echo "median (and mean) of $rounds alternating rounds: requests per second, and the server's"
echo "CPU time per request (µs); the ratio of the second to the first (off: without --metrics,"
echo "on: with it; base: REV's build)"
compare() {
    local key=$1 a=$2 b=$3
    python3 -c "
from statistics import mean, median
ra, rb = [float(x) for x in '${rates["$key $a"]}'.split()], [float(x) for x in '${rates["$key $b"]}'.split()]
ca, cb = [float(x) for x in '${cpu["$key $a"]}'.split()], [float(x) for x in '${cpu["$key $b"]}'.split()]
print(f'  {\"$key\":14} $a→$b {median(ra):7.0f} → {median(rb):7.0f} req/s {median(rb)/median(ra):6.3f}x (mean {mean(rb)/mean(ra):6.3f}x)'
      f'   {median(ca):6.2f} → {median(cb):6.2f} µs/req {median(cb)/median(ca):6.3f}x (mean {mean(cb)/mean(ca):6.3f}x)')"
}
for key in "event-1" "event-1 close" "pool"; do
    [ -n "$against" ] && compare "$key" base off
    compare "$key" off on
done
for key in "echo event-1" "echo pool"; do
    compare "$key" off on
done
# The cost itself, below these runs' noise: two clock reads and one observation per request.
cargo run -q --release -p socketserver-bench --bin histogram_cost
