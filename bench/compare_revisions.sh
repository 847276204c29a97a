#!/usr/bin/env bash
# What a change costs: the echo and http_server examples built from an older revision and from
# the working tree, run one after the other in interleaved rounds on this machine, with the
# ratio new/old per mode, of the request rate and of the server's CPU time per request (the
# steadier figure on a shared machine). For claims such as "the defence costs under 5 %".
#
#   bash bench/compare_revisions.sh REV [ROUNDS]     (default 3 rounds; needs wrk)
#   bash bench/compare_revisions.sh no-overflow-checks [ROUNDS]
#                                  the working tree built without overflow-checks against it
#
# echo: loadgen's closed-loop echo, 64-byte messages, at 16 and 128 connections, in threading,
# pool and event mode. http_server: wrk -t2 -c16 on a 1 KiB file, in pool, event and threading
# mode. Every server listens on 127.0.0.1 and is stopped at the end; REV is checked out in a
# temporary worktree and built there (its own target directory, kept in target/compare/).
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:?usage: compare_revisions.sh REV [ROUNDS]}"
rounds="${2:-3}"
command -v wrk >/dev/null || { echo "compare_revisions: wrk is missing (apt-get install wrk)" >&2; exit 1; }
root=$(pwd)
old_src=$(mktemp -d)
work=$(mktemp -d)
# Each step on its own: one that fails (no job left to kill) must not skip the others.
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    git -C "$root" worktree remove --force "$old_src" 2>/dev/null || rm -rf "$old_src"
    git -C "$root" worktree prune || true
    rm -rf "$work"
}
trap cleanup EXIT
echo "compare_revisions: building $rev and the working tree (release)" >&2
if [ "$rev" = no-overflow-checks ]; then
    CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=false CARGO_TARGET_DIR="$root/target/compare" \
        cargo build -q --release --example echo --example http_server -p socketserver
else
    git worktree add -f --detach "$old_src" "$rev" >/dev/null 2>&1
    (cd "$old_src" && CARGO_TARGET_DIR="$root/target/compare" cargo build -q --release --example echo --example http_server)
fi
cargo build -q --release --example echo --example http_server -p socketserver
cargo build -q --release -p socketserver-loadgen
old="$root/target/compare/release/examples"
new="$root/target/release/examples"
loadgen="$root/target/release/loadgen"
mkdir -p "$work/site"
head -c 1024 /dev/urandom > "$work/site/small.bin"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts `$1 ARGS...` on a free port (in this shell, so it can be stopped): sets PORT and PID
# once it answers.
start() {
    PORT=$(port)
    "$@" --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT)).close()" 2>/dev/null && return
        sleep 0.05
    done
    echo "compare_revisions: $* did not start" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
# The server's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# Each prints "requests-per-second requests" for a 3 s run after a 1 s warm-up.
echo_rate() { "$loadgen" echo --target "127.0.0.1:$1" -c "$2" -s 64 -d 3 -w 1 --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["rps"], r["requests"])'; }
http_rate() {
    wrk -t 2 -c 16 -d 1 "http://127.0.0.1:$1/small.bin" >/dev/null
    wrk -t 2 -c 16 -d 3 "http://127.0.0.1:$1/small.bin" | awk '/Requests\/sec/ {rps=$2} /requests in/ {n=$1} END {print rps, n}'
}
# Runs `$@` (one of the rates) against the started server; adds its rate and its CPU per
# request (µs) to the sums under `key`.
measure() {
    local key=$1; shift
    local before after rate requests
    before=$(cpu_ticks)
    read -r rate requests < <("$@")
    after=$(cpu_ticks)
    sum["$key"]=$(python3 -c "print(${sum["$key"]:-0} + $rate)")
    cpu["$key"]=$(python3 -c "import os; print(${cpu["$key"]:-0} + ($after - $before) * 1e6 / os.sysconf('SC_CLK_TCK') / $requests)")
}
declare -A sum cpu
for round in $(seq "$rounds"); do
    for build in old new; do
        dir=$old; [ "$build" = new ] && dir=$new
        for mode in threading pool event; do
            start "$dir/echo" --mode "$mode"
            for c in 16 128; do
                measure "echo $mode c$c $build" echo_rate "$PORT" "$c"
            done
            stop
        done
        for mode in pool event threading; do
            start "$dir/http_server" --directory "$work/site" --mode "$mode"
            measure "http $mode $build" http_rate "$PORT"
            stop
        done
    done
    echo "compare_revisions: round $round of $rounds done" >&2
done
echo "mean of $rounds interleaved rounds ($rev → working tree): requests per second, and the"
echo "server's CPU time per request (µs)"
for key in "echo threading c16" "echo threading c128" "echo pool c16" "echo pool c128" "echo event c16" "echo event c128" "http pool" "http event" "http threading"; do
    o=${sum["$key old"]}; n=${sum["$key new"]}; oc=${cpu["$key old"]}; nc=${cpu["$key new"]}
    python3 -c "o=$o/$rounds; n=$n/$rounds; oc=$oc/$rounds; nc=$nc/$rounds; print(f'  {\"$key\":22} {o:9.0f} → {n:9.0f} req/s {n/o:6.3f}x   {oc:6.2f} → {nc:6.2f} µs {nc/oc:6.3f}x')"
done
