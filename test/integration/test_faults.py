"""--fault SPEC: muxd misbehaves on purpose, and a client sees
exactly the fault it asked for. The only times asserted are lower bounds
that muxd's timers guarantee (a piece or an accept never comes early);
upper bounds are the generous TIMEOUT of every wait."""

import os
import re
import signal
import socket
import tempfile
import time
import unittest

import muxtest
from muxtest import fd_count, wait_until
from muxtest import Muxd, recv_until_close

GREETING = b"Thank you for connecting\n"
WELCOME = b"Welcome!\n"


def chargen(n):
    """The first n bytes of chargen's stream (RFC 864, 72 chars + CR LF)."""
    out, i = bytearray(), 0
    while len(out) < n:
        out += bytes(32 + (i + k) % 95 for k in range(72)) + b"\r\n"
        i += 1
    return bytes(out[:n])


def read_to_end(sock):
    """Reads until EOF or a reset: (data, reads that returned data,
    whether it ended with a reset)."""
    chunks = []
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                return b"".join(chunks), len(chunks), False
            chunks.append(b)
    except ConnectionResetError:
        return b"".join(chunks), len(chunks), True


def connect_and_read(m):
    """read_to_end() on a new client of m. The reset may come before the
    client's connect() (non-blocking, as with a timeout) looked at the
    socket: connect() itself fails then, and that counts as a reset."""
    try:
        c = m.connect()
    except ConnectionResetError:
        return b"", 0, True
    with c:
        return read_to_end(c)


class DropAfter(unittest.TestCase):
    def test_chargen_gets_exactly_n_bytes_then_eof(self):
        with Muxd("-p", "0", "-s", "chargen", "--fault", "drop-after=1000") as m:
            with m.connect() as c:
                data, _, reset = read_to_end(c)
            self.assertFalse(reset)
            self.assertEqual(data, chargen(1000))
            self.assertEqual(m.stop(), 0)
            self.assertIn("fault drop-after", m.stderr())

    def test_a_reply_is_cut_and_later_ones_never_come(self):
        with Muxd("-p", "0", "--fault", "drop-after=5") as m:
            with m.connect() as c:
                c.sendall(b"hello world")
                data, _, reset = read_to_end(c)
            self.assertEqual(data, b"hello")
            self.assertFalse(reset)
            self.assertEqual(m.stop(), 0)

    def test_zero_closes_at_the_first_bytes_passing_none(self):
        # toxiproxy's limit_data of 0 bytes: EOF, not one byte, both ways.
        for spec, reason in [("drop-after=0", "fault drop-after: closing"),
                             ("drop-after=0,dir=up",
                              "fault drop-after (input): closing")]:
            with self.subTest(spec=spec), \
                    Muxd("-p", "0", "--fault", spec) as m:
                with m.connect() as c:
                    c.sendall(b"hello")
                    self.assertEqual(read_to_end(c), (b"", 0, False))
                self.assertEqual(m.stop(), 0)
                self.assertIn(reason, m.stderr())

    def test_zero_holds_against_any_other_limit(self):
        # In series, a link that passes nothing: nothing passes.
        with Muxd("-p", "0", "--fault", "drop-after=100",
                  "--fault", "drop-after=0") as m:
            with m.connect() as c:
                c.sendall(b"hello")
                self.assertEqual(read_to_end(c), (b"", 0, False))


class Rst(unittest.TestCase):
    def test_a_close_after_the_greeting_is_a_reset(self):
        with Muxd("-p", "0", "-s", "greet", "--fault", "rst") as m:
            data, _, reset = connect_and_read(m)
            self.assertTrue(reset, "expected ECONNRESET, got EOF")
            self.assertTrue(GREETING.startswith(data))
            self.assertEqual(m.stop(), 0)
            self.assertIn("reset (fault rst)", m.stderr())

    def test_refused_clients_are_reset_too(self):
        with Muxd("-p", "0", "-m", "1", "--fault", "rst") as m:
            with m.connect() as first:
                data, _, reset = connect_and_read(m)  # the second: refused
                self.assertTrue(reset, "expected ECONNRESET, got EOF")
                first.sendall(b"ping")  # admitted: served as usual
                self.assertEqual(muxtest.recv_exactly(first, 4), b"ping")
                self.assertTrue(b"muxd: server full\n".startswith(data))
            self.assertEqual(m.stop(), 0)


class RstCombined(unittest.TestCase):
    def test_drop_after_with_rst_is_n_bytes_then_a_reset(self):
        with Muxd("-p", "0", "-s", "chargen",
                  "--fault", "drop-after=1000,rst") as m:
            data, _, reset = connect_and_read(m)
            self.assertTrue(reset, "expected ECONNRESET, got EOF")
            self.assertTrue(chargen(1000).startswith(data))
            self.assertEqual(m.stop(), 0)

    def test_one_spec_is_drawn_once(self):
        # With odds=, drop-after=1000,rst cuts and resets the same
        # connections: 1000 bytes at most and a reset, or all and EOF.
        payload = bytes(range(256)) * 8
        outcomes = set()
        with Muxd("-p", "0", "--fault", "drop-after=1000,rst,odds=50",
                  "--seed", "7") as m:
            for _ in range(24):
                with m.connect() as c:
                    c.sendall(payload)  # 2 KiB: the socket takes it at once
                    try:
                        c.shutdown(socket.SHUT_WR)
                    except OSError:  # the reset came first
                        pass
                    data, _, reset = read_to_end(c)
                self.assertTrue(payload.startswith(data))
                outcomes.add(("cut" if len(data) <= 1000 else "all", reset))
        self.assertEqual(outcomes, {("cut", True), ("all", False)})


class Split(unittest.TestCase):
    def test_a_greeting_arrives_in_pieces_over_time(self):
        # 25 bytes in pieces of 4: 7 pieces, 6 pauses of 50 ms at least.
        with Muxd("-p", "0", "-s", "greet", "--fault", "split=4:50") as m:
            start = time.monotonic()
            with m.connect() as c:
                data, reads, reset = read_to_end(c)
            elapsed = time.monotonic() - start
            self.assertEqual(data, GREETING)  # byte-exact, then EOF
            self.assertFalse(reset)
            self.assertGreaterEqual(reads, 2)
            self.assertGreaterEqual(elapsed, 6 * 0.050 * 0.8)
            self.assertEqual(m.stop(), 0)

    def test_a_large_echo_is_byte_exact(self):
        # 20480 bytes: 21 pieces of 1000, 2 ms apart or (split=BYTES:0) a
        # send per piece back to back (test_conn_faults sees those sends
        # one by one on a SOCK_SEQPACKET pair).
        payload = bytes(range(256)) * 80
        for spec, min_reads in (("split=1000:2", 2), ("split=1000:0", 1)):
            with self.subTest(spec=spec), \
                    Muxd("-p", "0", "--fault", spec) as m:
                with m.connect() as c:
                    c.sendall(payload)
                    c.shutdown(socket.SHUT_WR)
                    data, reads, reset = read_to_end(c)
                self.assertEqual(data, payload)
                self.assertFalse(reset)
                self.assertGreaterEqual(reads, min_reads)
                self.assertEqual(m.stop(), 0)

    def test_split_with_delay_keeps_order_and_close(self):
        with Muxd("-p", "0", "-s", "greet", "--delay", "100",
                  "--fault", "split=10:10") as m:
            start = time.monotonic()
            with m.connect() as c:
                data, reads, _ = read_to_end(c)
            self.assertEqual(data, GREETING)
            self.assertGreaterEqual(reads, 2)
            self.assertGreaterEqual(time.monotonic() - start, 0.1 * 0.8)
            self.assertEqual(m.stop(), 0)


class ResetPeer(unittest.TestCase):
    def test_the_greeting_is_dropped_then_a_reset(self):
        with Muxd("-p", "0", "-s", "greet", "--fault",
                  "reset-peer=100") as m:
            start = time.monotonic()
            self.assertEqual(connect_and_read(m), (b"", 0, True))
            self.assertGreaterEqual(time.monotonic() - start, 0.1)
            m.wait_for_log("reset (fault reset-peer)")

    def test_up_the_service_never_sees_the_first_bytes(self):
        # echo, dir=up, at once: the first message is not echoed, the
        # connection is reset.
        with Muxd("-p", "0", "--fault", "reset-peer=0,dir=up") as m, \
                m.connect() as c:
            c.sendall(b"ping\n")
            self.assertEqual(read_to_end(c), (b"", 0, True))

    def test_added_on_an_open_connection(self):
        # The control socket adds it to an echo client that already had
        # an answer: its next answer is dropped, and it is reset.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with Muxd("-p", "0", "--control", "unix:" + path) as m, \
                    m.connect() as c:
                ctl = muxtest.Control(path)
                self.assertEqual(muxtest.round_trip(c, b"one"), b"one")
                self.assertEqual(ctl.command("fault add reset-peer=50")["id"],
                                 1)
                c.sendall(b"two")
                self.assertEqual(read_to_end(c), (b"", 0, True))
                ctl.close()


class Slicer(unittest.TestCase):
    def test_a_greeting_in_halves_over_time(self):
        # 25 bytes around 10: halves of halves, 6 6 6 7, 100 ms apart.
        with Muxd("-p", "0", "-s", "greet", "--fault",
                  "slicer=10:0:100000") as m, m.connect() as c:
            start = time.monotonic()
            data, reads, reset = read_to_end(c)
            self.assertEqual((data, reads, reset), (GREETING, 4, False))
            self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_added_on_an_open_connection(self):
        # An echo client that had its answer whole: after the control
        # socket adds the slicer, 12 bytes around 5 come back in halves
        # of halves: 3 3 3 3.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with Muxd("-p", "0", "--control", "unix:" + path) as m, \
                    m.connect() as c:
                ctl = muxtest.Control(path)
                self.assertEqual(muxtest.round_trip(c, b"whole"), b"whole")
                self.assertEqual(
                    ctl.command("fault add slicer=5:0:100000")["id"], 1)
                c.sendall(b"0123456789ab")
                self.assertEqual([c.recv(64) for _ in range(4)],
                                 [b"012", b"345", b"678", b"9ab"])
                ctl.close()


class Stall(unittest.TestCase):
    def test_sends_block_and_muxd_still_greets_and_stops(self):
        with Muxd("-p", "0", "-s", "hello", "--fault", "stall",
                  "--shutdown-timeout", "1") as m:
            hog = m.connect()
            self.assertEqual(muxtest.recv_exactly(hog, len(WELCOME)), WELCOME)
            hog.settimeout(0.5)
            sent, chunk = 0, b"x" * 65536
            with self.assertRaises(socket.timeout):
                while sent < 256 << 20:  # far beyond any socket buffers
                    sent += hog.send(chunk)
            # The loop is not blocked: a new client is accepted and greeted.
            with m.connect() as other:
                self.assertEqual(
                    muxtest.recv_exactly(other, len(WELCOME)), WELCOME)
                other.sendall(b"Tracy\n")  # never answered: nobody reads
                other.settimeout(0.2)
                with self.assertRaises(socket.timeout):
                    other.recv(64)
                self.assertEqual(m.stop(), 0)
            hog.close()


def leave(m, n=100):
    """n clients that send 5 bytes and close."""
    for _ in range(n):
        with m.connect() as c:
            c.sendall(b"hello")


class StallAndLeave(unittest.TestCase):
    """A client that leaves is not held by a stall: what the stall holds
    for it is dropped, its fd closed; a close that a stall holds for a
    client still there is listed by `clients`, can be kicked, and does
    not hold a graceful stop."""

    def muxd(self, *args):
        """A muxd with a control socket, its connection, and its fd count
        once that connection is served."""
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: os.path.isdir(d) and os.rmdir(d))
        path = os.path.join(d, "ctl")
        m = Muxd("-p", "0", "-q", "--shutdown-timeout", "60",
                 "--control", "unix:" + path, *args)
        self.addCleanup(m.kill)  # if a step below fails before `with m`
        ctl = muxtest.Control(path)
        self.addCleanup(ctl.close)
        self.assertEqual(ctl.command("stats")["accepted"], 0)  # served
        return m, ctl, fd_count(m.proc.pid)

    def assert_all_gone(self, m, ctl, n, before):
        """Every one of the n clients was accepted (none waits in the
        backlog, where its fd is not muxd's yet), and its fd is closed."""
        def gone():
            return (ctl.command("stats")["accepted"] == n and
                    fd_count(m.proc.pid) == before)
        self.assertTrue(wait_until(gone),
                        f"{fd_count(m.proc.pid)} fds, {before} before; "
                        f"{ctl.command('stats')}")

    def test_clients_that_leave_free_their_fds(self):
        for args in (("--fault", "stall,dir=down"),
                     ("--fault", "stall,dir=down", "--idle-timeout", "1"),
                     ("--fault", "stall", "--idle-timeout", "1")):
            with self.subTest(args=args):
                m, ctl, before = self.muxd(*args)
                with m:
                    leave(m)
                    self.assert_all_gone(m, ctl, 100, before)
                    self.assertEqual(m.stop(), 0)  # at once, not in 60 s

    def test_clients_that_leave_a_service_that_closed_free_their_fds(self):
        # greet, daytime, ack close after their answer: the close waits
        # behind the stall, and muxd reads on to see the client leave.
        for service in ("greet", "daytime", "ack"):
            with self.subTest(service=service):
                m, ctl, before = self.muxd("-s", service,
                                           "--fault", "stall,dir=down")
                with m:
                    for _ in range(20):
                        with m.connect() as c:
                            c.sendall(b"hi\n")
                            time.sleep(0.01)  # it answers and closes
                    self.assert_all_gone(m, ctl, 20, before)
                    self.assertEqual(m.stop(), 0)  # at once, not in 60 s

    def test_a_held_close_is_listed_kicked_and_ends_at_sigterm(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with Muxd("-p", "0", "-s", "greet", "--fault", "stall,dir=down",
                      "--control", "unix:" + path,
                      "--shutdown-timeout", "60") as m:
                ctl = muxtest.Control(path)
                kicked, stays = m.connect(), m.connect()
                # greet closes after its greeting: the stall holds both.
                self.assertTrue(wait_until(
                    lambda: ctl.command("stats")["clients"] == 2))
                listed = ctl.command("clients")["clients"]
                self.assertEqual([c["closing"] for c in listed],
                                 [True, True])
                self.assertEqual(ctl.command(f"kick {listed[-1]['id']}"),
                                 {"ok": True})
                self.assertEqual(read_to_end(kicked)[0], b"")
                self.assertEqual(ctl.command("stats")["clients"], 1)
                self.assertEqual(len(ctl.command("clients")["clients"]), 1)
                ctl.close()
                self.assertEqual(m.stop(), 0)  # at once, not in 60 s
                self.assertEqual(read_to_end(stays)[0], b"")
                kicked.close()
                stays.close()


class FaultsAtRunTime(unittest.TestCase):
    def test_first_1_is_for_the_next_new_client_not_an_open_one(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with Muxd("-p", "0", "--control", "unix:" + path) as m:
                ctl = muxtest.Control(path)
                old = m.connect()
                self.assertEqual(muxtest.round_trip(old, b"old"), b"old")
                self.assertTrue(ctl.command("fault add rst,first=1")["ok"])
                ends = []
                for c in (m.connect(), old, m.connect()):  # new, old, next
                    with c:
                        self.assertEqual(muxtest.round_trip(c, b"x"), b"x")
                        c.shutdown(socket.SHUT_WR)  # echo closes: rst?
                        ends.append(read_to_end(c)[2])
                self.assertEqual(ends, [True, False, False])
                ctl.close()

    def test_fault_set_changes_a_fault_on_open_connections(self):
        # bandwidth=1: an echo of 100 bytes would take 100 s; set to 1M
        # on the open connection, the rest comes at once. Same id, same
        # draw; another kind or an unknown id is refused.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with Muxd("-p", "0", "--control", "unix:" + path) as m:
                ctl = muxtest.Control(path)
                self.assertEqual(ctl.command("fault add bandwidth=1")["id"], 1)
                with m.connect() as c:
                    c.sendall(b"y" * 100)
                    c.settimeout(0.3)
                    got = b""
                    try:
                        while len(got) < 100:
                            got += c.recv(100)
                    except socket.timeout:
                        pass
                    self.assertLess(len(got), 100)  # 1 byte/s holds it
                    self.assertEqual(
                        ctl.command("fault set 1 bandwidth=1M"), {"ok": True})
                    c.settimeout(10)
                    while len(got) < 100:
                        more = c.recv(100)
                        self.assertTrue(more)
                        got += more
                    self.assertEqual(got, b"y" * 100)
                self.assertEqual(ctl.command("fault list")["faults"],
                                 [{"id": 1, "spec": "bandwidth=1M"}])
                self.assertEqual(
                    ctl.command("fault set 1 latency=5")["error"],
                    "fault 1 is a bandwidth fault: a fault keeps its kind "
                    "(add a new one)")
                self.assertEqual(ctl.command("fault set 2 latency=5")["error"],
                                 "no fault with id 2")
                ctl.close()

    def test_two_latency_faults_add_up(self):
        # Stages in series: 150 ms then 150 ms is at least 300 ms.
        with Muxd("-p", "0", "--fault", "latency=150",
                  "--fault", "latency=150") as m:
            with m.connect() as c:
                start = time.monotonic()
                self.assertEqual(muxtest.round_trip(c, b"x"), b"x")
                self.assertGreaterEqual(time.monotonic() - start, 0.3)


class AcceptDelay(unittest.TestCase):
    def test_connect_completes_and_the_greeting_comes_late(self):
        with Muxd("-p", "0", "-s", "greet",
                  "--fault", "accept-delay=300") as m:
            start = time.monotonic()
            with m.connect() as c:  # the kernel's backlog completes it
                data = recv_until_close(c)
            self.assertEqual(data, GREETING)
            self.assertGreaterEqual(time.monotonic() - start, 0.3 * 0.8)
            self.assertEqual(m.stop(), 0)

    def test_one_client_per_delay(self):
        with Muxd("-p", "0", "-s", "greet",
                  "--fault", "accept-delay=150") as m:
            start = time.monotonic()
            with m.connect() as first, m.connect() as second:
                self.assertEqual(recv_until_close(first), GREETING)
                self.assertEqual(recv_until_close(second), GREETING)
            self.assertGreaterEqual(time.monotonic() - start, 2 * 0.15 * 0.8)
            self.assertEqual(m.stop(), 0)

    def test_sigterm_while_a_client_waits(self):
        with Muxd("-p", "0", "-s", "greet",
                  "--fault", "accept-delay=3600000") as m:
            with m.connect() as c:
                self.assertEqual(m.stop(signal.SIGTERM), 0)
                # The shutdown accepts what waits in the backlog at once,
                # the delay notwithstanding, and answers it.
                self.assertEqual(recv_until_close(c), GREETING)


def timed_round_trip(m, msg=b"ping\n"):
    """(reply, seconds) of one echo round trip through a new client."""
    with m.connect() as c:
        start = time.monotonic()
        c.sendall(msg)
        reply = muxtest.recv_exactly(c, len(msg))
        return reply, time.monotonic() - start


class Latency(unittest.TestCase):
    """Lower bounds only: a held byte never leaves early."""

    def test_down_up_and_both(self):
        for spec, at_least in (("latency=150", 0.15),
                               ("latency=150,dir=up", 0.15),
                               ("latency=100,dir=both", 0.2),
                               ("latency=50,jitter=100,dir=both", 0.1)):
            with self.subTest(spec=spec), Muxd("-p", "0", "--fault", spec) as m:
                reply, took = timed_round_trip(m)
                self.assertEqual(reply, b"ping\n")
                self.assertGreaterEqual(took, at_least)

    def test_order_is_kept_with_jitter(self):
        with Muxd("-p", "0", "--fault", "latency=0,jitter=80") as m:
            with m.connect() as c:
                for i in range(50):
                    c.sendall(b"%03d" % i)
                data = muxtest.recv_exactly(c, 150)
            self.assertEqual(data, b"".join(b"%03d" % i for i in range(50)))


class Bandwidth(unittest.TestCase):
    def test_a_download_takes_at_least_size_over_rate(self):
        # 40 KiB at 20 KiB/s: 2 s at least (the bucket holds 10 ms).
        with Muxd("-p", "0", "-s", "chargen",
                  "--fault", "bandwidth=20k,dir=down") as m:
            with m.connect() as c:
                start = time.monotonic()
                data = muxtest.recv_exactly(c, 40 * 1024)
                took = time.monotonic() - start
            self.assertEqual(data, chargen(40 * 1024))
            self.assertGreaterEqual(took, 1.9)

    def test_up_limits_what_is_served(self):
        with Muxd("-p", "0", "--fault", "bandwidth=10k,dir=up") as m:
            with m.connect() as c:
                start = time.monotonic()
                c.sendall(b"x" * 15000)
                data = muxtest.recv_exactly(c, 15000)
                took = time.monotonic() - start
            self.assertEqual(data, b"x" * 15000)
            self.assertGreaterEqual(took, 1.3)


class Directions(unittest.TestCase):
    def test_drop_after_up_serves_the_first_bytes_then_closes(self):
        with Muxd("-p", "0", "--fault", "drop-after=4,dir=up") as m:
            with m.connect() as c:
                c.sendall(b"abcdefgh")
                data, _, _ = read_to_end(c)
            self.assertEqual(data, b"abcd")
            self.assertEqual(m.stop(), 0)
            self.assertIn("fault drop-after (input)", m.stderr())

    def test_split_up_cuts_what_the_service_sees(self):
        with Muxd("-p", "0", "-s", "ack", "--fault", "split=3:20,dir=up") as m:
            with m.connect() as c:
                c.sendall(b"abcdefgh\n")
                # The first piece is the message: no line end, none back.
                self.assertEqual(recv_until_close(c), b"ACK!")
            self.assertEqual(m.stop(), 0)
            self.assertIn("received: abc\n", m.stderr() + "\n")

    def test_stall_down_holds_the_greeting(self):
        with Muxd("-p", "0", "-s", "greet", "--fault", "stall,dir=down") as m:
            with m.connect() as c:
                c.settimeout(0.3)
                with self.assertRaises(socket.timeout):
                    c.recv(100)


class Endings(unittest.TestCase):
    def test_slow_close_holds_the_eof(self):
        with Muxd("-p", "0", "-s", "greet", "--fault", "slow-close=300") as m:
            with m.connect() as c:
                start = time.monotonic()
                data = recv_until_close(c)
                took = time.monotonic() - start
            self.assertEqual(data, GREETING)
            self.assertGreaterEqual(took, 0.3)

    def test_limit_time_closes_a_busy_client(self):
        with Muxd("-p", "0", "--fault", "limit-time=300") as m:
            with m.connect() as c:
                start = time.monotonic()
                c.sendall(b"hi")
                self.assertEqual(muxtest.recv_exactly(c, 2), b"hi")
                data, _, _ = read_to_end(c)
                took = time.monotonic() - start
            self.assertEqual(data, b"")
            self.assertGreaterEqual(took, 0.3)
            m.stop()
            self.assertIn("fault limit-time", m.stderr())

    def test_timeout_stops_both_ways_then_closes(self):
        with Muxd("-p", "0", "--fault", "timeout=300") as m:
            start = time.monotonic()  # before the accept that starts it
            with m.connect() as c:
                c.sendall(b"unanswered")  # never read: still an EOF
                self.assertEqual(read_to_end(c), (b"", 0, False))
                self.assertGreaterEqual(time.monotonic() - start, 0.3)
            m.stop()
            self.assertIn("fault timeout", m.stderr())

    def test_timeout_with_rst_ends_in_a_reset(self):
        with Muxd("-p", "0", "--fault", "timeout=300",
                  "--fault", "rst") as m:
            with m.connect() as c:
                c.sendall(b"unanswered")
                self.assertEqual(read_to_end(c), (b"", 0, True))

    def test_a_timeout_removed_closes_what_it_stopped(self):
        # As toxiproxy's timeout toxic: removed, it closes its connections
        # (what it held is dropped, not sent).
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with Muxd("-p", "0", "--control", "unix:" + path) as m:
                ctl = muxtest.Control(path)
                with m.connect() as c:
                    fault = ctl.command("fault add timeout=0")["id"]
                    c.sendall(b"held")
                    c.settimeout(0.3)
                    with self.assertRaises(socket.timeout):
                        c.recv(4)
                    self.assertEqual(ctl.command(f"fault del {fault}"),
                                     {"ok": True})
                    self.assertEqual(read_to_end(c), (b"", 0, False))
                    with m.connect() as d2:  # a new one is served
                        d2.sendall(b"ping")
                        self.assertEqual(muxtest.recv_exactly(d2, 4), b"ping")
                ctl.close()
                m.stop()
                self.assertIn("fault timeout removed: closing", m.stderr())

    def test_timeout_0_never_closes(self):
        with Muxd("-p", "0", "-s", "greet", "--fault", "timeout=0") as m:
            with m.connect() as c:
                c.settimeout(0.5)
                with self.assertRaises(socket.timeout):
                    c.recv(100)  # neither the greeting nor a close


class WhichConnections(unittest.TestCase):
    def test_refuse_first_2_then_served(self):
        with Muxd("-p", "0", "-s", "greet", "--fault", "refuse,first=2") as m:
            for _ in range(2):
                data, _, reset = connect_and_read(m)
                self.assertEqual((data, reset), (b"", True))
            self.assertEqual(connect_and_read(m), (GREETING, 1, False))

    def test_blackhole_never_answers(self):
        with Muxd("-p", "0", "-s", "greet", "--fault", "blackhole") as m:
            with m.connect() as c:
                c.settimeout(0.3)
                with self.assertRaises(socket.timeout):
                    c.recv(100)

    def outcomes(self, seed, odds="50"):
        with Muxd("-p", "0", "-s", "greet", "--fault", f"refuse,odds={odds}",
                  "--seed", str(seed)) as m:
            return [connect_and_read(m)[2] for _ in range(24)]

    def test_odds_are_drawn_per_connection_and_repeat_with_a_seed(self):
        first = self.outcomes(7)
        self.assertTrue(3 <= first.count(True) <= 21, first)
        self.assertEqual(self.outcomes(7), first)

    def test_odds_as_a_percent_or_a_fraction_are_the_same(self):
        # 50, 50% and toxiproxy's toxicity 0.5: the same draws.
        first = self.outcomes(7, "50%")
        self.assertTrue(3 <= first.count(True) <= 21, first)
        self.assertEqual(self.outcomes(7, "0.5"), first)
        self.assertEqual(self.outcomes(7, "50"), first)


class Corrupt(unittest.TestCase):
    SIZE = 20000

    def echoed(self, *args):
        """What echo sends back of SIZE zero bytes, under the faults."""
        with Muxd("-p", "0", *args) as m:
            with m.connect() as c:
                c.sendall(bytes(self.SIZE))
                return muxtest.recv_exactly(c, self.SIZE)

    def test_every_byte_gets_one_bit_flipped_at_100(self):
        got = self.echoed("--fault", "corrupt=100")
        self.assertEqual(len(got), self.SIZE)
        self.assertTrue(all(bin(b).count("1") == 1 for b in got))

    def test_a_share_of_the_bytes_repeatable_with_the_seed(self):
        first = self.echoed("--fault", "corrupt=10", "--seed", "5")
        again = self.echoed("--fault", "corrupt=10", "--seed", "5")
        other = self.echoed("--fault", "corrupt=10", "--seed", "6")
        self.assertEqual(first, again)
        self.assertNotEqual(first, other)
        flipped = [b for b in first if b]
        self.assertTrue(all(bin(b).count("1") == 1 for b in flipped))
        # 10 % of 20000: 2000, its standard deviation 42.
        self.assertTrue(1700 < len(flipped) < 2300, len(flipped))

    def test_both_ways_flip_twice_and_other_faults_stack(self):
        # dir=both: read and written bytes each drawn, apart; with latency in
        # the same chain the bytes still arrive, all of them.
        got = self.echoed("--fault", "corrupt=100,dir=both",
                          "--fault", "latency=5")
        self.assertEqual(len(got), self.SIZE)
        self.assertTrue(all(bin(b).count("1") in (0, 2) for b in got))
        # Each direction draws its own bits: a byte comes back as it went
        # only when both picked the same bit, 1 in 8 (the same draws both
        # ways would give every byte back unchanged).
        twice = sum(bin(b).count("1") == 2 for b in got)
        self.assertTrue(0.85 * self.SIZE < twice < 0.90 * self.SIZE, twice)

    def test_added_on_an_open_connection(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl")
            with Muxd("-p", "0", "--control", "unix:" + path) as m:
                ctl = muxtest.Control(path)
                with m.connect() as c:
                    self.assertEqual(muxtest.round_trip(c, b"\0\0"), b"\0\0")
                    self.assertTrue(ctl.command("fault add corrupt=100")["ok"])
                    got = muxtest.round_trip(c, b"\0\0")
                    self.assertTrue(all(bin(b).count("1") == 1 for b in got))
                    ctl.command("fault clear")
                    self.assertEqual(muxtest.round_trip(c, b"\0\0"), b"\0\0")
                ctl.close()


class Usage(unittest.TestCase):
    def test_bad_values_are_usage_errors(self):
        for bad in ["nope", "drop-after", "drop-after=", "drop-after=00",
                    "drop-after=x", "drop-after=-1", "drop-after=5q",
                    "split", "split=0", "split=4:", "split=:5",
                    "split=4:5:6", "rst=1", "stall=yes", "accept-delay",
                    "accept-delay=0", "accept-delay=3600001",
                    "accept-delay=1k", "=5", "", "latency=1,latency=2",
                    "latency=1,odds=0.333", "latency=1,odds=1.5",
                    "latency=1,odds=101%", "latency=1,bandwidth=5",
                    "refuse,rst", "drop-after=1T", "drop-after=0x10",
                    "corrupt", "corrupt=0", "corrupt=101", "corrupt=0.00001",
                    "corrupt=x", "corrupt=1.", "corrupt=5%%"]:
            with self.subTest(fault=bad):
                status, out, err = muxtest.run("-p", "0", "--fault", bad)
                self.assertEqual(status, 2)
                self.assertEqual(out, "")
                self.assertIn(f"muxd: invalid fault: '{bad}'", err)

    def test_good_values_parse(self):
        status, out, _ = muxtest.run(
            "--fault", "drop-after=1M", "--fault", "split=64k:5",
            "--fault", "split=1", "--fault", "rst", "--fault", "stall",
            "--fault", "accept-delay=3600000", "--fault", "split=4:0",
            "--fault", "rst,odds=0.5", "--fault", "rst,odds=50%",
            "--fault", "drop-after=1000,rst", "--fault", "corrupt=0.0001",
            "--fault", "corrupt=2.5%", "--fault", "corrupt=100", "-V")
        self.assertEqual(status, 0)
        self.assertTrue(out.startswith("muxd "))

    def test_help_lists_every_kind(self):
        status, out, _ = muxtest.run("--help")
        self.assertEqual(status, 0)
        for kind in ["latency=MS", "bandwidth=RATE", "split=BYTES[:MS]",
                     "drop-after=BYTES", "stall", "rst", "slow-close=MS",
                     "limit-time=MS", "timeout=MS", "refuse", "blackhole",
                     "accept-delay=MS", "corrupt=PERCENT"]:
            self.assertRegex(out, r"\n {26}" + re.escape(kind) + " ")
        for key in ["dir=down|up|both", "odds=PERCENT", "first=N", "--seed N"]:
            self.assertIn(key, out)


if __name__ == "__main__":
    muxtest.main()
