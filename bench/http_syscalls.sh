#!/usr/bin/env bash
# System calls per small-file request: nginx (one process: master_process off) against
# `http_server --mode event --workers 1` (one loop thread), each under `strace -c -f` for the
# same fixed wrk run (1 KiB file, keep-alive, wrk -t1 -c4 -d2). Prints each server's calls per
# request (every call the process made, start-up included, over the requests wrk counted) and
# its busiest calls. nginx runs first, so the file is more than a second old when ours serves
# it: kept in memory by the loop (SimpleHttpRequestHandler::with_small_file_cache), each request
# a `recv`, a `stat` of the path and a `send`.
#
#   bash bench/http_syscalls.sh          (needs strace, wrk, nginx: apt-get install strace wrk nginx-light)
#
# Everything listens on 127.0.0.1 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in strace wrk nginx; do
    command -v "$tool" >/dev/null || { echo "http_syscalls: $tool is missing (apt-get install strace wrk nginx-light)" >&2; exit 1; }
done
cargo build -q --release --example http_server
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/site/a/b"
head -c 1024 /dev/urandom > "$work/site/a/b/small.bin"
chmod -R a+rX "$work"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nginx_port=$(port); ours_port=$(port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$nginx_port; root $work/site; }
}
CONF
# Runs `$2...` under strace into $work/$1.txt, loads it on port $PORT, stops it; prints the
# requests wrk made.
measure() {
    local name=$1 port=$2; shift 2
    strace -c -f -o "$work/$name.txt" "$@" >/dev/null 2>&1 &
    local tracer=$!
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/a/b/small.bin" && break
        sleep 0.05
    done
    local requests
    requests=$(wrk -t 1 -c 4 -d 2 "http://127.0.0.1:$port/a/b/small.bin" | awk '/requests in/ {print $1}')
    kill -TERM "$(cat "/proc/$tracer/task/$tracer/children" | awk '{print $1}')"
    wait "$tracer" || true
    echo "$requests"
}
nginx_requests=$(measure nginx "$nginx_port" nginx -c "$work/nginx.conf")
ours_requests=$(measure ours "$ours_port" target/release/examples/http_server --addr "127.0.0.1:$ours_port" --directory "$work/site" --mode event --workers 1)
for name in nginx ours; do
    requests=${name}_requests
    total=$(awk '/total/ {print $4}' "$work/$name.txt")
    echo "$name: ${!requests} requests, $total system calls, $(python3 -c "print(f'{$total/${!requests}:.2f}')") per request; the busiest:"
    sed -n '3,9p' "$work/$name.txt" | awk '{printf "    %-12s %s\n", $NF, $4}'
done
