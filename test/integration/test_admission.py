"""Who muxd answers: the reflection guard and the reply budget of datagram
services, --allow/--deny over UDP, and --max-per-source / --max-rate for
stream clients. The forged datagrams need root (raw sockets, low ports):
those tests say so and skip where they cannot run."""

import json
import os
import re
import signal
import socket
import struct
import time
import unittest

import muxtest
from muxtest import Muxd, cpu_seconds, recv_exactly

IS_ROOT = os.geteuid() == 0
NEEDS_ROOT = "forging datagrams needs root (raw sockets, ports below 1024)"


def forge_udp(src, dst, payload):
    """Sends one UDP datagram to dst that claims to come from src, through
    a raw socket (IP_HDRINCL): the kernel fills in the IP checksum and
    length; a UDP checksum of 0 means none."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src[0]),
                     socket.inet_aton(dst[0]))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW,
                       socket.IPPROTO_RAW) as raw:
        raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        raw.sendto(ip + udp, (dst[0], 0))


def udp_socket(host="127.0.0.1", port=0, timeout=muxtest.TIMEOUT):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    s.settimeout(timeout)
    return s


def answered(sock, addr, msg=b"ping", wait=0.5):
    """Sends msg to addr; the reply, or None if none came within `wait`."""
    sock.settimeout(wait)
    sock.sendto(msg, addr)
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None


def wait_stats(m, text, timeout=muxtest.TIMEOUT):
    """Asks for stats lines (bounded) until one holds text: muxd may still
    be reading the datagrams sent."""
    deadline = time.monotonic() + timeout
    while True:
        line = stats_line(m)
        if text in line or time.monotonic() > deadline:
            return line
        time.sleep(0.05)


def stats_line(m):
    """SIGUSR1, then the stats line muxd logged."""
    before = m.stderr().count("stats:")
    m.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + muxtest.TIMEOUT
    while m.stderr().count("stats:") == before:
        if time.monotonic() > deadline:
            raise AssertionError("no stats line after SIGUSR1")
        time.sleep(0.02)
    return [l for l in m.stderr().splitlines() if "stats:" in l][-1]


def bytes_out(m):
    return int(re.search(r"(\d+) bytes out", stats_line(m)).group(1))


def settled(m, timeout=muxtest.TIMEOUT):
    """Whether muxd stops sending (bounded): two stats lines 0.3 s apart
    with the same bytes out."""
    deadline = time.monotonic() + timeout
    last = bytes_out(m)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = bytes_out(m)
        if now == last:
            return True
        last = now
    return False


def cpu_over(procs, seconds):
    """CPU seconds each process used over the next `seconds`."""
    before = [cpu_seconds(p.proc.pid) for p in procs]
    time.sleep(seconds)
    return [cpu_seconds(p.proc.pid) - b for p, b in zip(procs, before)]


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class ReflectionLoops(unittest.TestCase):
    """One forged datagram must not start a ping-pong that never ends."""

    def two_servers(self, service_a, service_b):
        a = Muxd("-s", service_a, "-l", "udp://127.0.0.1:0")
        b = Muxd("-s", service_b, "-l", "udp://127.0.0.1:0")
        self.addCleanup(a.__exit__)
        self.addCleanup(b.__exit__)
        return a, b

    def assert_loop_ends(self, a, b):
        forge_udp(b.addr, a.addr, b"one forged datagram")
        # The loop runs until one budget is spent (1000 replies), then dies:
        # no more bytes go out, and the servers sit idle.
        self.assertTrue(settled(a), "the first server still ping-pongs")
        self.assertTrue(settled(b), "the second server still ping-pongs")
        cpu_a, cpu_b = cpu_over((a, b), 1.0)
        self.assertLess(cpu_a, 0.1, "the first server still busy")
        self.assertLess(cpu_b, 0.1, "the second server still busy")
        self.assertIn("over the reply budget (100 a second)",
                      a.stderr() + b.stderr())
        # Ordinary clients are still answered, by both.
        with udp_socket("127.0.0.2") as c:
            self.assertIsNotNone(answered(c, a.addr, wait=muxtest.TIMEOUT))
            self.assertIsNotNone(answered(c, b.addr, wait=muxtest.TIMEOUT))

    def test_two_echo_servers(self):
        self.assert_loop_ends(*self.two_servers("echo", "echo"))

    def test_echo_against_chargen(self):
        self.assert_loop_ends(*self.two_servers("chargen", "echo"))

    def test_a_datagram_from_its_own_address(self):
        with Muxd("-l", "udp://127.0.0.1:0") as m:
            forge_udp(m.addr, m.addr, b"from myself")
            err = m.wait_for_log("reflection guard")
            self.assertIn(f"refused udp 127.0.0.1:{m.port} on 127.0.0.1:"
                          f"{m.port}: reflection guard (source port "
                          f"{m.port} is one of this server's)", err)
            (cpu,) = cpu_over((m,), 1.0)
            self.assertLess(cpu, 0.1, "muxd answers itself")
            self.assertIn("0 bytes out; datagrams unanswered: 0 denied, "
                          "1 reflection guard, 0 over budget",
                          stats_line(m))
            with udp_socket() as c:
                self.assertEqual(answered(c, m.addr, b"real",
                                          wait=muxtest.TIMEOUT), b"real")

    def test_reflecting_source_ports_get_no_answer(self):
        with Muxd("-s", "chargen", "-l", "udp://127.0.0.1:0") as m:
            # From three addresses: each source's first refusal is logged.
            sources = (("127.0.0.2", 7), ("127.0.0.3", 19), ("127.0.0.4", 53))
            for source in sources:
                with udp_socket(*source) as s:
                    self.assertIsNone(answered(s, m.addr), source)
            err = m.wait_for_log("source port 53")
            for host, port in sources:
                self.assertIn(f"refused udp {host}:{port} on 127.0.0.1:"
                              f"{m.port}: reflection guard (source port "
                              f"{port})\n", err)
            self.assertIn("3 reflection guard",
                          wait_stats(m, "3 reflection guard"))
            with udp_socket("127.0.0.2") as c:
                self.assertEqual(
                    len(answered(c, m.addr, wait=muxtest.TIMEOUT)), 444)

    def test_json_event(self):
        with Muxd("-l", "udp://127.0.0.1:0", "--log-format", "json") as m:
            with udp_socket("127.0.0.2", 19) as s:
                self.assertIsNone(answered(s, m.addr))
            err = m.wait_for_log('"refuse"')
            (e,) = [json.loads(l) for l in err.splitlines()
                    if '"refuse"' in l]
            self.assertEqual((e["transport"], e["peer"], e["reason"]),
                             ("udp", "127.0.0.2:19",
                              "reflection guard (source port 19)"))


class ReplyBudget(unittest.TestCase):
    def test_a_burst_then_one_line_and_a_summary(self):
        with Muxd("-l", "udp://127.0.0.1:0", "--udp-budget", "5:10") as m:
            with udp_socket() as s:
                for i in range(30):
                    s.sendto(b"%d" % i, m.addr)
                replies = []
                s.settimeout(0.5)
                try:
                    while True:
                        replies.append(s.recv(64))
                except socket.timeout:
                    pass
            # 10 at once, and at most a refill's worth more meanwhile.
            self.assertGreaterEqual(len(replies), 10)
            self.assertLessEqual(len(replies), 13)
            self.assertEqual(replies[:10], [b"%d" % i for i in range(10)])
            err = m.wait_for_log("over the reply budget (5 a second)")
            self.assertEqual(err.count("refused udp"), 1, err)
            # The rest are summed up in one line, at most 5 s later.
            err = m.wait_for_log("more not logged)")
            self.assertEqual(err.count("refused udp"), 2, err)
            self.assertIn(f"{30 - len(replies)} over budget",
                          wait_stats(m, f"{30 - len(replies)} over budget"))

    def test_the_default_budget_and_none(self):
        """1200 round trips: the default (burst 1000, then 100 a second)
        refuses some, --udp-budget 0 none."""
        for args, all_answered in (((), False), (("--udp-budget", "0"), True)):
            with Muxd("-l", "udp://127.0.0.1:0", "-q", *args) as m:
                with udp_socket() as s:
                    got = sum(answered(s, m.addr, b"x", wait=0.2) is not None
                              for _ in range(1200))
                self.assertEqual(got == 1200, all_answered, (args, got))

    def test_bad_budget_is_a_usage_error(self):
        for bad in ("", "x", "5:", ":5", "0:5", "5:0", "-1", "2000000"):
            code, _, err = muxtest.run("--udp-budget", bad)
            self.assertEqual(code, 2, bad)
            self.assertIn("invalid UDP budget", err)


class UdpAccessLists(unittest.TestCase):
    def test_deny_applies_to_datagrams(self):
        with Muxd("-s", "chargen", "-l", "udp://127.0.0.1:0", "-l",
                  "127.0.0.1:0", "--deny", "127.0.0.0/8", listeners=2) as m:
            with m.connect(1) as c:
                self.assertEqual(muxtest.recv_until_close(c), b"")
            with udp_socket() as s:
                self.assertIsNone(answered(s, m.addr))
                for _ in range(200):  # a flood is counted, not logged
                    s.sendto(b"x", m.addr)
            self.assertIn("datagrams unanswered: 201 denied",
                          wait_stats(m, "201 denied"))
            err = m.stderr()
            self.assertRegex(err, r"refused udp 127\.0\.0\.1:\d+ on "
                                  r"127\.0\.0\.1:\d+: denied by --deny\n")
            self.assertEqual(err.count("refused udp"), 1, err)

    def test_allow_applies_to_datagrams(self):
        with Muxd("-l", "udp://127.0.0.1:0", "--allow", "127.0.0.2") as m:
            with udp_socket() as bad, udp_socket("127.0.0.2") as good:
                self.assertIsNone(answered(bad, m.addr))
                self.assertEqual(answered(good, m.addr, b"ok",
                                          wait=muxtest.TIMEOUT), b"ok")
            m.wait_for_log("not in --allow")


def classify(clients):
    """Sends a probe on each client: (served, refused). A refused client
    reads EOF (or a reset) and nothing else."""
    served, refused = [], []
    for c in clients:
        try:
            c.sendall(b"probe")
            data = recv_exactly(c, 5)
        except OSError:
            data = b""
        (served if data == b"probe" else refused).append(c)
        if data not in (b"probe", b""):
            raise AssertionError(f"unexpected bytes {data!r}")
    return served, refused


class PerSource(unittest.TestCase):
    def test_3_of_10_from_one_address(self):
        with Muxd("-p", "0", "--max-per-source", "3") as m:
            clients = [m.connect() for _ in range(10)]
            served, refused = classify(clients)
            self.assertEqual((len(served), len(refused)), (3, 7))
            err = m.stderr()
            self.assertRegex(err, r"refused 127\.0\.0\.1:\d+ on 127\.0\.0\.1:"
                                  r"\d+: too many clients from this address "
                                  r"\(limit 3\)")
            # Another address has its own 3.
            other = socket.create_connection(("127.0.0.1", m.port),
                                             source_address=("127.0.0.2", 0))
            self.assertEqual(classify([other])[0], [other])
            # One leaves: the next from 127.0.0.1 is served.
            gone = served[0].getsockname()
            served[0].close()
            m.wait_for_log(f"closed {gone[0]}:{gone[1]}")
            again = m.connect()
            self.assertEqual(classify([again])[0], [again])
            self.assertIn("7 refused", stats_line(m))
            self.assertIn("(7 per source, 0 rate)", stats_line(m))
            for c in clients + [other, again]:
                c.close()

    def test_bad_limit_is_a_usage_error(self):
        for bad in ("0", "x", "-1"):
            code, _, err = muxtest.run("--max-per-source", bad)
            self.assertEqual(code, 2, bad)
            self.assertIn("invalid per-source limit", err)


class Rate(unittest.TestCase):
    def test_5_a_second_of_a_burst_of_20(self):
        with Muxd("-p", "0", "--max-rate", "5", "--log-format", "json") as m:
            start = time.monotonic()
            clients = [m.connect() for _ in range(20)]
            served, refused = classify(clients)
            self.assertGreaterEqual(len(refused), 10)
            if time.monotonic() - start < 1.0:  # else a window went by
                self.assertEqual((len(served), len(refused)), (5, 15))
            events = [json.loads(l) for l in m.stderr().splitlines()]
            reasons = {e["reason"] for e in events if e["event"] == "refuse"}
            self.assertEqual(reasons, {"too many new clients per second "
                                       "(limit 5)"})
            # Once the window has passed, new clients are admitted again.
            time.sleep(max(0.0, start + 1.1 - time.monotonic()))
            later = [m.connect() for _ in range(3)]
            self.assertEqual(len(classify(later)[0]), 3)
            m.send_signal(signal.SIGUSR1)
            stats = json.loads(m.wait_for_log('"stats"').splitlines()[-1])
            self.assertEqual(stats["refused_rate"], len(refused))
            for c in clients + later:
                c.close()

    def test_bad_rate_is_a_usage_error(self):
        for bad in ("0", "x", "1000001"):
            code, _, err = muxtest.run("--max-rate", bad)
            self.assertEqual(code, 2, bad)
            self.assertIn("invalid connection rate", err)


if __name__ == "__main__":
    muxtest.main()
