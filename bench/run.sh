#!/usr/bin/env bash
# Server-core benchmark: ThreadingTcpServer (examples/echo) vs a plain std::net echo server,
# and shutdown() latency, ours vs Python's socketserver.
#
# Run:   bench/run.sh            3 interleaved rounds, 3 s measured after 1 s warm-up (~1 min)
#        bench/run.sh --quick    1 round, 1 s measured
#
# Prints a markdown table and writes it to target/bench/core.md. Honours CARGO_TARGET_DIR for
# the binaries. All traffic stays on 127.0.0.1; every server is stopped by PID on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ROUNDS=3
DURATION=3
WARMUP=1
CONNECTIONS=16
SIZE=64
MODE=full
for arg in "$@"; do
    case "$arg" in
        --quick) ROUNDS=1 DURATION=1 WARMUP=0.5 MODE=quick ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $arg (try --quick)" >&2; exit 2 ;;
    esac
done

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release"
OUT_DIR="$ROOT/target/bench"
mkdir -p "$OUT_DIR"
TMP="$(mktemp -d)"

# 16 connections need few descriptors; raise the soft limit anyway for larger runs.
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]]; then hard=65536; fi
if (( hard > 65536 )); then hard=65536; fi
ulimit -n "$hard" 2>/dev/null || true

SERVER_PIDS=()
cleanup() {
    for pid in "${SERVER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

log() { echo "run.sh: $*" >&2; }

log "building (release)"
cargo build --release --examples -p socketserver >&2
cargo build --release -p socketserver-loadgen -p socketserver-bench >&2

# start_server NAME CMD... : starts a server, waits for its `listening on ADDR` line.
# Sets SERVER_PID and SERVER_ADDR.
start_server() {
    local name="$1"; shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    SERVER_ADDR=""
    for _ in $(seq 1 100); do
        SERVER_ADDR="$(sed -n 's/^listening on //p' "$TMP/$name.out" | head -n1)"
        [[ -n "$SERVER_ADDR" ]] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "$name did not start: $(cat "$TMP/$name.err")"
    exit 1
}

# stop_server NAME PID : SIGTERM, wait at most 5 s (then SIGKILL), require exit status 0.
stop_server() {
    local name="$1" pid="$2" status=0
    kill -TERM "$pid"
    ( sleep 5; kill -KILL "$pid" 2>/dev/null ) &
    local watchdog=$!
    wait "$pid" || status=$?
    kill "$watchdog" 2>/dev/null || true
    wait "$watchdog" 2>/dev/null || true
    # Forget it, so the EXIT trap never signals a PID that may have been reused.
    local kept=() p
    for p in "${SERVER_PIDS[@]}"; do [[ "$p" == "$pid" ]] || kept+=("$p"); done
    SERVER_PIDS=("${kept[@]}")
    if (( status != 0 )); then
        log "$name exited with status $status after SIGTERM"
        exit 1
    fi
}

# json_field JSON FIELD
json_field() {
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# measure NAME CMD... : one server, one loadgen run; sets LINE to the JSON line.
# (Not called in a subshell, so the EXIT trap still sees the server's PID.)
measure() {
    local name="$1"; shift
    start_server "$name" "$@"
    local pid="$SERVER_PID"
    LINE="$("$BIN/loadgen" echo --target "$SERVER_ADDR" --connections "$CONNECTIONS" \
        --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" --json)"
    stop_server "$name" "$pid"
    if [[ "$(json_field "$LINE" errors)" != 0 ]]; then
        log "$name: errors during the run: $LINE"
    fi
}

OURS=(); STD=(); OURS_P99=(); STD_P99=()
for round in $(seq 1 "$ROUNDS"); do
    # Alternate the order so neither server always runs on a warmer (or hotter) machine.
    if (( round % 2 == 1 )); then order=(ours std); else order=(std ours); fi
    for which in "${order[@]}"; do
        if [[ "$which" == ours ]]; then
            measure ours "$BIN/examples/echo" --addr 127.0.0.1:0 --mode threading
            OURS+=("$(json_field "$LINE" rps)"); OURS_P99+=("$(json_field "$LINE" p99_us)")
        else
            measure std "$BIN/std_echo" --addr 127.0.0.1:0
            STD+=("$(json_field "$LINE" rps)"); STD_P99+=("$(json_field "$LINE" p99_us)")
        fi
        log "round $round $which: $LINE"
    done
done

log "shutdown latency (ours)"
OURS_SHUTDOWN="$("$BIN/shutdown_latency" --json)"
log "shutdown latency (Python)"
PY_SHUTDOWN="$(python3 bench/python_servers.py --shutdown-latency --json)"

CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
python3 - "$MODE" "$ROUNDS" "$DURATION" "$WARMUP" "$CONNECTIONS" "$SIZE" \
    "$(nproc)" "${CPU:-unknown}" "$(uname -sr)" "$OURS_SHUTDOWN" "$PY_SHUTDOWN" \
    "${OURS[*]}" "${STD[*]}" "${OURS_P99[*]}" "${STD_P99[*]}" >"$OUT_DIR/core.md" <<'EOF'
import json, statistics, sys
(mode, rounds, duration, warmup, conns, size, nproc, cpu, kernel,
 ours_sd, py_sd, ours, std, ours_p99, std_p99) = sys.argv[1:]
ours, std = [float(x) for x in ours.split()], [float(x) for x in std.split()]
ours_p99, std_p99 = [float(x) for x in ours_p99.split()], [float(x) for x in std_p99.split()]
ratios = [o / s for o, s in zip(ours, std)]
med = statistics.median
def spread(xs):
    return f"{min(xs):.3f}–{max(xs):.3f}" if len(xs) > 1 else "n/a (1 round)"
print(f"### Server core ({mode}: {rounds} round(s), {duration} s measured after {warmup} s warm-up)")
print()
print(f"Machine: {nproc} cores, {cpu}, {kernel}. Command: `bench/run.sh{' --quick' if mode == 'quick' else ''}`.")
print(f"Load: `loadgen echo --connections {conns} --size {size} --duration {duration} --warmup {warmup}`, "
      "servers started fresh for each run, order alternated per round.")
print()
print("| round | ours (req/s) | std_echo (req/s) | ours / std | ours p99 (µs) | std p99 (µs) |")
print("|---|---:|---:|---:|---:|---:|")
for i, (o, s, r, op, sp) in enumerate(zip(ours, std, ratios, ours_p99, std_p99), 1):
    print(f"| {i} | {o:,.0f} | {s:,.0f} | {r:.3f} | {op:.1f} | {sp:.1f} |")
print(f"| **median** | **{med(ours):,.0f}** | **{med(std):,.0f}** | **{med(ratios):.3f}** "
      f"| {med(ours_p99):.1f} | {med(std_p99):.1f} |")
print(f"| spread (min–max) | {min(ours):,.0f}–{max(ours):,.0f} | {min(std):,.0f}–{max(std):,.0f} "
      f"| {spread(ratios)} | | |")
print()
o, p = json.loads(ours_sd), json.loads(py_sd)
print(f"| shutdown() latency, {o['tries']} tries | median (µs) | max (µs) |")
print("|---|---:|---:|")
print(f"| socketserver (Rust) ThreadingTcpServer | {o['median_us']:,.1f} | {o['max_us']:,.1f} |")
print(f"| {p['impl']} socketserver.ThreadingTCPServer | {p['median_us']:,.1f} | {p['max_us']:,.1f} |")
EOF
cat "$OUT_DIR/core.md"
log "written to $OUT_DIR/core.md"
