#!/usr/bin/env bash
# HTTP small-file and large-file figures: our http_server against nginx and Python's
# http.server, run in one script so the ratios come from one machine state.
#
#   bash bench/http_bench.sh            (needs wrk, nginx and curl: apt-get install wrk nginx-light curl)
#
# Everything listens on 127.0.0.1, runs for a few seconds, and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in wrk nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "http_bench: $tool is missing" >&2; exit 1; }
done
cargo build -q --release --example http_server
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; for n in 1 2; do nginx -c "$work/nginx$n.conf" -s stop 2>/dev/null; done; rm -rf "$work"' EXIT
mkdir -p "$work/site"
head -c 1024 /dev/urandom > "$work/site/small.bin"
head -c 65536 /dev/urandom > "$work/site/medium.bin"
head -c 1G /dev/zero > "$work/site/big.bin"
chmod -R a+rX "$work" # nginx's workers run as www-data
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nginx_port=$(port); nginx2_port=$(port); ours_port=$(port); event_port=$(port); event1_port=$(port); python_port=$(port); coroutine_port=$(port); threading_port=$(port)
# nginx with one worker process (one thread, as `--mode event --workers 1`) and with two (as
# many as the machine's CPUs, as `--mode event` by default).
for n in 1 2; do
    p=$nginx_port; [ "$n" = 2 ] && p=$nginx2_port
cat > "$work/nginx$n.conf" <<CONF
worker_processes $n;
pid $work/nginx$n.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$p; root $work/site; }
}
CONF
nginx -c "$work/nginx$n.conf"
done
target/release/examples/http_server --addr "127.0.0.1:$ours_port" --directory "$work/site" --workers 4 >/dev/null 2>&1 &
target/release/examples/http_server --addr "127.0.0.1:$event_port" --directory "$work/site" --mode event >/dev/null 2>&1 &
target/release/examples/http_server --addr "127.0.0.1:$event1_port" --directory "$work/site" --mode event --workers 1 >/dev/null 2>&1 &
target/release/examples/http_server --addr "127.0.0.1:$coroutine_port" --directory "$work/site" --mode coroutine >/dev/null 2>&1 &
target/release/examples/http_server --addr "127.0.0.1:$threading_port" --directory "$work/site" --mode threading >/dev/null 2>&1 &
(cd "$work/site" && exec python3 -m http.server "$python_port" --bind 127.0.0.1 >/dev/null 2>&1) &
sleep 1
for p in "$nginx_port" "$nginx2_port" "$ours_port" "$event_port" "$event1_port" "$python_port" "$coroutine_port" "$threading_port"; do
    curl -sf -o /dev/null "http://127.0.0.1:$p/small.bin" || { echo "http_bench: port $p does not serve the file" >&2; exit 1; }
done
rps() { wrk -t 2 -c 16 -d 3 "http://127.0.0.1:$1/${2:-small.bin}" | awk '/Requests\/sec/ {print $2}'; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
nginx_rps=$(rps "$nginx_port"); nginx2_rps=$(rps "$nginx2_port")
ours_rps=$(rps "$ours_port"); event_rps=$(rps "$event_port"); event1_rps=$(rps "$event1_port")
python_rps=$(rps "$python_port")
coroutine_rps=$(rps "$coroutine_port"); threading_rps=$(rps "$threading_port")
echo "small file (1 KiB), keep-alive, wrk -t2 -c16 -d3:"
echo "  nginx, 1 worker                $nginx_rps req/s"
echo "  nginx, 2 workers               $nginx2_rps req/s"
echo "  http_server --mode event       $event_rps req/s  ($(ratio "$event_rps" "$nginx2_rps")x nginx with 2 workers, $(ratio "$event_rps" "$python_rps")x python)"
echo "  http_server --mode event -w 1  $event1_rps req/s  ($(ratio "$event1_rps" "$nginx_rps")x nginx with 1 worker)"
echo "  http_server (pool of 4)        $ours_rps req/s  ($(ratio "$ours_rps" "$nginx2_rps")x nginx with 2 workers, $(ratio "$ours_rps" "$python_rps")x python)"
echo "  http_server --mode coroutine   $coroutine_rps req/s  ($(ratio "$coroutine_rps" "$event_rps")x the event form)"
echo "  http_server --mode threading   $threading_rps req/s  ($(ratio "$threading_rps" "$ours_rps")x the pool)"
echo "  python -m http.server          $python_rps req/s"
nginx2_medium=$(rps "$nginx2_port" medium.bin); event_medium=$(rps "$event_port" medium.bin); ours_medium=$(rps "$ours_port" medium.bin)
echo "64 KiB file, keep-alive, wrk -t2 -c16 -d3:"
echo "  nginx, 2 workers               $nginx2_medium req/s"
echo "  http_server --mode event       $event_medium req/s  ($(ratio "$event_medium" "$nginx2_medium")x nginx with 2 workers)"
echo "  http_server (pool of 4)        $ours_medium req/s  ($(ratio "$ours_medium" "$nginx2_medium")x nginx with 2 workers)"
speed() { curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$1/big.bin" | awk '{printf "%.0f MB/s", $1/1e6}'; }
echo "1 GiB file, curl: nginx $(speed "$nginx_port"), http_server --mode event $(speed "$event_port"), pool $(speed "$ours_port")"
