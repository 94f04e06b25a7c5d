"""muxd --to UPSTREAM: a relay in front of real services (redis-server,
Python's http.server, muxd itself, sockets of the test's own), with
faults in either direction, upstream failures, back-pressure, half-close,
graceful shutdown and --dump. Every wait is bounded; the only times
asserted are lower bounds muxd's timers guarantee, and the bandwidth
fault's rate (±20 %), which is the behaviour under test there."""

import glob
import hashlib
import json
import os
import re
import resource
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import muxtest
from muxtest import children, fd_count, wait_until
from muxtest import Muxd, TIMEOUT, recv_exactly, recv_until_close


def read_to_end(sock, timeout=TIMEOUT):
    """(bytes until EOF or a reset, whether it ended with a reset)."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                return b"".join(chunks), False
            chunks.append(b)
    except ConnectionResetError:
        return b"".join(chunks), True


def connect_and_read(m):
    """read_to_end() of a new connection to m; a reset that comes before
    connect() returned (muxd accepted and reset at once) counts too."""
    try:
        s = m.connect()
    except ConnectionResetError:
        return b"", True
    with s:
        return read_to_end(s)


def relay(*args, upstream, listen="127.0.0.1:0", **popen):
    """A relaying muxd in front of `upstream` (text for --to)."""
    return Muxd("-l", listen, "--to", upstream, *args, **popen)


class Upstream:
    """A listening socket of the test's own, on 127.0.0.1: each accepted
    connection is handed to `serve(conn)` on a thread."""

    def __init__(self, serve):
        self.sock = muxtest.tcp_listener()
        self.port = self.sock.getsockname()[1]
        self.serve = serve
        self.accepted = 0
        self.results = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(TIMEOUT)
        try:
            while True:
                conn, _ = self.sock.accept()
                self.accepted += 1
                conn.settimeout(TIMEOUT)
                threading.Thread(target=self._one, args=(conn,),
                                 daemon=True).start()
        except OSError:
            return

    def _one(self, conn):
        with conn:
            try:
                self.results.append(self.serve(conn))
            except OSError as e:
                self.results.append(e)

    def wait_results(self, n=1):
        deadline = time.monotonic() + TIMEOUT
        while len(self.results) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.results

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_all_upstream(conn):
    """An upstream that reads to EOF and returns what it got, and in how
    many reads."""
    chunks = []
    while True:
        b = conn.recv(65536)
        if not b:
            return b"".join(chunks), len(chunks)
        chunks.append(b)


class RedisServer:
    """redis-server from Debian on a unix socket in a temp dir, nothing
    saved; ready once it answers PING."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "redis.sock")
        server = muxtest.require_tool("redis-server", "redis-server")
        self.proc = subprocess.Popen(
            [server, "--port", "0", "--unixsocket", self.path, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir",
             self.dir.name], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(TIMEOUT)
                    s.connect(self.path)
                    s.sendall(b"PING\r\n")
                    if s.recv(64) == b"+PONG\r\n":
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise AssertionError("redis-server did not start")
            time.sleep(0.02)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=TIMEOUT)
        self.dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def redis_cli(port, *args, input=None):
    cli = muxtest.require_tool("redis-cli", "redis-tools")
    p = subprocess.run([cli, "-h", "127.0.0.1", "-p", str(port), *args],
                       capture_output=True, input=input, timeout=TIMEOUT * 3)
    return p.returncode, p.stdout, p.stderr


class TestRedis(unittest.TestCase):
    def test_ping_set_get_of_100k_values(self):
        value = os.urandom(50 * 1024).hex().encode()  # 100 KiB of text
        with RedisServer() as redis, \
                relay(upstream="unix:" + redis.path) as m:
            self.assertEqual(redis_cli(m.port, "PING")[:2], (0, b"PONG\n"))
            for key in ("a", "b"):
                status, out, _ = redis_cli(m.port, "-x", "SET", key,
                                           input=value)
                self.assertEqual((status, out), (0, b"OK\n"))
                status, out, _ = redis_cli(m.port, "--no-raw", "STRLEN", key)
                self.assertEqual(out, b"(integer) %d\n" % len(value))
                status, out, _ = redis_cli(m.port, "GET", key)
                self.assertEqual(out, value + b"\n")
            self.assertEqual(m.stop(), 0)

    def test_redis_benchmark_through_the_relay_has_no_errors(self):
        bench = muxtest.require_tool("redis-benchmark", "redis-tools")
        with RedisServer() as redis, \
                relay("-q", upstream="unix:" + redis.path) as m:
            p = subprocess.run(
                [bench, "-h", "127.0.0.1", "-p", str(m.port), "-n", "2000",
                 "-c", "20", "-P", "4", "-t", "ping,set,get,lpush", "-q"],
                capture_output=True, timeout=TIMEOUT * 6)
            out = (p.stdout + p.stderr).decode(errors="replace")
            self.assertEqual(p.returncode, 0, out)
            self.assertNotIn("rror", out)
            for test in ("PING", "SET", "GET", "LPUSH"):
                self.assertRegex(out, test + r".*requests per second")
            self.assertEqual(m.stop(), 0)
            self.assertEqual(m.stderr(), "")

    def test_latency_fault_is_seen_by_redis_cli(self):
        with RedisServer() as redis, \
                relay("--fault", "latency=150", upstream="unix:" +
                      redis.path) as m:
            start = time.monotonic()
            status, out, _ = redis_cli(m.port, "PING")
            took = time.monotonic() - start
            self.assertEqual((status, out), (0, b"PONG\n"))
            self.assertGreaterEqual(took, 0.15)


class TestRedisQuit(unittest.TestCase):
    """redis-server closes after QUIT's +OK: slow-close holds that close
    for the client. (redis-cli itself exits on the +OK without waiting
    for the close: a client that reads to EOF, as here, sees it.)"""

    def test_slow_close_holds_the_close_after_quit(self):
        with RedisServer() as redis, \
                relay("--fault", "slow-close=1000",
                      upstream="unix:" + redis.path) as m:
            self.assertEqual(redis_cli(m.port, "PING")[:2], (0, b"PONG\n"))
            with m.connect() as s:
                start = time.monotonic()
                s.sendall(b"QUIT\r\n")
                self.assertEqual(read_to_end(s), (b"+OK\r\n", False))
                self.assertGreaterEqual(time.monotonic() - start, 1.0)


class TestRedisLatencyTool(unittest.TestCase):
    def test_redis_cli_latency_reports_the_delay(self):
        cli = muxtest.require_tool("redis-cli", "redis-tools")
        with RedisServer() as redis, \
                relay("--fault", "latency=100,dir=both", upstream="unix:" +
                      redis.path) as m:
            p = subprocess.Popen(
                [cli, "-h", "127.0.0.1", "-p", str(m.port), "--latency",
                 "--raw"], stdout=subprocess.PIPE)
            try:
                line = b""
                deadline = time.monotonic() + TIMEOUT
                while not line.strip() and time.monotonic() < deadline:
                    line = p.stdout.readline()
            finally:
                p.kill()
                p.wait(timeout=TIMEOUT)
                p.stdout.close()
        # "min max avg samples": every sample is at least both ways' delay.
        fields = line.split()
        self.assertEqual(len(fields), 4, line)
        self.assertGreaterEqual(int(fields[0]), 200)


class HttpServer:
    """python3 -m http.server on 127.0.0.1, port 0, serving a temp dir
    with a 20 MiB file."""

    SIZE = 20 << 20

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.data = os.urandom(self.SIZE)
        with open(os.path.join(self.dir.name, "big.bin"), "wb") as f:
            f.write(self.data)
        self.sha = hashlib.sha256(self.data).hexdigest()
        self.proc = subprocess.Popen(
            ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
             "--directory", self.dir.name, "0"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        m = re.search(r"port (\d+)", line)
        if not m:
            self.close()
            raise AssertionError(f"http.server said {line!r}")
        self.port = int(m.group(1))

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)
        self.proc.stdout.close()
        self.dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def curl(port, out):
    """Downloads big.bin through port into out: (status, seconds)."""
    tool = muxtest.require_tool("curl", "curl")
    p = subprocess.run(
        [tool, "-sS", "-o", out, "-w", "%{time_total}",
         f"http://127.0.0.1:{port}/big.bin"], capture_output=True,
        timeout=TIMEOUT * 3)
    return p.returncode, float(p.stdout or 0), p.stderr


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class TestHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http = HttpServer()
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        cls.tmp.cleanup()

    def download(self, *faults):
        out = os.path.join(self.tmp.name, "got.bin")
        args = [a for f in faults for a in ("--fault", f)]
        with relay(*args, upstream=f"127.0.0.1:{self.http.port}") as m:
            status, took, err = curl(m.port, out)
            self.assertEqual(status, 0, err)
            self.assertEqual(os.path.getsize(out), HttpServer.SIZE)
            self.assertEqual(sha256_file(out), self.http.sha)
            self.assertEqual(m.stop(), 0)
        return took

    def test_curl_downloads_20mb_byte_exact(self):
        self.download()

    def test_curl_downloads_20mb_byte_exact_split(self):
        self.download("split=60000:1")

    def test_bandwidth_fault_within_20_percent(self):
        rate = 12 << 20  # 12 MiB/s: about 1.7 s for 20 MiB
        took = self.download(f"bandwidth={rate >> 20}M")
        measured = HttpServer.SIZE / took
        self.assertGreater(measured, rate * 0.8, f"{measured:.0f} B/s")
        self.assertLess(measured, rate * 1.2, f"{measured:.0f} B/s")


class TestEcho(unittest.TestCase):
    """muxd's own echo behind the relay."""

    def test_tcp_to_unix_and_unix_to_tcp(self):
        with tempfile.TemporaryDirectory() as d:
            up = os.path.join(d, "up.sock")
            front = os.path.join(d, "front.sock")
            with Muxd("-l", "unix:" + up) as echo, \
                    relay(upstream="unix:" + up) as tcp_front, \
                    relay(upstream=f"127.0.0.1:{tcp_front.port}",
                          listen="unix:" + front) as unix_front:
                self.assertEqual(echo.listeners[0][0], "unix")
                for m in (tcp_front, unix_front):
                    with m.connect() as s:
                        data = os.urandom(300000)
                        s.sendall(data)
                        s.shutdown(socket.SHUT_WR)
                        self.assertEqual(recv_until_close(s), data)

    def test_bulk_both_ways_with_a_small_watermark(self):
        # Echo upstream, a client that sends 8 MB and reads late: with
        # each stream pausing its own reading for its own output (as a
        # service's stream does), the relay and the echo waited for each
        # other and both stopped. 8k, the least --to takes: at 4k one
        # 64 KiB read on top of what was pending passed the hard cap and
        # the relay dropped the pair now and then (1 run in 3).
        data = os.urandom(8 << 20)
        with Muxd("-q", "-l", "127.0.0.1:0", "--max-output", "16k") as echo, \
                relay("-q", "--max-output", "8k",
                      upstream=f"127.0.0.1:{echo.port}") as m, \
                m.connect() as s:
            sender = threading.Thread(target=s.sendall, args=(data,))
            sender.start()
            time.sleep(0.5)  # not reading yet: every buffer on the way fills
            got = recv_exactly(s, len(data))
            sender.join(TIMEOUT)
            self.assertEqual(len(got), len(data))
            self.assertTrue(got == data)

    def test_half_close_passes_both_ways(self):
        def serve(conn):
            conn.sendall(b"bye\n")
            conn.shutdown(socket.SHUT_WR)  # upstream's FIN first
            return read_all_upstream(conn)[0]

        with Upstream(serve) as up, relay(upstream=f"127.0.0.1:{up.port}") \
                as m, m.connect() as s:
            self.assertEqual(recv_until_close(s), b"bye\n")  # EOF passed on
            s.sendall(b"still here")  # our half stays open
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(up.wait_results(), [b"still here"])
            self.assertEqual(read_to_end(s), (b"", False))

    def test_an_idle_pair_costs_no_cpu(self):
        # Both streams of a pair are watched for reading only: neither
        # spins on writability while nothing is pending.
        with Muxd("-q", "-l", "127.0.0.1:0") as echo, \
                relay("-q", upstream=f"127.0.0.1:{echo.port}") as m, \
                m.connect() as s:
            self.assertEqual(muxtest.round_trip(s, b"x" * 100000),
                             b"x" * 100000)
            before = muxtest.cpu_seconds(m.proc.pid)
            time.sleep(0.5)
            self.assertLess(muxtest.cpu_seconds(m.proc.pid) - before, 0.1)

    def test_client_that_stops_reading_costs_a_bounded_memory(self):
        # chargen behind the relay produces forever; the client reads
        # nothing: the relay holds at most about --max-output of it.
        with Muxd("-q", "-s", "chargen", "-l", "127.0.0.1:0") as gen, \
                relay("-q", upstream=f"127.0.0.1:{gen.port}") as m:
            before = muxtest.rss_kib(m.proc.pid)
            with m.connect() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                time.sleep(1.0)  # the stream would pass 20 MB by now
                got = s.recv(4096)
                self.assertTrue(got)
                grew = muxtest.peak_rss_kib(m.proc.pid) - before
                self.assertLess(grew, 4096, f"grew {grew} KiB")

    def test_upstream_that_stops_reading_costs_a_bounded_memory(self):
        gate = threading.Event()

        def serve(conn):
            gate.wait(TIMEOUT)  # reads nothing meanwhile
            return None

        with Upstream(serve) as up, relay("-q", upstream=f"127.0.0.1:{up.port}") \
                as m, m.connect() as s:
            before = muxtest.rss_kib(m.proc.pid)
            s.setblocking(False)
            sent, chunk = 0, b"x" * 65536
            deadline = time.monotonic() + 1.5
            while sent < (20 << 20) and time.monotonic() < deadline:
                try:
                    sent += s.send(chunk)
                except BlockingIOError:
                    time.sleep(0.01)
            grew = muxtest.peak_rss_kib(m.proc.pid) - before
            gate.set()
            self.assertLess(sent, 20 << 20)  # the relay stopped reading us
            self.assertLess(grew, 4096, f"grew {grew} KiB")


class TestFaults(unittest.TestCase):
    """Each fault kind, each direction, with an upstream of the test's own
    or muxd's echo."""

    def setUp(self):
        self.echo = Muxd("-q", "-l", "127.0.0.1:0")

    def tearDown(self):
        self.echo.__exit__()

    def relay_echo(self, *faults):
        args = [a for f in faults for a in ("--fault", f)]
        return relay("--seed", "7", *args,
                     upstream=f"127.0.0.1:{self.echo.port}")

    def timed_round_trip(self, m, msg=b"ping"):
        with m.connect() as s:
            start = time.monotonic()
            self.assertEqual(muxtest.round_trip(s, msg), msg)
            return time.monotonic() - start

    def test_latency_each_direction(self):
        for spec, least in (("latency=200", 0.2), ("latency=200,dir=up", 0.2),
                            ("latency=150,dir=both", 0.3),
                            ("latency=100,jitter=50", 0.1)):
            with self.subTest(spec), self.relay_echo(spec) as m:
                self.assertGreaterEqual(self.timed_round_trip(m), least)

    def test_bandwidth_up(self):
        with self.relay_echo("bandwidth=100k,dir=up") as m:
            took = self.timed_round_trip(m, os.urandom(150 * 1024))
            self.assertGreaterEqual(took, 1.0)

    def test_drop_after_down_and_up(self):
        with self.relay_echo("drop-after=10") as m, m.connect() as s:
            s.sendall(b"0123456789abcdef")
            self.assertEqual(read_to_end(s), (b"0123456789", False))
        with Upstream(lambda c: read_all_upstream(c)[0]) as up, \
                relay("--fault", "drop-after=10,dir=up",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            s.sendall(b"0123456789abcdef")
            self.assertEqual(up.wait_results(), [b"0123456789"])

    def test_split_down_and_up(self):
        with self.relay_echo("split=4:20") as m, m.connect() as s:
            s.sendall(b"0123456789ab")
            reads = []
            while sum(map(len, reads)) < 12:
                reads.append(s.recv(100))
            self.assertEqual(b"".join(reads), b"0123456789ab")
            self.assertGreaterEqual(len(reads), 3)
        with Upstream(read_all_upstream) as up, \
                relay("--fault", "split=4:20,dir=up",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            s.sendall(b"0123456789ab")
            s.shutdown(socket.SHUT_WR)
            data, reads = up.wait_results()[0]
            self.assertEqual(data, b"0123456789ab")
            self.assertGreaterEqual(reads, 3)

    def test_stall_up_and_down(self):
        for spec in ("stall", "stall,dir=down"):
            with self.subTest(spec), self.relay_echo(spec) as m, \
                    m.connect() as s:
                s.sendall(b"ping")
                s.settimeout(0.3)
                with self.assertRaises(socket.timeout):
                    s.recv(10)

    def test_rst_resets_the_client(self):
        with self.relay_echo("rst") as m, m.connect() as s:
            self.assertEqual(muxtest.round_trip(s, b"ping"), b"ping")
            s.shutdown(socket.SHUT_WR)  # echo closes; the relay resets us
            self.assertEqual(read_to_end(s), (b"", True))

    def test_rst_each_direction_resets_that_side(self):
        # The close toward each side is a reset where dir= says so, a
        # clean close (EOF) elsewhere. The upstream is a socket of the
        # test's own that reads until EOF or a reset; the client asks,
        # gets its answer, and closes (a FIN) or half-closes.
        def serve(conn):
            try:
                while conn.recv(65536):
                    conn.sendall(b"answer")
                return "eof"
            except ConnectionResetError:
                return "reset"

        for spec, upstream, client in (("rst", "eof", True),
                                       ("rst,dir=down", "eof", True),
                                       ("rst,dir=up", "reset", False),
                                       ("rst,dir=both", "reset", True)):
            with self.subTest(spec), Upstream(serve) as up, \
                    relay("--fault", spec, upstream=f"127.0.0.1:{up.port}") \
                    as m:
                with m.connect() as s:  # asks, then closes for good
                    s.sendall(b"ask")
                    self.assertEqual(recv_exactly(s, 6), b"answer")
                self.assertEqual(up.wait_results(), [upstream])
                with m.connect() as s:  # half-closes, reads to the end
                    s.sendall(b"ask")
                    self.assertEqual(recv_exactly(s, 6), b"answer")
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(read_to_end(s), (b"", client))
                self.assertEqual(up.wait_results(2), [upstream] * 2)

    def test_rst_resets_the_client_when_the_upstream_closes_first(self):
        def serve(conn):
            conn.recv(10)
            conn.sendall(b"bye")  # and closes: a FIN toward the relay

        with Upstream(serve) as up, \
                relay("--fault", "rst", upstream=f"127.0.0.1:{up.port}") \
                as m, m.connect() as s:
            s.sendall(b"go")
            self.assertEqual(read_to_end(s), (b"bye", True))

    def test_timeout_stops_then_closes(self):
        with self.relay_echo("timeout=300") as m, m.connect() as s:
            start = time.monotonic()
            s.sendall(b"ping")  # never read: still an EOF, not a reset
            self.assertEqual(read_to_end(s), (b"", False))
            self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_timeout_with_rst_ends_in_a_reset(self):
        with self.relay_echo("timeout=300", "rst") as m, m.connect() as s:
            s.sendall(b"ping")
            self.assertEqual(read_to_end(s), (b"", True))

    def test_limit_time_cuts_the_connection(self):
        with self.relay_echo("limit-time=300") as m, m.connect() as s:
            start = time.monotonic()
            self.assertEqual(muxtest.round_trip(s, b"ping"), b"ping")
            self.assertEqual(read_to_end(s)[0], b"")
            self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_slow_close_holds_the_close(self):
        with self.relay_echo("slow-close=300") as m, m.connect() as s:
            self.assertEqual(muxtest.round_trip(s, b"ping"), b"ping")
            start = time.monotonic()
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(read_to_end(s), (b"", False))
            self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_slow_close_holds_a_close_the_upstream_starts(self):
        def serve(conn):
            conn.sendall(b"bye")
        with Upstream(serve) as up, \
                relay("--fault", "slow-close=300",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            start = time.monotonic()
            self.assertEqual(read_to_end(s), (b"bye", False))
            self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_slow_close_up_holds_the_close_toward_the_upstream(self):
        def serve(conn):
            first = conn.recv(10)
            while conn.recv(10):
                pass
            return first, time.monotonic()  # when its EOF came
        with Upstream(serve) as up, \
                relay("--fault", "slow-close=300,dir=up",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            s.sendall(b"hi")
            start = time.monotonic()  # the relay's wait begins after this
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(read_to_end(s), (b"", False))
            [(first, eof_at)] = up.wait_results()
            self.assertEqual(first, b"hi")
            self.assertGreaterEqual(eof_at - start, 0.3)

    def test_reset_peer_down_resets_both_sides(self):
        # The upstream's answer is the first byte down: dropped, and 200
        # ms later the client and the upstream connection are reset. What
        # the client sent went up as usual.
        def serve(conn):
            asked = conn.recv(10)
            conn.sendall(b"answer")
            try:
                while conn.recv(65536):
                    pass
                return asked, "eof"
            except ConnectionResetError:
                return asked, "reset"

        with Upstream(serve) as up, \
                relay("--fault", "reset-peer=200",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            start = time.monotonic()
            s.sendall(b"ask")
            self.assertEqual(read_to_end(s), (b"", True))
            self.assertGreaterEqual(time.monotonic() - start, 0.2)
            self.assertEqual(up.wait_results(), [(b"ask", "reset")])
            m.wait_for_log("reset (fault reset-peer)")

    def test_reset_peer_up_drops_what_the_client_sent(self):
        # dir=up, at once: the client's first bytes never reach the
        # upstream; both sides are reset.
        def serve(conn):
            got = b""
            try:
                while True:
                    b = conn.recv(65536)
                    if not b:
                        return got, "eof"
                    got += b
            except ConnectionResetError:
                return got, "reset"

        with Upstream(serve) as up, \
                relay("--fault", "reset-peer=0,dir=up",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            s.sendall(b"secret")
            self.assertEqual(read_to_end(s), (b"", True))
            self.assertEqual(up.wait_results(), [(b"", "reset")])

    def test_reset_peer_never_without_data_that_way(self):
        # Nothing comes down: no reset; the client's EOF ends the pair
        # with EOFs, as without the fault.
        def serve(conn):
            return read_all_upstream(conn)[0]

        with Upstream(serve) as up, \
                relay("--fault", "reset-peer=0",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            s.sendall(b"only up")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(read_to_end(s), (b"", False))
            self.assertEqual(up.wait_results(), [b"only up"])

    @staticmethod
    def reads(sock, total):
        """The sizes of the reads that bring `total` bytes, and them."""
        sizes, data = [], b""
        while len(data) < total:
            b = sock.recv(65536)
            if not b:
                break
            sizes.append(len(b))
            data += b
        return sizes, data

    def test_slicer_down_in_halves(self):
        # 300 bytes around 100 with no variation: toxiproxy's halves of
        # halves, 75 x 4, each its own send 100 ms apart (a pause no
        # reader misses: each read gets one piece).
        payload = bytes(range(256)) + bytes(44)

        def serve(conn):
            conn.recv(10)
            conn.sendall(payload)
            conn.recv(10)

        with Upstream(serve) as up, \
                relay("--fault", "slicer=100:0:100000",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            start = time.monotonic()
            s.sendall(b"go")
            self.assertEqual(self.reads(s, 300), ([75] * 4, payload))
            self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_slicer_variation_repeats_with_the_seed(self):
        # Around 100 +-40, from --seed: no piece above 140, the bytes
        # intact, and the same pieces in a second run.
        payload = os.urandom(600)

        def serve(conn):
            conn.recv(10)
            conn.sendall(payload)
            conn.recv(10)

        runs = []
        for _ in range(2):
            with Upstream(serve) as up, \
                    relay("--seed", "7", "--fault", "slicer=100:40:50000",
                          upstream=f"127.0.0.1:{up.port}") as m, \
                    m.connect() as s:
                s.sendall(b"go")
                sizes, data = self.reads(s, 600)
                self.assertEqual(data, payload)
                self.assertTrue(all(1 <= n <= 140 for n in sizes), sizes)
                runs.append(sizes)
        self.assertEqual(runs[0], runs[1])
        self.assertGreater(len(set(runs[0])), 1, runs[0])  # it varied

    def test_slicer_up(self):
        # dir=up: the upstream reads the client's 200 bytes as 50 x 4.
        def serve(conn):
            return self.reads(conn, 200)

        with Upstream(serve) as up, \
                relay("--fault", "slicer=50:0:100000,dir=up",
                      upstream=f"127.0.0.1:{up.port}") as m, \
                m.connect() as s:
            s.sendall(b"u" * 200)
            self.assertEqual(up.wait_results(), [([50] * 4, b"u" * 200)])

    def test_accept_delay(self):
        with self.relay_echo("accept-delay=200") as m:
            self.assertGreaterEqual(self.timed_round_trip(m), 0.2)

    def test_refuse_never_connects_upstream(self):
        with Upstream(read_all_upstream) as up, \
                relay("--fault", "refuse", upstream=f"127.0.0.1:{up.port}") \
                as m:
            self.assertEqual(connect_and_read(m), (b"", True))
            m.wait_for_log("closed")
            self.assertEqual(up.accepted, 0)

    def test_blackhole_never_connects_nor_answers(self):
        with Upstream(read_all_upstream) as up, \
                relay("--fault", "blackhole", upstream=f"127.0.0.1:{up.port}") \
                as m, m.connect() as s:
            s.sendall(b"ping")
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                s.recv(10)
            self.assertEqual(up.accepted, 0)

    def pattern(self, *faults, n=20):
        """Which of n connections were refused (reset at once)."""
        with self.relay_echo(*faults) as m:
            out = []
            for _ in range(n):
                try:
                    with m.connect() as s:
                        out.append(muxtest.round_trip(s, b"x") != b"x")
                except ConnectionResetError:
                    out.append(True)
            return out

    def test_odds_with_a_seed_is_reproducible(self):
        first = self.pattern("refuse,odds=50")
        self.assertTrue(0 < sum(first) < len(first), first)
        self.assertEqual(self.pattern("refuse,odds=50"), first)

    def test_first_n(self):
        self.assertEqual(self.pattern("refuse,first=2", n=4),
                         [True, True, False, False])


class TestFaultsAtRunTime(unittest.TestCase):
    """The control socket's faults reach relayed pairs: open ones for the
    kinds that reach open connections (here: latency up, a stall down),
    new ones for the rest (refuse)."""

    def test_control_changes_faults_of_relayed_pairs(self):
        with Muxd("-q", "-l", "127.0.0.1:0") as echo, \
                tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with relay("--control", "unix:" + path,
                       upstream=f"127.0.0.1:{echo.port}") as m:
                ctl = muxtest.Control(path)
                with m.connect() as s:
                    self.assertEqual(muxtest.round_trip(s, b"fast"), b"fast")
                    fid = ctl.command("fault add latency=300,dir=up")["id"]
                    start = time.monotonic()
                    self.assertEqual(muxtest.round_trip(s, b"slow"), b"slow")
                    self.assertGreaterEqual(time.monotonic() - start, 0.3)
                    self.assertEqual(ctl.command(f"fault del {fid}"),
                                     {"ok": True})
                    ctl.command("fault add stall,dir=down")
                    s.sendall(b"held")
                    s.settimeout(0.3)
                    with self.assertRaises(socket.timeout):
                        s.recv(10)
                    s.settimeout(TIMEOUT)
                    self.assertEqual(ctl.command("fault clear"), {"ok": True})
                    self.assertEqual(muxtest.recv_exactly(s, 4), b"held")
                ctl.command("fault add refuse")
                self.assertEqual(connect_and_read(m), (b"", True))
                ctl.close()


def tagged_upstream(tag):
    """An upstream of the test's own that answers every read with `tag`
    and what it read, until EOF."""
    def serve(conn):
        while True:
            b = conn.recv(65536)
            if not b:
                return tag
            conn.sendall(tag + b)
    return Upstream(serve)


def ask(sock, msg):
    """Sends msg; the tagged answer (two bytes of tag and msg)."""
    sock.sendall(msg)
    return recv_exactly(sock, 2 + len(msg))


class TestSeveralRelays(unittest.TestCase):
    """-l A --to X -l B --to Y: two relays in one muxd, each listener to the
    upstream given after it; one fault registry, one control socket, one
    client list for both."""

    def test_each_listener_relays_to_its_own_upstream(self):
        with tagged_upstream(b"X:") as x, tagged_upstream(b"Y:") as y, \
                tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            dumps = os.path.join(d, "dumps")
            os.mkdir(dumps)
            with Muxd("-l", "127.0.0.1:0", "--to", f"127.0.0.1:{x.port}",
                      "-l", "127.0.0.1:0", "-l", "127.0.0.1:0",
                      "--to", f"127.0.0.1:{y.port}",
                      "--control", "unix:" + path, "--dump", dumps,
                      listeners=3) as m:
                ctl = muxtest.Control(path)
                # Ready lines in -l order: the first to X, the others to Y.
                with m.connect(0) as a, m.connect(1) as b, \
                        m.connect(2) as c:
                    self.assertEqual(ask(a, b"1"), b"X:1")
                    self.assertEqual(ask(b, b"2"), b"Y:2")
                    self.assertEqual(ask(c, b"3"), b"Y:3")
                    self.assertEqual(ctl.command("stats")["clients"], 3)
                    peers = {cl["peer"] for cl in
                             ctl.command("clients")["clients"]}
                    self.assertEqual(peers, {"%s:%d" % s.getsockname()
                                             for s in (a, b, c)})
                # A fault added at run time reaches both relays.
                ctl.command("fault add refuse")
                self.assertEqual(connect_and_read(m), (b"", True))
                before = y.accepted
                try:
                    s = m.connect(1)
                except ConnectionResetError:
                    pass
                else:
                    with s:
                        self.assertEqual(read_to_end(s), (b"", True))
                self.assertEqual(y.accepted, before)
                ctl.close()
                self.assertEqual(m.stop(), 0)
            self.assertEqual(x.accepted, 1)
            self.assertEqual(y.accepted, 2)
            # Each dump names its own upstream.
            heads = []
            for name in glob.glob(os.path.join(dumps, "*.txt")):
                with open(name) as f:
                    heads.append(f.readline().split()[-1])
            heads.sort()
            self.assertEqual(heads, sorted([f"127.0.0.1:{x.port}"] +
                                           [f"127.0.0.1:{y.port}"] * 2))

    def test_every_single_relay_spelling_still_relays_every_listener(self):
        with tagged_upstream(b"X:") as x:
            up = f"127.0.0.1:{x.port}"
            for args, n in ((["-l", "127.0.0.1:0", "--to", up], 1),
                            (["-p", "0", "--to", up], 1),
                            (["--to", up, "-l", "127.0.0.1:0",
                              "-l", "127.0.0.1:0"], 2),
                            (["-l", "127.0.0.1:0", "-l", "127.0.0.1:0",
                              "--to", up], 2)):
                with self.subTest(args), Muxd(*args, listeners=n) as m:
                    for i in range(n):
                        with m.connect(i) as s:
                            self.assertEqual(ask(s, b"x"),
                                             b"X:x")
                    self.assertEqual(m.stop(), 0)

    def test_ambiguous_pairings_are_usage_errors(self):
        for args, msg in (
                (["-l", "127.0.0.1:0", "--to", "5", "-l", "127.0.0.1:0"],
                 "-l 127.0.0.1:0 has no --to after it"),
                (["--to", "5", "-l", "127.0.0.1:0", "--to", "6"],
                 "--to 5 comes before any -l"),
                (["-l", "127.0.0.1:0", "--to", "5", "--to", "6"],
                 "--to 6 follows --to 5 with no -l between them"),
                (["-p", "0", "-l", "127.0.0.1:0", "--to", "5",
                  "-l", "127.0.0.1:0", "--to", "6"],
                 "the listener of -p/-H (127.0.0.1:0) cannot take one of "
                 "several --to"),
                (["--workers", "2", "-l", "127.0.0.1:0", "--to", "5",
                  "-l", "127.0.0.1:0", "--to", "6"],
                 "several --to cannot be combined with --workers"),
                (["-l", "127.0.0.1:0", "-s", "chargen",
                  "-l", "127.0.0.1:0", "--to", "6"], "do not apply")):
            with self.subTest(args):
                status, out, err = muxtest.run(*args)
                self.assertEqual(status, 2, err)
                self.assertEqual(out, "")
                self.assertIn(msg, err)


    def test_named_proxies_and_a_fault_on_one(self):
        # --name names the proxy of the --to before it (default proxyN);
        # proxy=NAME keeps a fault to that proxy's connections, added at
        # start or at run time; `proxy list` shows each one.
        with tagged_upstream(b"X:") as x, tagged_upstream(b"Y:") as y, \
                tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            unix = os.path.join(d, "y.sock")
            with Muxd("-l", "127.0.0.1:0", "--to", f"127.0.0.1:{x.port}",
                      "--name", "cache",
                      "-l", "127.0.0.1:0", "-l", "unix:" + unix,
                      "--to", f"127.0.0.1:{y.port}",
                      "--fault", "corrupt=100,proxy=cache",
                      "--control", "unix:" + path, listeners=3) as m:
                ctl = muxtest.Control(path)
                self.assertEqual(ctl.command("proxy list"), {"proxies": [
                    {"name": "cache", "upstream": f"127.0.0.1:{x.port}",
                     "enabled": True,
                     "listen": ["127.0.0.1:%d" % m.listeners[0][1][1]]},
                    {"name": "proxy2", "upstream": f"127.0.0.1:{y.port}",
                     "enabled": True,
                     "listen": ["127.0.0.1:%d" % m.listeners[1][1][1],
                                "unix:" + unix]},
                ]})
                with m.connect(0) as a, m.connect(1) as b:
                    got = ask(a, b"\0\0")  # corrupt down: tag and bytes
                    self.assertTrue(all(bin(g ^ w).count("1") == 1
                                        for g, w in zip(got, b"X:\0\0")))
                    self.assertEqual(ask(b, b"\0\0"), b"Y:\0\0")
                    # At run time, on the open connections: proxy2's only.
                    fid = ctl.command("fault add stall,proxy=proxy2")["id"]
                    a.sendall(b"1")
                    self.assertEqual(len(recv_exactly(a, 3)), 3)
                    b.sendall(b"2")
                    b.settimeout(0.2)
                    with self.assertRaises(socket.timeout):
                        b.recv(3)  # stalled: never read
                    ctl.command(f"fault del {fid}")
                    b.settimeout(TIMEOUT)
                    self.assertEqual(recv_exactly(b, 3), b"Y:2")
                self.assertEqual(
                    ctl.command("fault add latency=1,proxy=nope")["error"],
                    "invalid fault: no proxy named 'nope' (see: proxy list)")
                ctl.close()
                self.assertEqual(m.stop(), 0)

    def test_name_and_proxy_usage_errors(self):
        for args, msg in [
                (("--name", "a"), "--name a names the proxy of the --to "
                                  "before it: give --to UPSTREAM first"),
                (("--to", "1", "--name", "a", "--name", "b"),
                 "--name b: that --to has a name already"),
                (("--to", "1", "--name", "a/b"),
                 "invalid proxy name 'a/b' (1 to 64 of A-Z a-z 0-9 . _ -)"),
                (("-l", "127.0.0.1:0", "--to", "1", "-l", "127.0.0.1:0",
                  "--to", "2", "--name", "proxy1"),
                 "two proxies named 'proxy1' (--name, or a default proxyN): "
                 "give each its own name"),
                (("--to", "1", "--fault", "latency=5,proxy=x"),
                 "invalid fault: 'latency=5,proxy=x' (no proxy named 'x': "
                 "proxies are the --to relays, named by --name or proxyN)"),
                (("--to", "1", "--fault", "accept-delay=5,proxy=proxy1"),
                 "invalid fault: 'accept-delay=5,proxy=proxy1' "
                 "(accept-delay=MS: proxy= does not apply: the listeners' "
                 "accept is every proxy's)")]:
            with self.subTest(args=args):
                status, out, err = muxtest.run(*args)
                self.assertEqual(status, 2)
                self.assertIn("muxd: " + msg + "\n", err)


class TestClientsThatLeave(unittest.TestCase):
    """Nothing is held for a client that is gone: not its fd, not its
    upstream connection, also under a stall either way and under faults
    changed while clients come and go."""

    def leave(self, m, n=100):
        for _ in range(n):
            with m.connect() as s:
                s.sendall(b"hello")

    def test_stalled_clients_that_leave_free_fds_and_upstreams(self):
        for spec in ("stall", "stall,dir=down"):
            with self.subTest(spec=spec), Muxd("-q", "-l", "127.0.0.1:0") \
                    as echo, relay("-q", "--fault", spec, "--idle-timeout",
                                   "1", "--shutdown-timeout", "60",
                                   upstream=f"127.0.0.1:{echo.port}") as m:
                fds, up_fds = fd_count(m.proc.pid), fd_count(echo.proc.pid)
                self.leave(m)
                self.assertTrue(wait_until(
                    lambda: (fd_count(m.proc.pid), fd_count(echo.proc.pid))
                    == (fds, up_fds)),
                    f"relay fds {fds} -> {fd_count(m.proc.pid)}, upstream "
                    f"fds {up_fds} -> {fd_count(echo.proc.pid)}")
                self.assertEqual(m.stop(), 0)  # at once, not in 60 s

    def test_sigterm_ends_a_stalled_pair_at_once(self):
        for spec in ("stall", "stall,dir=down"):
            with self.subTest(spec=spec), Muxd("-q", "-l", "127.0.0.1:0") \
                    as echo, relay("-q", "--fault", spec,
                                   "--shutdown-timeout", "60",
                                   upstream=f"127.0.0.1:{echo.port}") as m:
                up_fds = fd_count(echo.proc.pid)
                s = m.connect()
                s.sendall(b"hello")
                self.assertTrue(wait_until(  # the pair is up
                    lambda: fd_count(echo.proc.pid) > up_fds))
                self.assertEqual(m.stop(), 0)  # not after 60 s
                self.assertEqual(read_to_end(s), (b"", False))
                s.close()

    def test_an_upstream_that_reads_nothing_is_closed_when_idle(self):
        release = threading.Event()
        def serve(conn):  # accepts, never reads
            release.wait(3 * TIMEOUT)  # past every wait of the test
        with Upstream(serve) as up, \
                relay("--idle-timeout", "0.5",
                      upstream=f"127.0.0.1:{up.port}") as m:
            fds = fd_count(m.proc.pid)
            with m.connect() as s:
                self.assertTrue(wait_until(lambda: up.accepted == 1))
                s.setblocking(False)
                try:  # until every buffer on the way is full
                    while True:
                        s.send(b"x" * 65536)
                except BlockingIOError:
                    pass
            self.assertTrue(wait_until(lambda: fd_count(m.proc.pid) == fds),
                            f"relay fds {fds} -> {fd_count(m.proc.pid)}")
            release.set()

    def test_stats_and_clients_agree_under_fault_churn(self):
        specs = ["stall,dir=down", "latency=20,dir=both", "stall",
                 "timeout=50", "stall,dir=both", "split=2:5"]
        with Muxd("-q", "-l", "127.0.0.1:0") as echo, \
                tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with relay("-q", "--control", "unix:" + path,
                       upstream=f"127.0.0.1:{echo.port}") as m:
                ctl = muxtest.Control(path)
                ctl.command("stats")  # its own fd is open from here on
                fds, up_fds = fd_count(m.proc.pid), fd_count(echo.proc.pid)
                held = []
                for i, spec in enumerate(specs * 2):
                    self.assertTrue(ctl.command(f"fault add {spec}")["ok"])
                    self.leave(m, 20)
                    held.append(m.connect())  # stays while faults change
                    held[-1].sendall(b"held")
                    if i % 2:
                        self.assertEqual(ctl.command("fault clear"),
                                         {"ok": True})
                self.assertEqual(ctl.command("fault clear"), {"ok": True})
                counts = lambda: (ctl.command("stats")["clients"],
                                  len(ctl.command("clients")["clients"]))
                # Those that left go; stats and clients count the same.
                agree = lambda c: c[0] == c[1] <= len(held)
                self.assertTrue(wait_until(lambda: agree(counts())),
                                counts())
                for s in held:
                    s.close()
                self.assertTrue(wait_until(
                    lambda: (fd_count(m.proc.pid), fd_count(echo.proc.pid))
                    == (fds, up_fds)),
                    f"relay fds {fds} -> {fd_count(m.proc.pid)}, upstream "
                    f"fds {up_fds} -> {fd_count(echo.proc.pid)}")
                self.assertEqual(counts(), (0, 0))
                ctl.close()


class TestUpstreamFailures(unittest.TestCase):
    def test_refused_resets_the_client_and_is_logged(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))  # bound, not listening: refused
            port = s.getsockname()[1]
            for fmt in ("text", "json"):
                with relay("--log-format", fmt,
                           upstream=f"127.0.0.1:{port}") as m:
                    for _ in range(2):  # muxd keeps serving
                        self.assertEqual(connect_and_read(m), (b"", True))
                    err = m.wait_for_log("Connection refused", 2)
                    if fmt == "text":
                        self.assertRegex(
                            err, r"muxd: 127\.0\.0\.1:\d+: upstream 127\.0\.0"
                                 rf"\.1:{port}: cannot connect: Connection "
                                 r"refused\n")
                    else:
                        events = [json.loads(line) for line in err.splitlines()]
                        up = [e for e in events if e["event"] == "upstream"]
                        self.assertEqual(len(up), 2)
                        self.assertEqual(up[0]["reason"], "cannot connect")
                        self.assertEqual(up[0]["error"], "Connection refused")
                        self.assertEqual(up[0]["upstream"], f"127.0.0.1:{port}")

    def test_connect_timeout_closes_the_client(self):
        # A full accept queue drops the relay's SYN: its connect times out.
        with socket.socket() as s, socket.socket() as filler:
            s.bind(("127.0.0.1", 0))
            s.listen(0)
            port = s.getsockname()[1]
            filler.connect(("127.0.0.1", port))
            with relay("--connect-timeout", "0.3",
                       upstream=f"127.0.0.1:{port}") as m, m.connect() as c:
                start = time.monotonic()
                self.assertEqual(read_to_end(c), (b"", False))
                self.assertGreaterEqual(time.monotonic() - start, 0.3)
                m.wait_for_log("cannot connect: Connection timed out")

    def test_no_unix_socket_there(self):
        with relay(upstream="unix:/nonexistent/muxd.sock") as m, \
                m.connect() as c:
            self.assertEqual(read_to_end(c), (b"", False))
            m.wait_for_log("cannot connect: No such file or directory")

    def test_upstream_reset_mid_stream_reaches_the_client_after_the_bytes(self):
        def serve(conn):
            conn.recv(10)
            conn.sendall(b"A" * 1000)
            time.sleep(0.1)  # the bytes go first, then the reset
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))

        with Upstream(serve) as up, relay(upstream=f"127.0.0.1:{up.port}") \
                as m, m.connect() as s:
            s.sendall(b"go")
            self.assertEqual(read_to_end(s), (b"A" * 1000, True))
            m.wait_for_log("reset by upstream")

    def test_upstream_close_mid_stream_reaches_the_client_after_the_bytes(self):
        def serve(conn):
            conn.recv(10)
            conn.sendall(b"B" * 100000)

        with Upstream(serve) as up, relay(upstream=f"127.0.0.1:{up.port}") \
                as m, m.connect() as s:
            s.sendall(b"go")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(read_to_end(s), (b"B" * 100000, False))

    def test_fds_unchanged_after_many_connections_with_random_failures(self):
        # The upstream is a muxd echo with its own random faults: it
        # resets some clients at once, resets others after answering,
        # cuts others short; others find it refusing (a second relay
        # points at a closed port).
        n = 10000
        with tempfile.TemporaryDirectory() as d:
            up = os.path.join(d, "up.sock")
            with Muxd("-q", "-l", "unix:" + up, "--seed", "3", "--fault",
                      "refuse,odds=25", "--fault", "rst,odds=25", "--fault",
                      "drop-after=2,odds=25"), \
                    relay("-q", "--connect-timeout", "1",
                          upstream="unix:" + up) as m, \
                    socket.socket() as closed:
                closed.bind(("127.0.0.1", 0))
                dead = relay("-q", upstream=f"127.0.0.1:"
                             f"{closed.getsockname()[1]}")
                with dead:
                    before = (fd_count(m.proc.pid), fd_count(dead.proc.pid))
                    for i in range(n):
                        target = dead if i % 5 == 0 else m
                        # A source address each: no 4-tuple is reused
                        # while the relay's side of it is in TIME_WAIT.
                        s = socket.socket()
                        s.settimeout(TIMEOUT)
                        s.bind((f"127.1.{i >> 8}.{i & 255}", 0))
                        with s:
                            try:  # a reset may come before connect returns
                                s.connect(target.addr)
                                s.sendall(b"abc")
                                if i % 3:
                                    s.recv(3)
                            except OSError:
                                pass
                    deadline = time.monotonic() + TIMEOUT
                    while time.monotonic() < deadline:
                        after = (fd_count(m.proc.pid),
                                 fd_count(dead.proc.pid))
                        if after == before:
                            break
                        time.sleep(0.05)
                    self.assertEqual(after, before)
                    for target, share in ((m, n - n // 5), (dead, n // 5)):
                        target.send_signal(signal.SIGUSR1)  # its stats line
                        target.wait_for_log(f" {share} accepted")
                    with m.connect() as s:  # still serving
                        s.sendall(b"x")
                        s.shutdown(socket.SHUT_WR)
                        self.assertIn(read_to_end(s)[0], (b"", b"x"))


class TestServing(unittest.TestCase):
    """What comes with the server: shutdown, --max-accepts, --workers,
    ACLs, the ready file; and the command line."""

    def test_graceful_shutdown_drains_both_directions(self):
        got_request = threading.Event()

        def serve(conn):
            data = conn.recv(100)
            got_request.set()
            time.sleep(0.3)  # muxd is told to stop meanwhile
            conn.sendall(b"answer to " + data)
            return read_all_upstream(conn)[0]  # the relay's FIN

        with Upstream(serve) as up, relay(upstream=f"127.0.0.1:{up.port}") \
                as m, m.connect() as s:
            s.sendall(b"question")
            self.assertTrue(got_request.wait(TIMEOUT))
            m.send_signal(signal.SIGTERM)
            self.assertEqual(read_to_end(s), (b"answer to question", False))
            self.assertEqual(m.wait(), 0)
            self.assertEqual(up.wait_results(), [b""])

    def sigterm_with_a_backlog(self, m, lines):
        """The relay stopped: a connect per line completes in the kernel's
        queue and sends its line; SIGTERM, then SIGCONT. Each client is
        accepted at the stop with its upstream connect still under way.
        Returns read_to_end() of each."""
        m.send_signal(signal.SIGSTOP)
        try:
            clients = [m.connect() for _ in lines]
            for c, line in zip(clients, lines):
                c.sendall(line)
            m.send_signal(signal.SIGTERM)
        finally:
            m.send_signal(signal.SIGCONT)
        got = []
        for c in clients:
            got.append(read_to_end(c))
            c.close()
        self.assertEqual(m.wait(), 0)
        return got

    def test_sigterm_relays_the_clients_still_in_the_backlog(self):
        # The stop waits for each upstream connect, relays the line,
        # passes the FIN on, and the echo comes back before the client's
        # EOF (main closed such a client at once: EOF and no answer).
        def echo(conn):
            got = b""
            while True:
                b = conn.recv(65536)
                if not b:
                    return got  # the relay's FIN
                got += b
                conn.sendall(b)

        lines = [b"waiting %02d\n" % i for i in range(50)]
        with Upstream(echo) as up, \
                relay("-q", upstream=f"127.0.0.1:{up.port}") as m:
            self.assertEqual(self.sigterm_with_a_backlog(m, lines),
                             [(line, False) for line in lines])
            self.assertEqual(sorted(up.wait_results(len(lines))), lines)

    def test_sigterm_resets_the_backlog_when_the_upstream_refuses(self):
        # What a refused connect always gives, at a stop too.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))  # bound, not listening: refused
            with relay("-q", upstream=f"127.0.0.1:{s.getsockname()[1]}") \
                    as m:
                lines = [b"waiting %02d\n" % i for i in range(10)]
                self.assertEqual(self.sigterm_with_a_backlog(m, lines),
                                 [(b"", True)] * len(lines))

    def test_sigterm_waits_for_a_backlog_connect_within_its_bounds(self):
        # An upstream whose full accept queue drops the relay's SYNs: the
        # stop ends at --connect-timeout (each client closed as on a
        # failed connect: EOF) or at --shutdown-timeout, whichever is
        # first; never later than either (60 s would outlast the wait).
        with socket.socket() as s, socket.socket() as filler:
            s.bind(("127.0.0.1", 0))
            s.listen(0)
            filler.connect(s.getsockname())
            lines = [b"waiting %02d\n" % i for i in range(5)]
            for bounds, ends in (
                    (("--connect-timeout", "0.3"), [(b"", False)]),
                    (("--connect-timeout", "60", "--shutdown-timeout", "0.3"),
                     [(b"", False), (b"", True)])):
                with self.subTest(bounds=bounds), \
                        relay("-q", *bounds,
                              upstream=f"127.0.0.1:{s.getsockname()[1]}") \
                        as m:
                    for end in self.sigterm_with_a_backlog(m, lines):
                        self.assertIn(end, ends)

    def test_a_stop_takes_one_shutdown_timeout_with_pairs_held_open(self):
        # SIGTERM with a pair that never ends by itself: its upstream
        # stays open and silent after the relay's FIN (it lingered 2 s
        # more once its client was closed), or it reads nothing of an
        # upload that filled every buffer on the way (its output never
        # drained: the relay's own finish timer gave it another
        # --shutdown-timeout). Either way the whole stop is one
        # --shutdown-timeout; measured 3.02 s here, 5.03 s and 6.04 s
        # before. The bound leaves 1.5 s for a loaded machine.
        timeout = 3.0
        gate = threading.Event()

        def silent(conn):
            gate.wait(TIMEOUT * 2)  # reads nothing, never closes
            return None

        for upload in (False, True):
            gate.clear()
            with self.subTest(upload=upload), Upstream(silent) as up, \
                    relay("--shutdown-timeout", str(timeout),
                          upstream=f"127.0.0.1:{up.port}") as m, \
                    m.connect() as s:
                s.sendall(b"hello")
                deadline = time.monotonic() + TIMEOUT
                while not up.accepted and time.monotonic() < deadline:
                    time.sleep(0.01)
                self.assertEqual(up.accepted, 1)
                if upload:  # until the relay stops reading us
                    s.setblocking(False)
                    until = time.monotonic() + 1.0
                    while time.monotonic() < until:
                        try:
                            s.send(b"x" * 65536)
                        except BlockingIOError:
                            time.sleep(0.01)
                start = time.monotonic()
                m.send_signal(signal.SIGTERM)
                try:
                    status = m.wait(timeout * 2 + TIMEOUT)
                finally:
                    gate.set()
                took = time.monotonic() - start
                self.assertEqual(status, 0)
                self.assertGreaterEqual(took, timeout - 0.05)  # its timer
                self.assertLess(took, timeout + 1.5, m.stderr())

    def test_max_accepts_workers_acl_ready_file(self):
        with tempfile.TemporaryDirectory() as d:
            ready = os.path.join(d, "ready")
            with Muxd("-q", "-l", "127.0.0.1:0") as echo:
                up = f"127.0.0.1:{echo.port}"
                with relay("--max-accepts", "1", "--ready-file", ready,
                           upstream=up) as m:
                    with open(ready) as f:
                        self.assertIn(str(m.port), f.read())
                    with m.connect() as s:
                        self.assertEqual(muxtest.round_trip(s, b"hi"), b"hi")
                    self.assertEqual(m.wait(), 0)
                with relay("--workers", "2", upstream=up) as m:
                    for _ in range(6):
                        with m.connect() as s:
                            self.assertEqual(muxtest.round_trip(s, b"w"), b"w")
                    self.assertEqual(m.stop(), 0)
                with relay("--deny", "127.0.0.0/8", upstream=up) as m, \
                        m.connect() as s:
                    self.assertEqual(read_to_end(s)[0], b"")
                    m.wait_for_log("refused")

    def test_usage_errors(self):
        for args, msg in (
                (["--to", "udp://127.0.0.1:5"], "not udp://"),
                (["--to", "127.0.0.1:0"], "port 0"),
                (["--to", "[::1"], "invalid upstream"),
                (["--to", "5", "-s", "chargen"], "do not apply"),
                (["--to", "5", "-l", "udp://127.0.0.1:0"], "UDP listener"),
                (["--dump", "-"], "need --to"),
                (["--dump-max", "1M"], "need --to"),
                (["--to", "5", "--dump-max", "1M"], "--dump-max needs --dump"),
                (["--to", "5", "--dump", "-", "--dump-max", "0"],
                 "invalid dump limit: '0'"),
                (["--to", "5", "--max-output", "1k"], "at least 8k"),
                (["--to", "5", "--max-output", "5k"], "at least 8k"),
                (["--to", "5", "--connect-timeout", "x"],
                 "invalid connect timeout")):
            with self.subTest(args):
                status, out, err = muxtest.run(*args)
                self.assertEqual(status, 2, err)
                self.assertIn(msg, err)

    def test_unresolvable_upstream_exits_1(self):
        status, out, err = muxtest.run("-p", "0", "--to",
                                       "no-such-host.invalid:80")
        self.assertEqual((status, out), (1, ""))
        self.assertIn("muxd: cannot resolve the upstream "
                      "no-such-host.invalid:80:", err)
        status, out, err = muxtest.run("-p", "0", "--to", "5", "--dump",
                                       "/nonexistent/dir")
        self.assertEqual(status, 1)
        self.assertIn("cannot dump to /nonexistent/dir", err)


class TestDump(unittest.TestCase):
    def setUp(self):
        self.echo = Muxd("-q", "-l", "127.0.0.1:0")

    def tearDown(self):
        self.echo.__exit__()

    def test_dump_to_a_directory(self):
        with tempfile.TemporaryDirectory() as d:
            with relay("--dump", d, upstream=f"127.0.0.1:{self.echo.port}") \
                    as m, m.connect() as s:
                s.sendall(b"hello, relay\x00\x01")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(read_to_end(s)[0], b"hello, relay\x00\x01")
                m.wait_for_log("closed")
                self.assertEqual(m.stop(), 0)
            (path,) = glob.glob(os.path.join(d, "conn-*.txt"))
            with open(path) as f:
                text = f.read()
        self.assertRegex(text, r"^# \S+Z conn 1 client 127\.0\.0\.1:\d+ "
                               r"upstream 127\.0\.0\.1:\d+\n")
        self.assertRegex(text, r"\n> \S+Z conn 1 up length=14 from=0 to=13\n"
                               r"00000000  68 65 6c 6c 6f 2c 20 72  65 6c 61 "
                               r"79 00 01 +\|hello, relay\.\.\|\n")
        self.assertRegex(text, r"\n< \S+Z conn 1 down length=14 from=0 "
                               r"to=13\n00000000  68 65")
        self.assertRegex(text, r"# \S+Z conn 1 closed: .*\(14 bytes up, 14 "
                               r"bytes down\)\n$")

    def dumped_bytes(self, text, marker):
        """The bytes of the hex lines in text, and the length of the text
        before the truncation line (which must be there)."""
        head, sep, _ = text.partition(marker)
        self.assertTrue(sep, text[-500:])
        head = head[:head.rfind("\n") + 1]  # up to the line with the marker
        hexes = re.findall(r"^[0-9a-f]{8}  ((?:[0-9a-f]{2} +)+)\|", head, re.M)
        return sum(len(h.split()) for h in hexes), len(head.encode())

    def relay_through_dump(self, d, size, *args, conns=1, **popen):
        """size random bytes echoed through a relay that dumps to d (or -
        for stderr), over `conns` connections one after another (each
        closed, and its close logged, before the next): the relay's
        stderr."""
        with relay("--dump", d, *args, upstream=f"127.0.0.1:{self.echo.port}",
                   **popen) as m:
            for n in range(1, conns + 1):
                data = os.urandom(size)
                with m.connect() as s:
                    sender = threading.Thread(target=s.sendall, args=(data,))
                    sender.start()
                    got = b""
                    while len(got) < size:
                        b = s.recv(65536)
                        self.assertTrue(b, "EOF before the echo came back")
                        got += b
                    sender.join(TIMEOUT)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(read_to_end(s)[0], b"")
                    self.assertTrue(got == data)
                if n < conns:
                    m.wait_for_log(f"conn {n} closed")
            self.assertEqual(m.stop(), 0)  # every dump is closed by then
            return m.stderr()

    def test_dump_max_truncates_each_file(self):
        # 20000 bytes each way at --dump-max 4k: whole lines up to 4 KiB,
        # then one line that says so, and the closing line counts the
        # bytes not dumped: with the ones dumped, every byte relayed.
        with tempfile.TemporaryDirectory() as d:
            self.relay_through_dump(d, 20000, "--dump-max", "4k")
            (path,) = glob.glob(os.path.join(d, "conn-*.txt"))
            with open(path) as f:
                text = f.read()
        dumped, head = self.dumped_bytes(
            text, " conn 1 truncated at 4096 bytes (--dump-max)")
        self.assertLessEqual(head, 4096)
        self.assertGreater(dumped, 0)
        m = re.search(r"\n# \S+Z conn 1 closed: .*\(20000 bytes up, 20000 "
                      r"bytes down; truncated at 4096 bytes of dump, (\d+) "
                      r"bytes not dumped\)\n$", text)
        self.assertTrue(m, text[-400:])
        self.assertEqual(dumped + int(m.group(1)), 40000)
        self.assertEqual(len(text.splitlines()), text[:head].count("\n") + 2)

    def test_dump_is_bounded_by_default(self):
        # 2.5 MiB each way make about 24 MiB of hexdump: the default cap
        # of 16 MiB per connection stops the file there.
        with tempfile.TemporaryDirectory() as d:
            self.relay_through_dump(d, 5 << 19)
            (path,) = glob.glob(os.path.join(d, "conn-*.txt"))
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                f.seek(size - 400)
                tail = f.read().decode()
        self.assertLessEqual(size, (16 << 20) + 400)
        self.assertIn(" conn 1 truncated at 16777216 bytes (--dump-max)", tail)
        self.assertRegex(tail, r"\(2621440 bytes up, 2621440 bytes down; "
                               r"truncated at 16777216 bytes of dump, \d+ "
                               r"bytes not dumped\)\n$")

    def test_dump_max_applies_to_stderr_per_connection(self):
        # Two connections, one after the other: each gets its own 2 KiB
        # (a cap shared by both would leave the second nothing).
        err = self.relay_through_dump("-", 3000, "--dump-max", "2k", conns=2)
        rest = err
        for n in (1, 2):
            closed = re.search(
                rf"# \S+Z conn {n} closed: .*\(3000 bytes up, 3000 bytes "
                r"down; truncated at 2048 bytes of dump, (\d+) bytes not "
                r"dumped\)\n", rest)
            self.assertTrue(closed, rest[-400:])
            mine, rest = rest[:closed.end()], rest[closed.end():]
            dumped, _ = self.dumped_bytes(
                mine, f" conn {n} truncated at 2048 bytes (--dump-max)")
            self.assertGreater(dumped, 0)
            self.assertEqual(dumped + int(closed.group(1)), 6000)

    def echo_once(self, m, data):
        with m.connect() as s:
            self.assertEqual(muxtest.round_trip(s, data), data)

    def test_dump_files_are_private_and_each_relay_keeps_its_own(self):
        # Two relays share a directory: each one's conn 1 has a file of
        # its own (named by its start time and pid), mode 0600.
        up = f"127.0.0.1:{self.echo.port}"
        with tempfile.TemporaryDirectory() as d:
            with relay("--dump", d, upstream=up) as a, \
                    relay("--dump", d, upstream=up) as b:
                self.echo_once(a, b"to the first relay")
                self.echo_once(b, b"to the second relay")
                self.assertEqual((a.stop(), b.stop()), (0, 0))
            for m, data in ((a, "to the first relay"),
                            (b, "to the second relay")):
                (path,) = glob.glob(os.path.join(
                    d, f"conn-*-{m.proc.pid}-1.txt"))
                self.assertRegex(os.path.basename(path),
                                 r"^conn-\d{8}T\d{6}Z-\d+-1\.txt$")
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
                with open(path) as f:
                    self.assertIn(f"|{data[:16]}|", f.read())
            self.assertEqual(len(os.listdir(d)), 2)

    def test_a_dump_never_replaces_a_file_or_follows_a_link(self):
        # A link planted under the name of the next dump: the relay
        # serves the client, says why there is no dump, and the file the
        # link points to stays as it was.
        with tempfile.TemporaryDirectory() as d:
            victim = os.path.join(d, "victim")
            with open(victim, "w") as f:
                f.write("precious\n")
            dumps = os.path.join(d, "dumps")
            os.mkdir(dumps)
            with relay("--dump", dumps,
                       upstream=f"127.0.0.1:{self.echo.port}") as m:
                err = m.wait_for_log("dumping connections to ")
                prefix = re.search(r"dumping connections to (\S+)-N\.txt\n",
                                   err).group(1)
                os.symlink(victim, prefix + "-1.txt")
                self.echo_once(m, b"hello")
                err = m.wait_for_log("cannot dump connection")
                self.assertRegex(err, r"cannot dump connection 127\.0\.0\.1:"
                                      r"\d+ to \S+: File exists\n")
                self.echo_once(m, b"again")
                self.assertEqual(m.stop(), 0)
            with open(victim) as f:
                self.assertEqual(f.read(), "precious\n")
            self.assertEqual(len(os.listdir(dumps)), 2)  # the link, conn 2

    def test_a_replacement_worker_keeps_the_dumps_it_finds(self):
        # Both workers dump, one is killed; its replacement's connections
        # get files of their own: one file per connection, none lost.
        up = f"127.0.0.1:{self.echo.port}"
        with tempfile.TemporaryDirectory() as d:
            with relay("--workers", "2", "--dump", d, upstream=up) as m:
                conns = 0
                while len({n.rsplit("-", 1)[0] for n in os.listdir(d)}) < 2:
                    self.assertLess(conns, 64, "one worker took every client")
                    self.echo_once(m, b"before %d" % conns)
                    conns += 1
                victim = children(m.proc.pid)[0]
                os.kill(victim, signal.SIGKILL)
                m.wait_for_log(f"(replaces pid {victim})")
                for n in range(40):  # the replacement takes about half
                    self.echo_once(m, b"after %d" % n)
                conns += 40
                self.assertEqual(m.stop(), 1)  # a worker died during the run
            self.assertEqual(len(os.listdir(d)), conns)

    def test_a_file_size_limit_costs_dump_bytes_not_the_relay(self):
        # Under `ulimit -f` a dump write past the limit fails (EFBIG)
        # instead of killing muxd (SIGXFSZ): every byte is relayed, the
        # loss is logged, muxd exits 0.
        limit = 64 << 10

        def fsize_limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        with tempfile.TemporaryDirectory() as d:
            err = self.relay_through_dump(d, 100000, preexec_fn=fsize_limit)
            (path,) = glob.glob(os.path.join(d, "conn-*.txt"))
            self.assertLessEqual(os.path.getsize(path), limit)
        self.assertIn("muxd: cannot write the dump of conn 1: File too large "
                      "(what it cannot take is lost, and counted)\n", err)

    def test_a_file_size_limit_on_stderr_costs_log_lines_not_the_relay(self):
        # --dump - into a stderr file under `ulimit -f`: the lines past
        # the limit are lost (EFBIG, as ENOSPC), muxd relays on, exits 0.
        limit = 64 << 10

        def fsize_limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        err = self.relay_through_dump("-", 100000, preexec_fn=fsize_limit)
        self.assertLessEqual(len(err.encode()), limit)
        self.assertIn(" conn 1 up length=", err)

    def test_a_dump_directory_too_long_for_its_file_names(self):
        # The directory fits PATH_MAX, its file names would not: an error
        # at start, not files whose names lost their end.
        with tempfile.TemporaryDirectory() as d:
            fd = os.open(d, os.O_RDONLY)
            path = d
            try:
                while len(path) + 1 < 4090:  # PATH_MAX is 4096, with the NUL
                    name = "d" * min(200, 4090 - len(path) - 1)
                    os.mkdir(name, dir_fd=fd)
                    fd2 = os.open(name, os.O_RDONLY, dir_fd=fd)
                    os.close(fd)
                    fd, path = fd2, path + "/" + name
            finally:
                os.close(fd)
            status, out, err = muxtest.run("-p", "0", "--to", "5", "--dump",
                                           path)
        self.assertEqual(status, 1)
        self.assertRegex(err, r"^muxd: cannot dump to /\S+: File name too "
                              r"long\n$")  # the log shortens the path

    def test_dump_to_stderr(self):
        with relay("--dump", "-", upstream=f"127.0.0.1:{self.echo.port}") \
                as m, m.connect() as s:
            data = bytes(range(40))
            self.assertEqual(muxtest.round_trip(s, data), data)
            err = m.wait_for_log("00000020  20 21 22 23 24 25 26 27", 2)
        self.assertIn("up length=40 from=0 to=39", err)
        self.assertIn("down length=40 from=0 to=39", err)


if __name__ == "__main__":
    muxtest.main()
