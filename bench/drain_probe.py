#!/usr/bin/env python3
"""Measures what the hardening issue asks to measure, against the real `echo` binary:

  sigterm   N clients in the middle of an echo session when SIGTERM arrives: how many
            exchanges were cut (a partial answer or a reset: data lost) and how many ended with
            a clean end-of-file before any byte of their answer (the server never read that
            message: a client may retry it), per mode.
  idle      drain time with N idle connections (each answered once): from SIGTERM to exit.
  slowloris N connections trickling one byte every 100 ms while a fresh client connects and
            exchanges one message, again and again: its latency, per mode.
  restart   10 hot restarts (SIGHUP) under continuous connect/echo/close load: exchanges that
            failed (refused, reset, or closed before the answer).

Usage: bench/drain_probe.py [--echo target/release/examples/echo] [--only sigterm|idle|slowloris|restart]
Everything runs on 127.0.0.1 and stops by itself.
"""

import argparse
import os
import resource
import selectors
import signal
import socket
import subprocess
import threading
import time

MODES = ["threading", "sequential", "forking", "pool", "event"]


def start(echo, mode, extra=()):
    proc = subprocess.Popen(
        [echo, "--addr", "127.0.0.1:0", "--mode", mode, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    host, port = line.removeprefix("listening on ").rsplit(":", 1)
    return proc, (host, int(port))


def finish(proc):
    _, err = proc.communicate(timeout=120)
    summary = [l for l in err.splitlines() if "drained in" in l]
    return proc.returncode, (summary[0] if summary else "(no summary) " + err[-300:])


def recv_exact(sock, n):
    """Receives `n` bytes, or fewer if the peer ends the connection first."""
    got = b""
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def session(address, stop, result, size=64):
    """Exchanges `size`-byte messages until the server ends the connection."""
    message = os.urandom(size)
    try:
        sock = socket.create_connection(address, timeout=30)
    except OSError:
        result["refused"] += 1
        return
    done = cut = unanswered = 0
    try:
        while True:
            try:
                sock.sendall(message)
            except OSError:
                unanswered += 1  # the server had closed before this message
                break
            try:
                got = recv_exact(sock, size)
            except OSError:
                cut += 1
                break
            if len(got) == size:
                if got != message:
                    cut += 1
                    break
                done += 1
                if stop.is_set() and done > 10_000_000:
                    break
            elif got:
                cut += 1
                break
            else:
                unanswered += 1
                break
    finally:
        sock.close()
    with result["lock"]:
        result["done"] += done
        result["cut"] += cut
        result["unanswered"] += unanswered


def sigterm(echo, mode, clients):
    proc, address = start(echo, mode)
    n = 1 if mode == "sequential" else clients
    result = {"lock": threading.Lock(), "done": 0, "cut": 0, "unanswered": 0, "refused": 0}
    stop = threading.Event()
    threads = [threading.Thread(target=session, args=(address, stop, result)) for _ in range(n)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # mid-session
    proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=60)
    code, summary = finish(proc)
    print(
        f"sigterm  {mode:10} clients={n:3} exchanges={result['done']:7} cut={result['cut']} "
        f"unanswered-at-EOF={result['unanswered']} exit={code} | {summary}"
    )


def idle(echo, mode, count):
    proc, address = start(echo, mode, ["--workers", "8"] if mode in ("pool", "event") else [])
    socks = []
    for _ in range(count):
        s = socket.create_connection(address)
        s.sendall(b"x")
        s.recv(1)
        socks.append(s)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code, summary = finish(proc)
    took = time.monotonic() - sent
    eofs = sum(1 for s in socks if s.recv(1) == b"")
    for s in socks:
        s.close()
    print(f"idle     {mode:10} connections={count} signal-to-exit={took*1000:.0f} ms clean-EOF={eofs} exit={code} | {summary}")


def trickle(address, count, stop):
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection(address, timeout=5)
        except OSError:
            break
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    while not stop.is_set():
        for s in socks:
            try:
                s.send(b".")
            except OSError:
                pass
        deadline = time.monotonic() + 0.1
        while (left := deadline - time.monotonic()) > 0:
            for key, _ in sel.select(left):
                try:
                    key.fileobj.recv(4096)
                except OSError:
                    pass
    for s in socks:
        s.close()
    return len(socks)


def slowloris(echo, mode, count, probes=100):
    proc, address = start(echo, mode, ["--workers", "8"] if mode in ("pool", "event") else [])
    stop = threading.Event()
    held = []
    t = threading.Thread(target=lambda: held.append(trickle(address, count, stop)))
    t.start()
    time.sleep(2.0)  # let the trickling connections open
    latencies, failures = [], 0
    for _ in range(probes):
        began = time.monotonic()
        try:
            with socket.create_connection(address, timeout=5) as s:
                s.sendall(b"ping")
                if recv_exact(s, 4) != b"ping":
                    failures += 1
                    continue
        except OSError:
            failures += 1
            continue
        latencies.append((time.monotonic() - began) * 1000)
    stop.set()
    t.join()
    proc.send_signal(signal.SIGTERM)
    finish(proc)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    print(
        f"slowloris {mode:10} trickling={held[0] if held else 0} fresh-client p50={p(0.5):.2f} ms "
        f"p99={p(0.99):.2f} ms failures={failures}/{probes}"
    )


def restart(echo, restarts=10, clients=4):
    import tempfile
    pid_file = os.path.join(tempfile.mkdtemp(), "echo.pid")
    proc, address = start(echo, "threading", ["--pid-file", pid_file])
    stop = threading.Event()
    counts = {"lock": threading.Lock(), "done": 0, "failed": 0, "errors": []}

    def load():
        n = 0
        while not stop.is_set():
            message = b"exchange %d\n" % n
            try:
                with socket.create_connection(address, timeout=10) as s:
                    s.sendall(message)
                    got = recv_exact(s, len(message))
                ok = got == message
                error = None if ok else "closed before its answer"
            except OSError as e:
                ok, error = False, repr(e)
            with counts["lock"]:
                counts["done"] += 1
                if not ok:
                    counts["failed"] += 1
                    counts["errors"].append(error)
            n += 1

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for t in threads:
        t.start()
    pid = proc.pid
    began = time.monotonic()
    for _ in range(restarts):
        os.kill(pid, signal.SIGHUP)
        while True:
            try:
                new = int(open(pid_file).read().strip())
            except (OSError, ValueError):
                new = pid
            if new != pid:
                break
            time.sleep(0.005)
        pid = new
        time.sleep(0.2)  # load runs on the new copy for a while
    took = time.monotonic() - began
    stop.set()
    for t in threads:
        t.join()
    os.kill(pid, signal.SIGTERM)
    proc.wait(timeout=30)
    print(
        f"restart  {restarts} hot restarts in {took:.1f} s under load: exchanges={counts['done']} "
        f"failed={counts['failed']} {counts['errors'][:3]}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--echo", default="target/release/examples/echo")
    parser.add_argument("--only")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.only in (None, "sigterm"):
        for mode in MODES:
            sigterm(args.echo, mode, 100)
    if args.only in (None, "idle"):
        for mode in ["threading", "pool", "event", "forking"]:
            idle(args.echo, mode, 2000 if mode != "forking" else 30)  # forking: max_children is 40
    if args.only in (None, "restart"):
        restart(args.echo)
    if args.only in (None, "slowloris"):
        for mode in ["threading", "pool", "event"]:
            slowloris(args.echo, mode, 1000)


if __name__ == "__main__":
    main()
