#!/usr/bin/env python3
"""Runs muxd and its peers under muxbench and writes the comparison.

Called by compare.sh (which installs and builds first); python3 stdlib only.
Each measurement starts a fresh server pinned to CPU 0, waits for its ready
line ("listening on tcp 127.0.0.1:PORT"), runs muxbench pinned to CPU 1 and
reads the server's CPU time while muxbench measures (the scheduler's run
time, /proc/PID/task/*/schedstat, at muxbench's marks) and peak RSS
(VmHWM) before stopping it. Servers take turns level by level (A B C ... A B
C ..., each round starting one server later), for --rounds rounds; the
tables show medians.

Outputs in --out: results.md (the tables), results.dat and plot.gp (data and
script for gnuplot), plot.png (when gnuplot is installed), raw.jsonl (every
measurement) and logs/ (the servers' stderr).
"""
import argparse
import json
import os
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

READY = re.compile(rb"listening on tcp 127\.0\.0\.1:(\d+)")
LEVELS = [  # (mode, connections, message size, active; 0: all)
    ("pingpong", 1, 64, 0),
    ("pingpong", 10, 64, 0),
    ("pingpong", 100, 64, 0),
    ("pingpong", 1000, 64, 0),
    ("pingpong", 5000, 64, 0),
    ("pingpong", 10000, 64, 0),
    ("pingpong", 10000, 64, 100),  # 100 active among 10,000 held
    ("churn", 10, 64, 0),
    ("bulk", 1, 65536, 0),
]
PINGPONG_CONNS = [c for m, c, _, a in LEVELS if m == "pingpong" and not a]
# select_echo uses fd_set: it cannot hold an fd past FD_SETSIZE (1024).
SELECT_MAX_CONNS = 1000
IDLE_CONNS = [1000, 10000]
SMOKE_MAX_CONNS = 1000  # --smoke: the levels every machine can hold
READY_RUNS = 20
# Other processes' CPU use (in CPUs) above which the machine is not quiet:
# cells measured above it are left out of the medians when enough are not.
NOISY = 0.2
TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


def server_table(build, source):
    """The servers in the order they take turns: name -> command."""
    py = sys.executable or "python3"
    peers = os.path.join(source, "bench", "peers")
    return {
        "muxd": [os.path.join(build, "muxd"), "-p", "0", "-q"],
        "select": [os.path.join(build, "bench", "select_echo"), "0"],
        "epoll": [os.path.join(build, "bench", "epoll_echo"), "0"],
        "libevent": [os.path.join(build, "bench", "libevent_echo"), "0"],
        "libuv": [os.path.join(build, "bench", "libuv_echo"), "0"],
        "py-selectors": [py, os.path.join(peers, "selectors_echo.py"), "0"],
        "py-asyncio": [py, os.path.join(peers, "asyncio_echo.py"), "0"],
    }


def pinned(cpu, cmd, pin):
    return ["taskset", "-c", str(cpu)] + cmd if pin else cmd


class Server:
    """A running server: started, ready, measured, stopped."""

    def __init__(self, name, cmd, logdir, pin=True, wrap=None, cpu=0):
        self.name = name
        log = open(os.path.join(logdir, name + ".log"), "ab")
        full = (wrap or []) + cmd
        self.proc = subprocess.Popen(pinned(cpu, full, pin and not wrap),
                                     stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.port = self.wait_ready(30 if wrap else 10)

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        out = self.proc.stdout.fileno()
        seen = b""
        while time.monotonic() < deadline:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([out], [], [], max(left, 0))
            if not ready:
                break
            chunk = os.read(out, 4096)
            if not chunk:
                break
            seen += chunk
            m = READY.search(seen)
            if m:
                return int(m.group(1))
        self.stop()
        raise BenchError(f"{self.name}: no ready line (got {seen[:200]!r})")

    def cpu_seconds(self):
        return run_seconds(self.proc.pid)

    def status_kib(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def run_seconds(pid):
    """The CPU seconds process `pid` ran so far, every thread: the
    scheduler's nanoseconds (/proc/PID/task/*/schedstat). utime + stime in
    /proc/PID/stat are sampled at clock ticks: a process that runs in
    short bursts among many (a forking relay's children) gets too few of
    them. Falls back to utime + stime where schedstat is missing; 0 once
    the process is gone."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0  # gone
    total, found = 0, False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
                found = True
        except OSError:
            pass  # a thread that ended meanwhile, or no schedstat
    if found:
        return total / 1e9
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    except OSError:
        return 0.0


def parse_result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return {k: (float(v) if re.fullmatch(r"[-0-9.]+", v) else v)
                    for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
    return None


def muxbench(args, port, extra, timeout, pin=True, cpu=None):
    """Runs muxbench -q; with `cpu` (a function of muxbench's pid returning
    the server's CPU seconds), the result also holds "window_cpu_s": what
    `cpu` counted between muxbench's MEASURING and MEASURED marks, the time
    its round trips/s cover (not connecting, warm-up or the drain)."""
    cmd = pinned(1, [args.muxbench, "-q"] + (["--marks"] if cpu else []) +
                 extra + [str(port)], pin)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    # Both pipes, unbuffered, as the bytes come: a mark is seen the moment
    # it is written (a buffered readline could hold one back behind
    # another), and a chatty stderr cannot fill its pipe while we wait.
    out_fd, err_fd = p.stdout.fileno(), p.stderr.fileno()
    got = {out_fd: b"", err_fd: b""}
    open_fds, lines, marks = [out_fd, err_fd], [], {}
    try:
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"muxbench {' '.join(extra)}: timed out")
            ready, _, _ = select.select(open_fds, [], [], left)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.remove(fd)
                    continue
                got[fd] += chunk
                if fd != out_fd:
                    continue
                *done, got[fd] = got[fd].split(b"\n")
                for line in done:
                    mark = line.strip().decode(errors="replace")
                    if cpu and mark in ("MEASURING", "MEASURED"):
                        marks[mark] = cpu(p.pid)
                    else:
                        lines.append(line)
        p.wait(max(deadline - time.monotonic(), 0.1))
    except (BenchError, subprocess.TimeoutExpired):
        p.kill()
        p.wait()
        raise BenchError(f"muxbench {' '.join(extra)}: timed out")
    except BaseException:  # Ctrl-C, or cpu() failed: no muxbench left
        p.kill()
        p.wait()
        raise
    finally:
        p.stdout.close()
        p.stderr.close()
    out = b"\n".join(lines + [got[out_fd]])
    err = got[err_fd].decode(errors="replace").strip()
    result = parse_result(out.decode(errors="replace"))
    if result is None:
        raise BenchError(f"muxbench {' '.join(extra)} failed (exit status "
                         f"{p.returncode}): {err}")
    result["stderr"] = err
    if cpu:
        if "MEASURING" not in marks:
            raise BenchError(f"muxbench {' '.join(extra)}: no MEASURING mark")
        end = marks.get("MEASURED")
        result["window_cpu_s"] = (end if end is not None else cpu(p.pid)) - \
            marks["MEASURING"]
    return result


# ---------------------------------------------------------------------------
# Measurements


def busy_seconds():
    """CPU seconds all CPUs spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICKS  # all but idle and iowait


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def others_load(seconds):
    """CPUs busy over `seconds` while we run nothing: other processes."""
    busy0, t0 = busy_seconds(), time.monotonic()
    time.sleep(seconds)
    return (busy_seconds() - busy0) / (time.monotonic() - t0)


def wait_quiet(args):
    """Waits (bounded per cell and in all) until other processes idle."""
    start = time.monotonic()
    while (args.quiet_budget > 0 and others_load(0.2) > NOISY / 2 and
           time.monotonic() - start < args.quiet_wait):
        pass
    args.quiet_budget -= time.monotonic() - start


def measure_level(args, name, cmd, level):
    mode, conns, size, active = level
    wait_quiet(args)
    srv = Server(name, cmd, args.logdir, args.pin)
    try:
        cpu0, busy0, kids0 = srv.cpu_seconds(), busy_seconds(), children_cpu()
        t0 = time.monotonic()
        extra = ["-m", mode, "-c", str(conns), "-s", str(size),
                 "-d", str(args.duration), "-w", str(args.warmup)]
        if active:
            extra += ["--active", str(active)]
        r = muxbench(args, srv.port, extra,
                     args.duration + args.warmup + 60, args.pin,
                     cpu=lambda _load: srv.cpu_seconds())
        if not srv.alive():
            raise BenchError(f"{name} exited during {mode} {conns}")
        r["server_cpu_s"] = srv.cpu_seconds() - cpu0
        r["hwm_kib"] = srv.status_kib("VmHWM")
        # CPU that neither the server nor muxbench used: other load that
        # makes the figures noisy (in CPUs, 0 on a quiet machine).
        others = (busy_seconds() - busy0 - r["server_cpu_s"] -
                  (children_cpu() - kids0))
        r["other_load"] = max(others, 0) / (time.monotonic() - t0)
    finally:
        srv.stop()
    # CPU per round trip over the measured time only: connecting and
    # warming up (cheaper per round trip while few connections are open,
    # and slow for some servers) would bias it.
    r["us_per_rt"] = (r["window_cpu_s"] * 1e6 / r["rts"] if r["rts"] else 0.0)
    return r


def measure_idle(args, name, cmd, conns):
    """RSS idle, and holding `conns` connections (one echo each)."""
    srv = Server(name, cmd, args.logdir, args.pin)
    try:
        idle = srv.status_kib("VmRSS")
        bench = subprocess.Popen(
            pinned(1, [args.muxbench, "-q", "-m", "idle", "-c",
                       str(conns), "--hold", "1", str(srv.port)],
                   args.pin),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = wait_line(bench, b"holding", 30)
        held = srv.status_kib("VmRSS")
        out, err = bench.communicate(timeout=30)
        r = parse_result(out.decode()) or {"errors": 1, "mismatches": 0}
        if not line:
            r["errors"] = r.get("errors", 0) + 1
        return {"idle_kib": idle, "held_kib": held, "held": line,
                "errors": int(r["errors"]),
                "mismatches": int(r["mismatches"]),
                "stderr": err.decode(errors="replace").strip()}
    finally:
        srv.stop()


def wait_line(proc, prefix, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [],
                                    max(deadline - time.monotonic(), 0))
        if not ready:
            break
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        for line in buf.splitlines():
            if line.startswith(prefix):
                return line.decode()
    return None


def measure_ready(args, cmd):
    """Milliseconds from spawning to the ready line, median of READY_RUNS."""
    times = []
    for _ in range(READY_RUNS):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        line = p.stdout.readline()
        times.append((time.perf_counter() - t0) * 1e3)
        p.terminate()
        p.wait()
        p.stdout.close()
        if not READY.search(line):
            raise BenchError(f"{cmd[0]}: no ready line")
    return statistics.median(times)


def callgrind_run(args, name, cmd, conns, count):
    out = os.path.join(args.logdir, f"callgrind.{name}.{conns}.{count}")
    wrap = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
    srv = Server(name + "-callgrind", cmd, args.logdir, wrap=wrap)
    try:
        r = muxbench(args, srv.port, ["-c", str(conns), "-n", str(count),
                                      "-t", "30"], 300, pin=False)
    finally:
        srv.stop()
    with open(out) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1]), r["rts_total"]
    raise BenchError(f"{out}: no totals")


def measure_instructions(args, name, cmd, conns):
    """User-space instructions per round trip: the difference of two runs
    with different counts cancels start-up, connecting and shutdown."""
    small, large = args.cg_count // 5, args.cg_count
    ir1, rt1 = callgrind_run(args, name, cmd, conns, small)
    ir2, rt2 = callgrind_run(args, name, cmd, conns, large)
    return (ir2 - ir1) / (rt2 - rt1)


# ---------------------------------------------------------------------------
# Reporting


def median(values):
    return statistics.median(values) if values else 0.0


def level_name(level):
    mode, conns, size, active = level
    if active:
        return f"{mode} {active} of {conns} x {size} B"
    return f"{mode} {conns} x {size} B"


def summarize(cells):
    """cells: {(server, level): [result, ...]} -> medians per key."""
    keys = ["rps", "p50_us", "p99_us", "p999_us", "us_per_rt", "client_cpu",
            "mibps"]
    med = {}
    for k, all_results in cells.items():
        quiet = [r for r in all_results if r["other_load"] <= NOISY]
        results = quiet if 2 * len(quiet) >= len(all_results) else all_results
        med[k] = {key: median([r[key] for r in results]) for key in keys}
        med[k]["used"] = f"{len(results)}/{len(all_results)}"
        med[k]["errors"] = int(sum(r["errors"] for r in all_results))
        med[k]["mismatches"] = int(sum(r["mismatches"] for r in all_results))
        med[k]["hwm_kib"] = max(r["hwm_kib"] for r in all_results)
        med[k]["runs"] = len(results)
    return med


def fmt_rate(v):
    return f"{v:,.0f}"


def reference(level, med):
    """The peer a level's ratios are against: select where it can hold the
    connections, else the minimal epoll server."""
    return "select" if ("select", level) in med else "epoll"


def level_table(level, servers, med):
    refname = reference(level, med)
    ref = med.get((refname, level), {}).get("rps", 0)
    cpu_ref = med.get((refname, level), {}).get("us_per_rt", 0)
    lines = [f"### {level_name(level)}", "",
             f"| server | round trips/s | × {refname} | CPU/RT × {refname} "
             "| p50 µs | p99 µs | "
             "p99.9 µs | server CPU µs/RT | load gen busy | rounds | errors "
             "| mismatches |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in servers:
        m = med.get((s, level))
        if not m:
            continue
        ratio = f"{m['rps'] / ref:.2f}" if ref else "–"
        cpu = f"{m['us_per_rt'] / cpu_ref:.2f}" if cpu_ref else "–"
        lines.append(
            f"| {s} | {fmt_rate(m['rps'])} | {ratio} | {cpu} | "
            f"{m['p50_us']:.0f} | "
            f"{m['p99_us']:.0f} | {m['p999_us']:.0f} | "
            f"{m['us_per_rt']:.2f} | {m['client_cpu'] * 100:.0f}% | "
            f"{m['used']} | {m['errors']} | {m['mismatches']} |")
    return lines + [""]


def per_client_kib(i):
    return (i["held_kib"] - i["idle_kib"]) / i["conns"]


def memory_table(servers, med, idle):
    lines = ["### Memory", "",
             "| server | peak RSS (VmHWM) | RSS idle | RSS with 1000 idle "
             "connections | with 10,000 | per idle client at 10,000 |",
             "|---|---:|---:|---:|---:|---:|"]
    for s in servers:
        hwm = max((m["hwm_kib"] for (srv, _), m in med.items() if srv == s),
                  default=0)
        small, large = idle.get((s, 1000)), idle.get((s, 10000))
        cells = [f"{hwm / 1024:.1f} MiB",
                 f"{small['idle_kib'] / 1024:.1f} MiB" if small else "–",
                 f"{small['held_kib'] / 1024:.1f} MiB" if small else "–",
                 f"{large['held_kib'] / 1024:.1f} MiB" if large else "–",
                 f"{per_client_kib(large):.2f} KiB" if large else "–"]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines + [""]


def target_rows(servers, med, idle, ready, instr):
    """(target, measured, met) for every target of the issue."""
    rows = []
    rival = [s for s in servers if s not in ("muxd", "select", "epoll")]
    for level in LEVELS:
        mode = level[0]
        mux = med.get(("muxd", level), {}).get("rps", 0)
        sel = med.get(("select", level), {}).get("rps", 0)
        if mode in ("pingpong", "churn") and sel:
            need = 0.95 if mode == "pingpong" else 0.9
            cpu = (med[("muxd", level)]["us_per_rt"] /
                   max(med[("select", level)]["us_per_rt"], 1e-9))
            rows.append((f"{level_name(level)}: muxd ≥ {need}× select",
                         f"{mux / sel:.3f}× (server CPU per round trip "
                         f"{cpu:.2f}×)", mux >= need * sel))
        behind = [s for s in rival if med.get((s, level), {}).get("rps", 0)
                  >= mux]
        if rival and any((s, level) in med for s in rival):
            rows.append((f"{level_name(level)}: muxd ahead of "
                         f"{', '.join(rival)}",
                         "behind " + ", ".join(behind) if behind else "ahead",
                         not behind))
    rows += scale_rows(med)
    if ("muxd", 1000) in idle:
        i = idle[("muxd", 1000)]
        d = (i["held_kib"] - i["idle_kib"]) / 1024
        rows.append(("1000 idle connections ≤ 2 MiB above idle",
                     f"{d:.2f} MiB", d <= 2))
    if ("muxd", 10000) in idle:
        k = per_client_kib(idle[("muxd", 10000)])
        rows.append(("idle memory ≤ 1 KiB per client at 10,000",
                     f"{k:.2f} KiB", k <= 1))
    if ready is not None:
        rows.append(("start to ready line ≤ 5 ms (median of 20)",
                     f"{ready:.2f} ms", ready <= 5))
    for conns, (mux, sel) in sorted(instr.items()):
        rows.append((f"instructions per round trip ≤ 2× select "
                     f"(pingpong {conns})",
                     f"{mux:,.0f} vs {sel:,.0f} = {mux / sel:.2f}×",
                     mux <= 2 * sel))
    return rows


def scale_rows(med):
    """The targets against epoll_echo at 10,000 connections."""
    rows = []
    busy, few = ("pingpong", 10000, 64, 0), ("pingpong", 10000, 64, 100)
    mux, ep = med.get(("muxd", busy)), med.get(("epoll", busy))
    if mux and ep and ep["rps"]:
        r = mux["rps"] / ep["rps"]
        rows.append((f"{level_name(busy)}: muxd ≥ 0.8× epoll", f"{r:.2f}×",
                     r >= 0.8))
    mux, ep = med.get(("muxd", few)), med.get(("epoll", few))
    if mux and ep and ep["us_per_rt"]:
        r = mux["us_per_rt"] / ep["us_per_rt"]
        rows.append((f"{level_name(few)}: muxd CPU per round trip ≤ 2× "
                     "epoll", f"{r:.2f}× ({mux['us_per_rt']:.1f} vs "
                     f"{ep['us_per_rt']:.1f} µs)", r <= 2))
    return rows


def write_results(args, servers, cells, idle, ready, instr, meta):
    med = summarize(cells)
    lines = ["# muxd benchmark results", ""] + meta + [""]
    rows = target_rows(servers, med, idle, ready, instr)
    if rows:
        lines += ["### Targets", "", "| target | measured | met |",
                  "|---|---|---|"]
        lines += [f"| {t} | {v} | {'yes' if ok else '**no**'} |"
                  for t, v, ok in rows]
        lines.append("")
    for level in levels(args):
        if any((s, level) in med for s in servers):
            lines += level_table(level, servers, med)
    lines += memory_table(servers, med, idle)
    if ready is not None:
        lines += [f"Start to ready line: muxd {ready:.2f} ms "
                  f"(select_echo {meta_ready(args)}: the cost of "
                  f"spawning from Python), median of {READY_RUNS}.", ""]
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines))
    write_plot(args, servers, med)
    return med


def meta_ready(args):
    return f"{args.select_ready:.2f} ms" if args.select_ready else "–"


def write_plot(args, servers, med):
    shown = [s for s in servers
             if any((s, ("pingpong", c, 64, 0)) in med
                    for c in PINGPONG_CONNS)]
    dat = os.path.join(args.out, "results.dat")
    with open(dat, "w") as f:
        f.write("# ping-pong 64 B: round trips/s (median) by connections; "
                "? = not measured\n")
        f.write("conns " + " ".join(shown) + "\n")
        for c in PINGPONG_CONNS:
            vals = [med.get((s, ("pingpong", c, 64, 0)), {}).get("rps")
                    for s in shown]
            f.write(f"{c} " + " ".join("?" if v is None else f"{v:.0f}"
                                       for v in vals) + "\n")
    gp = os.path.join(args.out, "plot.gp")
    plots = ", ".join(f"'results.dat' using 1:{i + 2} with linespoints "
                      f"lw 2 title '{s}'" for i, s in enumerate(shown))
    with open(gp, "w") as f:
        f.write("set terminal pngcairo size 900,560 noenhanced\n"
                "set output 'plot.png'\n"
                "set title 'echo, ping-pong 64 B, closed loop "
                "(server on CPU 0, load on CPU 1)'\n"
                "set xlabel 'connections'\nset ylabel 'round trips/s'\n"
                "set logscale x\nset xtics (1, 10, 100, 1000, 10000)\n"
                "set datafile missing '?'\n"
                "set yrange [0:*]\nset format y '%.0s%c'\n"
                "set key outside right\nset grid\n"
                f"plot {plots}\n")
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot", "plot.gp"], cwd=args.out, check=False)


# ---------------------------------------------------------------------------
# The run


def available(servers):
    """Drops the servers that were not built (libevent, libuv missing)."""
    py = sys.executable or "python3"
    missing = [n for n, cmd in servers.items()
               if not os.path.exists(cmd[1] if cmd[0] == py else cmd[0])]
    for n in missing:
        print(f"compare: {n} is not built: skipped", file=sys.stderr)
    return {n: c for n, c in servers.items() if n not in missing}


def note_problems(name, level, r, problems):
    if r["errors"] or r["mismatches"]:
        problems.append(f"{name} {level_name(level)}: {r['errors']} errors, "
                        f"{r['mismatches']} mismatches: {r['stderr']}")


def run_levels(args, servers, raw, problems):
    cells = {}
    names = list(servers)
    for rnd in range(args.rounds):
        # Each round starts the turns one server later (A B C, B C A, ...):
        # no server is always the first after a change of level.
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for level in levels(args):
            for name in order:
                if name == "select" and level[1] > SELECT_MAX_CONNS:
                    continue
                cmd = servers[name]
                try:
                    r = measure_level(args, name, cmd, level)
                except BenchError as e:
                    problems.append(str(e))
                    continue
                r.update(server=name, round=rnd, level=level_name(level))
                raw.write(json.dumps(r) + "\n")
                raw.flush()
                cells.setdefault((name, level), []).append(r)
                note_problems(name, level, r, problems)
                print(f"compare: round {rnd + 1}/{args.rounds} "
                      f"{level_name(level):22} {name:13} "
                      f"{r['rps']:>10,.0f} rt/s  {r['us_per_rt']:6.2f} µs/RT"
                      f"  gen {r['client_cpu'] * 100:3.0f}%"
                      f"  other {r['other_load']:.2f} CPU", flush=True)
    return cells


def levels(args):
    return [lv for lv in LEVELS if not args.smoke or lv[1] <= SMOKE_MAX_CONNS]


def run_extras(args, servers, problems):
    idle, ready, instr = {}, None, {}
    for name, cmd in servers.items():
        for conns in IDLE_CONNS:
            if ((name == "select" and conns > SELECT_MAX_CONNS) or
                    (args.smoke and conns > SMOKE_MAX_CONNS)):
                continue
            try:
                i = measure_idle(args, name, cmd, conns)
            except BenchError as e:
                problems.append(str(e))
                continue
            idle[(name, conns)] = dict(i, conns=conns)
            if i["errors"] or i["mismatches"]:
                problems.append(f"{name} idle {conns}: {i['errors']} errors, "
                                f"{i['mismatches']} mismatches {i['stderr']}")
    if args.smoke:
        return idle, ready, instr
    try:
        ready = measure_ready(args, servers["muxd"])
        args.select_ready = measure_ready(args, servers["select"])
    except (BenchError, KeyError) as e:
        problems.append(f"ready time: {e}")
    if shutil.which("valgrind") and "select" in servers:
        for conns in (1, 100):
            try:
                instr[conns] = (
                    measure_instructions(args, "muxd", servers["muxd"], conns),
                    measure_instructions(args, "select", servers["select"],
                                         conns))
            except BenchError as e:
                problems.append(f"callgrind: {e}")
    return idle, ready, instr


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({model}), Linux {os.uname().release}"


def versions():
    """The peer libraries' and Python's versions, for the record."""
    found = [f"Python {sys.version.split()[0]}"]
    for lib in ("libevent", "libuv") if shutil.which("pkg-config") else ():
        p = subprocess.run(["pkg-config", "--modversion", lib],
                           capture_output=True, text=True, check=False)
        if p.returncode == 0:
            found.append(f"{lib} {p.stdout.strip()}")
    return ", ".join(found)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--warmup", type=float, default=0.3)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--servers", default="")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--cg-count", type=int, default=10000)
    p.add_argument("--no-pin", dest="pin", action="store_false")
    p.add_argument("--quiet-wait", type=float, default=20.0,
                   help="longest wait per level for other load to stop")
    a = p.parse_args()
    a.build_dir = os.path.abspath(a.build_dir)
    a.out = os.path.abspath(a.out)
    a.muxbench = os.path.join(a.build_dir, "bench", "muxbench")
    a.logdir = os.path.join(a.out, "logs")
    a.select_ready = None
    a.quiet_budget = 0 if a.smoke else 180.0  # seconds of waiting in all
    if a.smoke:
        a.duration, a.warmup, a.rounds = min(a.duration, 1.0), 0.0, 1
    return a


def raise_fd_limit():
    """Servers and muxbench inherit it: 10,000 connections need 10,000
    fds on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < max(IDLE_CONNS) + 100:
        print(f"compare: the hard fd limit ({hard}) is too low for "
              f"{max(IDLE_CONNS)} connections: those levels will fail",
              file=sys.stderr)


def main():
    args = parse_args()
    raise_fd_limit()
    os.makedirs(args.logdir, exist_ok=True)
    source = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    servers = server_table(args.build_dir, source)
    wanted = (args.servers.split(",") if args.servers
              else ["muxd", "select"] if args.smoke else list(servers))
    servers = available({n: servers[n] for n in wanted})
    if args.pin and ((os.cpu_count() or 1) < 2 or not shutil.which("taskset")):
        print("compare: fewer than 2 CPUs or no taskset: not pinning",
              file=sys.stderr)
        args.pin = False
    problems = []
    started = time.time()
    with open(os.path.join(args.out, "raw.jsonl"), "w") as raw:
        cells = run_levels(args, servers, raw, problems)
    idle, ready, instr = run_extras(args, servers, problems)
    meta = [f"Machine: {machine()}; {versions()}.",
            f"Run: {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}"
            f", {args.rounds} round(s) of {args.duration:g} s per level after "
            f"{args.warmup:g} s of warm-up, servers pinned to CPU 0 and "
            f"muxbench to CPU 1: {'yes' if args.pin else 'no'}; "
            f"{(time.time() - started) / 60:.1f} min in all.",
            "Medians over the rounds (rounds: those used / run; a round "
            f"measured while other processes used more than {NOISY} CPU is "
            "left out when at least half are quieter); errors and "
            "mismatches are totals over every round."]
    loads = sorted(r["other_load"] for rs in cells.values() for r in rs)
    if loads:
        meta.append(f"Other load on the machine during the measurements "
                    f"(CPU time used by neither the server nor muxbench): "
                    f"median {median(loads):.2f} CPUs, max {loads[-1]:.2f}.")
        if median(loads) > 0.1:
            print("compare: warning: other processes were busy during the "
                  "run: the figures are noisy", file=sys.stderr)
    write_results(args, list(servers), cells, idle, ready, instr, meta)
    print(f"compare: results in {args.out}/results.md")
    for p in problems:
        print(f"compare: problem: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
