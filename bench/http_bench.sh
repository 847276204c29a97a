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
trap 'kill $(jobs -p) 2>/dev/null; nginx -c "$work/nginx.conf" -s stop 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/site"
head -c 1024 /dev/urandom > "$work/site/small.bin"
head -c 1G /dev/zero > "$work/site/big.bin"
chmod -R a+rX "$work" # nginx's workers run as www-data
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nginx_port=$(port); ours_port=$(port); python_port=$(port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
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
nginx -c "$work/nginx.conf"
target/release/examples/http_server --addr "127.0.0.1:$ours_port" --directory "$work/site" --workers 4 >/dev/null 2>&1 &
(cd "$work/site" && exec python3 -m http.server "$python_port" --bind 127.0.0.1 >/dev/null 2>&1) &
sleep 1
for p in "$nginx_port" "$ours_port" "$python_port"; do
    curl -sf -o /dev/null "http://127.0.0.1:$p/small.bin" || { echo "http_bench: port $p does not serve the file" >&2; exit 1; }
done
rps() { wrk -t 2 -c 16 -d 3 "http://127.0.0.1:$1/small.bin" | awk '/Requests\/sec/ {print $2}'; }
nginx_rps=$(rps "$nginx_port"); ours_rps=$(rps "$ours_port"); python_rps=$(rps "$python_port")
echo "small file, keep-alive, wrk -t2 -c16 -d3:"
echo "  nginx        $nginx_rps req/s"
echo "  http_server  $ours_rps req/s  ($(python3 -c "print(f'{$ours_rps/$nginx_rps:.2f}')")x nginx, $(python3 -c "print(f'{$ours_rps/$python_rps:.0f}')")x python)"
echo "  python       $python_rps req/s"
speed() { curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$1/big.bin" | awk '{printf "%.0f MB/s", $1/1e6}'; }
echo "1 GiB file, curl: nginx $(speed "$nginx_port"), http_server $(speed "$ours_port")"
