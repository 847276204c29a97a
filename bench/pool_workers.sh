#!/usr/bin/env bash
# More workers must not make the pool slower: `echo --mode pool` (a parking echo) with 8 and
# with 32 workers, at 16, 128 and 1 024 connections × 64 B, in interleaved rounds, with the
# ratio 32 / 8 per connection count (median of the rounds' ratios).
#
#   bash bench/pool_workers.sh [ROUNDS]          (default 5 rounds of 3 s per server)
#
# On a machine with many cores, SERVER_CPUS and LOAD_CPUS (taskset lists, e.g. 0-7 and 8-15)
# pin the server and loadgen apart. Honours CARGO_TARGET_DIR. Everything listens on 127.0.0.1
# and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
cargo build -q --release -p socketserver --example echo
cargo build -q --release -p socketserver-loadgen
bin="${CARGO_TARGET_DIR:-target}/release"
server_pin=(); load_pin=()
[ -n "${SERVER_CPUS:-}" ] && server_pin=(taskset -c "$SERVER_CPUS")
[ -n "${LOAD_CPUS:-}" ] && load_pin=(taskset -c "$LOAD_CPUS")
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Starts `echo --mode pool --workers $1`, waits for its ready line, prints its port.
start() {
    "${server_pin[@]}" "$bin/examples/echo" --addr 127.0.0.1:0 --mode pool --workers "$1" \
        >"$work/out" 2>/dev/null &
    echo $! >"$work/pid"
    for _ in $(seq 100); do
        grep -q listening "$work/out" 2>/dev/null && break
        sleep 0.05
    done
    grep -o '[0-9]*$' "$work/out"
}

for round in $(seq "$rounds"); do
    for connections in 16 128 1024; do
        for workers in 8 32; do
            port=$(start "$workers")
            rps=$("${load_pin[@]}" "$bin/loadgen" echo --target "127.0.0.1:$port" \
                -c "$connections" -d 3 -w 1 --json |
                python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["rps"], d["errors"])')
            kill "$(cat "$work/pid")"; wait "$(cat "$work/pid")" 2>/dev/null || true
            echo "$round $connections $workers $rps" >>"$work/results"
        done
    done
    echo "pool_workers: round $round of $rounds done" >&2
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print("echo --mode pool, 64 B, req/s (median of the rounds) and 32 workers / 8 workers")
for c in ("16", "128", "1024"):
    by = {w: {r[0]: float(r[3]) for r in rows if r[1] == c and r[2] == w} for w in ("8", "32")}
    ratios = [by["32"][k] / by["8"][k] for k in by["8"] if k in by["32"]]
    errors = sum(int(r[4]) for r in rows if r[1] == c)
    print(f"  {c:>5} connections: 8 workers {statistics.median(by['8'].values()):>9,.0f}  "
          f"32 workers {statistics.median(by['32'].values()):>9,.0f}  "
          f"32/8 {statistics.median(ratios):.2f}x ({', '.join(f'{r:.2f}' for r in ratios)}), "
          f"{errors} errors")
PY
