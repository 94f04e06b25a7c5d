#!/usr/bin/env python3
"""Resource bounds per connection: what --delay costs in memory, what the
idle and line timeouts count, and size options whose cap would overflow
(issue 15, items 3, 5 and 7)."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from muxtest import (  # noqa: E402
    TIMEOUT, Muxd, main, peak_rss_kib, recv_exactly, recv_until_close, run)


class DelayMemory(unittest.TestCase):
    CLIENTS = 50
    MESSAGES = 400  # one byte each, each in its own read

    def test_one_byte_delayed_replies_cost_about_their_payload(self):
        # Issue 15 item 3, scaled: every one-byte reply used to take an
        # entry and a 256-byte buffer (~320 bytes of heap): 50 x 400 held
        # replies were ~6 MiB more. Now they cost about what they carry.
        with Muxd("-p", "0", "-q", "--delay", "3000", "-m", "100") as m:
            socks = [m.connect() for _ in range(self.CLIENTS)]
            before = peak_rss_kib(m.proc.pid)
            for i in range(self.MESSAGES):
                for s in socks:
                    s.send(b"%c" % (65 + i % 26))
                time.sleep(0.002)  # pacing: replies fall due apart
            held = peak_rss_kib(m.proc.pid) - before
            expected = bytes(65 + i % 26 for i in range(self.MESSAGES))
            for s in socks:
                self.assertEqual(recv_exactly(s, self.MESSAGES), expected)
                s.close()
            self.assertEqual(m.stop(), 0)
        payload_kib = self.CLIENTS * self.MESSAGES // 1024
        # Twice the payload, a few KiB per client, the group records (16
        # bytes for each of at most min(MESSAGES, 1025) groups a client,
        # in a buffer that grows by doubling: 8 KiB here), and room for
        # the clients' own structs and socket bookkeeping.
        records_kib = 2 * min(self.MESSAGES, 1025) * 16 // 1024
        self.assertLess(held, 2 * payload_kib +
                        self.CLIENTS * (4 + records_kib) + 1024,
                        f"peak RSS grew by {held} KiB for {payload_kib} KiB "
                        "of held-back replies")


class IdleTimeoutCountsWrites(unittest.TestCase):
    def test_a_client_reading_chargen_is_not_idle(self):
        # It never sends, but reads all the time: it used to be cut after
        # the idle timeout (13.5 MB into a chargen stream at 1 s).
        with Muxd("-p", "0", "-s", "chargen", "--idle-timeout", "0.3") as m:
            s = m.connect()
            got, end = 0, time.monotonic() + 1.2  # four idle timeouts
            while time.monotonic() < end:
                chunk = s.recv(65536)
                self.assertTrue(chunk, f"closed after {got} bytes")
                got += len(chunk)
                time.sleep(0.005)  # a steady reader, not a flood
            s.close()
            self.assertEqual(m.stop(), 0)
            self.assertNotIn("idle timeout", m.stderr())

    def test_a_delayed_reply_is_not_lost_to_the_idle_timeout(self):
        # --delay 1500 --idle-timeout 1, scaled: the client that sent
        # "important" got EOF and no reply (10 bytes in, 0 out).
        with Muxd("-p", "0", "--delay", "600", "--idle-timeout", "0.25") as m:
            s = m.connect()
            s.sendall(b"important\n")
            self.assertEqual(recv_until_close(s), b"important\n")
            s.close()
            self.assertEqual(m.stop(), 0)
            # Closed as idle only after the reply: silent since then.
            self.assertIn("idle timeout (10 bytes in, 10 bytes out", m.stderr())


class LineTimeout(unittest.TestCase):
    def test_trickled_lines_do_not_hold_every_slot(self):
        # Five clients sending one byte every 0.5 s held all five slots of
        # -m 5 for hours, idle timeout or not. Scaled: -m 2, a byte every
        # 0.1 s, a line timeout of 0.5 s.
        with Muxd("-p", "0", "-m", "2", "--framing", "line",
                  "--idle-timeout", "0.3", "--line-timeout", "0.5") as m:
            slow = [m.connect(), m.connect()]
            closed = [None, None]
            end = time.monotonic() + TIMEOUT
            while None in closed and time.monotonic() < end:
                for i, s in enumerate(slow):
                    if closed[i] is None:
                        try:
                            s.send(b"x")
                        except OSError:  # closed by muxd meanwhile
                            closed[i] = time.monotonic()
                time.sleep(0.1)  # the trickle: well within the idle timeout
                for i, s in enumerate(slow):
                    s.setblocking(False)
                    try:
                        if closed[i] is None and s.recv(64) == \
                                b"error: line timeout\n":
                            closed[i] = time.monotonic()
                    except BlockingIOError:
                        pass
                    s.setblocking(True)
            self.assertNotIn(None, closed, "the trickling clients stayed")
            for s in slow:
                s.settimeout(TIMEOUT)
                self.assertEqual(recv_until_close(s), b"")
                s.close()
            m.wait_for_log("closed ", 2)  # their lingering closes ended
            c = m.connect()  # a slot is free again
            c.sendall(b"hello\n")
            self.assertEqual(recv_exactly(c, 6), b"hello\n")
            c.close()
            self.assertEqual(m.stop(), 0)
            self.assertIn(": line timeout", m.stderr())

    def test_lines_that_arrive_in_time_are_served(self):
        # A line in several pieces is fine while it completes in time.
        with Muxd("-p", "0", "--framing", "line", "--line-timeout", "0.5") as m:
            s = m.connect()
            for _ in range(6):
                for piece in (b"ab", b"cd", b"ef\n"):
                    s.sendall(piece)
                    time.sleep(0.05)
                self.assertEqual(recv_exactly(s, 7), b"abcdef\n")
            s.close()
            self.assertEqual(m.stop(), 0)
            self.assertNotIn("line timeout", m.stderr())

    def test_needs_line_framing(self):
        status, _, err = run("-p", "0", "--line-timeout", "1")
        self.assertEqual(status, 2)
        self.assertIn("--line-timeout needs line framing", err)


class SizeOptions(unittest.TestCase):
    def test_an_output_limit_whose_cap_overflows_is_refused(self):
        # 16 x 1073741824G wrapped to 0: every client with a queued byte
        # was dropped. Refused now, with the largest that works.
        status, _, err = run("-p", "0", "--max-output", "1073741824G")
        self.assertEqual(status, 2)
        self.assertIn("invalid output limit: '1073741824G'", err)
        self.assertIn("at most 1073741823G", err)

    def test_the_largest_output_limit_serves(self):
        with Muxd("-p", "0", "--max-output", "1073741823G") as m:
            s = m.connect()
            payload = os.urandom(1 << 20)
            s.sendall(payload)
            self.assertEqual(recv_exactly(s, len(payload)), payload)
            s.close()
            self.assertEqual(m.stop(), 0)


if __name__ == "__main__":
    main()
