#!/usr/bin/env bash
# Availability under Debian's slowhttptest, for every mode of http_server next to nginx and
# Python's http.server, run the same way on the same machine: slow headers (-H, slowloris),
# slow bodies (-B), slow reads (-X) and overlapping ranges (-R), 500 connections, up to 20 s
# each. For each, the share of seconds in which slowhttptest's probe was answered (within 3 s).
#
#   bash bench/slowhttptest.sh [SERVER...]     (needs slowhttptest, nginx, curl, python3)
#
# SERVER: pool event threading sequential forking nginx python (default: all). The tests run
# the pool and event attacks in CI (tests/http_server_under_attack.rs); this runs them all.
# HTTP_SERVER=PATH runs another build of the example (an older revision's, say) instead of
# this tree's. Everything listens on 127.0.0.1 and is stopped at the end; about 90 s per
# server.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in slowhttptest nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "slowhttptest.sh: $tool is missing" >&2; exit 1; }
done
servers=("$@")
[ ${#servers[@]} -eq 0 ] && servers=(pool event threading sequential forking nginx python)
if [ -z "${HTTP_SERVER:-}" ]; then
    cargo build -q --release --example http_server
    HTTP_SERVER=target/release/examples/http_server
fi
work=$(mktemp -d)
# Each step on its own: one that fails (no job left, no nginx running) must not skip the others.
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/site"
python3 -c "print('<p>still here</p>' * 2000)" > "$work/site/page.html"
head -c 8M /dev/urandom > "$work/site/large.bin"
chmod -R a+rX "$work" # nginx's workers run as www-data
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts a server (in this shell, so it can be stopped); sets PORT once it answers.
start() {
    local p; p=$(port)
    PORT=$p
    case "$1" in
        nginx)
            cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    server { listen 127.0.0.1:$p; root $work/site; }
}
CONF
            nginx -c "$work/nginx.conf" ;;
        python) (cd "$work/site" && exec python3 -m http.server "$p" --bind 127.0.0.1 >/dev/null 2>&1) & ;;
        *) "$HTTP_SERVER" --addr "127.0.0.1:$p" --directory "$work/site" --mode "$1" >/dev/null 2>&1 & ;;
    esac
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$p/page.html" && return
        sleep 0.05
    done
    echo "slowhttptest.sh: $1 did not start" >&2; exit 1
}
stop() {
    case "$1" in
        nginx) nginx -c "$work/nginx.conf" -s stop; sleep 0.5 ;;
        *) kill $(jobs -p) 2>/dev/null; wait 2>/dev/null || true ;;
    esac
}
printf '%-12s %-28s %-28s %-28s %-28s\n' server "-H (slow headers)" "-B (slow bodies)" "-X (slow reads)" "-R (ranges)"
for server in "${servers[@]}"; do
    line=$(printf '%-12s' "$server")
    for attack in H B X R; do
        start "$server"
        p=$PORT
        case $attack in
            H) flags=(-H); target=page.html ;;
            B) flags=(-B -s 8192); target=page.html ;;
            X) flags=(-X -k 2 -w 10 -y 20 -n 5 -z 32); target=large.bin ;;
            R) flags=(-R); target=large.bin ;;
        esac
        (cd "$work" && timeout 90 slowhttptest "${flags[@]}" -c 500 -l 20 -i 10 -r 200 -p 3 \
            -u "http://127.0.0.1:$p/$target" -g -o "$work/report" >/dev/null 2>&1) || true
        cell=$(awk -F, 'NR>1 && NF==5 {n++; if ($5 > 0) a++} END {if (n) printf "%d/%d s (%.0f %%)", a, n, 100*a/n; else print "no report"}' "$work/report.csv" 2>/dev/null || echo "no report")
        line+=$(printf ' %-28s' "$cell")
        rm -f "$work/report.csv" "$work/report.html"
        stop "$server"
    done
    echo "$line"
done
