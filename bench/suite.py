#!/usr/bin/env python3
"""The benchmark suite: every echo server, every scenario, interleaved rounds, one report.

Run it through ``bench/run.sh`` (which builds the binaries and raises the descriptor limit):

    bench/run.sh              full suite: 3 interleaved rounds (about 11 minutes)
    bench/run.sh --quick      1 short round, a smoke run (about 2 minutes)
    bench/run.sh --publish    also copy the chart to docs/benchmarks.png and the tables into
                              docs/benchmarks.md (between the bench:results markers)
    bench/run.sh --event-workers N
                              pass `--workers N` to `echo --mode event` (default: not passed)

    python3 bench/suite.py --bin-dir target/release --from-results target/bench/results.json
                              run nothing: redraw report and chart from a finished run

Servers (each started on port 0 or a fresh Unix path, ready when it prints
``listening on ADDR``, stopped by its PID with SIGTERM): our ``echo`` example in every
strategy (sequential, threading, pool, forking, event, coroutine; and the pool with 8 workers at 128
connections, which needs parking), the plain std::net baseline ``std_echo``, ``tokio_echo``, a
single-threaded C epoll server (``bench/c/epoll_echo.c``, the physical-limit reference, TCP
only) and Python's socketserver (``bench/python_servers.py``). Load: ``loadgen``. A server
that does not start (e.g. a mode the example does not have yet) is a failed row, reported;
the suite goes on.

Method: a round runs every scenario once; inside a scenario every server runs once, in an
order rotated from round to round, each started fresh. Each figure is reported as the median
over the rounds with its spread (min-max), and as a ratio to ``std_echo`` (``tokio_echo`` for
idle-10000) measured in the same scenario of the same round (the median of the per-round
ratios). Peak RSS is the server's ``VmHWM`` from /proc (for forking servers, the sum over
the parent and its live children, sampled every 100 ms: shared pages are counted once per
process). Server CPU per request: the server's utime + stime (/proc/PID/stat) read just after
loadgen's warm-up and just before its end, per wall second, divided by loadgen's rate (not for
forking servers, whose children's CPU is only counted once reaped). Idle scenarios also record
the RSS right after the ready line and report the RSS per connection above it. Every loop here
is bounded: each server start, run and stop has a timeout.

Writes target/bench/results.json (every run), report.md (the tables), chart.tsv and
benchmarks.png (drawn by the ``chart`` binary).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY_SERVERS = ROOT / "bench" / "python_servers.py"
MARK_BEGIN = "<!-- bench:results:begin -->"
MARK_END = "<!-- bench:results:end -->"

BASELINE = "std"
EVENT = "ours event"
COROUTINE = "ours coroutine"
C_EPOLL = "c epoll"
POOL_PARKING = "ours pool, 8 workers"
POOL_PARKING_32 = "ours pool, 32 workers"


def log(message):
    print(f"suite: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Servers


class ServerKind:
    """How to start one server for a transport (tcp, udp, unix).

    `workers_from` says where its `--workers N` comes from: "pool" (the scenario's
    `pool_workers`), "event" (the suite's `--event-workers`, unset by default: the server's own
    default, one loop per CPU) or None (it takes no such flag, or has it fixed in its argv).
    """

    def __init__(self, name, argv, forks=False, transports=("tcp", "udp", "unix"),
                 workers_from=None):
        self.name = name
        self._argv = argv
        self.forks = forks
        self.transports = transports
        self.workers_from = workers_from

    def argv(self, bins, transport, unix_path, workers):
        base = self._argv(bins, workers)
        if transport == "tcp":
            return base + ["--addr", "127.0.0.1:0"]
        if transport == "udp":
            return base + ["--addr", "127.0.0.1:0", "--udp"]
        return base + ["--unix", unix_path]


def ours(mode, fixed_workers=None):
    """Our echo example in `mode`; `--workers` only for pool, event and coroutine, and only
    when set."""
    def argv(bins, workers):
        workers = fixed_workers or workers
        takes = mode in ("pool", "event", "coroutine")
        extra = ["--workers", str(workers)] if (takes and workers) else []
        return [str(bins / "examples" / "echo"), "--mode", mode] + extra
    return argv


def python(kind, backlog=128):
    """Python's server; the backlog is std_echo's (Rust's std listens with 128) unless asked."""
    extra = ["--backlog", str(backlog)] if backlog else []
    return lambda bins, workers: [sys.executable, str(PY_SERVERS), "--kind", kind] + extra


SERVERS = {
    k.name: k
    for k in [
        ServerKind("ours sequential", ours("sequential")),
        ServerKind("ours threading", ours("threading")),
        ServerKind("ours pool", ours("pool"), workers_from="pool"),
        # The pool with parking: 8 workers whatever the connection count (idle connections
        # wait in a selector instead of holding a worker).
        ServerKind(POOL_PARKING, ours("pool", fixed_workers=8)),
        # The same with four times the workers: more workers must not make it slower.
        ServerKind(POOL_PARKING_32, ours("pool", fixed_workers=32)),
        ServerKind("ours event", ours("event"), workers_from="event"),
        # The plain blocking echo on a coroutine per connection, with as many loops as event.
        ServerKind(COROUTINE, ours("coroutine"), workers_from="event"),
        ServerKind("ours forking", ours("forking"), forks=True),
        ServerKind("std", lambda bins, workers: [str(bins / "std_echo")]),
        ServerKind("tokio", lambda bins, workers: [str(bins / "tokio_echo")]),
        # The physical-limit reference: one thread, level-triggered epoll (bench/c/epoll_echo.c,
        # compiled by bench/run.sh). TCP only.
        ServerKind(C_EPOLL, lambda bins, workers: [str(bins / "c_epoll_echo")],
                   transports=("tcp",)),
        ServerKind("python threading", python("threading")),
        ServerKind("python forking", python("forking"), forks=True, transports=("tcp", "udp")),
        ServerKind("python threading, backlog 5", python("threading", backlog=None)),
    ]
}


def proc_status(pid):
    """VmHWM and VmRSS of a process in KiB, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS", "State"):
            values[key] = rest.split()[0] if key != "State" else rest.strip()
    return values


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (every thread, live or ended) in seconds, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may hold spaces: state is
    # field 3, utime 14 and stime 15.
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid):
    """Direct children of every thread of `pid`."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        found.extend(int(p) for p in text.split())
    return found


def tree(pid, limit=10_000):
    """`pid` and its descendants (bounded)."""
    pids, queue = [], [pid]
    while queue and len(pids) < limit:
        p = queue.pop()
        pids.append(p)
        queue.extend(children(p))
    return pids


def tree_hwm_kib(pid):
    total = 0
    for p in tree(pid):
        status = proc_status(p)
        if status and "VmHWM" in status:
            total += int(status["VmHWM"])
    return total


def zombie_children(pid):
    zombies = 0
    for child in children(pid):
        status = proc_status(child)
        if status and status.get("State", "").startswith("Z"):
            zombies += 1
    return zombies


class Server:
    """A running server process, started by `start` and stopped by `stop`."""

    START_TIMEOUT = 15.0
    STOP_TIMEOUT = 5.0

    def __init__(self, kind, bins, transport, tmp, workers=None):
        self.kind = kind
        self.unix_path = None
        if transport == "unix":
            self.unix_path = str(Path(tempfile.mkdtemp(dir=tmp)) / "echo.sock")
        argv = kind.argv(bins, transport, self.unix_path, workers)
        self.stderr = tempfile.TemporaryFile(dir=tmp)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        self.address = self._wait_ready(argv)
        self.target = f"unix:{self.address}" if transport == "unix" else self.address
        # The idle baseline: resident memory right after the ready line, before any load.
        status = proc_status(self.proc.pid)
        self.start_rss_kib = int(status["VmRSS"]) if status and "VmRSS" in status else None
        self.peak_kib = 0
        self._sampling = None

    def _wait_ready(self, argv):
        deadline = time.monotonic() + self.START_TIMEOUT
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
            elif self.proc.poll() is not None:
                break
        text = line.decode(errors="replace").strip()
        if not text.startswith("listening on "):
            self.kill()
            raise RuntimeError(f"{self.kind.name} did not start ({' '.join(argv)}): "
                               f"{text!r} {self.error_text()}")
        return text[len("listening on "):]

    def error_text(self):
        self.stderr.seek(0)
        return self.stderr.read()[-20000:].decode(errors="replace").strip()

    def why(self):
        """One line from stderr that says why the process died: a panic's message, else the
        last line."""
        lines = [line.strip() for line in self.error_text().splitlines() if line.strip()]
        for i, line in enumerate(lines):
            if "panicked at" in line and i + 1 < len(lines):
                return f"{lines[i + 1]} (then {lines[-1]})"[:300]
        return lines[-1][:300] if lines else "nothing on stderr"

    def start_sampling(self):
        """Samples the process tree's peak RSS every 100 ms (forking servers only)."""
        if not self.kind.forks:
            return
        stop = threading.Event()

        def sample():
            while not stop.wait(0.1):
                self.peak_kib = max(self.peak_kib, tree_hwm_kib(self.proc.pid))

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        self._sampling = (stop, thread)

    def measure_peak(self):
        """The peak RSS so far, in KiB (stops the sampler)."""
        if self._sampling:
            stop, thread = self._sampling
            stop.set()
            thread.join(timeout=2)
            self._sampling = None
        self.peak_kib = max(self.peak_kib, tree_hwm_kib(self.proc.pid))
        return self.peak_kib

    def stop(self):
        """SIGTERM, then wait; returns a problem description or None."""
        family = tree(self.proc.pid) if self.kind.forks else [self.proc.pid]
        cmdline = self._cmdline(self.proc.pid)
        problem = None
        died = self.proc.poll()
        if died is not None:
            how = (f"killed by {signal.Signals(-died).name}" if died < 0
                   else f"exit status {died}")
            problem = f"{self.kind.name} died during the run ({how}): {self.why()}"
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=self.STOP_TIMEOUT)
            if status != 0 and problem is None:
                problem = f"{self.kind.name} exited with status {status} after SIGTERM"
        except subprocess.TimeoutExpired:
            problem = f"{self.kind.name} did not exit within {self.STOP_TIMEOUT} s of SIGTERM"
            self.kill()
        # Children still serving (none expected): only those still running our command line.
        for pid in family[1:]:
            if cmdline and self._cmdline(pid) == cmdline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.proc.stdout.close()
        self.stderr.close()
        if self.unix_path:
            shutil.rmtree(Path(self.unix_path).parent, ignore_errors=True)
        return problem

    @staticmethod
    def _cmdline(pid):
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


# ---------------------------------------------------------------------------------------------
# Scenarios


class Scenario:
    """One load against a list of servers; ratios are to `baseline`, run in the same round."""

    def __init__(self, key, title, mode, servers, connections=16, size=64, transport="tcp",
                 unit="req/s", pool_workers=None, timeout="2s", metric="rps", baseline=BASELINE):
        self.key = key
        self.title = title
        self.mode = mode
        # In the order of SERVERS, whatever order they are listed in.
        self.servers = [name for name in SERVERS if name in servers]
        unknown = set(servers) - set(SERVERS)
        assert not unknown, f"{key}: unknown servers {unknown}"
        unfit = [name for name in self.servers if transport not in SERVERS[name].transports]
        assert not unfit, f"{key}: {unfit} do not serve {transport}"
        assert baseline in self.servers, f"{key}: the baseline {baseline} is not run"
        self.baseline = baseline
        self.connections = connections
        self.size = size
        self.transport = transport
        self.unit = unit
        self.pool_workers = pool_workers
        self.timeout = timeout
        self.metric = metric


ALL_TCP = ["ours sequential", "ours threading", "ours pool", "ours forking", "std", "tokio",
           "python threading", "python forking"]
# Persistent connections need a worker (or child) each for their whole life: sequential serves
# one connection at a time, a pool needs as many workers, and both forking servers stop
# accepting at max_children = 40.
PERSISTENT = [s for s in ALL_TCP if s != "ours sequential"]
# The event-driven strategy and its two references, tokio and one C epoll thread, and the
# coroutines (blocking code on loops): in every TCP echo and connect scenario and in both idle
# ones (the event strategy also over Unix sockets; it serves no datagrams, and the C server
# only TCP).
EVENT_PEERS = [EVENT, COROUTINE, C_EPOLL]

SCENARIOS = [
    Scenario("echo-1", "echo, 1 connection × 64 B", "echo", ALL_TCP + EVENT_PEERS,
             connections=1),
    Scenario("echo-16", "echo, 16 connections × 64 B", "echo", PERSISTENT + EVENT_PEERS,
             pool_workers=16),
    # POOL_PARKING: 8 workers for 128 connections, only possible with parking.
    Scenario("echo-128", "echo, 128 connections × 64 B", "echo",
             [s for s in PERSISTENT if "forking" not in s] + EVENT_PEERS
             + [POOL_PARKING, POOL_PARKING_32],
             connections=128, pool_workers=128),
    Scenario("echo-16k", "echo, 16 connections × 16 KiB", "echo", PERSISTENT + EVENT_PEERS,
             size=16384, pool_workers=16),
    Scenario("connect-16", "connect, 16 loops × 64 B", "connect",
             ALL_TCP + EVENT_PEERS + ["python threading, backlog 5"], unit="conn/s"),
    Scenario("unix-16", "Unix stream echo, 16 connections × 64 B", "echo",
             ["ours threading", "ours pool", EVENT, COROUTINE, "ours forking", "std", "tokio",
              "python threading"], transport="unix", pool_workers=16),
    Scenario("udp-16", "UDP round trips, 16 sockets × 64 B", "udp", ALL_TCP, transport="udp",
             unit="round trips/s", timeout="500ms"),
    Scenario("idle-2000", "2 000 idle connections", "idle",
             ["ours threading", "std", "tokio", "python threading"] + EVENT_PEERS,
             connections=2000, unit="peak RSS, MiB (lower is better)", timeout="20s",
             metric="rss"),
    # No std here: 10 000 threads, and its backlog of 128 makes opening them crawl (SYN
    # retransmits); tokio is the baseline.
    Scenario("idle-10000", "10 000 idle connections", "idle", ["tokio"] + EVENT_PEERS,
             connections=10_000, unit="peak RSS, MiB (lower is better)", timeout="20s",
             metric="rss", baseline="tokio"),
]
# Each process of an idle run (the server, and loadgen) holds one descriptor per connection.
IDLE_FDS = max(s.connections for s in SCENARIOS if s.mode == "idle") + 200


# ---------------------------------------------------------------------------------------------
# Running


class Suite:
    def __init__(self, args):
        self.args = args
        self.bins = Path(args.bin_dir)
        self.out = Path(args.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="bench-suite-")
        self.runs = []        # every scenario run
        self.shutdown = []    # shutdown latency runs
        self.generator = []   # generator check runs
        self.forks = None     # the exact-count forking run
        self.problems = []

    def loadgen(self, mode, target, connections, size, timeout, threads=None, extra=(),
                cpu_pid=None):
        """Runs loadgen once; returns (its JSON result, None) or (None, why it failed).

        With `cpu_pid` (echo, connect and udp modes), the result also gets `cpu_rate`: that
        process's CPU seconds per wall second over the measured window (see `measure_cpu`)."""
        argv = [str(self.bins / "loadgen"), mode, "--target", target, "--connections",
                str(connections), "--size", str(size), "--timeout", timeout, "--json"]
        if mode == "idle":
            argv += ["--hold", str(self.args.idle_hold)]
            # loadgen bounds opening, and checking, by one --timeout plus 1 ms a connection.
            budget = 60 + self.args.idle_hold + 2 * (parse_seconds(timeout) + connections / 1000)
        else:
            argv += ["--duration", str(self.args.duration), "--warmup", str(self.args.warmup)]
            budget = 60 + self.args.duration + self.args.warmup
        if threads:
            argv += ["--threads", str(threads)]
        argv += list(extra)
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        cpu_rate = None
        if cpu_pid is not None and mode != "idle":
            cpu_rate = self.measure_cpu(proc, cpu_pid, started)
        try:
            stdout, stderr = proc.communicate(
                timeout=max(1.0, budget - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None, f"loadgen did not finish within {budget:.0f} s"
        if proc.returncode != 0 or not stdout.strip():
            return None, f"loadgen exit {proc.returncode}: {stderr.strip()[-500:]}"
        result = json.loads(stdout.strip().splitlines()[-1])
        if stderr.strip():
            result["stderr"] = stderr.strip()[-500:]
        if cpu_rate is not None:
            result["cpu_rate"] = cpu_rate
        return result, None

    def measure_cpu(self, proc, pid, started):
        """CPU seconds the server `pid` used per wall second while `proc` (loadgen, started at
        `started`) was in its measured window: utime + stime from /proc/PID/stat, read just
        after the warm-up and just before the end (a margin of 50 ms at each end keeps
        connection setup and tear-down out). Divided by loadgen's rate, it is the server's CPU
        per request. None if loadgen or the server ended early."""
        margin = min(0.05, self.args.duration / 8)
        points = []
        for at in (self.args.warmup + margin, self.args.warmup + self.args.duration - margin):
            try:
                proc.wait(timeout=max(0.0, started + at - time.monotonic()))
                return None  # loadgen is already done: no measured window to sample
            except subprocess.TimeoutExpired:
                pass
            cpu = cpu_seconds(pid)
            if cpu is None:
                return None
            points.append((time.monotonic(), cpu))
        (t0, c0), (t1, c1) = points
        return (c1 - c0) / (t1 - t0) if t1 > t0 else None

    def one(self, scenario, name, round_no, threads=None):
        """Starts server `name`, runs the scenario's load once, stops it; returns the record."""
        kind = SERVERS[name]
        record = {"round": round_no, "scenario": scenario.key, "server": name}
        workers = {"pool": scenario.pool_workers,
                   "event": self.args.event_workers}.get(kind.workers_from)
        try:
            server = Server(kind, self.bins, scenario.transport, self.tmp, workers=workers)
        except RuntimeError as error:
            record["failure"] = str(error)
            self.problems.append(f"{scenario.key} round {round_no}: {error}")
            return record
        if server.start_rss_kib:
            record["start_rss_kib"] = server.start_rss_kib
        try:
            server.start_sampling()
            # A forking server's CPU is in its children, counted only once reaped: not measured.
            result, error = self.loadgen(scenario.mode, server.target, scenario.connections,
                                         scenario.size, scenario.timeout, threads,
                                         cpu_pid=None if kind.forks else server.proc.pid)
            peak = server.measure_peak()
            if peak:  # 0: the process was already gone
                record["rss_kib"] = peak
        finally:
            problem = server.stop()
        if problem:
            self.problems.append(f"{scenario.key} round {round_no}: {problem}")
            record["stop_problem"] = problem
        if error:
            record["failure"] = error
            self.problems.append(f"{scenario.key} / {name}: {error}")
        else:
            record.update({k: result[k] for k in (
                "rps", "p50_us", "p99_us", "max_us", "requests", "errors", "lost", "held",
                "failed", "threads", "duration_s", "stderr") if k in result})
            # loadgen's window ends at the last completed request: if the server stopped
            # answering, that is early and requests / window overstates the rate. Count the
            # requests over the whole window asked for instead.
            asked = self.args.duration
            if scenario.mode != "idle" and result.get("duration_s", asked) < 0.9 * asked:
                record["rps"] = result.get("requests", 0) / asked
                record["stalled_after_s"] = result["duration_s"]
                result.pop("cpu_rate", None)  # a stalled server's CPU rate says nothing
                self.problems.append(
                    f"{scenario.key} / {name} round {round_no}: the last request completed "
                    f"{result['duration_s']:.3f} s into the {asked} s window (the server "
                    f"stopped answering); rate counted over the whole window")
            if result.get("cpu_rate") is not None and result.get("rps"):
                # CPU seconds per second / requests per second = CPU seconds per request.
                record["cpu_rate"] = result["cpu_rate"]
                record["cpu_us_per_req"] = result["cpu_rate"] / result["rps"] * 1e6
            if scenario.mode == "idle" and record.get("held") and record.get("rss_kib") \
                    and record.get("start_rss_kib"):
                record["kib_per_conn"] = ((record["rss_kib"] - record["start_rss_kib"])
                                          / record["held"])
            if record.get("errors") or record.get("lost") or record.get("failed"):
                counts = ", ".join(f"{k} {record[k]}" for k in ("errors", "lost", "failed")
                                   if record.get(k) is not None)
                self.problems.append(f"{scenario.key} / {name} round {round_no}: {counts}")
        return record

    def describe(self, record, unit):
        if "failure" in record:
            return f"FAILED: {record['failure'][:200]}"
        text = (f"{record['rps']:,.0f} {unit.split(',')[0] if unit.startswith('peak') else unit}"
                f"  p99 {record['p99_us']:,.0f} µs  RSS {record.get('rss_kib', 0) / 1024:.1f} MiB")
        if record.get("cpu_us_per_req") is not None:
            text += f"  CPU {record['cpu_us_per_req']:.2f} µs/req"
        if record.get("kib_per_conn") is not None:
            text += (f"  (start {record['start_rss_kib'] / 1024:.1f} MiB, "
                     f"{record['kib_per_conn']:.2f} KiB/conn, held {record.get('held')})")
        if record.get("stalled_after_s") is not None:
            text += f"  (STALLED after {record['stalled_after_s']:.3f} s)"
        if record.get("stop_problem"):
            text += f"  ({record['stop_problem'][:120]})"
        if record.get("errors"):
            text += f"  errors {record['errors']}"
        return text

    def run(self):
        started = time.monotonic()
        rounds = self.args.rounds
        for round_no in range(1, rounds + 1):
            for scenario in SCENARIOS:
                order = rotate(scenario.servers, round_no - 1)
                for name in order:
                    record = self.one(scenario, name, round_no)
                    self.runs.append(record)
                    log(f"round {round_no}/{rounds} {scenario.key:10} {name:20} "
                        f"{self.describe(record, 'req/s' if scenario.metric == 'rps' else '')}")
            self.shutdown_round(round_no)
            log(f"round {round_no} done at {time.monotonic() - started:.0f} s")
        self.generator_check()
        self.fork_count()
        self.wall_s = time.monotonic() - started

    def shutdown_round(self, round_no):
        """`shutdown()` latency, ours and Python's, once per round."""
        ours = subprocess.run([str(self.bins / "shutdown_latency"), "--tries",
                               str(self.args.shutdown_tries), "--json"],
                              capture_output=True, text=True, timeout=120)
        py = subprocess.run([sys.executable, str(PY_SERVERS), "--shutdown-latency", "--tries",
                             str(self.args.python_shutdown_tries), "--json"],
                            capture_output=True, text=True, timeout=120)
        for which, done in (("ours", ours), ("python", py)):
            if done.returncode != 0:
                self.problems.append(f"shutdown latency ({which}): {done.stderr.strip()}")
                continue
            result = json.loads(done.stdout)
            result.update({"round": round_no, "who": which})
            self.shutdown.append(result)
            log(f"round {round_no} shutdown latency {which}: median {result['median_us']:,.1f} "
                f"µs, max {result['max_us']:,.1f} µs over {result['tries']} tries")

    def best_server(self, key):
        rates = {}
        for r in self.runs:
            if r["scenario"] == key and "rps" in r:
                rates.setdefault(r["server"], []).append(r["rps"])
        if not rates:
            return BASELINE
        return max(rates, key=lambda s: statistics.median(rates[s]))

    def generator_check(self):
        """Does a generator with more threads raise the best server's figure (and std's)?"""
        for key in ("echo-16", "echo-128"):
            scenario = next(s for s in SCENARIOS if s.key == key)
            servers = list(dict.fromkeys([self.best_server(key), BASELINE]))
            for round_no in range(1, self.args.rounds + 1):
                runs = [(name, threads) for name in servers
                        for threads in self.args.generator_threads]
                for name, threads in rotate(runs, round_no - 1):
                    record = self.one(scenario, name, round_no, threads=threads)
                    record["threads_asked"] = threads
                    self.generator.append(record)
                    log(f"generator check {key} {name} threads {threads}: "
                        f"{self.describe(record, 'req/s')}")

    def fork_count(self):
        """Exactly N connections to `echo --mode forking`, then look for zombies."""
        n = self.args.forks
        kind = SERVERS["ours forking"]
        server = Server(kind, self.bins, "tcp", self.tmp)
        try:
            argv = [str(self.bins / "loadgen"), "connect", "--target", server.target,
                    "--connections", "16", "--requests", str(n), "--duration", "120",
                    "--warmup", "0", "--timeout", "5s", "--json"]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
            result = json.loads(done.stdout) if done.returncode == 0 else None
            zombies_now = zombie_children(server.proc.pid)
            children_now = len(children(server.proc.pid))
            # Our ForkingMixIn reaps finished children every 0.5 s while any are running.
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and (zombie_children(server.proc.pid)
                                                   or children(server.proc.pid)):
                time.sleep(0.05)
            settled = time.monotonic() - (deadline - 2.0)
            self.forks = {
                "requests_asked": n,
                "result": result,
                "loadgen_stderr": done.stderr.strip()[-500:],
                "zombies_at_end": zombies_now,
                "children_at_end": children_now,
                "zombies_after": zombie_children(server.proc.pid),
                "children_after": len(children(server.proc.pid)),
                "waited_s": round(settled, 2),
            }
        finally:
            problem = server.stop()
            if problem:
                self.problems.append(problem)
        log(f"{n} forked requests: {json.dumps(self.forks)}")


def parse_seconds(text):
    """`'20s'` → 20.0, `'500ms'` → 0.5."""
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    return float(text.rstrip("s"))


def rotate(items, k):
    items = list(items)
    k %= len(items)
    return items[k:] + items[:k]


# ---------------------------------------------------------------------------------------------
# Report


def med(values):
    return statistics.median(values) if values else None


def spread(values, fmt):
    if not values:
        return "–"
    if len(values) == 1:
        return "1 round"
    return f"{fmt(min(values))}–{fmt(max(values))}"


def rate(v):
    return f"{v:,.0f}"


def num(v):
    """A ratio: two decimals, or three significant digits below 0.1."""
    return f"{v:.2f}" if v >= 0.1 else f"{v:.2g}" if v >= 0.001 else f"{v:.1e}"


def mib(kib):
    return f"{kib / 1024:.1f}"


def cpu_text(us):
    """Server CPU per request in µs, or – when not measured (forking servers, failed runs)."""
    return "–" if us is None else f"{us:.2f}" if us < 10 else f"{us:,.1f}"


class Report:
    def __init__(self, suite):
        self.s = suite
        self.ok = [r for r in suite.runs if "rps" in r]

    def value(self, record, scenario):
        return record.get("rss_kib") if scenario.metric == "rss" else record["rps"]

    def measured(self, scenario, server):
        return [r for r in self.ok if r["scenario"] == scenario.key and r["server"] == server
                and self.value(r, scenario) is not None]

    def values(self, scenario, server):
        return [self.value(r, scenario) for r in self.measured(scenario, server)]

    def by_round(self, scenario, server, key=None):
        """{round: the scenario's figure} for `server`, or {round: record[key]} with `key`."""
        if key is None:
            return {r["round"]: self.value(r, scenario) for r in self.measured(scenario, server)}
        return {r["round"]: r[key] for r in self.measured(scenario, server)
                if r.get(key) is not None}

    def ratios(self, scenario, server, other=None, key=None):
        """Per-round ratios server / other (the scenario's baseline unless given), same
        scenario, same round; of the scenario's figure, or of record[key] with `key`."""
        other = other or scenario.baseline
        a, b = self.by_round(scenario, server, key), self.by_round(scenario, other, key)
        return [a[k] / b[k] for k in sorted(a) if k in b and b[k] > 0]

    def field(self, scenario, server, name):
        return [r[name] for r in self.ok
                if r["scenario"] == scenario.key and r["server"] == server
                and r.get(name) is not None]

    def scenario(self, key):
        return next(s for s in SCENARIOS if s.key == key)

    def matrix(self):
        rate_scenarios = [s for s in SCENARIOS if s.metric == "rps"]
        lines = ["| server | " + " | ".join(
                    s.key if s.baseline == BASELINE else f"{s.key} (× {s.baseline})"
                    for s in SCENARIOS) + " |",
                 "|---|" + "---:|" * len(SCENARIOS)]
        for name in SERVERS:
            cells = []
            for s in SCENARIOS:
                if name not in s.servers:
                    cells.append("–")
                    continue
                rs = self.ratios(s, name)
                cells.append(num(med(rs)) if rs else "failed")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        del rate_scenarios
        return lines

    def detail(self, s):
        lines = [f"**{s.title}** (`{s.key}`; {self.load_text(s)})", ""]
        if s.metric == "rss":
            lines += [f"| server | peak RSS (MiB) | spread | × {s.baseline} (spread) "
                      "| RSS at start (MiB) | KiB per connection above start | held | failed "
                      "| check p99 (µs) |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        else:
            lines += [f"| server | {s.unit} | spread | × {s.baseline} (spread) | p50 (µs) "
                      "| p99 (µs) | server CPU (µs/req) | peak RSS (MiB) | errors |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in s.servers:
            vals = self.values(s, name)
            fails = [r for r in self.s.runs if r["scenario"] == s.key and r["server"] == name
                     and "failure" in r]
            if not vals:
                why = fails[0]["failure"][:80].replace("|", "/") if fails else "?"
                lines.append(f"| {name} | failed: {why} " + "| " * 8 + "|")
                continue
            rs = self.ratios(s, name)
            ratio_text = (f"{num(med(rs))}× ({spread(rs, num)})"
                          if name != s.baseline else "1 (baseline)")
            if s.metric == "rss":
                start = med(self.field(s, name, "start_rss_kib"))
                per_conn = med(self.field(s, name, "kib_per_conn"))
                lines.append(
                    f"| {name} | {mib(med(vals))} | {spread(vals, mib)} | {ratio_text} | "
                    f"{mib(start) if start else '–'} | "
                    f"{f'{per_conn:.2f}' if per_conn is not None else '–'} | "
                    f"{min(self.field(s, name, 'held') or [0])} | "
                    f"{max(self.field(s, name, 'failed') or [0])} | "
                    f"{med(self.field(s, name, 'p99_us')):,.0f} |")
            else:
                errors = sum(self.field(s, name, "errors")) + sum(self.field(s, name, "lost"))
                died = sum(1 for r in self.ok if r["scenario"] == s.key and r["server"] == name
                           and "died" in r.get("stop_problem", ""))
                stalled = sum(1 for r in self.ok if r["scenario"] == s.key
                              and r["server"] == name and r.get("stalled_after_s") is not None)
                label = f"{name} (**died in {died} of {len(vals)} runs**)" if died else name
                if stalled:
                    label += f" (**stopped answering in {stalled} of {len(vals)} runs**)"
                lines.append(
                    f"| {label} | {rate(med(vals))} | {spread(vals, rate)} | {ratio_text} | "
                    f"{med(self.field(s, name, 'p50_us')):,.0f} | "
                    f"{med(self.field(s, name, 'p99_us')):,.0f} | "
                    f"{cpu_text(med(self.field(s, name, 'cpu_us_per_req')))} | "
                    f"{mib(med(self.field(s, name, 'rss_kib')) or 0)} | "
                    f"{errors} |")
        if any("failure" in r for r in self.s.runs if r["scenario"] == s.key):
            lines.append("")
            lines.append("Some runs failed; see target/bench/results.json.")
        return lines + [""]

    def load_text(self, s):
        a = self.s.args
        if s.mode == "idle":
            return (f"`loadgen idle --connections {s.connections} --hold {a.idle_hold} "
                    f"--timeout {s.timeout}`; peak RSS of the server process")
        transport = {"tcp": "127.0.0.1", "udp": "UDP on 127.0.0.1",
                     "unix": "a Unix socket"}[s.transport]
        workers = (f"; `ours pool` with `--workers {s.pool_workers}`"
                   if s.pool_workers and "ours pool" in s.servers else "")
        if POOL_PARKING in s.servers:
            workers += f"; `{POOL_PARKING}`: `echo --mode pool --workers 8` (parking)"
        if POOL_PARKING_32 in s.servers:
            workers += f"; `{POOL_PARKING_32}`: `echo --mode pool --workers 32`"
        event_workers = getattr(a, "event_workers", None)
        if EVENT in s.servers and event_workers:
            workers += f"; `ours event` with `--workers {event_workers}`"
        return (f"`loadgen {s.mode} --connections {s.connections} --size {s.size} "
                f"--duration {a.duration} --warmup {a.warmup}`, {transport}{workers}")

    def peers_table(self):
        """ours event, tokio and C epoll side by side: rate and server CPU per request in the
        rate scenarios, peak RSS and RSS per connection in the idle ones."""
        names = [EVENT, "tokio", C_EPOLL]
        lines = ["Medians over the rounds; the ratios are medians of per-round ratios (same "
                 "scenario, same round). CPU: the server's utime + stime over loadgen's "
                 "measured window, per request.", "",
                 "| scenario | figure | ours event | tokio | C epoll | event / tokio "
                 "| event / C epoll |",
                 "|---|---|---:|---:|---:|---:|---:|"]

        def cells(s, key, fmt):
            out = []
            for name in names:
                vals = list(self.by_round(s, name, key).values())
                out.append(fmt(med(vals)) if vals else "failed")
            for other in ("tokio", C_EPOLL):
                rs = self.ratios(s, EVENT, other, key=key)
                out.append(f"{num(med(rs))}×" if rs else "–")
            return " | ".join(out)

        for s in SCENARIOS:
            if not all(name in s.servers for name in names):
                continue
            if s.metric == "rss":
                lines.append(f"| {s.key} | peak RSS (MiB) | {cells(s, None, mib)} |")
                lines.append(f"| {s.key} | KiB per connection above start | "
                             f"{cells(s, 'kib_per_conn', lambda v: f'{v:.2f}')} |")
            else:
                lines.append(f"| {s.key} | {s.unit} | {cells(s, None, rate)} |")
                lines.append(f"| {s.key} | server CPU (µs/req) | "
                             f"{cells(s, 'cpu_us_per_req', cpu_text)} |")
        return lines

    def shutdown_table(self):
        lines = [f"| `shutdown()` latency | median of {self.s.args.rounds} runs' medians (µs) "
                 "| spread of the medians | max over all tries (µs) | tries per run |",
                 "|---|---:|---:|---:|---:|"]
        for who, label in (("ours", "socketserver (Rust) ThreadingTcpServer"),
                           ("python", None)):
            rs = [r for r in self.s.shutdown if r["who"] == who]
            if not rs:
                continue
            label = label or f"{rs[0]['impl']} socketserver.ThreadingTCPServer"
            medians = [r["median_us"] for r in rs]
            lines.append(f"| {label} | {med(medians):,.1f} | "
                         f"{spread(medians, lambda v: f'{v:,.1f}')} | "
                         f"{max(r['max_us'] for r in rs):,.1f} | {rs[0]['tries']} |")
        return lines

    def generator_table(self):
        lines = ["| scenario | server | generator threads | req/s (median) | spread "
                 "| × default (2 threads) |",
                 "|---|---|---:|---:|---:|---:|"]
        for key in ("echo-16", "echo-128"):
            for name in dict.fromkeys(r["server"] for r in self.s.generator
                                      if r["scenario"] == key):
                rs = [r for r in self.s.generator
                      if r["scenario"] == key and r["server"] == name and "rps" in r]
                by = {}
                for r in rs:
                    by.setdefault(r["threads_asked"], {})[r["round"]] = r["rps"]
                base = by.get(2, {})
                for threads in sorted(by):
                    vals = list(by[threads].values())
                    rel = [by[threads][k] / base[k] for k in by[threads] if k in base]
                    lines.append(f"| {key} | {name} | {threads} | {rate(med(vals))} | "
                                 f"{spread(vals, rate)} | {num(med(rel))}× "
                                 f"({spread(rel, num)}) |")
        return lines

    def forks_text(self):
        f = self.s.forks
        if not f:
            return ["(not run)"]
        r = f["result"]
        if not r:
            return [f"FAILED: {f['loadgen_stderr']}"]
        return [
            f"`loadgen connect --connections 16 --requests {f['requests_asked']} --warmup 0` "
            f"against `echo --mode forking`: {r['requests']:,} connections served "
            f"(each a fork), {r['errors']} errors, in {r['duration_s']:.2f} s = "
            f"**{r['rps']:,.0f} conn/s** (p99 {r['p99_us']:,.0f} µs). Right after the last "
            f"one: {f['children_at_end']} children not yet reaped, of which "
            f"{f['zombies_at_end']} zombies; {f['waited_s']} s later: "
            f"**{f['zombies_after']} zombies**, {f['children_after']} children.",
        ]

    def target_lines(self):
        s = self.scenario
        out = []

        def row(text, values, goal, met):
            vals = ", ".join(f"{v:.2f}" for v in values)
            verdict = "–" if met is None else "met" if met else "**not met**"
            out.append(f"| {text} | {goal} | {med(values):.2f}× ({vals}) | {verdict} |")

        def target(text, key, a, b, goal, ok, field=None):
            rs = self.ratios(s(key), a, b, key=field)
            if rs:
                row(text, rs, goal, ok(med(rs)))
            else:
                out.append(f"| {text} | {goal} | no data | "
                           f"{'–' if ok(1.0) is None else '**not met**'} |")

        out += ["| target | goal | measured: median (per round) | |", "|---|---|---|---|"]
        target("threading echo, 16 connections / std", "echo-16", "ours threading", "std",
               "≥ 0.95×", lambda v: v >= 0.95)
        target("connect rate: threading / std", "connect-16", "ours threading", "std",
               "≥ 1.0×", lambda v: v >= 1.0)
        target("connect rate: threading / Python ThreadingTCPServer", "connect-16",
               "ours threading", "python threading", "≥ 3×", lambda v: v >= 3)
        target("connect rate: forking / Python ForkingTCPServer", "connect-16", "ours forking",
               "python forking", "≥ 5×", lambda v: v >= 5)
        target("2 000 idle connections, peak RSS: threading / std", "idle-2000",
               "ours threading", "std", "≤ 1.1×", lambda v: v <= 1.1)
        ours_sd = [r["median_us"] for r in self.s.shutdown if r["who"] == "ours"]
        py_sd = [r["median_us"] for r in self.s.shutdown if r["who"] == "python"]
        if ours_sd:
            out.append(f"| shutdown latency, median | < 1 ms | {med(ours_sd):,.1f} µs "
                       f"(Python: {med(py_sd) / 1000 if py_sd else float('nan'):,.1f} ms) | "
                       f"{'met' if med(ours_sd) < 1000 else '**not met**'} |")
        for key in ("echo-16", "echo-128", "echo-16k", "connect-16"):
            rs = self.ratios(s(key), "tokio", "std")
            if rs:
                out.append(f"| tokio / std, {key} (report only) | – | {med(rs):.2f}× "
                           f"({', '.join(f'{v:.2f}' for v in rs)}) | – |")
        target("issue 5: connect rate, pool / threading (report only)", "connect-16",
               "ours pool", "ours threading", "–", lambda v: None)
        target("issue 5: echo, 16 connections, pool / threading (report only)", "echo-16",
               "ours pool", "ours threading", "–", lambda v: None)
        # The event-driven strategy against tokio and one C epoll thread, same scenario, same
        # round; its CPU per request against tokio's.
        for key in ("echo-16", "echo-128", "connect-16"):
            target(f"event / tokio, {key}", key, EVENT, "tokio", "≥ 1.0×", lambda v: v >= 1.0)
            target(f"event / C epoll, {key}", key, EVENT, C_EPOLL, "≥ 0.9×",
                   lambda v: v >= 0.9)
            target(f"server CPU per request: event / tokio, {key}", key, EVENT, "tokio",
                   "≤ 1.0×", lambda v: v <= 1.0, field="cpu_us_per_req")
        # Blocking handlers on coroutines against the callbacks of the event strategy, and
        # against a thread per connection; their CPU per request against event's.
        for key in ("echo-16", "echo-128"):
            target(f"coroutine / event, {key}", key, COROUTINE, EVENT, "≥ 0.9×",
                   lambda v: v >= 0.9)
            target(f"coroutine / std, {key}", key, COROUTINE, "std", "≥ 1.2× (16 cores)",
                   lambda v: v >= 1.2)
            target(f"server CPU per request: coroutine / event, {key}", key, COROUTINE, EVENT,
                   "≤ 1.2×", lambda v: v <= 1.2, field="cpu_us_per_req")
        target("10 000 idle connections, peak RSS: coroutine / event (report only)",
               "idle-10000", COROUTINE, EVENT, "–", lambda v: None)
        for key in ("idle-2000", "idle-10000"):
            for other in ("tokio", C_EPOLL):
                target(f"{key}, peak RSS: event / {other} (report only)", key, EVENT, other,
                       "–", lambda v: None)
        # The pool with parking: 8 workers for 128 connections, against a thread each.
        rs = self.ratios(s("echo-128"), POOL_PARKING, "std")
        runs = [r for r in self.s.runs
                if r["scenario"] == "echo-128" and r["server"] == POOL_PARKING]
        errors = sum((r.get("errors") or 0) + (r.get("lost") or 0) for r in runs)
        failed = sum(1 for r in runs if "failure" in r)
        text = "echo-128, pool with parking (8 workers) / std, 0 errors"
        if rs:
            vals = ", ".join(f"{v:.2f}" for v in rs)
            met = med(rs) >= 0.8 and errors == 0 and failed == 0
            out.append(f"| {text} | ≥ 0.8×, 0 errors | {med(rs):.2f}× ({vals}), {errors} "
                       f"errors{f', {failed} failed runs' if failed else ''} | "
                       f"{'met' if met else '**not met**'} |")
        else:
            out.append(f"| {text} | ≥ 0.8×, 0 errors | no data | **not met** |")
        target("echo-128, pool with parking: 32 workers / 8 workers", "echo-128",
               POOL_PARKING_32, POOL_PARKING, "≥ 1.0×", lambda v: v >= 1.0)
        f = self.s.forks
        if f and f["result"]:
            out.append(f"| issue 5: {f['requests_asked']:,} forked requests, zombies afterwards "
                       f"| 0 | {f['zombies_after']} ({f['result']['rps']:,.0f} conn/s, "
                       f"{f['result']['errors']} errors) | "
                       f"{'met' if f['zombies_after'] == 0 and not f['result']['errors'] else '**not met**'} |")
        return out

    def markdown(self, meta):
        a = self.s.args
        lines = [
            f"Run of {meta['date']}: `{meta['command']}`, {a.rounds} round(s), "
            f"{meta['wall_min']:.1f} min wall time. Machine: {meta['machine']}.",
            "",
            "Every cell is the median over the rounds; \"× std\" is the median of the per-round "
            "ratios to `std_echo` run in the same scenario of the same round, with their "
            "min–max spread.",
            "",
            "#### Ratio to the std baseline, every server × scenario",
            "",
            "For the idle scenarios the ratio is of peak RSS (lower is better), and "
            "`idle-10000` is against tokio (std is not run there); elsewhere of req/s, "
            "conn/s or round trips/s (higher is better). – : not run (see below why).",
            "",
        ]
        lines += self.matrix() + ["", "#### Targets", ""] + self.target_lines()
        lines += ["", "#### The event-driven strategy against tokio and one C epoll thread",
                  ""] + self.peers_table()
        lines += ["", "#### Every scenario", ""]
        for s in SCENARIOS:
            lines += self.detail(s)
        lines += ["#### Shutdown latency", ""] + self.shutdown_table()
        lines += ["", "#### Is the load generator the bottleneck?", "",
                  "The best server of each scenario (by median) and the std baseline, loaded "
                  "by `loadgen` with 1, 2 (the default on 2 cores) and 4 threads, interleaved, "
                  f"{a.rounds} round(s):", ""]
        lines += self.generator_table()
        lines += ["", f"#### {a.forks:,} forked requests", ""] + self.forks_text()
        if self.s.problems:
            lines += ["", "#### Problems seen during the run", ""]
            lines += [f"- {' '.join(p.split())}" for p in self.s.problems[:40]]
        return "\n".join(lines) + "\n"

    def chart_tsv(self):
        rows = []
        for s in SCENARIOS:
            for name in s.servers:
                vals = self.values(s, name)
                if not vals:
                    continue
                if s.metric == "rss":
                    vals = [v / 1024 for v in vals]
                died = sum(1 for r in self.measured(s, name)
                           if "died" in r.get("stop_problem", ""))
                label = f"{name} (died {died}/{len(vals)})" if died else name
                rows.append("\t".join([s.title, label, f"{med(vals):.3f}", f"{min(vals):.3f}",
                                       f"{max(vals):.3f}", s.unit]))
        return "\n".join(rows) + "\n"


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}){mem}, Linux {platform.release()}, "
            f"{rustc or 'rustc ?'}, Python {platform.python_version()}")


def publish(report_md, png, out):
    shutil.copyfile(png, ROOT / "docs" / "benchmarks.png")
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text()
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        _, tail = rest.split(MARK_END, 1)
        doc.write_text(f"{head}{MARK_BEGIN}\n{report_md}{MARK_END}{tail}")
        log(f"published: {doc} (tables) and docs/benchmarks.png")
    else:
        log(f"published docs/benchmarks.png; {doc} has no {MARK_BEGIN} markers, "
            f"tables left in {out / 'report.md'}")


def render(results, out, bin_dir, publish_too):
    """Writes report.md, chart.tsv and benchmarks.png from `results` (as in results.json)."""
    settings = argparse.Namespace(**results["settings"])
    meta = results["meta"]
    report = Report(argparse.Namespace(
        runs=results["runs"], shutdown=results["shutdown"], generator=results["generator"],
        forks=results["forks"], problems=results["problems"], args=settings))
    report_md = report.markdown(meta)
    (out / "report.md").write_text(report_md)
    (out / "chart.tsv").write_text(report.chart_tsv())
    png = out / "benchmarks.png"
    title = (f"Echo servers on {os.cpu_count()} cores, loopback: median of {settings.rounds} "
             f"round(s), whiskers min–max ({meta['date'][:10]}, {meta['command']})")
    drawn = subprocess.run([str(Path(bin_dir) / "chart"), "--input", str(out / "chart.tsv"),
                            "--output", str(png), "--title", title],
                           capture_output=True, text=True, timeout=60)
    if drawn.returncode != 0:
        log(f"chart failed: {drawn.stderr.strip()}")
    print(report_md)
    if publish_too and drawn.returncode == 0:
        publish(report_md, png, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True, help="the cargo release directory")
    parser.add_argument("--out-dir", default=str(ROOT / "target" / "bench"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--publish", action="store_true")
    parser.add_argument("--command", default="bench/run.sh")
    parser.add_argument("--from-results", metavar="JSON",
                        help="run nothing: redraw the report and chart from a results.json")
    parser.add_argument("--event-workers", type=int, metavar="N",
                        help="pass `--workers N` to `echo --mode event` (default: not passed, "
                        "the example's default of one loop thread per CPU)")
    args = parser.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if args.from_results:
        render(json.loads(Path(args.from_results).read_text()), out, args.bin_dir,
               args.publish)
        return 0
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 0.4, 0.2
        args.idle_hold, args.shutdown_tries, args.python_shutdown_tries = 0.5, 20, 3
        args.forks, args.generator_threads = 2000, [1, 2, 4]
    else:
        args.rounds, args.duration, args.warmup = 3, 1.5, 0.5
        args.idle_hold, args.shutdown_tries, args.python_shutdown_tries = 1.0, 20, 20
        args.forks, args.generator_threads = 10_000, [1, 2, 4]

    # The limit is per process: in an idle run the server and loadgen each hold one
    # descriptor per connection (10 000 + a few each, ~20 100 in all, in two processes).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 65536:
        want = hard if hard == resource.RLIM_INFINITY else min(hard, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < IDLE_FDS:
        log(f"the descriptor limit is {soft} (hard {hard}): the idle scenarios need {IDLE_FDS} "
            "in the server and as many in loadgen; raise the hard limit (ulimit -Hn)")
        return 1

    suite = Suite(args)
    try:
        suite.run()
    finally:
        shutil.rmtree(suite.tmp, ignore_errors=True)
    results = {
        "meta": {
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "command": args.command,
            "machine": machine(),
            "wall_min": suite.wall_s / 60,
        },
        "settings": vars(args),
        "runs": suite.runs, "shutdown": suite.shutdown, "generator": suite.generator,
        "forks": suite.forks, "problems": suite.problems,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    render(results, out, args.bin_dir, args.publish)
    log(f"wall time {suite.wall_s / 60:.1f} min; written {out}/report.md, results.json, "
        f"chart.tsv, benchmarks.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
