#!/usr/bin/env python3
"""Python's own socketserver, as the reference the Rust crate is measured against.

Run an echo server (what the Rust `echo` example does, with the stdlib classes):

    python3 bench/python_servers.py --kind threading|forking --addr 127.0.0.1:0 [--udp | --unix PATH]

It prints exactly one line, ``listening on ADDR`` (the real port when 0 was asked for; the path
for ``--unix``), and exits 0 on SIGTERM or SIGINT. The stream handler loops ``recv(65536)`` /
``sendall`` until EOF, with ``TCP_NODELAY`` on TCP connections as the Rust servers set it; the
datagram handler sends each datagram back. The classes are ``ThreadingTCPServer`` /
``ForkingTCPServer``, ``ThreadingUDPServer`` / ``ForkingUDPServer`` and
``ThreadingUnixStreamServer`` (there is no forking Unix class). Settings are the stdlib defaults
(``request_queue_size = 5``, ``max_children = 40``), except ``allow_reuse_address`` and not
waiting for request threads or children on exit, so a stop is immediate. ``--backlog N`` sets
``request_queue_size`` (the ``listen(2)`` backlog): with the default of 5, 16 clients connecting
at once overflow the accept queue and wait for SYN retransmits (1 s each).

Measure ``shutdown()`` latency the way ``shutdown_latency`` measures the Rust crate's:

    python3 bench/python_servers.py --shutdown-latency [--tries 20] [--json]

Each try starts a ThreadingTCPServer on 127.0.0.1:0, runs ``serve_forever`` on a thread, does
one echo round trip, then times ``shutdown()`` until it has returned and the thread is joined.
``server_close()`` comes after the clock stops.
"""

import argparse
import json
import os
import signal
import socket
import socketserver
import statistics
import sys
import threading
import time

TIMEOUT = 5.0  # bounds every socket operation of a round trip


class EchoHandler(socketserver.BaseRequestHandler):
    """Sends every byte back until the client closes."""

    def setup(self):
        if self.request.family in (socket.AF_INET, socket.AF_INET6):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


class DatagramEchoHandler(socketserver.BaseRequestHandler):
    """Sends each datagram back to its sender."""

    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


class ThreadingEcho(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False


class ForkingEcho(socketserver.ForkingTCPServer):
    allow_reuse_address = True
    block_on_close = False


class ThreadingUdpEcho(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False


class ForkingUdpEcho(socketserver.ForkingUDPServer):
    allow_reuse_address = True
    block_on_close = False


class ThreadingUnixEcho(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    block_on_close = False


def parse_address(text):
    """'HOST:PORT' or '[IPV6]:PORT' -> (family, (host, port))."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bad address {text!r}: expected HOST:PORT or [IPV6]:PORT")
    if host.startswith("[") and host.endswith("]"):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def format_address(family, address):
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


def serve(kind, text, udp=False, unix=None, backlog=None):
    settings = {} if backlog is None else {"request_queue_size": backlog}
    if unix is not None:
        if kind != "threading":
            raise ValueError("--unix serves with ThreadingUnixStreamServer only (--kind threading)")
        server_class = type(ThreadingUnixEcho.__name__, (ThreadingUnixEcho,), settings)
        server = server_class(unix, EchoHandler)
        shown = unix
    else:
        family, address = parse_address(text)
        if udp:
            base, handler = (ThreadingUdpEcho if kind == "threading" else ForkingUdpEcho,
                             DatagramEchoHandler)
        else:
            base, handler = ThreadingEcho if kind == "threading" else ForkingEcho, EchoHandler
        server_class = type(base.__name__, (base,), {"address_family": family, **settings})
        server = server_class(address, handler)
        shown = format_address(family, server.server_address)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening on {shown}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
        if unix is not None:
            try:
                os.unlink(unix)
            except OSError:
                pass
    return 0


def one_try():
    server = ThreadingEcho(("127.0.0.1", 0), EchoHandler)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        with socket.create_connection(server.server_address, timeout=TIMEOUT) as client:
            client.sendall(b"ping")
            reply = b""
            while len(reply) < 4:
                chunk = client.recv(4 - len(reply))
                if not chunk:
                    break
                reply += chunk
            client.shutdown(socket.SHUT_WR)
            rest = client.recv(16)  # EOF: the handler has finished
            if reply != b"ping" or rest:
                raise RuntimeError("bad echo")
    finally:
        started = time.perf_counter()
        server.shutdown()
        serving.join()
        elapsed = time.perf_counter() - started
        server.server_close()
    return elapsed


def shutdown_latency(tries, as_json):
    samples = sorted(one_try() * 1e6 for _ in range(tries))
    median, worst = statistics.median(samples), samples[-1]
    version = ".".join(map(str, sys.version_info[:3]))
    if as_json:
        print(json.dumps({
            "impl": f"python {version}",
            "server": "socketserver.ThreadingTCPServer",
            "tries": tries,
            "median_us": round(median, 1),
            "max_us": round(worst, 1),
        }))
    else:
        print(f"Python {version} socketserver.ThreadingTCPServer shutdown latency over "
              f"{tries} tries: median {median:.1f} us, max {worst:.1f} us")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["threading", "forking"], default="threading")
    parser.add_argument("--addr", default="127.0.0.1:9999")
    parser.add_argument("--udp", action="store_true", help="serve UDP datagrams at --addr")
    parser.add_argument("--unix", metavar="PATH", help="serve a Unix stream socket at PATH")
    parser.add_argument("--backlog", type=int, metavar="N",
                        help="request_queue_size (the listen backlog); default: Python's, 5")
    parser.add_argument("--shutdown-latency", action="store_true",
                        help="measure shutdown() latency instead of serving")
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.shutdown_latency:
        if args.tries < 1:
            parser.error("--tries must be at least 1")
        return shutdown_latency(args.tries, args.json)
    try:
        if args.udp and args.unix:
            parser.error("--udp and --unix exclude each other")
        return serve(args.kind, args.addr, args.udp, args.unix, args.backlog)
    except (OSError, ValueError) as error:
        print(f"python_servers: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
