#!/usr/bin/env python3
"""Runs muxd's relay and the relays people use instead under muxbench.

Called by `compare.sh --relay` (which installs and builds first); python3
stdlib only, the shared parts from compare.py. Each measurement starts a
fresh epoll_echo upstream and muxbench pinned to CPU 1 and a fresh relay
pinned to CPU 0 that forwards to the upstream: muxd (`muxd -q -l
127.0.0.1:0 --to 127.0.0.1:UPSTREAM`, when its --help lists --to) and, from
Debian, haproxy (nbthread 1, mode tcp), rinetd, redir and socat (fork),
each with a configuration written into a temporary directory and a
loopback port. The relay's CPU time is the scheduler's run time
(/proc/PID/task/*/schedstat) of the relay and of every process it forked,
between muxbench's MEASURING and MEASURED marks, per round trip measured
between them.
The floor is the echo server alone, measured the same way (echo on CPU 0),
times two: a relay does twice an echo's kernel work.

Outputs in --out: relay.md (the tables), relay.dat and relay.gp (data and
script for gnuplot), relay.png (when gnuplot is installed), relay-raw.jsonl
(every measurement) and logs/ (every process's stderr).
"""
import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import compare
from compare import BenchError

LEVELS = [  # (mode, connections, message size)
    ("pingpong", 10, 64),
    ("pingpong", 100, 64),
    ("pingpong", 1000, 64),
    ("bulk", 1, 65536),
]
PINGPONG = [lv for lv in LEVELS if lv[0] == "pingpong"]
BULK = ("bulk", 1, 65536)
ECHO = "echo"  # epoll_echo alone: twice its CPU per round trip is the floor
PEERS = ["haproxy", "rinetd", "redir", "socat"]
RELAYS = ["muxd"] + PEERS
SMOKE_PEERS = ["socat", "rinetd"]
START_TIMEOUT = 10  # seconds a relay may take to listen
START_ATTEMPTS = 5  # a port picked free may be taken before the relay binds
CHILDREN_TIMEOUT = 5  # seconds a forking relay's children may take to exit
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
# muxbench's longest wait for progress: redir listens with a backlog of 10,
# so at 1000 connections some wait for SYN-ACK retransmissions (seconds).
STALL_TIMEOUT = 30
# The goals of issue 13 for muxd against the peers of the same run.
CPU_VS_PEER, CPU_VS_FLOOR = 0.8, 1.1


# ---------------------------------------------------------------------------
# The relays


def muxd_has_relay(muxd):
    """Whether this muxd build has the relay: its --help lists --to."""
    try:
        p = subprocess.run([muxd, "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return re.search(rb"(^|\s)--to(?![-\w])", p.stdout, re.M) is not None


def haproxy_config(port, upstream):
    return f"""global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen relay
    bind 127.0.0.1:{port}
    server upstream 127.0.0.1:{upstream}
"""


def relay_command(name, args, port, upstream, tmp):
    """The command that runs relay `name` on `port` (None: muxd, which
    picks one and says so in its ready line), forwarding to `upstream`."""
    up = f"127.0.0.1:{upstream}"
    if name == "muxd":
        return [args.muxd, "-q", "-l", "127.0.0.1:0", "--to", up]
    if name == "haproxy":
        cfg = write_config(tmp, "haproxy.cfg", haproxy_config(port, upstream))
        return ["haproxy", "-db", "-f", cfg]
    if name == "rinetd":  # no logfile line: rinetd logs nothing
        cfg = write_config(tmp, "rinetd.conf",
                           f"127.0.0.1 {port} 127.0.0.1 {upstream}\n")
        return ["rinetd", "-f", "-c", cfg]
    if name == "redir":
        return ["redir", "-n", "-l", "err", f"127.0.0.1:{port}", up]
    if name == "socat":  # its default backlog (5) drops a burst of SYNs
        return ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,"
                "backlog=1024,nodelay", f"TCP:{up},nodelay"]
    raise ValueError(name)


def write_config(tmp, filename, text):
    path = os.path.join(tmp, filename)
    with open(path, "w") as f:
        f.write(text)
    return path


def free_port():
    """A loopback port nobody listens on now (the relay binds it later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay(compare.Server):
    """A relay that prints no ready line: started on a port we pick, ready
    once it holds a socket listening there. It runs in a process group of
    its own, so that stopping it also stops what it forked."""

    def __init__(self, name, cmd, logdir, pin, port):
        self.name = name
        self.port = port
        with open(os.path.join(logdir, name + ".log"), "ab") as log:
            self.proc = subprocess.Popen(compare.pinned(0, cmd, pin),
                                         stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.wait_listening(START_TIMEOUT)

    def stop(self):
        super().stop()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        me = os.getpid()
        for pid, (ppid, _, _) in snapshot().items():
            if ppid == me and pid != self.proc.pid and \
                    in_group(pid, self.proc.pid):
                os.waitpid(pid, 0)  # killed: it exits at once

    def wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            if listening_inodes(self.port) & socket_inodes(self.proc.pid):
                return
            time.sleep(0.01)  # polling a condition, bounded by the deadline
        status = self.proc.poll()
        self.stop()
        raise BenchError(f"{self.name}: not listening on 127.0.0.1:"
                         f"{self.port} after {timeout} s" if status is None
                         else f"{self.name}: exited with status {status} "
                         "before listening (see its log)")


def in_group(pid, pgid):
    try:
        return os.getpgid(pid) == pgid
    except ProcessLookupError:
        return False


def listening_inodes(port):
    """Inodes of the TCP sockets listening on 127.0.0.1:port."""
    want = f"0100007F:{port:04X}"
    found = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":  # TCP_LISTEN
                found.add(fields[9])
    return found


def socket_inodes(pid):
    found = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                found.add(link[8:-1])
    except OSError:  # exited, or an fd closed while we looked
        pass
    return found


def start_relay(args, name, upstream, tmp):
    if name == "muxd":
        return compare.Server(name, relay_command(name, args, None, upstream,
                                                  tmp), args.logdir, args.pin)
    for attempt in range(START_ATTEMPTS):
        port = free_port()
        try:
            return Relay(name, relay_command(name, args, port, upstream, tmp),
                         args.logdir, args.pin, port)
        except BenchError:
            if attempt == START_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# CPU time of a relay and everything it forked


def stat_fields(pid):
    """/proc/PID/stat from field 3 (state) on, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def snapshot():
    """{pid: (ppid, state, ticks)} of every process; ticks: its utime,
    stime, cutime and cstime (a zombie's stay readable until reaped)."""
    procs = {}
    for entry in os.listdir("/proc"):
        fields = stat_fields(entry) if entry.isdigit() else None
        if fields:
            procs[int(entry)] = (int(fields[1]), fields[0],
                                 sum(int(v) for v in fields[11:15]))
    return procs


def subtree(procs, roots):
    """The roots that exist and every process they forked."""
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [r for r in roots if r in procs]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def become_subreaper():
    """Processes that fork twice to leave their parent (redir serves each
    connection so) are re-parented to us instead of init: their time then
    stays countable until we reap them. Linux only; False elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class CpuMeter:
    """The CPU time of one relay: its own, its reaped children's, and that
    of every process it forked that still exists, adopted ones included
    (our children that are none of `known`)."""

    def __init__(self, pid, known):
        self.pid, self.known = pid, set(known) | {pid}

    def adopted(self, procs, load=None):
        me = os.getpid()
        return [p for p, (ppid, _, _) in procs.items()
                if ppid == me and p not in self.known and p != load]

    def seconds(self):
        """Its CPU seconds so far, reaped children included (clock ticks:
        for the whole run, once settled)."""
        procs = snapshot()
        tree = subtree(procs, [self.pid] + self.adopted(procs))
        return sum(procs[p][2] for p in tree) / compare.TICKS

    def running_seconds(self, load):
        """The CPU seconds its processes that exist now ran, to the
        nanosecond (what a measured window needs: see run_seconds);
        `load`: the pid of the running muxbench, our child but not the
        relay's."""
        procs = snapshot()
        tree = subtree(procs, [self.pid] + self.adopted(procs, load))
        return sum(compare.run_seconds(p) for p in tree)

    def settled(self, procs):
        """Whether nothing it forked can still run or be reaped by anyone
        but us: its own children are gone, the adopted ones are zombies."""
        if subtree(procs, [self.pid]) != [self.pid]:
            return False
        return all(procs[p][1] == "Z"
                   for p in subtree(procs, self.adopted(procs)))

    def settle(self, timeout):
        """Waits (bounded) until the connections' processes are gone, so
        that no time moves between processes while it is read."""
        deadline = time.monotonic() + timeout
        while (not self.settled(snapshot()) and
               time.monotonic() < deadline):
            time.sleep(0.01)  # polling a condition, bounded by the deadline

    def reap(self):
        for pid in self.adopted(snapshot()):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


# ---------------------------------------------------------------------------
# Measurements


def measure(args, name, level, tmp):
    """One level with a fresh upstream and relay (ECHO: the upstream alone,
    on CPU 0). Returns muxbench's result plus the relay's CPU figures."""
    compare.wait_quiet(args)
    echo_cmd = [args.epoll_echo, "0"]
    upstream = compare.Server("upstream", echo_cmd, args.logdir, args.pin,
                              cpu=0 if name == ECHO else 1)
    relay = None
    try:
        relay = (upstream if name == ECHO
                 else start_relay(args, name, upstream.port, tmp))
        r = run_load(args, relay, upstream, level)
    finally:
        if relay and relay is not upstream:
            relay.stop()
        upstream.stop()
    # Over the measured time only (muxbench's marks): a relay that accepts
    # slowly would otherwise be measured partly at fewer connections.
    r["us_per_rt"] = (r["window_cpu_s"] * 1e6 / r["rts"] if r["rts"] else 0.0)
    return r


def run_load(args, relay, upstream, level):
    mode, conns, size = level
    meter = CpuMeter(relay.proc.pid, [upstream.proc.pid])
    up_meter = CpuMeter(upstream.proc.pid, [relay.proc.pid])
    cpu0, up0 = meter.seconds(), up_meter.seconds()
    busy0, kids0, t0 = (compare.busy_seconds(), compare.children_cpu(),
                        time.monotonic())
    extra = ["-m", mode, "-c", str(conns), "-s", str(size),
             "-d", str(args.duration), "-w", str(args.warmup),
             "-t", str(STALL_TIMEOUT)]
    r = compare.muxbench(args, relay.port, extra,
                         args.duration + args.warmup + 2 * STALL_TIMEOUT,
                         args.pin, cpu=meter.running_seconds)
    meter.settle(CHILDREN_TIMEOUT)
    if not relay.alive():
        raise BenchError(f"{relay.name} exited during {mode} {conns}")
    r["relay_cpu_s"] = meter.seconds() - cpu0
    meter.reap()
    r["hwm_kib"] = relay.status_kib("VmHWM")
    r["upstream_cpu_s"] = (up_meter.seconds() - up0
                           if relay is not upstream else 0.0)
    others = (compare.busy_seconds() - busy0 - r["relay_cpu_s"] -
              r["upstream_cpu_s"] - (compare.children_cpu() - kids0))
    r["other_load"] = max(others, 0) / (time.monotonic() - t0)
    return r


def run_levels(args, names, raw, problems, absent):
    cells = {}
    with tempfile.TemporaryDirectory(prefix="muxbench-relay-") as tmp:
        for rnd in range(args.rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]
            for level in LEVELS:
                for name in order:
                    r = measure_one(args, name, level, tmp, problems,
                                    absent)
                    if r is None:
                        continue
                    r.update(server=name, round=rnd, level=level_name(level))
                    raw.write(json.dumps(r) + "\n")
                    raw.flush()
                    cells.setdefault((name, level), []).append(r)
                    progress(args, rnd, name, level, r)
    return cells


def measure_one(args, name, level, tmp, problems, absent):
    """One measurement; a failure is noted in `problems` and, for the
    tables, in `absent` under (name, level)."""
    try:
        r = measure(args, name, level, tmp)
    except BenchError as e:
        problems.append(f"{name} {level_name(level)}: {e}")
        absent[(name, level)] = ("timed out" if "timed out" in str(e)
                                 else "failed")
        return None
    if r["errors"] or r["mismatches"]:
        problems.append(f"{name} {level_name(level)}: {r['errors']:.0f} "
                        f"errors, {r['mismatches']:.0f} mismatches: "
                        f"{r['stderr']}")
    return r


def progress(args, rnd, name, level, r):
    rate = (f"{r['mibps']:>8,.0f} MiB/s" if level[0] == "bulk"
            else f"{r['rps']:>8,.0f} rt/s")
    print(f"relay: round {rnd + 1}/{args.rounds} {level_name(level):18} "
          f"{name:8} {rate}  {r['us_per_rt']:6.2f} µs/RT  other "
          f"{r['other_load']:.2f} CPU", flush=True)


# ---------------------------------------------------------------------------
# Reporting


def level_name(level):
    mode, conns, size = level
    return f"{mode} {conns} x {size} B"


def best_peer(med, level, key, lowest):
    """(name, value) of the best peer at a level by `key`, or None."""
    found = [(med[(p, level)][key], p) for p in PEERS if (p, level) in med]
    if not found:
        return None
    value, name = min(found) if lowest else max(found)
    return name, value


def floor_us(med, level):
    echo = med.get((ECHO, level))
    return 2 * echo["us_per_rt"] if echo else 0.0


def ratio(value, ref):
    return f"{value / ref:.2f}" if ref else "–"


def why_absent(absent, name, level):
    return absent.get(name) or absent.get((name, level), "failed")


def absent_cells(reason, count):
    return [reason] + ["–"] * (count - 1)


def cpu_table(names, med, absent):
    head = "| relay |" + "".join(
        f" {c} conns µs/RT | × floor | × best peer |" for _, c, _ in PINGPONG)
    lines = ["### Relay CPU per round trip, ping-pong 64 B", "",
             "The relay's own CPU time (all its processes) while muxbench "
             "measured, divided by the round trips measured; floor: twice the echo server's "
             "CPU per round trip, measured alone.", "", head,
             "|---|" + "---:|" * 3 * len(PINGPONG)]
    floor = ["floor (2 × echo)"]
    echo = [f"echo alone ({ECHO}: epoll_echo)"]
    for level in PINGPONG:
        f, best = floor_us(med, level), best_peer(med, level, "us_per_rt",
                                                   True)
        b = best[1] if best else 0
        floor += [f"{f:.2f}", "1.00", ratio(f, b)]
        echo += [f"{f / 2:.2f}", ratio(f / 2, f), ratio(f / 2, b)]
    lines += ["| " + " | ".join(floor) + " |", "| " + " | ".join(echo) + " |"]
    for name in names:
        cells = [name]
        for level in PINGPONG:
            m = med.get((name, level))
            best = best_peer(med, level, "us_per_rt", True)
            if m is None:
                cells += absent_cells(why_absent(absent, name, level), 3)
                continue
            cells += [f"{m['us_per_rt']:.2f}",
                      ratio(m["us_per_rt"], floor_us(med, level)),
                      ratio(m["us_per_rt"], best[1] if best else 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + ["", best_line(med, "us_per_rt", True, "µs/RT"), ""]


def rate_table(names, med, absent):
    head = "| relay |" + "".join(
        f" {c} conns rt/s | × best peer |" for _, c, _ in PINGPONG)
    lines = ["### Throughput: round trips/s (ping-pong 64 B) and bulk "
             "(64 KiB messages, 1 connection)", "",
             head + " bulk MiB/s | × best peer | errors | mismatches |",
             "|---|" + "---:|" * (2 * len(PINGPONG) + 4)]
    for name in [ECHO] + names:
        cells = [f"echo alone ({ECHO}: epoll_echo)" if name == ECHO
                 else name]
        for level, key, fmt in [(lv, "rps", "{:,.0f}") for lv in PINGPONG] + \
                [(BULK, "mibps", "{:,.0f}")]:
            m = med.get((name, level))
            if m is None:
                cells += absent_cells(why_absent(absent, name, level), 2)
                continue
            best = best_peer(med, level, key, False)
            cells += [fmt.format(m[key]), ratio(m[key], best[1] if best
                                                 else 0)]
        ms = [med[(name, lv)] for lv in LEVELS if (name, lv) in med]
        cells += ([str(sum(m["errors"] for m in ms)),
                   str(sum(m["mismatches"] for m in ms))] if ms
                  else ["–", "–"])
        lines.append("| " + " | ".join(cells) + " |")
    return lines + ["", best_line(med, "rps", False, "rt/s"), "",
                    best_line(med, "mibps", False, "MiB/s", [BULK]), ""]


def best_line(med, key, lowest, unit, levels=None):
    parts = []
    for level in levels or PINGPONG:
        best = best_peer(med, level, key, lowest)
        if best:
            value = f"{best[1]:.2f}" if lowest else f"{best[1]:,.0f}"
            parts.append(f"{level_name(level)}: {best[0]} ({value} {unit})")
    return "Best peer: " + ("; ".join(parts) if parts else "none measured") \
        + "."


def target_rows(med):
    """(target, measured, met) for issue 13's goals, when muxd ran."""
    rows = []
    for level in PINGPONG:
        mux, best = med.get(("muxd", level)), best_peer(med, level,
                                                         "us_per_rt", True)
        floor = floor_us(med, level)
        if not mux or not best or not floor:
            continue
        us = mux["us_per_rt"]
        rows.append((f"{level_name(level)}: muxd CPU/RT ≤ {CPU_VS_PEER}× "
                     f"best peer ({best[0]}) or ≤ {CPU_VS_FLOOR}× floor",
                     f"{us:.2f} µs: {us / best[1]:.2f}× best peer, "
                     f"{us / floor:.2f}× floor",
                     us <= CPU_VS_PEER * best[1] or us <= CPU_VS_FLOOR * floor))
        top = best_peer(med, level, "rps", False)
        rows.append((f"{level_name(level)}: muxd ahead of every peer in "
                     "rt/s", f"{mux['rps'] / top[1]:.2f}× {top[0]}",
                     mux["rps"] > top[1]))
    mux, top = med.get(("muxd", BULK)), best_peer(med, BULK, "mibps", False)
    if mux and top:
        rows.append((f"{level_name(BULK)}: muxd ≥ best peer", f"{mux['mibps'] / top[1]:.2f}× {top[0]}",
                     mux["mibps"] >= top[1]))
    return rows


def targets_section(med, absent):
    if "muxd" in absent:
        return [f"muxd: {absent['muxd']} (its --help has no --to): no "
                "targets checked.", ""]
    rows = target_rows(med)
    if not rows:
        return ["muxd: no complete level measured: no targets checked.", ""]
    lines = ["### Targets (issue 13)", "", "| target | measured | met |",
             "|---|---|---|"]
    lines += [f"| {t} | {v} | {'yes' if ok else '**no**'} |"
              for t, v, ok in rows]
    return lines + [""]


def write_results(args, names, cells, absent, meta):
    med = compare.summarize(cells)
    lines = (["# muxd relay benchmark results", ""] + meta + [""] +
             targets_section(med, absent) + cpu_table(names, med, absent) +
             rate_table(names, med, absent))
    with open(os.path.join(args.out, "relay.md"), "w") as f:
        f.write("\n".join(lines))
    write_plot(args, names, med)
    return med


def write_plot(args, names, med):
    shown = [n for n in names if any((n, lv) in med for lv in PINGPONG)]
    cols = ["floor"] + shown
    with open(os.path.join(args.out, "relay.dat"), "w") as f:
        f.write("# relay, ping-pong 64 B, medians by connections; "
                "? = not measured\n# block 0: relay CPU µs per round trip "
                "(floor: 2 x echo alone); block 1: round trips/s\n")
        for key in ("us_per_rt", "rps"):
            f.write("conns " + " ".join(cols) + "\n")
            for level in PINGPONG:
                vals = [floor_us(med, level) or None] if key == "us_per_rt" \
                    else [None]
                vals += [med.get((n, level), {}).get(key) for n in shown]
                f.write(f"{level[1]} " + " ".join(
                    "?" if v is None else f"{v:.2f}" for v in vals) + "\n")
            f.write("\n\n")
    with open(os.path.join(args.out, "relay.gp"), "w") as f:
        f.write(plot_script(cols))
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot", "relay.gp"], cwd=args.out, check=False)


def plot_script(cols):
    def plots(index, first):
        return ", ".join(
            f"'relay.dat' index {index} using 1:{i + 2} with linespoints "
            f"lt {i + 1} lw 2{' dt 2' if c == 'floor' else ''} title '{c}'"
            for i, c in enumerate(cols) if i >= first)
    return ("set terminal pngcairo size 1100,480 noenhanced\n"
            "set output 'relay.png'\n"
            "set multiplot layout 1,2 title 'TCP relay to an epoll echo, "
            "ping-pong 64 B (relay on CPU 0, load and upstream on CPU 1)'\n"
            "set xlabel 'connections'\nset logscale x\n"
            "set xrange [7:1400]\nset xtics (10, 100, 1000)\n"
            "set datafile missing '?'\n"
            "set yrange [0:*]\nset key top left\nset grid\n"
            "set title 'relay CPU per round trip (lower is better)'\n"
            "set ylabel 'µs'\n"
            f"plot {plots(0, 0)}\n"
            "set title 'round trips/s'\nset ylabel ''\n"
            "set format y '%.0s%c'\n"
            f"plot {plots(1, 1)}\n"
            "unset multiplot\n")


# ---------------------------------------------------------------------------
# The run


def choose(args, problems):
    """The relays to run, and why each of the others is left out."""
    wanted = (args.servers.split(",") if args.servers
              else ["muxd"] + (SMOKE_PEERS if args.smoke else PEERS))
    unknown = [n for n in wanted if n not in RELAYS]
    if unknown:
        raise SystemExit(f"relay: unknown relay {', '.join(unknown)} "
                         f"(choose among {', '.join(RELAYS)})")
    names, absent = [], {}
    for name in wanted:
        if name == "muxd" and not muxd_has_relay(args.muxd):
            absent[name] = "not built yet"
        elif name != "muxd" and not shutil.which(name):
            absent[name] = "not installed"
            problems.append(f"{name} is not installed "
                            f"(apt-get install {name})")
        else:
            names.append(name)
            continue
        print(f"relay: {name}: {absent[name]}", file=sys.stderr)
    return names, absent, wanted


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--warmup", type=float, default=0.3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--servers", default="",
                   help="comma-separated relays: " + ",".join(RELAYS))
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--no-pin", dest="pin", action="store_false")
    p.add_argument("--quiet-wait", type=float, default=20.0)
    a = p.parse_args()
    a.build_dir, a.out = os.path.abspath(a.build_dir), os.path.abspath(a.out)
    a.muxd = os.path.join(a.build_dir, "muxd")
    a.muxbench = os.path.join(a.build_dir, "bench", "muxbench")
    a.epoll_echo = os.path.join(a.build_dir, "bench", "epoll_echo")
    a.logdir = os.path.join(a.out, "logs")
    a.quiet_budget = 0 if a.smoke else 180.0
    if a.smoke:
        a.duration, a.warmup, a.rounds = min(a.duration, 0.5), 0.0, 1
    return a


def main():
    args = parse_args()
    for path in (args.muxbench, args.epoll_echo):
        if not os.access(path, os.X_OK):
            print(f"relay: {path} is missing: build first", file=sys.stderr)
            return 1
    compare.raise_fd_limit()
    os.makedirs(args.logdir, exist_ok=True)
    if args.pin and ((os.cpu_count() or 1) < 2 or not shutil.which("taskset")):
        print("relay: fewer than 2 CPUs or no taskset: not pinning",
              file=sys.stderr)
        args.pin = False
    if not become_subreaper():
        print("relay: cannot become a subreaper: the time of processes "
              "that fork twice (redir) is not counted", file=sys.stderr)
    problems = []
    names, absent, rows = choose(args, problems)
    started = time.time()
    with open(os.path.join(args.out, "relay-raw.jsonl"), "w") as raw:
        cells = run_levels(args, [ECHO] + names, raw, problems, absent)
    meta = run_meta(args, started, cells)
    write_results(args, rows, cells, absent, meta)
    print(f"relay: results in {args.out}/relay.md")
    for p in problems:
        print(f"relay: problem: {p}", file=sys.stderr)
    return 1 if problems else 0


def run_meta(args, started, cells):
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
    lines = [f"Machine: {compare.machine()}; {peer_versions()}.",
             f"Run: {when}, {args.rounds} round(s) of {args.duration:g} s per "
             f"level after {args.warmup:g} s of warm-up; relay pinned to "
             "CPU 0, muxbench and the epoll_echo upstream to CPU 1: "
             f"{'yes' if args.pin else 'no'}; "
             f"{(time.time() - started) / 60:.1f} min in all.",
             "Medians over the rounds (a round measured while other "
             f"processes used more than {compare.NOISY} CPU is left out "
             "when at least half are quieter); errors and mismatches are "
             "totals over every round."]
    loads = sorted(r["other_load"] for rs in cells.values() for r in rs)
    if loads:
        lines.append("Other load on the machine during the measurements: "
                     f"median {compare.median(loads):.2f} CPUs, max "
                     f"{loads[-1]:.2f}.")
    return lines


def peer_versions():
    """The installed peers' Debian versions, for the record."""
    found = []
    for pkg in PEERS:
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           capture_output=True, text=True, check=False) \
            if shutil.which("dpkg-query") else None
        if p and p.returncode == 0 and p.stdout:
            found.append(f"{pkg} {p.stdout}")
    return ", ".join(found) or "no peer versions known"


if __name__ == "__main__":
    sys.exit(main())
