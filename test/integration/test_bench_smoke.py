#!/usr/bin/env python3
"""Smoke test of the benchmark: muxbench drives muxd for about a second per
mode and every byte must come back as sent (no timing is asserted). Also
checks that muxbench notices a server that corrupts or drops bytes, so a
clean run means something, and that the relay mode (compare.sh --relay
--smoke) measures socat and the echo floor and lists muxd. Needs
MUX_BUILD_DIR (set by CTest) and socat."""
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

BUILD = os.environ.get("MUX_BUILD_DIR", "build")
MUXD = os.path.join(BUILD, "muxd")
MUXBENCH = os.path.join(BUILD, "bench", "muxbench")
READY = re.compile(rb"listening on tcp 127\.0\.0\.1:(\d+)")
TIMEOUT = 30  # seconds any one muxbench run may take
COMPARE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "bench", "compare.sh")
RELAY_TIMEOUT = 90  # seconds the relay smoke may take (about 10 when idle)


def wait_ready(proc, timeout=10):
    """The port from the ready line on proc's stdout, or None."""
    seen = b""
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            return None
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            return None
        seen += chunk
        m = READY.search(seen)
        if m:
            return int(m.group(1))


def run_bench(port, *args):
    """Runs muxbench; returns (exit status, RESULT fields, stderr)."""
    p = subprocess.run([MUXBENCH, "-q", *args, str(port)],
                       capture_output=True, timeout=TIMEOUT)
    fields = {}
    for line in p.stdout.decode().splitlines():
        if line.startswith("RESULT "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
    return p.returncode, fields, p.stderr.decode()


class BadEcho(threading.Thread):
    """An echo server that flips one bit of the 100th byte it echoes, or
    closes the connection there instead."""

    def __init__(self, close_instead):
        super().__init__(daemon=True)
        self.close_instead = close_instead
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def run(self):
        with self.listener:
            conn, _ = self.listener.accept()
        with conn:
            echoed = 0
            while data := conn.recv(65536):
                if echoed <= 100 < echoed + len(data):
                    if self.close_instead:
                        return
                    data = bytearray(data)
                    data[100 - echoed] ^= 1
                echoed += len(data)
                conn.sendall(data)


class BenchSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.muxd = subprocess.Popen([MUXD, "-p", "0", "-q"],
                                    stdout=subprocess.PIPE)
        cls.port = wait_ready(cls.muxd)
        if cls.port is None:
            cls.muxd.kill()
            cls.muxd.wait()
            raise RuntimeError("muxd printed no ready line")

    @classmethod
    def tearDownClass(cls):
        cls.muxd.terminate()
        cls.muxd.wait(10)
        cls.muxd.stdout.close()

    def check_clean(self, *args, min_rts=1):
        status, r, err = run_bench(self.port, *args)
        self.assertEqual(r.get("errors"), "0", err)
        self.assertEqual(r.get("mismatches"), "0", err)
        self.assertGreaterEqual(int(r["rts_total"]), min_rts, r)
        self.assertEqual(status, 0, err)
        self.assertIsNone(self.muxd.poll(), "muxd exited")

    def test_pingpong(self):
        self.check_clean("-m", "pingpong", "-c", "10", "-d", "1")

    def test_churn(self):
        self.check_clean("-m", "churn", "-c", "10", "-d", "1")

    def test_bulk(self):
        self.check_clean("-m", "bulk", "-c", "2", "-d", "1")

    def test_idle_connections_all_answered(self):
        self.check_clean("-m", "idle", "-c", "200", "--hold", "0.2",
                         min_rts=200)

    def test_few_active_among_idle(self):
        # 10 keep sending; the other 190 do one round trip, then hold.
        status, r, err = run_bench(self.port, "-c", "200", "--active", "10",
                                   "-d", "1")
        self.assertEqual((status, r.get("errors"), r.get("mismatches")),
                         (0, "0", "0"), err)
        self.assertEqual(r["active"], "10")
        self.assertGreaterEqual(int(r["rts_total"]), 200)

    def test_think_between_round_trips(self):
        # 10 connections pausing 10-30 ms: fewer round trips, all clean.
        status, r, err = run_bench(self.port, "-c", "10", "--think", "0.02",
                                   "-d", "0.5")
        self.assertEqual((status, r.get("errors"), r.get("mismatches")),
                         (0, "0", "0"), err)
        self.assertGreaterEqual(int(r["rts_total"]), 10)
        self.assertLess(float(r["rps"]), 10 / 0.01)

    def test_count_bounded(self):
        status, r, err = run_bench(self.port, "-c", "3", "-n", "500")
        self.assertEqual(status, 0, err)
        self.assertEqual(r["rts"], "500")

    def test_marks_bracket_the_measured_time(self):
        # The benches read the server's CPU at these two lines: they come
        # as they happen, in order, before the result. MEASURING comes
        # alone: MEASURED follows 2 s later (-d 2), so a muxbench that
        # held its marks back until the end would send all three at once.
        p = subprocess.Popen([MUXBENCH, "-q", "--marks", "-c", "4", "-w",
                              "0.3", "-d", "2", str(self.port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = os.read(p.stdout.fileno(), 4096)  # muxbench -t 5 bounds it
            rest, err = p.communicate(timeout=TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(first, b"MEASURING\n", err)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual([l.split()[0] for l in rest.decode().splitlines()],
                         ["MEASURED", "RESULT"], rest)
        status, r, _ = run_bench(self.port, "-c", "2", "-n", "10")
        self.assertNotIn("MEASURING", str(r))  # only when asked

    def test_corrupted_byte_is_a_mismatch(self):
        bad = BadEcho(close_instead=False)
        bad.start()
        status, r, err = run_bench(bad.port, "-s", "64", "-n", "10")
        self.assertEqual(r.get("mismatches"), "1", err)
        self.assertIn("byte 36 of message 2 differs", err)
        self.assertEqual(status, 1)

    def test_dropped_connection_is_an_error(self):
        bad = BadEcho(close_instead=True)
        bad.start()
        status, r, err = run_bench(bad.port, "-s", "64", "-n", "10")
        self.assertEqual(r.get("errors"), "1", err)
        self.assertEqual(r.get("mismatches"), "0", err)
        self.assertEqual(status, 1)


def relay_smoke(out, servers, env=None):
    """compare.sh --relay --smoke on the test build; (status, stderr)."""
    p = subprocess.run(
        ["sh", COMPARE, "--relay", "--smoke", "--no-build", "--build-dir",
         BUILD, "--out", out, "--servers", servers],
        capture_output=True, timeout=RELAY_TIMEOUT, env=env)
    return p.returncode, p.stderr.decode(errors="replace")


def table_rows(text, first_cell):
    """The cells of every markdown table row whose first cell starts so."""
    return [[c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines()
            if line.startswith("| " + first_cell)]


def muxd_has_relay():
    p = subprocess.run([MUXD, "--help"], capture_output=True, timeout=10)
    return re.search(rb"(^|\s)--to(?![-\w])", p.stdout, re.M) is not None


NUMBER = re.compile(r"[0-9][0-9,]*(\.[0-9]+)?")


class RelaySmoke(unittest.TestCase):
    """The relay mode of the benchmark, with socat as the peer."""

    def setUp(self):
        self.assertIsNotNone(shutil.which("socat"), "socat is not installed")
        self.out = tempfile.mkdtemp(prefix="relay-smoke-")
        self.addCleanup(shutil.rmtree, self.out)

    def read(self, name):
        with open(os.path.join(self.out, name)) as f:
            return f.read()

    def assert_measured(self, row):
        """Every figure of a table row is a number (no failed cell)."""
        for cell in row[1:]:
            self.assertRegex(cell, NUMBER, row)

    def test_rows_for_the_floor_socat_and_muxd(self):
        status, err = relay_smoke(self.out, "muxd,socat")
        self.assertEqual(status, 0, err)
        md = self.read("relay.md")
        # The CPU table, then the throughput table: one row each.
        self.assertEqual(len(table_rows(md, "floor (2 × echo) |")), 1, md)
        self.assertEqual(len(table_rows(md, "echo alone")), 2, md)
        socat = table_rows(md, "socat |")
        self.assertEqual(len(socat), 2, md)
        for row in socat + table_rows(md, "floor") + table_rows(md, "echo"):
            self.assert_measured(row)
        self.assertEqual(socat[1][-2:], ["0", "0"])  # errors, mismatches
        muxd = table_rows(md, "muxd |")
        self.assertEqual(len(muxd), 2, md)
        if muxd_has_relay():
            for row in muxd:
                self.assert_measured(row)
            self.assertIn("### Targets", md)
        else:
            for row in muxd:
                self.assertEqual(row[1], "not built yet", md)
            self.assertIn("muxd: not built yet", md)
        raw = [json.loads(line) for line in
               self.read("relay-raw.jsonl").splitlines()]
        levels = {r["level"] for r in raw}
        self.assertEqual(levels, {"pingpong 10 x 64 B", "pingpong 100 x 64 B",
                                  "pingpong 1000 x 64 B",
                                  "bulk 1 x 65536 B"})
        self.assertTrue(all(r["errors"] == 0 and r["mismatches"] == 0
                            for r in raw), raw)
        self.assertIn("relay.dat", os.listdir(self.out))

    def test_a_missing_peer_fails_the_run(self):
        # A PATH without socat: the run must say so and fail, not skip it.
        env = dict(os.environ, PATH=self.path_without("socat"))
        status, err = relay_smoke(self.out, "socat", env)
        self.assertEqual(status, 1, err)
        self.assertIn("socat is not installed", err)
        self.assertEqual(table_rows(self.read("relay.md"), "socat |")[0][1],
                         "not installed")

    def path_without(self, program):
        """A directory of links to what compare.sh and relay.py run, without
        `program`."""
        bin_dir = os.path.join(self.out, "bin")
        os.mkdir(bin_dir)
        for tool in ("sh", "python3", "dirname", "taskset", "dpkg-query",
                     "id", "nproc"):
            found = shutil.which(tool)
            if found and tool != program:
                os.symlink(found, os.path.join(bin_dir, tool))
        return bin_dir


class FaultsSmoke(unittest.TestCase):
    """bench/faults.py in its quickest form: every row measured (no timing
    asserted: the figures are docs/performance.md's)."""

    def test_latency_and_bandwidth_rows(self):
        script = os.path.join(os.path.dirname(COMPARE), "faults.py")
        p = subprocess.run(
            [sys.executable, script, "--build-dir", BUILD, "--latencies",
             "1", "--conns", "1,2", "--rates", "100k", "--duration", "0.3"],
            capture_output=True, timeout=RELAY_TIMEOUT)
        out, err = p.stdout.decode(), p.stderr.decode()
        self.assertEqual(p.returncode, 0, err)
        for row in ("| select() alone | sleep 1 ms | 1 |",
                    "| muxd | none | 1 |", "| muxd | latency=1 | 1 |",
                    "| muxd | latency=1,dir=both | 2 |",
                    "| bandwidth=100k | 0 | 102,400 |"):
            self.assertIn(row, out)


class ApiSmoke(unittest.TestCase):
    """bench/api.py in its quickest form, muxd alone: every row measured
    (no figure asserted: they are docs/performance.md's)."""

    ROWS = ["exec to first /version, one proxy from a config file, ms "
            "(median)",
            "the floor: exec to a connect accepted by epoll_echo (not "
            "muxd), ms (median)",
            "exec to a usable proxy, no file (muxd -l --to; toxiproxy POST "
            "/proxies), ms (median)"]
    for how in ("sequential", "pipelined, a cycle per write"):
        ROWS += [f"API operations/s ({how})",
                 f"server CPU per API operation, us ({how})",
                 f"client CPU per API operation, us ({how})"]
    for what in ("no toxic", "1 ms latency toxic"):
        ROWS += [f"relay CPU per round trip, {what}, 10 conns, us",
                 f"round trips/s, {what}, 10 conns"]
    ROWS.append("KiB per idle relayed connection (1 ms latency toxic)")

    def test_rows(self):
        script = os.path.join(os.path.dirname(COMPARE), "api.py")
        p = subprocess.run(
            [sys.executable, script, "--build-dir", BUILD, "--runs", "2",
             "--duration", "0.2", "--levels", "10", "--relay-duration",
             "0.2", "--warmup", "0", "--conns", "5", "--no-pin"],
            capture_output=True, timeout=RELAY_TIMEOUT)
        out, err = p.stdout.decode(), p.stderr.decode()
        self.assertEqual(p.returncode, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[:2], [
            "| | muxd | toxiproxy | muxd / toxiproxy | goal |",
            "|---|---|---|---|---|"])
        names = [line.split(" | ")[0].removeprefix("| ")
                 for line in lines[2:]]
        self.assertEqual(names, self.ROWS)
        for line in lines[2:]:  # a figure for muxd; no toxiproxy here
            cells = line.split(" | ")
            self.assertRegex(cells[1], r"^[0-9][0-9,]*\.?[0-9]*$", line)
            self.assertEqual(cells[2:4], ["-", "-"], line)

    def test_plot_files(self):
        """--out DIR: the relay's medians in api.dat (a block per figure,
        a column per server and toxic) and the gnuplot script api.gp that
        plots them (api.png only with gnuplot: not asserted)."""
        script = os.path.join(os.path.dirname(COMPARE), "api.py")
        with tempfile.TemporaryDirectory(prefix="api-smoke-") as out:
            p = subprocess.run(
                [sys.executable, script, "--build-dir", BUILD, "--only",
                 "relay", "--levels", "10,20", "--relay-duration", "0.2",
                 "--warmup", "0", "--no-pin", "--out", out],
                capture_output=True, timeout=RELAY_TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            with open(os.path.join(out, "api.dat")) as f:
                dat = f.read()
            with open(os.path.join(out, "api.gp")) as f:
                gp = f.read()
        blocks = [b.splitlines() for b in dat.split("\n\n\n") if b]
        self.assertEqual(len(blocks), 2, dat)
        for block in blocks:
            rows = [line for line in block if not line.startswith("#")]
            self.assertEqual(rows[0], "conns muxd muxd+lag")
            self.assertEqual([r.split()[0] for r in rows[1:]], ["10", "20"])
            for row in rows[1:]:
                for v in row.split()[1:]:
                    self.assertRegex(v, r"^[0-9]+\.[0-9]{2}$", row)
        self.assertIn("set output 'api.png'\n", gp)
        for index in (0, 1):
            self.assertIn(f"'api.dat' index {index} using 1:2 with "
                          "linespoints lt 1 lw 2 title 'muxd'", gp)
            self.assertIn(f"'api.dat' index {index} using 1:3 with "
                          "linespoints lt 1 lw 2 dt 2 title 'muxd, 1 ms "
                          "latency toxic'", gp)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
