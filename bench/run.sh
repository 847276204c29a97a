#!/usr/bin/env bash
# The benchmark suite, in one command: every echo server (ours in each strategy including
# event, a plain std::net baseline, tokio, a single-threaded C epoll server, Python's
# socketserver) under every scenario (echo at 1, 16 and 128 connections, 16 KiB messages,
# connect rate, Unix sockets, UDP, 2 000 and 10 000 idle connections), with the servers' CPU
# per request, shutdown latency, a generator check and 10 000 forked requests.
#
# Run:   bench/run.sh             3 interleaved rounds (about 11 minutes plus the build)
#        bench/run.sh --quick     1 short round: a smoke run (about 2 minutes once built)
#        bench/run.sh --publish   also write docs/benchmarks.png and the tables in
#                                 docs/benchmarks.md (between the bench:results markers)
#        --event-workers N        pass --workers N to `echo --mode event` and `--mode
#                                 coroutine` (default: not passed, one loop thread per CPU)
#
# Writes target/bench/{report.md,results.json,chart.tsv,benchmarks.png}. Honours
# CARGO_TARGET_DIR for the binaries, and CC for the C server (default gcc). All traffic stays
# on 127.0.0.1 and Unix sockets; every server is stopped by its PID. The work is done by
# bench/suite.py (see its docstring).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ARGS=()
COMMAND="bench/run.sh"
while (( $# )); do
    case "$1" in
        --quick|--publish) ARGS+=("$1"); COMMAND+=" $1" ;;
        --event-workers)
            if [[ $# -lt 2 || ! "$2" =~ ^[1-9][0-9]*$ ]]; then
                echo "run.sh: --event-workers needs a positive number" >&2; exit 2
            fi
            ARGS+=("$1" "$2"); COMMAND+=" $1 $2"; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (try --quick, --publish or --event-workers N)" >&2
           exit 2 ;;
    esac
    shift
done

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# 10 000 idle connections need ~10 000 descriptors in the server and as many in the generator
# (~20 500 in all): the limit is per process, so each needs 10 200.
NEED_FDS=10200
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]] || (( hard > 65536 )); then hard=65536; fi
ulimit -n "$hard"
if (( $(ulimit -n) < NEED_FDS )); then
    echo "run.sh: the descriptor limit is $(ulimit -n) (hard $(ulimit -Hn)); the idle scenarios need $NEED_FDS per process" >&2
    exit 1
fi

echo "run.sh: building (release)" >&2
cargo build --release -p socketserver --example echo >&2
cargo build --release -p socketserver-loadgen -p socketserver-bench >&2
# The physical-limit reference: one thread, level-triggered epoll. Without a C compiler its
# rows are reported as failed and the rest of the suite runs.
CC="${CC:-gcc}"
if command -v "$CC" >/dev/null; then
    "$CC" -O2 -Wall -o "$TARGET_DIR/release/c_epoll_echo" "$ROOT/bench/c/epoll_echo.c" >&2
else
    echo "run.sh: no C compiler ($CC): the c epoll server will be reported as failed" >&2
    rm -f "$TARGET_DIR/release/c_epoll_echo"
fi

exec python3 "$ROOT/bench/suite.py" --bin-dir "$TARGET_DIR/release" --command "$COMMAND" \
    ${ARGS[@]+"${ARGS[@]}"}
