#!/usr/bin/env bash
# TLS figures: handshakes per server CPU-second (full and resumed) against nginx with the same
# ECDSA P-256 certificate and suites, keep-alive HTTPS next to our plaintext and nginx's TLS,
# the memory of idle TLS connections, and handshake latency with silent clients attached. One
# script, so the ratios come from one machine state.
#
#   bash bench/tls_bench.sh            (needs openssl, wrk, nginx, curl, python3, taskset)
#
# The servers compared (nginx with one worker, http_server with one event loop) run on core 0
# and the load on core 1, so the clients' own TLS work does not take the servers' CPU.
# Everything listens on 127.0.0.1, runs for a few seconds, and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in openssl wrk nginx curl python3 taskset; do
    command -v "$tool" >/dev/null || { echo "tls_bench: $tool is missing" >&2; exit 1; }
done
cargo build -q --release --example http_server --example echo
cargo build -q --release -p socketserver-bench --bin tls_handshakes
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; nginx -c "$work/nginx.conf" -s stop 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/site"
head -c 1024 /dev/urandom > "$work/site/small.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod -R a+rX "$work" # nginx's workers run as www-data
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nginx_tls=$(port); nginx_plain=$(port); ours_tls=$(port); ours_plain=$(port); pool_tls=$(port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    # The suite order http_server prefers (AES-128-GCM first), so both do the same work.
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305;
    server {
        listen 127.0.0.1:$nginx_tls ssl;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        root $work/site;
    }
    server { listen 127.0.0.1:$nginx_plain; root $work/site; }
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf"
tls=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
taskset -c 0 target/release/examples/http_server --addr "127.0.0.1:$ours_tls" --directory "$work/site" --mode event --workers 1 "${tls[@]}" >/dev/null 2>&1 &
ours_tls_pid=$!
taskset -c 0 target/release/examples/http_server --addr "127.0.0.1:$ours_plain" --directory "$work/site" --mode event --workers 1 >/dev/null 2>&1 &
ours_plain_pid=$!
target/release/examples/http_server --addr "127.0.0.1:$pool_tls" --directory "$work/site" --workers 4 "${tls[@]}" >/dev/null 2>&1 &
sleep 1
for p in "$nginx_tls" "$ours_tls" "$pool_tls"; do
    curl -sf --cacert "$work/cert.pem" --resolve "localhost:$p:127.0.0.1" -o /dev/null "https://localhost:$p/small.bin" \
        || { echo "tls_bench: port $p does not serve the file over TLS" >&2; exit 1; }
done
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
# CPU seconds (user + system) of the processes given, from /proc.
cpu() { python3 - "$@" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
total = 0
for pid in sys.argv[1:]:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    total += int(fields[11]) + int(fields[12])
print(total / tick)
PY
}
nginx_worker=$(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')
# Handshakes per server CPU-second: TLS 1.3 connections (each a handshake and one request for
# the 1 KiB file) for 4 s from the tls_handshakes client on core 1, full or resumed with the
# ticket of the connection before (openssl s_time -reuse cannot resume in TLS 1.3), and the
# server's CPU time around them.
handshakes() { # port, mode, pids...
    local p=$1 mode=$2; shift 2
    local before after count
    before=$(cpu "$@")
    count=$(taskset -c 1 target/release/tls_handshakes "127.0.0.1:$p" 4 "$mode" | awk '{print $1}')
    after=$(cpu "$@")
    python3 -c "print(f'{$count/max($after-$before, 1e-9):.0f}')"
}
nginx_full=$(handshakes "$nginx_tls" full $nginx_worker)
ours_full=$(handshakes "$ours_tls" full "$ours_tls_pid")
nginx_resumed=$(handshakes "$nginx_tls" resumed $nginx_worker)
ours_resumed=$(handshakes "$ours_tls" resumed "$ours_tls_pid")
echo "TLS 1.3 connections per server CPU-second (ECDSA P-256; each a handshake and a 1 KiB response; server on core 0, client on core 1):"
echo "  nginx, 1 worker                full $nginx_full, resumed $nginx_resumed"
echo "  http_server --mode event -w 1  full $ours_full ($(ratio "$ours_full" "$nginx_full")x nginx), resumed $ours_resumed ($(ratio "$ours_resumed" "$nginx_resumed")x nginx)"
# Keep-alive requests per second, and the server's CPU microseconds per request.
rps() { # url, pids...
    local url=$1 before after rate; shift
    before=$(cpu "$@")
    rate=$(taskset -c 1 wrk -t 1 -c 16 -d 3 "$url" | awk '/Requests\/sec/ {print $2}')
    after=$(cpu "$@")
    python3 -c "print(f'{$rate:.0f} {($after-$before)*1e6/($rate*3):.1f}')"
}
read -r nginx_rps nginx_us < <(rps "https://127.0.0.1:$nginx_tls/small.bin" $nginx_worker)
read -r nginx_plain_rps nginx_plain_us < <(rps "http://127.0.0.1:$nginx_plain/small.bin" $nginx_worker)
read -r tls_rps tls_us < <(rps "https://127.0.0.1:$ours_tls/small.bin" "$ours_tls_pid")
read -r plain_rps plain_us < <(rps "http://127.0.0.1:$ours_plain/small.bin" "$ours_plain_pid")
pool_rps=$(taskset -c 1 wrk -t 1 -c 16 -d 3 "https://127.0.0.1:$pool_tls/small.bin" | awk '/Requests\/sec/ {printf "%.0f", $2}')
echo "keep-alive, 1 KiB file, wrk -t1 -c16 -d3 on core 1 (req/s; server CPU µs per request):"
echo "  nginx, 1 worker: TLS           $nginx_rps; $nginx_us µs  ($(ratio "$nginx_rps" "$nginx_plain_rps")x its plaintext rate)"
echo "  nginx, 1 worker: plaintext     $nginx_plain_rps; $nginx_plain_us µs"
echo "  http_server --mode event -w 1: TLS $tls_rps; $tls_us µs  ($(ratio "$tls_rps" "$plain_rps")x our plaintext rate, $(ratio "$tls_rps" "$nginx_rps")x nginx TLS)"
echo "  http_server --mode event -w 1: plaintext $plain_rps; $plain_us µs"
echo "  http_server (pool of 4, not pinned): TLS $pool_rps"
# Memory: 2000 idle connections after the handshake, TLS against plaintext, per strategy.
idle_memory() { # mode
    local mode=$1 tls_port plain_port tls_pid plain_pid
    tls_port=$(port); plain_port=$(port)
    target/release/examples/echo --addr "127.0.0.1:$tls_port" --mode "$mode" "${tls[@]}" >/dev/null 2>&1 & tls_pid=$!
    target/release/examples/echo --addr "127.0.0.1:$plain_port" --mode "$mode" >/dev/null 2>&1 & plain_pid=$!
    sleep 0.5
    python3 - "$work/cert.pem" "$tls_port" "$tls_pid" "$plain_port" "$plain_pid" <<'PY'
import socket, ssl, sys, time
ca, tls_port, tls_pid, plain_port, plain_pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
def held(port, pid, wrap):
    before = rss(pid)
    conns = []
    for _ in range(2000):
        s = socket.create_connection(("127.0.0.1", port))
        if wrap:
            s = wrap(s)
        s.sendall(b"x")
        s.recv(1)
        conns.append(s)
    time.sleep(1.5)  # an idle coroutine gives its stack pages back after a second
    after = rss(pid)
    for s in conns:
        s.close()
    return (after - before) / 2000
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
tls = held(tls_port, tls_pid, lambda s: ctx.wrap_socket(s, server_hostname="localhost"))
plain = held(plain_port, plain_pid, None)
print(f"{tls:.1f} {plain:.1f}")
PY
    kill "$tls_pid" "$plain_pid"
}
echo "RSS per idle connection after one echoed byte, 2000 connections (KiB):"
for mode in event coroutine; do
    read -r tls_kib plain_kib < <(idle_memory "$mode")
    echo "  echo --mode $mode: TLS $tls_kib, plaintext $plain_kib, TLS costs $(python3 -c "print(f'{$tls_kib-$plain_kib:.1f}')") more"
done
# Handshake latency with 500 silent TCP clients attached, against none, per strategy.
latency() { # mode
    local mode=$1 p pid
    p=$(port)
    target/release/examples/echo --addr "127.0.0.1:$p" --mode "$mode" "${tls[@]}" >/dev/null 2>&1 & pid=$!
    sleep 0.5
    python3 - "$work/cert.pem" "$p" <<'PY'
import socket, ssl, sys, time
ca, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
def p99():
    times = []
    for _ in range(1000):
        start = time.perf_counter()
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
        times.append(time.perf_counter() - start)
        s.close()
    times.sort()
    return times[int(len(times) * 0.99) - 1] * 1000
idle = p99()
silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
time.sleep(0.5)  # every silent one accepted and waiting
loaded = p99()
print(f"{idle:.2f} {loaded:.2f}")
PY
    kill "$pid"
}
echo "TLS handshake p99 (ms, 1000 handshakes, Python's ssl): idle, and with 500 silent TCP clients attached:"
for mode in pool threading event coroutine; do
    read -r idle loaded < <(latency "$mode")
    echo "  echo --mode $mode: $idle idle, $loaded with 500 silent ($(ratio "$loaded" "$idle")x)"
done
