"""A few services driven by clients muxd's authors did not write: Debian's
OpenBSD netcat (`nc`), nmap's `ncat` and rdate (the RFC 868 time client)
(nmap itself: test_nmap.py),
the way docs/services.md shows.
A missing tool fails the test (scripts/test.sh installs them)."""

import calendar
import os
import subprocess
import tempfile
import time
import unittest

import muxtest
from muxtest import TIMEOUT, Muxd, openbsd_nc
from test_services import DAYTIME_RE, chargen_pattern


def tool(*argv, input=b""):
    """Runs a client to completion: (exit status, stdout)."""
    p = subprocess.run(argv, input=input, capture_output=True,
                       timeout=TIMEOUT)
    return p.returncode, p.stdout


class WithNc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nc = openbsd_nc()

    def test_echo_half_closes_and_gets_everything_back(self):
        with Muxd("-p", "0", "-q") as m:
            status, out = tool(self.nc, "-N", "127.0.0.1", str(m.port),
                               input=b"hello nc\nsecond line\n")
        self.assertEqual((status, out), (0, b"hello nc\nsecond line\n"))

    def test_hello_script_with_exit(self):
        with Muxd("-s", "hello", "--framing", "line", "-p", "0", "-q") as m:
            status, out = tool(self.nc, "127.0.0.1", str(m.port),
                               input=b"Michael\nTracy\nChenqi\nexit\n")
        self.assertEqual(status, 0)
        self.assertEqual(out, b"Welcome!\nHello, Michael!\nHello, Tracy!\n"
                              b"Hello, Chenqi!\n")

    def test_daytime_over_a_unix_socket(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "daytime.sock")
            with Muxd("-s", "daytime", "-l", "unix:" + path, "-q"):
                status, out = tool(self.nc, "-U", path)
        self.assertEqual(status, 0)
        self.assertRegex(out, DAYTIME_RE)

    def test_chargen_first_lines(self):
        with Muxd("-s", "chargen", "-p", "0", "-q") as m:
            p = subprocess.Popen([self.nc, "127.0.0.1", str(m.port)],
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE)
            try:
                first = p.stdout.read(74 * 3)
            finally:
                p.kill()
                p.wait(TIMEOUT)
                p.stdout.close()
        self.assertEqual(first, chargen_pattern(0, 3))

    def test_udp_echo(self):
        with Muxd("-l", "udp://127.0.0.1:0", "-q") as m:
            # -w1: nc -u cannot know the reply was the last one.
            status, out = tool(self.nc, "-u", "-w1", "127.0.0.1",
                               str(m.port), input=b"datagram\n")
        self.assertEqual(out, b"datagram\n")


class WithNcat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ncat = muxtest.require_tool("ncat", "ncat")

    def test_ack_logs_and_answers(self):
        with Muxd("-s", "ack", "-p", "0") as m:
            status, out = tool(self.ncat, "127.0.0.1", str(m.port),
                               input=b"knock knock\n")
            self.assertEqual((status, out), (0, b"ACK!\n"))
            self.assertIn("received: knock knock", m.stderr())

    def test_reply_over_ipv6(self):
        if not muxtest.ipv6_available():
            self.skipTest("no IPv6 on this host")
        with Muxd("-s", "reply", "-l", "[::1]:0", "-q") as m:
            status, out = tool(self.ncat, "-6", "::1", str(m.port),
                               input=b"hi\n")
        self.assertEqual((status, out), (0, b"Hello, client!\n"))


class WithRdate(unittest.TestCase):
    """rdate -p asks an RFC 868 server for the time and prints it."""

    @classmethod
    def setUpClass(cls):
        cls.rdate = muxtest.require_tool("rdate", "rdate")

    def ask(self, port, *flags):
        before = time.time()
        p = subprocess.run([self.rdate, "-p", "-o", str(port), *flags],
                           capture_output=True, timeout=TIMEOUT,
                           env=dict(os.environ, TZ="UTC", LC_ALL="C"))
        after = time.time()
        self.assertEqual(p.returncode, 0, p.stderr)
        # "Wed Dec  2 05:42:24 UTC 2026" (some versions prefix the host)
        text = p.stdout.decode().strip().split("\t")[-1]
        got = calendar.timegm(time.strptime(text, "%a %b %d %H:%M:%S %Z %Y"))
        # Whole seconds: the server's answer lies between the two clocks.
        self.assertLessEqual(int(before) - 1, got, text)
        self.assertLessEqual(got, after + 1, text)

    def test_time_over_tcp(self):
        with Muxd("-s", "time", "-p", "0", "-q") as m:
            self.ask(m.port, "127.0.0.1")

    def test_time_over_udp(self):
        with Muxd("-s", "time", "-l", "udp://127.0.0.1:0", "-q") as m:
            self.ask(m.port, "-u", "127.0.0.1")

    def test_time_over_ipv6(self):
        if not muxtest.ipv6_available():
            self.skipTest("no IPv6 on this host")
        with Muxd("-s", "time", "-l", "[::1]:0", "-q") as m:
            self.ask(m.port, "-6", "::1")


if __name__ == "__main__":
    muxtest.main()
