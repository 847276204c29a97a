#!/usr/bin/env python3
"""Idle keep-alive memory of the http_server example: RSS and threads before and after
N connections that each got one answer and stay open.

    cargo build --release --example http_server
    python3 bench/http_idle_memory.py event            # --mode event
    python3 bench/http_idle_memory.py pool --workers 4 # the pool of 4

Everything is on 127.0.0.1; the server is stopped at the end. Needs `ulimit -n` above N.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

N = 2000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "target", "release", "examples", "http_server")


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


def get_and_keep(address):
    conn = socket.create_connection(address)
    conn.sendall(b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 1024:
        chunk = conn.recv(65536)
        if not chunk:
            raise SystemExit("the server closed a keep-alive connection")
        got += chunk
    return conn


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "event"
    site = tempfile.mkdtemp()
    with open(os.path.join(site, "small.bin"), "wb") as f:
        f.write(b"x" * 1024)
    server = subprocess.Popen(
        [SERVER, "--addr", "127.0.0.1:0", "--directory", site, "--mode", mode] + sys.argv[2:],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = server.stdout.readline().split()  # "listening on HOST:PORT"
        host, port = ready[-1].rsplit(":", 1)
        address = (host, int(port))
        conns = [get_and_keep(address)]  # the first answer allocates what every one shares
        before = status(server.pid)
        conns += [get_and_keep(address) for _ in range(N)]
        after = status(server.pid)
        per = (after[0] - before[0]) / N
        print(
            f"--mode {mode} {' '.join(sys.argv[2:])}: RSS {before[0] / 1024:.1f} -> "
            f"{after[0] / 1024:.1f} MiB, {per:.2f} KiB per idle keep-alive connection, "
            f"{after[1]} threads"
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(site)


if __name__ == "__main__":
    main()
