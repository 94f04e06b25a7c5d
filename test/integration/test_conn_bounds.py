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
from muxtest import Muxd, TIMEOUT, main, recv_exactly, recv_until_close, run  # noqa: E402


def peak_rss_kib(pid):
    """VmHWM of a process: the most resident memory it ever had, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


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
        # Twice the payload, a few KiB per client, and room for the
        # clients' own structs and socket bookkeeping.
        self.assertLess(held, 2 * payload_kib + self.CLIENTS * 4 + 1024,
                        f"peak RSS grew by {held} KiB for {payload_kib} KiB "
                        "of held-back replies")


if __name__ == "__main__":
    main()
