#!/usr/bin/env python3
"""muxd --api against the reference toxiproxy, in the same run.

python3 stdlib only. Issue 21's goals, each for muxd and, with
--toxiproxy, for toxiproxy-server 2.12.0 (../shared/tools/toxiproxy-build.sh
builds it), the two taking turns; every HTTP request of both goes through
the same client: a raw keep-alive HTTP/1.1 socket (TCP_NODELAY), requests
pre-built as bytes, replies read by their Content-Length. http.client
costs ~40 us of Python per request, as much as muxd's whole answer; this
client's own CPU per operation is printed beside the servers' so that a
reader sees how much of a sequential round trip it still is.

- ready: from exec (os.posix_spawn through subprocess) to the first 200
  from GET /version, one proxy in a config file: `muxd --api ADDR
  --api-config FILE`, `toxiproxy-server -host -port -config FILE`, the same
  JSON; both polled the same way (connect, GET /version; refused: sleep
  --poll seconds, again). Median of --runs. The floor: exec to a connect
  accepted by epoll_echo, a 40-line C listener (its ratio: the best any
  server could get against toxiproxy here). Also from exec to a usable
  proxy with no file: muxd `-l --to --api` until /version answers;
  toxiproxy until /version answers and POST /proxies made the proxy.
- ops (the client: bench/apicycle.c, the same requests in C, a write and
  a read each; --client python: this script's): the cycle issue 21
  names, over one keep-alive connection for
  --duration s (median of --rounds, the servers taking turns): POST
  /proxies (listen 127.0.0.1:0), POST a latency toxic, DELETE it, DELETE
  the proxy; each request's status checked. Sequential
  (one request, its reply, the next: what the client libraries do) and
  pipelined (the cycle's four requests in one write, then the four
  replies). Operations a second, and the server's CPU per operation
  (utime + stime of all its threads, /proc/PID/stat, over the run).
- relay: 64-byte ping-pong (the bench's muxbench, as bench/relay.py)
  through one proxy at --levels connections, with no toxic and with a
  1 ms latency toxic added through the API (the same POST for both);
  the server pinned to CPU 0, muxbench and the epoll_echo upstream to CPU
  1 (--no-pin: not pinned). Round trips a second and the server's CPU per
  round trip between muxbench's marks (scheduler run time of every
  thread, /proc/PID/task/*/schedstat). Median of --rounds.
- memory: VmRSS growth per idle relayed connection with one latency
  toxic, --conns connections each with a round trip done.

Progress goes to stderr; stdout gets a markdown table: muxd, toxiproxy,
the ratio and issue 21's goal for it. With --out DIR and the relay part:
DIR/api.dat and DIR/api.gp (the relay's medians and a gnuplot script:
CPU per round trip and round trips/s against connections, each server
with and without the toxic), and DIR/api.png when gnuplot is installed
(else run `gnuplot api.gp` there).

  python3 bench/api.py --build-dir build-release [--toxiproxy PATH]
      [--muxd OTHER/muxd]
      [--runs 20] [--duration 3] [--levels 10,100,1000] [--rounds 1]
      [--relay-duration 3] [--conns 200] [--no-pin]
      [--only ready,ops,relay,memory] [--client c|python] [--out DIR]
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import compare
from compare import BenchError

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.I)
START_TIMEOUT = 10  # seconds a server may take to answer /version
STALL_TIMEOUT = 30  # muxbench's longest wait for progress
LATENCY = {"name": "lag", "type": "latency", "attributes": {"latency": 1}}
GOAL_READY, GOAL_OPS, GOAL_MEM = 0.25, 4.0, 0.1
GOAL_CPU = {10: 0.8, 100: 0.8, 1000: 0.5}  # CPU per round trip, by conns


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(method, path, body=None):
    """One request as bytes (body: a JSON-able value)."""
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body is not None:
        head += ("Content-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n")
    return head.encode() + b"\r\n" + data


class Http:
    """A raw keep-alive HTTP/1.1 client over one TCP connection: send
    requests (one or several in one write), read replies in order."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, *requests):
        self.sock.sendall(b"".join(requests))

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise BenchError("the API closed the connection")
        self.buf += chunk

    def reply(self):
        """(status, body) of the next reply."""
        end = self.buf.find(b"\r\n\r\n")
        while end < 0:
            self._fill()
            end = self.buf.find(b"\r\n\r\n")
        head = self.buf[:end]
        if b"chunked" in head.lower():
            raise BenchError("a chunked reply (not read by this client)")
        m = CONTENT_LENGTH.search(head)
        total = end + 4 + (int(m.group(1)) if m else 0)
        while len(self.buf) < total:
            self._fill()
        body, self.buf = self.buf[end + 4:total], self.buf[total:]
        return int(head[9:12]), body

    def call(self, method, path, body=None):
        self.send(http_request(method, path, body))
        return self.reply()

    def close(self):
        self.sock.close()


def expect(kind, what, got, want):
    if got[0] != want:
        raise BenchError(f"{kind}: {what}: {got[0]} {got[1][:200]!r}")


def proxy_json(name, listen, upstream):
    return {"name": name, "listen": listen, "upstream": upstream,
            "enabled": True}


class Server:
    """muxd --api or toxiproxy-server on an API port we pick, with one
    proxy "bench" on `listen` (a config file), or none (config None)."""

    def __init__(self, args, kind, config, pin=False, extra=()):
        self.kind, self.api_port = kind, free_port()
        api = f"127.0.0.1:{self.api_port}"
        if kind == "muxd":
            cmd = [args.muxd, "-q", *extra, "--api", api]
            cmd += ["--api-config", config] if config else []
        else:
            cmd = [args.toxiproxy, "-host", "127.0.0.1", "-port",
                   str(self.api_port)] + (["-config", config] if config
                                          else [])
        cmd = compare.pinned(0, cmd, pin)
        # close_fds=False: subprocess spawns with os.posix_spawn (vfork),
        # not a fork of this Python, so the start is mostly the server's.
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=args.log, close_fds=False)
        try:
            self.ready_ms = self.wait_version(args.poll)
        except BaseException:
            self.stop()
            raise

    def wait_version(self, poll):
        """Milliseconds from exec to the first 200 from GET /version."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                c = Http(self.api_port, timeout=START_TIMEOUT)
            except ConnectionRefusedError:
                time.sleep(poll)
                continue
            try:
                status, _ = c.call("GET", "/version")
            finally:
                c.close()
            if status == 200:
                return (time.perf_counter() - self.start) * 1e3
        raise BenchError(f"{self.kind}: /version never answered 200")

    def http(self):
        return Http(self.api_port)

    def stat_cpu_s(self):
        """utime + stime of all threads (/proc/PID/stat), seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / compare.TICKS

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_config(args, listen_port):
    path = os.path.join(args.tmp, "proxies.json")
    with open(path, "w") as f:
        json.dump([proxy_json("bench", f"127.0.0.1:{listen_port}",
                              f"127.0.0.1:{args.upstream.port}")], f)
    return path


def with_proxy(args, kind, pin=False):
    """A server with the proxy "bench" from a config file: (server, the
    proxy's port)."""
    port = free_port()
    return Server(args, kind, write_config(args, port), pin), port


def echo_once(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise BenchError(f"no echo through 127.0.0.1:{port}")


# ---------------------------------------------------------------------------
# Measurements


def ready_config(args, kind):
    server, port = with_proxy(args, kind)
    try:
        echo_once(port)  # the proxy from the file works (not timed)
        return server.ready_ms
    finally:
        server.stop()


def ready_no_config(args, kind):
    """Exec to a usable proxy without a file: muxd's from -l --to (its
    /version answers once the proxy listens), toxiproxy's made by POST."""
    up = f"127.0.0.1:{args.upstream.port}"
    if kind == "muxd":
        server = Server(args, kind, None, extra=["-l", "127.0.0.1:0", "--to",
                                                 up, "--name", "bench"])
        server.stop()
        return server.ready_ms
    server = Server(args, kind, None)
    try:
        c = server.http()
        expect(kind, "POST /proxies", c.call("POST", "/proxies", proxy_json(
            "bench", "127.0.0.1:0", up)), 201)
        c.close()
        return (time.perf_counter() - server.start) * 1e3
    finally:
        server.stop()


def cycle_requests(args):
    return [(http_request("POST", "/proxies", proxy_json(
                "cycle", "127.0.0.1:0", f"127.0.0.1:{args.upstream.port}")),
             201),
            (http_request("POST", "/proxies/cycle/toxics", LATENCY), 200),
            (http_request("DELETE", "/proxies/cycle/toxics/lag"), 204),
            (http_request("DELETE", "/proxies/cycle"), 204)]


def api_ops(args, server, pipelined):
    """{ops/s, server us CPU per op, client us CPU per op}."""
    if args.client == "c":
        return api_ops_c(args, server, pipelined)
    reqs = cycle_requests(args)
    c = server.http()
    cpu0, mine0 = server.stat_cpu_s(), time.process_time()
    ops, start = 0, time.perf_counter()
    deadline = start + args.duration
    while time.perf_counter() < deadline:
        if pipelined:
            c.send(*(r for r, _ in reqs))
            for _, want in reqs:
                expect(server.kind, "cycle", c.reply(), want)
        else:
            for r, want in reqs:
                c.send(r)
                expect(server.kind, "cycle", c.reply(), want)
        ops += len(reqs)
    elapsed = time.perf_counter() - start
    mine = time.process_time() - mine0
    c.close()
    return {"ops": ops / elapsed,
            "cpu_us": (server.stat_cpu_s() - cpu0) * 1e6 / ops,
            "client_us": mine * 1e6 / ops}


def api_ops_c(args, server, pipelined):
    """api_ops() through bench/apicycle.c: the same requests, in C."""
    cmd = [args.apicycle, str(server.api_port), str(args.upstream.port),
           str(args.duration)] + (["pipelined"] if pipelined else [])
    cpu0, mine0 = server.stat_cpu_s(), compare.children_cpu()
    p = subprocess.run(cmd, capture_output=True, timeout=args.duration + 30)
    cpu, mine = server.stat_cpu_s() - cpu0, compare.children_cpu() - mine0
    r = compare.parse_result(p.stdout.decode())
    if p.returncode or not r or not r["ops"]:
        raise BenchError(f"{server.kind}: apicycle: {p.stderr.decode()}")
    return {"ops": r["ops"] / r["seconds"], "cpu_us": cpu * 1e6 / r["ops"],
            "client_us": mine * 1e6 / r["ops"]}


def add_latency(server):
    c = server.http()
    expect(server.kind, "POST toxic", c.call(
        "POST", "/proxies/bench/toxics", LATENCY), 200)
    c.close()


def relay_cell(args, kind, conns, toxic):
    """One muxbench run through a fresh server: {rps, us_per_rt}."""
    server, port = with_proxy(args, kind, args.pin)
    try:
        if toxic:
            add_latency(server)
        extra = ["-m", "pingpong", "-c", str(conns), "-s", "64",
                 "-d", str(args.relay_duration), "-w", str(args.warmup),
                 "-t", str(STALL_TIMEOUT)]
        pid = server.proc.pid
        r = compare.muxbench(args, port, extra, args.relay_duration +
                             args.warmup + 2 * STALL_TIMEOUT, args.pin,
                             cpu=lambda _load: compare.run_seconds(pid))
        if server.proc.poll() is not None:
            raise BenchError(f"{kind} exited during {conns} connections")
    finally:
        server.stop()
    if r["errors"] or r["mismatches"] or not r["rts"]:
        raise BenchError(f"{kind} {conns} conns: {r['errors']:.0f} errors, "
                         f"{r['mismatches']:.0f} mismatches: {r['stderr']}")
    return {"rps": r["rps"], "us_per_rt": r["window_cpu_s"] * 1e6 / r["rts"]}


def memory(args, kind):
    server, port = with_proxy(args, kind)
    try:
        add_latency(server)
        time.sleep(0.2)  # the API's connection gone, its memory settled
        before = server.rss_kib()
        socks = []
        try:
            for _ in range(args.conns):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                socks.append(s)
                s.sendall(b"x")
                if s.recv(1) != b"x":
                    raise BenchError(f"{kind}: no echo through the proxy")
            time.sleep(0.2)  # let the relayed pairs settle
            return (server.rss_kib() - before) / args.conns
        finally:
            for s in socks:
                s.close()
    finally:
        server.stop()


# ---------------------------------------------------------------------------


def turns(kinds, rnd):
    """The order the servers take in round `rnd` (each starts in turn)."""
    i = rnd % len(kinds)
    return kinds[i:] + kinds[:i]


def median_of(args, kinds, fn, runs):
    got = {k: [] for k in kinds}
    for rnd in range(runs):
        for kind in turns(kinds, rnd):
            got[kind].append(fn(args, kind))
    return {k: statistics.median(v) for k, v in got.items()}


def run_all(args, kinds):
    """rows: [(name, {kind: value}, goal text, lower is better)]."""
    rows = []
    if "ready" in args.only:
        ready_rows(args, kinds, rows)
    if "ops" in args.only:
        ops_rows(args, kinds, rows)
    if "relay" in args.only:
        relay_rows(args, kinds, rows)
    if "memory" in args.only:
        mem = median_of(args, kinds, memory, 1)
        rows.append(("KiB per idle relayed connection (1 ms latency toxic)",
                     mem, GOAL_MEM, True))
        note(rows)
    return rows


def ready_floor(args, _kind):
    """Exec to a connect accepted by epoll_echo, the bench's 40-line C
    listener: what spawning and polling cost before any server's own
    start."""
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([args.epoll_echo, str(port)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=args.log,
                            close_fds=False)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                Http(port).close()
                return (time.perf_counter() - start) * 1e3
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise BenchError("epoll_echo never listened")
                time.sleep(args.poll)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def ready_rows(args, kinds, rows):
    ready = median_of(args, kinds, ready_config, args.runs)
    rows.append(("exec to first /version, one proxy from a config file, "
                 "ms (median)", ready, GOAL_READY, True))
    rows.append(("the floor: exec to a connect accepted by epoll_echo "
                 "(not muxd), ms (median)",
                 median_of(args, ["muxd"], ready_floor, args.runs)
                 | {k: v for k, v in ready.items() if k != "muxd"},
                 None, True))
    note(rows, 2)
    ready = median_of(args, kinds, ready_no_config, args.runs)
    rows.append(("exec to a usable proxy, no file (muxd -l --to; "
                 "toxiproxy POST /proxies), ms (median)", ready, None, True))
    note(rows)


def ops_rows(args, kinds, rows):
    for pipelined in (False, True):
        runs = {k: [] for k in kinds}
        for rnd in range(args.rounds):
            for kind in turns(kinds, rnd):
                server, _ = with_proxy(args, kind)
                try:
                    runs[kind].append(api_ops(args, server, pipelined))
                finally:
                    server.stop()
        ops = {k: {key: statistics.median(r[key] for r in v)
                   for key in v[0]} for k, v in runs.items()}
        how = "pipelined, a cycle per write" if pipelined else "sequential"
        rows.append((f"API operations/s ({how})",
                     {k: v["ops"] for k, v in ops.items()},
                     None if pipelined else GOAL_OPS, False))
        rows.append((f"server CPU per API operation, us ({how})",
                     {k: v["cpu_us"] for k, v in ops.items()}, None, True))
        rows.append((f"client CPU per API operation, us ({how})",
                     {k: v["client_us"] for k, v in ops.items()}, None, True))
        note(rows, 3)


def relay_rows(args, kinds, rows):
    for toxic in (False, True):
        what = "1 ms latency toxic" if toxic else "no toxic"
        for conns in args.levels:
            cells = {k: [] for k in kinds}
            for rnd in range(args.rounds):
                for kind in turns(kinds, rnd):
                    cells[kind].append(relay_cell(args, kind, conns, toxic))
            cpu = {k: statistics.median(c["us_per_rt"] for c in v)
                   for k, v in cells.items()}
            rps = {k: statistics.median(c["rps"] for c in v)
                   for k, v in cells.items()}
            args.relay[(toxic, conns)] = {"us_per_rt": cpu, "rps": rps}
            rows.append((f"relay CPU per round trip, {what}, {conns} conns, "
                         "us", cpu, GOAL_CPU.get(conns), True))
            rows.append((f"round trips/s, {what}, {conns} conns", rps,
                         1.0 if toxic else None, False))
            note(rows, 2)


def plot_columns(args, kinds):
    """(kind, toxic) of every relay curve measured, in the plot's
    order."""
    return [(k, toxic) for toxic in (False, True) for k in kinds
            if any(t == toxic for t, _ in args.relay)]


def write_plot(args, kinds):
    """api.dat and api.gp in --out (api.png too with gnuplot)."""
    cols = plot_columns(args, kinds)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "api.dat"), "w") as f:
        f.write("# api.py relay, ping-pong 64 B through one proxy, medians "
                "by connections; ? = not measured\n# block 0: server CPU "
                "us per round trip; block 1: round trips/s\n")
        for key in ("us_per_rt", "rps"):
            f.write("conns " + " ".join(
                k + ("+lag" if t else "") for k, t in cols) + "\n")
            for conns in args.levels:
                vals = [args.relay.get((t, conns), {}).get(key, {}).get(k)
                        for k, t in cols]
                f.write(f"{conns} " + " ".join(
                    "?" if v is None else f"{v:.2f}" for v in vals) + "\n")
            f.write("\n\n")
    with open(os.path.join(args.out, "api.gp"), "w") as f:
        f.write(plot_script(args, cols))
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot", "api.gp"], cwd=args.out, check=False)


def plot_script(args, cols):
    def plots(index):
        return ", ".join(
            f"'api.dat' index {index} using 1:{i + 2} with linespoints "
            f"lt {1 + (k != 'muxd')} lw 2{' dt 2' if t else ''} "
            f"title '{k}{', 1 ms latency toxic' if t else ''}'"
            for i, (k, t) in enumerate(cols))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(args.started))
    lo, hi = min(args.levels), max(args.levels)
    return ("set terminal pngcairo size 1100,540 noenhanced\n"
            "set output 'api.png'\n"
            "set multiplot layout 1,2 title 'one proxy to an epoll echo, "
            f"ping-pong 64 B ({when}, {args.rounds} round(s) of "
            f"{args.relay_duration:g} s)'\n"
            "set xlabel 'connections'\nset logscale x\n"
            f"set xrange [{lo * 0.7:g}:{hi * 1.4:g}]\n"
            f"set xtics ({', '.join(str(c) for c in args.levels)})\n"
            "set datafile missing '?'\n"
            "set yrange [0:*]\nset key below\nset grid\n"
            "set title 'server CPU per round trip (lower is better)'\n"
            "set ylabel 'µs'\n"
            f"plot {plots(0)}\n"
            "set title 'round trips/s'\nset ylabel ''\n"
            "set format y '%.0s%c'\n"
            f"plot {plots(1)}\n"
            "unset multiplot\n")


def note(rows, last=1):
    for name, values, _, _ in rows[-last:]:
        print(f"{name}: " + ", ".join(f"{k} {v:,.1f}"
                                      for k, v in values.items()),
              file=sys.stderr, flush=True)


def fmt(v):
    return "-" if v is None else f"{v:,.0f}" if v >= 1000 else f"{v:.1f}"


def table(rows):
    out = ["| | muxd | toxiproxy | muxd / toxiproxy | goal |",
           "|---|---|---|---|---|"]
    for name, values, goal, lower in rows:
        m, t = values["muxd"], values.get("toxiproxy")
        ratio = f"{m / t:.2f}" if t else "-"
        want = ("-" if goal is None else
                f"<= {goal:g}" if lower else f">= {goal:g}")
        out.append(f"| {name} | {fmt(m)} | {fmt(t)} | {ratio} | {want} |")
    return "\n".join(out)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--toxiproxy")
    p.add_argument("--muxd", help="this muxd instead of BUILD-DIR/muxd")
    p.add_argument("--runs", type=int, default=20,
                   help="starts per server for each ready figure")
    p.add_argument("--poll", type=float, default=0.0001,
                   help="seconds between refused connects while starting")
    p.add_argument("--duration", type=float, default=3.0,
                   help="seconds of API operations per server and form")
    p.add_argument("--levels", default="10,100,1000",
                   help="connections of the relay's ping-pong")
    p.add_argument("--rounds", type=int, default=1,
                   help="runs per server of each ops form and relay level "
                   "(the median)")
    p.add_argument("--relay-duration", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--conns", type=int, default=200,
                   help="idle relayed connections for the memory figure")
    p.add_argument("--no-pin", dest="pin", action="store_false")
    p.add_argument("--client", choices=["c", "python"], default="c",
                   help="the API cycle's client: BUILD-DIR/bench/apicycle "
                   "or this script's own (both raw keep-alive HTTP/1.1)")
    p.add_argument("--only", default="ready,ops,relay,memory",
                   help="the parts to run (comma-separated)")
    p.add_argument("--out", help="a directory for api.dat, api.gp and "
                   "api.png (the relay part's plot); none by default")
    a = p.parse_args()
    a.only = a.only.split(",")
    build = os.path.abspath(a.build_dir)
    a.muxd = os.path.abspath(a.muxd) if a.muxd else \
        os.path.join(build, "muxd")
    a.muxbench = os.path.join(build, "bench", "muxbench")
    a.epoll_echo = os.path.join(build, "bench", "epoll_echo")
    a.apicycle = os.path.join(build, "bench", "apicycle")
    a.toxiproxy = os.path.abspath(a.toxiproxy) if a.toxiproxy else None
    a.levels = [int(v) for v in a.levels.split(",") if v]
    a.out = os.path.abspath(a.out) if a.out else None
    if a.pin and ((os.cpu_count() or 1) < 2 or
                  not shutil.which("taskset")):
        print("api: fewer than 2 CPUs or no taskset: not pinning",
              file=sys.stderr)
        a.pin = False
    return a


def main():
    args = parse_args()
    compare.raise_fd_limit()
    kinds = ["muxd"] + (["toxiproxy"] if args.toxiproxy else [])
    args.relay, args.started = {}, time.time()
    with tempfile.TemporaryDirectory(prefix="muxd-api-bench.") as tmp:
        args.tmp = tmp
        args.log = open(os.path.join(tmp, "servers.log"), "ab")
        args.logdir = tmp
        args.upstream = compare.Server("upstream", [args.epoll_echo, "0"],
                                       tmp, pin=args.pin, cpu=1)
        try:
            rows = run_all(args, kinds)
        except BenchError as e:
            args.log.flush()
            with open(os.path.join(tmp, "servers.log"), "rb") as f:
                sys.stderr.write(f.read()[-2000:].decode(errors="replace"))
            sys.exit(f"api.py: {e}")
        finally:
            args.upstream.stop()
            args.log.close()
    print(table(rows))
    if args.out and args.relay:
        write_plot(args, kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
