#!/usr/bin/env bash
# HTTP small-file and large-file figures: our http_server against nginx and Python's
# http.server, run in one script so the ratios come from one machine state. Each wrk run gives
# the rate and the 99th-percentile latency; the latencies compared are taken at one fixed
# rate for every server (half nginx's), with `loadgen http --rate` (open loop: each latency
# from when its request was due, as wrk2 counts), since a closed loop (wrk) that serves one
# server at twice the rate of another does not compare like with like.
#
#   bash bench/http_bench.sh            (needs wrk, nginx and curl: apt-get install wrk nginx-light curl)
#
# The defaults fit a 2-core machine. On a larger one (issue 22's 16 cores: servers on 8, load
# on the other 8), with binaries built elsewhere:
#
#   WORKERS=8 POOL_WORKERS=8 SERVER_CPUS=0-7 LOAD_CPUS=8-15 WRK_ARGS="-t8 -c256 -d5" \
#       HTTP_SERVER=path/to/http_server LOADGEN=path/to/loadgen bash bench/http_bench.sh
#
#   WORKERS       nginx's worker processes, the event and coroutine forms' loops, --processes (2)
#   POOL_WORKERS  the pool's workers (4)
#   SERVER_CPUS   CPUs the servers run on (taskset -c; unset: anywhere)
#   LOAD_CPUS     CPUs wrk and curl run on (taskset -c; unset: anywhere)
#   WRK_ARGS      wrk's threads, connections and duration (-t2 -c16 -d3)
#   ROUNDS        interleaved 1 GiB downloads, and 1 KiB runs for the p99 comparison, per
#                 server; the medians are compared (5)
#   HTTP_SERVER   the http_server binary (unset: cargo build --release --example http_server)
#   LOADGEN       the loadgen binary (unset: cargo build --release -p socketserver-loadgen)
#
# Everything listens on 127.0.0.1, runs for a few seconds, and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-2}
POOL_WORKERS=${POOL_WORKERS:-4}
WRK_ARGS=${WRK_ARGS:--t2 -c16 -d3}
ROUNDS=${ROUNDS:-5}
for tool in wrk nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "http_bench: $tool is missing" >&2; exit 1; }
done
if [ -z "${HTTP_SERVER:-}" ]; then
    cargo build -q --release --example http_server
    HTTP_SERVER=target/release/examples/http_server
fi
if [ -z "${LOADGEN:-}" ]; then
    cargo build -q --release -p socketserver-loadgen
    LOADGEN=target/release/loadgen
fi
on_servers() { if [ -n "${SERVER_CPUS:-}" ]; then taskset -c "$SERVER_CPUS" "$@"; else "$@"; fi; }
on_load() { if [ -n "${LOAD_CPUS:-}" ]; then taskset -c "$LOAD_CPUS" "$@"; else "$@"; fi; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; for n in 1 N; do nginx -c "$work/nginx$n.conf" -s stop 2>/dev/null; done; rm -rf "$work"' EXIT
mkdir -p "$work/site"
head -c 1024 /dev/urandom > "$work/site/small.bin"
head -c 65536 /dev/urandom > "$work/site/medium.bin"
head -c 1G /dev/zero > "$work/site/big.bin"
chmod -R a+rX "$work" # nginx's workers run as www-data
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A at
for name in nginx1 nginxN pool event event1 processes coroutine threading python; do at[$name]=$(port); done
# nginx with one worker process (one thread, as `--mode event --workers 1`) and with WORKERS.
for n in 1 N; do
    count=1; [ "$n" = N ] && count=$WORKERS
cat > "$work/nginx$n.conf" <<CONF
worker_processes $count;
pid $work/nginx$n.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:${at[nginx$n]}; root $work/site; }
}
CONF
on_servers nginx -c "$work/nginx$n.conf"
done
serve() {
    local name=$1; shift
    on_servers "$HTTP_SERVER" --addr "127.0.0.1:${at[$name]}" --directory "$work/site" "$@" >/dev/null 2>&1 &
}
serve pool --workers "$POOL_WORKERS"
serve event --mode event --workers "$WORKERS"
serve event1 --mode event --workers 1
serve processes --mode event --workers 1 --processes "$WORKERS"
serve coroutine --mode coroutine --workers "$WORKERS"
serve threading --mode threading
(cd "$work/site" && exec python3 -m http.server "${at[python]}" --bind 127.0.0.1 >/dev/null 2>&1) &
for name in "${!at[@]}"; do
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:${at[$name]}/small.bin" && continue 2
        sleep 0.05
    done
    echo "http_bench: $name does not serve the file" >&2
    exit 1
done
# A file is kept in memory once it has not changed for a second: make sure they have not.
sleep 1
# Runs wrk against server $1 for file $2: "RATE P99" (P99 in milliseconds).
measure() {
    # shellcheck disable=SC2086
    on_load wrk $WRK_ARGS --latency "http://127.0.0.1:${at[$1]}/$2" | awk '
        /Requests\/sec/ {rate = $2}
        $1 == "99%" {v = $2; if (v ~ /us$/) ms = v / 1000; else if (v ~ /ms$/) ms = v + 0; else ms = v * 1000}
        END {printf "%.0f %.2f\n", rate, ms}'
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
row() { # label, "RATE P99", reference "RATE P99", reference's name
    local rate=${2% *} p99=${2#* }
    printf '  %-40s %8s req/s  p99 %6s ms' "$1" "$rate" "$p99"
    if [ -n "${3:-}" ]; then printf '  (%sx %s; p99 %sx)' "$(ratio "$rate" "${3% *}")" "$4" "$(ratio "$p99" "${3#* }")"; fi
    echo
}
declare -A small medium
for name in nginx1 nginxN event event1 processes pool coroutine threading python; do small[$name]=$(measure "$name" small.bin); done
for name in nginxN event processes pool; do medium[$name]=$(measure "$name" medium.bin); done
echo "small file (1 KiB), keep-alive, wrk $WRK_ARGS:"
row "nginx, 1 worker" "${small[nginx1]}"
row "nginx, $WORKERS worker(s)" "${small[nginxN]}"
row "http_server --mode event -w $WORKERS" "${small[event]}" "${small[nginxN]}" "nginx"
row "http_server --mode event -w 1" "${small[event1]}" "${small[nginx1]}" "nginx with 1 worker"
row "http_server event, $WORKERS processes" "${small[processes]}" "${small[nginxN]}" "nginx"
row "http_server (pool of $POOL_WORKERS)" "${small[pool]}" "${small[nginxN]}" "nginx"
row "http_server --mode coroutine -w $WORKERS" "${small[coroutine]}" "${small[event]}" "the event form"
row "http_server --mode threading" "${small[threading]}" "${small[pool]}" "the pool"
row "python -m http.server" "${small[python]}"
echo "  (the event form is $(ratio "${small[event]% *}" "${small[python]% *}")x python)"
echo "64 KiB file, keep-alive, wrk $WRK_ARGS:"
row "nginx, $WORKERS worker(s)" "${medium[nginxN]}"
row "http_server --mode event -w $WORKERS" "${medium[event]}" "${medium[nginxN]}" "nginx"
row "http_server event, $WORKERS processes" "${medium[processes]}" "${medium[nginxN]}" "nginx"
row "http_server (pool of $POOL_WORKERS)" "${medium[pool]}" "${medium[nginxN]}" "nginx"
# Latency at one rate for all, half what nginx served above, with as many connections as wrk
# used; the 99th percentile moves from run to run more than the rate: interleaved runs,
# medians.
rate=$(( ${small[nginxN]% *} / 2 ))
connections=$(echo "$WRK_ARGS" | sed -n 's/.*-c *\([0-9]*\).*/\1/p')
at_rate() {
    on_load "$LOADGEN" http --target "127.0.0.1:${at[$1]}" --path /small.bin -c "${connections:-16}" \
        -d 3 -w 0.5 --rate "$rate" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["p99_us"] / 1000)'
}
for _ in $(seq "$ROUNDS"); do echo "$(at_rate nginxN) $(at_rate event) $(at_rate pool)"; done | RATE=$rate python3 -c '
import os, statistics, sys
rate = os.environ["RATE"]
rounds = [[float(x) for x in line.split()] for line in sys.stdin]
nginx, event, pool = (statistics.median(column) for column in zip(*rounds))
print(f"p99 of 1 KiB requests at {rate} req/s for each (loadgen http --rate), medians of {len(rounds)} "
      f"interleaved runs: nginx {nginx:.2f} ms, http_server --mode event {event:.2f} ms ({event / nginx:.2f}x), "
      f"pool {pool:.2f} ms ({pool / nginx:.2f}x)")'
# 1 GiB downloads, interleaved, one at a time: the medians.
speed() { on_load curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:${at[$1]}/big.bin"; }
for _ in $(seq "$ROUNDS"); do echo "$(speed nginxN) $(speed event) $(speed pool)"; done | python3 -c '
import statistics, sys
rounds = [[float(x) / 1e6 for x in line.split()] for line in sys.stdin]
nginx, event, pool = (statistics.median(column) for column in zip(*rounds))
print(f"1 GiB file, curl, medians of {len(rounds)} interleaved downloads: nginx {nginx:.0f} MB/s, "
      f"http_server --mode event {event:.0f} ({event / nginx:.2f}x), pool {pool:.0f} ({pool / nginx:.2f}x)")'
