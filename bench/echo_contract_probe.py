#!/usr/bin/env python3
"""Times the echo contract's timed rules against the echo binary (cargo build --examples first):
SIGTERM -> new connects refused; --idle-timeout 1 -> closed; --processes 2 -> a killed worker
replaced; WATCHDOG_USEC=200000 -> the gaps between pings. Run: python3 bench/echo_contract_probe.py"""
import os, signal, socket, subprocess, time
E = os.environ.get("ECHO", "target/debug/examples/echo")
def start(*args, env=None):
    p = subprocess.Popen([E, "--addr", "127.0.0.1:0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    h, port = p.stdout.readline().strip().removeprefix("listening on ").rsplit(":", 1)
    return p, (h, int(port))
# 1. SIGTERM: new connects refused within 100 ms (an idle client connected)
p, a = start()
c = socket.create_connection(a); c.sendall(b"x"); c.recv(1)
t = time.monotonic(); p.send_signal(signal.SIGTERM)
while True:
    try: socket.create_connection(a, timeout=1).close()
    except ConnectionRefusedError: break
print(f"SIGTERM -> connect refused after {(time.monotonic()-t)*1000:.1f} ms; exit {p.wait()}; {p.stderr.read().strip().splitlines()[-1]}")
# 2. --idle-timeout 1: closed within 1.5 s
p, a = start("--idle-timeout", "1")
c = socket.create_connection(a); c.sendall(b"x"); c.recv(1); t = time.monotonic()
assert c.recv(1) == b""
print(f"--idle-timeout 1: closed after {time.monotonic()-t:.2f} s"); p.send_signal(signal.SIGTERM); p.wait()
# 3. --processes 2: a killed worker replaced within 1 s
p, a = start("--processes", "2"); time.sleep(0.3)
kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
t = time.monotonic(); os.kill(int(kids[0]), signal.SIGKILL)
while True:
    now = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
    if len(now) == 2 and kids[0] not in now: break
print(f"--processes 2: killed worker replaced after {(time.monotonic()-t)*1000:.0f} ms")
p.send_signal(signal.SIGTERM); print(f"  master exit {p.wait()}")
# 4. WATCHDOG interval
import tempfile
d = tempfile.mkdtemp(); path = os.path.join(d, "n.sock")
r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); r.bind(path); r.settimeout(5)
p, a = start(env={**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
times = []
while len(times) < 6:
    m = r.recv(512).decode()
    if m == "WATCHDOG=1\n": times.append(time.monotonic())
gaps = [b - a for a, b in zip(times, times[1:])]
print(f"WATCHDOG_USEC=200000: pings every {min(gaps)*1000:.0f}-{max(gaps)*1000:.0f} ms (must be <= 100 ms)")
p.send_signal(signal.SIGTERM); p.wait()
