#!/usr/bin/env python3
"""muxd --api against the reference toxiproxy, in the same run.

python3 stdlib only. Three figures, each for muxd and, with --toxiproxy,
for toxiproxy-server (../shared/tools/toxiproxy-build.sh builds it):

- ready: from exec to a proxy a test can use and the API answering:
  muxd `-l 127.0.0.1:0 --to UPSTREAM --name bench --api 127.0.0.1:0`
  until its "api on" line and a 200 from GET /version; toxiproxy from exec
  until GET /version answers and POST /proxies made the proxy (toxiproxy
  has no proxy at start). Median of --runs.
- ops/s: API operations a second over one keep-alive connection (the same
  http.client for both): POST a latency toxic, DELETE it, again, for
  --duration seconds (both operations counted); and the server's CPU time
  (/proc/PID/stat, all threads) per operation meanwhile, which the
  client's own cost does not blur.
- KiB per idle relayed connection with one latency toxic: --conns
  connections opened through the proxy, each with a round trip done, the
  server's VmRSS growth divided by their number.

The upstream is the bench's epoll_echo (BUILD-DIR/bench/epoll_echo). The output is a
markdown table with the ratio muxd / toxiproxy.

  python3 bench/api.py --build-dir build-release [--toxiproxy PATH]
      [--runs 20] [--duration 3] [--conns 200]
"""
import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import compare


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(conn, method, path, body=None):
    data = json.dumps(body) if body is not None else None
    conn.request(method, path, body=data,
                 headers={"Content-Type": "application/json"} if data else {})
    res = conn.getresponse()
    text = res.read()
    return res.status, text


class Server:
    """A running muxd or toxiproxy with one proxy "bench": its API's
    port, the proxy's port, its pid."""

    def __init__(self, kind, path, upstream):
        self.kind = kind
        self.start = time.perf_counter()
        if kind == "muxd":
            self.proc = subprocess.Popen(
                [path, "-q", "-l", "127.0.0.1:0", "--to",
                 f"127.0.0.1:{upstream}", "--name", "bench", "--api",
                 "127.0.0.1:0"], stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL)
            ready = self.proc.stdout.readline().decode()
            api = self.proc.stdout.readline().decode()
            self.proxy_port = int(ready.rsplit(":", 1)[1])
            self.api_port = int(re.search(r":(\d+)$", api.strip()).group(1))
            self.wait_version()
        else:
            self.api_port = free_port()
            self.proc = subprocess.Popen(
                [path, "-host", "127.0.0.1", "-port", str(self.api_port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.wait_version()
            self.proxy_port = free_port()
            conn = http.client.HTTPConnection("127.0.0.1", self.api_port)
            status, text = request(conn, "POST", "/proxies", {
                "name": "bench", "listen": f"127.0.0.1:{self.proxy_port}",
                "upstream": f"127.0.0.1:{upstream}"})
            conn.close()
            if status != 201:
                raise SystemExit(f"toxiproxy: POST /proxies: {status} {text}")
        self.ready_ms = (time.perf_counter() - self.start) * 1e3

    def wait_version(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.api_port,
                                                  timeout=1)
                status, _ = request(conn, "GET", "/version")
                conn.close()
                if status == 200:
                    return
            except OSError:
                time.sleep(0.0005)
        raise SystemExit(f"{self.kind}: the API never answered")

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_s(self):
        """User + system CPU seconds so far (threads included)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def measure_ready(kind, path, upstream, runs):
    times = []
    for _ in range(runs):
        s = Server(kind, path, upstream)
        times.append(s.ready_ms)
        s.stop()
    return statistics.median(times)


def measure_ops(server, duration):
    """(operations a second, the server's CPU microseconds per operation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.api_port)
    cpu = server.cpu_s()
    toxic = {"name": "lag", "type": "latency", "attributes": {"latency": 1}}
    ops, deadline = 0, time.monotonic() + duration
    start = time.monotonic()
    while time.monotonic() < deadline:
        status, text = request(conn, "POST", "/proxies/bench/toxics", toxic)
        if status != 200:
            raise SystemExit(f"{server.kind}: POST toxic: {status} {text}")
        status, text = request(conn, "DELETE", "/proxies/bench/toxics/lag")
        if status != 204:
            raise SystemExit(f"{server.kind}: DELETE toxic: {status} {text}")
        ops += 2
    conn.close()
    return ops / (time.monotonic() - start), (server.cpu_s() - cpu) * 1e6 / ops


def measure_memory(server, nconns):
    conn = http.client.HTTPConnection("127.0.0.1", server.api_port)
    request(conn, "POST", "/proxies/bench/toxics",
            {"name": "lag", "type": "latency", "attributes": {"latency": 1}})
    conn.close()
    time.sleep(0.2)
    before = server.rss_kib()
    socks = []
    for _ in range(nconns):
        s = socket.create_connection(("127.0.0.1", server.proxy_port))
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise SystemExit(f"{server.kind}: no echo through the proxy")
        socks.append(s)
    time.sleep(0.2)
    grown = server.rss_kib() - before
    for s in socks:
        s.close()
    return grown / nconns


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--toxiproxy")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--conns", type=int, default=200)
    args = p.parse_args()
    up = compare.Server("upstream",
                        [os.path.join(args.build_dir, "bench", "epoll_echo"),
                         "0"], tempfile.mkdtemp(prefix="muxd-api-bench."),
                        pin=False)
    upstream = up.port
    peers = [("muxd", os.path.join(args.build_dir, "muxd"))]
    if args.toxiproxy:
        peers.append(("toxiproxy", args.toxiproxy))
    rows = {}
    for kind, path in peers:
        ready = measure_ready(kind, path, upstream, args.runs)
        server = Server(kind, path, upstream)
        try:
            ops, cpu = measure_ops(server, args.duration)
            mem = measure_memory(server, args.conns)
        finally:
            server.stop()
        rows[kind] = (ready, ops, cpu, mem)
        print(f"{kind}: ready {ready:.1f} ms, {ops:.0f} API ops/s, "
              f"{cpu:.1f} us CPU per op, {mem:.1f} KiB per idle connection",
              flush=True)
    up.stop()
    names = ("exec to a usable proxy, ms (median)", "API operations/s",
             "server CPU per API operation, us",
             "KiB per idle relayed connection")
    print("\n| | muxd | toxiproxy | muxd / toxiproxy |\n|---|---|---|---|")
    for i, name in enumerate(names):
        m = rows["muxd"][i]
        t = rows.get("toxiproxy", (None,) * 4)[i]
        ratio = f"{m / t:.2f}" if t else "-"
        tt = f"{t:.1f}" if t is not None else "-"
        print(f"| {name} | {m:.1f} | {tt} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
