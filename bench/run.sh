#!/usr/bin/env bash
# The benchmark suite, in one command: every echo server (ours in each strategy, a plain
# std::net baseline, tokio, Python's socketserver) under every scenario (echo at 1, 16 and 128
# connections, 16 KiB messages, connect rate, Unix sockets, UDP, 2 000 idle connections),
# shutdown latency, a generator check and 10 000 forked requests.
#
# Run:   bench/run.sh             3 interleaved rounds (about 8 minutes plus the build)
#        bench/run.sh --quick     1 short round: a smoke run (under 2 minutes once built)
#        bench/run.sh --publish   also write docs/benchmarks.png and the tables in
#                                 docs/benchmarks.md (between the bench:results markers)
#
# Writes target/bench/{report.md,results.json,chart.tsv,benchmarks.png}. Honours
# CARGO_TARGET_DIR for the binaries. All traffic stays on 127.0.0.1 and Unix sockets; every
# server is stopped by its PID. The work is done by bench/suite.py (see its docstring).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ARGS=()
COMMAND="bench/run.sh"
for arg in "$@"; do
    case "$arg" in
        --quick|--publish) ARGS+=("$arg"); COMMAND+=" $arg" ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $arg (try --quick or --publish)" >&2; exit 2 ;;
    esac
done

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# 2 000 idle connections need ~2 000 descriptors in the server and as many in the generator.
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]] || (( hard > 65536 )); then hard=65536; fi
ulimit -n "$hard"
if (( $(ulimit -n) < 4200 )); then
    echo "run.sh: the descriptor limit is $(ulimit -n) (hard $(ulimit -Hn)); the idle scenario needs 4 200" >&2
    exit 1
fi

echo "run.sh: building (release)" >&2
cargo build --release -p socketserver --example echo >&2
cargo build --release -p socketserver-loadgen -p socketserver-bench >&2

exec python3 "$ROOT/bench/suite.py" --bin-dir "$TARGET_DIR/release" --command "$COMMAND" \
    ${ARGS[@]+"${ARGS[@]}"}
