#!/usr/bin/env python3
"""How exactly muxd's relay faults keep time: latency and bandwidth.

python3 stdlib only; the shared parts from compare.py (servers with a
ready line, muxbench) and relay.py (a relay that prints none).

latency: one and 100 connections of 64-byte round trips (muxbench
pingpong; with more than one connection each pauses 10-30 ms between its
round trips, --think 0.02: back to back, 100 connections would saturate
the CPUs and measure queueing) through
`muxd -l 127.0.0.1:0 --to UPSTREAM --fault latency=MS` (dir=down, the
default: the replies are held, once per round trip), and, with
--toxiproxy, through toxiproxy with a latency toxic of MS on the
downstream (its default stream: also once per round trip), in the same
run; the upstream is epoll_echo. Each row gives p50 and p99 of the round
trip and "over": what they exceed the asked MS plus the relay's own round
trip by (the p50 of the same relay and connections without a fault);
`dir=both` asks 2 x MS a round trip. "select() alone" rows are the
machine's floor: how late a bare select() of MS wakes here. The goal
(issue 19): over within +0.2 ms at p50 and +0.5 ms at p99, never below 0.

slicer: how exactly a slicer's pause in microseconds is kept: muxd's
chargen with `--fault slicer=64:0:US` (pieces of at most 64 bytes, US apart), a
client that reads --pieces times (a piece each) and times each read:
"interval" is the mean gap between reads, "gap" its p50 and p99, "over"
what they exceed US by. "select()
alone" rows: a bare select() of US here (the floor).

bandwidth: the relay with `--fault bandwidth=RATE` in front of muxd's
chargen service (which sends as fast as it may); a client reads for
--duration seconds and the rate is the bytes after its first read over the
time from its first to its last read (the first read holds the bucket's
burst). The goal: within 2 % of RATE (k and M are powers of 1024, as
muxd's). --load N runs N busy processes meanwhile: a loaded machine, where
the relay's timers wake late.

  python3 bench/faults.py --build-dir build/plain [--toxiproxy PATH]
      [--latencies 1,5,20] [--conns 1,100] [--rates 100k,2M,50M]
      [--duration 5] [--load N] [--slicer-us 100,1000] [--pieces 2000]
      [--only latency|bandwidth|slicer] [--out FILE]
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import compare
import relay
from compare import BenchError

SIZE = 64  # bytes per round trip
STALL_TIMEOUT = 10
GOAL_P50_MS, GOAL_P99_MS, GOAL_RATE = 0.2, 0.5, 0.02


def parse_rate(text):
    units = {"k": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units \
        else int(text)


# ---------------------------------------------------------------------------
# The relays


def start_muxd(args, upstream, faults):
    cmd = [args.muxd, "-q", "-l", "127.0.0.1:0", "--to",
           f"127.0.0.1:{upstream}"]
    for f in faults:
        cmd += ["--fault", f]
    return compare.Server("muxd", cmd, args.logdir, pin=False)


def toxiproxy_api(api, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{api}{path}",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def start_toxiproxy(args, upstream, latency_ms):
    """toxiproxy-server with one proxy to `upstream` (a latency toxic on
    the downstream when latency_ms): returns (server, proxy port)."""
    api = relay.free_port()
    server = relay.Relay("toxiproxy", [args.toxiproxy, "-host", "127.0.0.1",
                                       "-port", str(api)],
                         args.logdir, False, api)
    try:
        port = relay.free_port()
        toxiproxy_api(api, "/proxies", {
            "name": "bench", "listen": f"127.0.0.1:{port}",
            "upstream": f"127.0.0.1:{upstream}", "enabled": True})
        if latency_ms:
            toxiproxy_api(api, "/proxies/bench/toxics", {
                "name": "latency", "type": "latency", "stream": "downstream",
                "toxicity": 1.0,
                "attributes": {"latency": latency_ms, "jitter": 0}})
        server.port = port
        server.wait_listening(relay.START_TIMEOUT)
        return server
    except BaseException:
        server.stop()
        raise


# ---------------------------------------------------------------------------
# latency


def round_trips(args, port, conns):
    extra = ["-m", "pingpong", "-c", str(conns), "-s", str(SIZE),
             "-d", str(args.duration), "-w", "0.5", "-t", str(STALL_TIMEOUT)]
    if conns > 1:  # back to back, 100 would saturate the CPUs: queueing
        extra += ["--think", str(args.think)]
    return compare.muxbench(args, port, extra,
                            args.duration + 5 + 2 * STALL_TIMEOUT, pin=False)


def latency_row(args, name, ms, conns, faults):
    upstream = compare.Server("upstream", [args.epoll_echo, "0"], args.logdir,
                              pin=False)
    server = None
    try:
        server = (start_muxd(args, upstream.port, faults) if name == "muxd"
                  else start_toxiproxy(args, upstream.port, ms))
        r = round_trips(args, server.port, conns)
    finally:
        if server:
            server.stop()
        upstream.stop()
    p50, p99 = r["p50_us"] / 1e3, r["p99_us"] / 1e3
    fault = (" ".join(faults) if name == "muxd" else
             f"latency toxic {ms} downstream" if ms else "")
    return {"relay": name, "latency_ms": ms, "conns": conns,
            "fault": fault or "none", "p50_ms": p50, "p99_ms": p99,
            "rps": r["rps"], "errors": r["errors"]}


def sleep_row(ms, duration):
    """The machine's own floor: select() with no fd, MS long, as often as
    fits in `duration`: how late the kernel wakes a sleeper here."""
    over = []
    end = time.monotonic() + duration
    while time.monotonic() < end:
        t = time.monotonic_ns()
        select.select([], [], [], ms / 1e3)
        over.append((time.monotonic_ns() - t) / 1e6 - ms)
    over.sort()
    p50, p99 = over[len(over) // 2], over[min(len(over) * 99 // 100,
                                              len(over) - 1)]
    return {"relay": "select() alone", "latency_ms": ms, "conns": 1,
            "fault": f"sleep {ms} ms", "p50_ms": ms + p50, "p99_ms": ms + p99,
            "over_p50": p50, "over_p99": p99, "rps": len(over) / duration,
            "errors": 0}


def add_over(rows):
    """What a fault's round trips take beyond the asked MS and the same
    relay's own round trip (its p50 without a fault, same connections)."""
    base = {(r["relay"], r["conns"]): r["p50_ms"] for r in rows
            if r["fault"] == "none"}
    for r in rows:
        if (r["relay"], r["conns"]) in base and r["latency_ms"]:
            own = base[(r["relay"], r["conns"])] + r["latency_ms"]
            r["over_p50"] = r["p50_ms"] - own
            r["over_p99"] = r["p99_ms"] - own


def run_latency(args):
    names = ["muxd"] + (["toxiproxy"] if args.toxiproxy else [])
    rows = [sleep_row(ms, min(args.duration, 2.0)) for ms in args.latencies]
    for r in rows:
        progress(r)
    for conns in args.conns:
        for ms in [0] + args.latencies:
            for name in names:
                faults = [f"latency={ms}"] if ms else []
                rows.append(latency_row(args, name, ms, conns, faults))
                progress(rows[-1])
        # Both directions: the delay counts twice per round trip.
        ms = args.latencies[0]
        rows.append(latency_row(args, "muxd", 2 * ms, conns,
                                [f"latency={ms},dir=both"]))
        progress(rows[-1])
    add_over(rows)
    return rows


def latency_table(rows):
    out = ["| relay | fault | conns | p50 ms | p99 ms | over p50 | "
           "over p99 | round trips/s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        over = (f"{r['over_p50']:+.2f} | {r['over_p99']:+.2f}"
                if "over_p50" in r else "- | -")
        out.append(f"| {r['relay']} | {r['fault']} | {r['conns']} | "
                   f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {over} | "
                   f"{r['rps']:.0f} |")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# slicer


def select_gaps(us, n):
    """n bare select()s of US microseconds: their lengths in us."""
    gaps = []
    for _ in range(n):
        t = time.monotonic_ns()
        select.select([], [], [], us / 1e6)
        gaps.append((time.monotonic_ns() - t) / 1e3)
    return gaps


def piece_gaps(port, pieces):
    """Reads `pieces` times (a piece each, unless the reader was late):
    the gaps between the reads, in us."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        gaps, last = [], None
        for _ in range(pieces):
            if not s.recv(65536):
                raise BenchError("slicer: EOF")
            now = time.monotonic_ns()
            if last is not None:
                gaps.append((now - last) / 1e3)
            last = now
    return gaps


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) * q // 100, len(values) - 1)]


def run_slicer(args):
    rows = []
    for us in args.slicer_us:
        gaps = select_gaps(us, args.pieces)
        rows.append({"what": "select() alone", "us": us,
                     "interval": sum(gaps) / len(gaps),
                     "p50": pct(gaps, 50), "p99": pct(gaps, 99)})
        progress(rows[-1])
        server = compare.Server("muxd", [args.muxd, "-q", "-p", "0", "-s",
                                         "chargen", "--fault",
                                         f"slicer=64:0:{us}"],
                                args.logdir, pin=False)
        try:
            gaps = piece_gaps(server.port, args.pieces)
        finally:
            server.stop()
        rows.append({"what": f"muxd slicer=64:0:{us}", "us": us,
                     "interval": sum(gaps) / len(gaps), "p50": pct(gaps, 50),
                     "p99": pct(gaps, 99)})
        progress(rows[-1])
    return rows


def slicer_table(rows):
    out = ["| what | US | interval us | gap p50 us | gap p99 us | over p50 | "
           "over p99 |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['what']} | {r['us']} | {r['interval']:.1f} | "
                   f"{r['p50']:.1f} | {r['p99']:.1f} | "
                   f"{r['p50'] - r['us']:+.1f} | {r['p99'] - r['us']:+.1f} |")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# bandwidth


def read_rate(port, duration):
    """Reads for `duration` s: (bytes after the first read) / (time from
    the first read to the last)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        first = s.recv(1 << 20)
        if not first:
            raise BenchError("bandwidth: EOF before any byte")
        t0 = t1 = time.monotonic()
        got = 0
        while t1 - t0 < duration:
            n = len(s.recv(1 << 20))
            if n == 0:
                raise BenchError("bandwidth: EOF")
            got += n
            t1 = time.monotonic()
    return got / (t1 - t0)


def run_bandwidth(args, load):
    rows = []
    for text in args.rates:
        rate = parse_rate(text)
        upstream = compare.Server("chargen", [args.muxd, "-q", "-p", "0",
                                              "-s", "chargen"],
                                  args.logdir, pin=False)
        server = None
        try:
            server = start_muxd(args, upstream.port, [f"bandwidth={text}"])
            got = read_rate(server.port, args.duration)
        finally:
            if server:
                server.stop()
            upstream.stop()
        rows.append({"rate": text, "rate_bps": rate, "got_bps": got,
                     "ratio": got / rate, "load": load})
        progress(rows[-1])
    return rows


def bandwidth_table(rows):
    out = ["| fault | busy processes | bytes/s asked | bytes/s measured | "
           "of RATE |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| bandwidth={r['rate']} | {r['load']} | "
                   f"{r['rate_bps']:,} | {r['got_bps']:,.0f} | "
                   f"{r['ratio']:.4f} |")
    return "\n".join(out)


class Load:
    """N busy processes while it is open (a loaded machine)."""

    def __init__(self, n):
        self.procs = [subprocess.Popen([sys.executable, "-c",
                                        "while True: pass"])
                      for _ in range(n)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


# ---------------------------------------------------------------------------


def progress(row):
    print(json.dumps(row), file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--muxd", help="this muxd instead of BUILD/muxd")
    p.add_argument("--toxiproxy", help="toxiproxy-server, for the latency "
                   "rows (../shared/tools/toxiproxy-build.sh builds it)")
    p.add_argument("--latencies", default="1,5,20")
    p.add_argument("--conns", default="1,100")
    p.add_argument("--rates", default="100k,2M,50M")
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--think", type=float, default=0.02,
                   help="seconds each of several connections pauses "
                   "(0.5-1.5 x) between round trips (muxbench --think)")
    p.add_argument("--load", type=int, default=0)
    p.add_argument("--slicer-us", default="100,1000")
    p.add_argument("--pieces", type=int, default=2000)
    p.add_argument("--only", choices=["latency", "bandwidth", "slicer"])
    p.add_argument("--out", help="also write the tables here (markdown)")
    a = p.parse_args()
    build = os.path.abspath(a.build_dir)
    a.muxd = os.path.abspath(a.muxd) if a.muxd else \
        os.path.join(build, "muxd")
    a.muxbench = os.path.join(build, "bench", "muxbench")
    a.epoll_echo = os.path.join(build, "bench", "epoll_echo")
    a.latencies = [int(v) for v in a.latencies.split(",")]
    a.conns = [int(v) for v in a.conns.split(",")]
    a.rates = a.rates.split(",")
    a.slicer_us = [int(v) for v in a.slicer_us.split(",")]
    return a


def main():
    args = parse_args()
    sections = []
    with tempfile.TemporaryDirectory(prefix="muxbench-faults-") as tmp:
        args.logdir = tmp
        try:
            if args.only in (None, "latency"):
                sections.append(latency_table(run_latency(args)))
            if args.only in (None, "slicer"):
                sections.append(slicer_table(run_slicer(args)))
            if args.only in (None, "bandwidth"):
                with Load(args.load):
                    sections.append(bandwidth_table(
                        run_bandwidth(args, args.load)))
        except BenchError as e:
            sys.exit(f"faults.py: {e}")
    text = "\n\n".join(sections) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
