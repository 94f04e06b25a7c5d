"""muxd as a user starts it: ready lines, echo over TCP/IPv6/unix, many
clients, a large message to a slow reader, signals, errors and usage."""

import os
import selectors
import signal
import socket
import tempfile
import threading
import time
import unittest

import muxtest
from muxtest import Muxd, recv_exactly, recv_until_close, run


class ReadyLine(unittest.TestCase):
    def test_port_zero_prints_the_real_port_and_echoes(self):
        with Muxd("-p", "0", "-q") as m:
            transport, (host, port) = m.listeners[0]
            self.assertEqual((transport, host), ("tcp", "127.0.0.1"))
            self.assertGreater(port, 0)
            with m.connect() as s:
                s.sendall(b"ping\n")
                self.assertEqual(recv_exactly(s, 5), b"ping\n")

    def test_logs_accept_and_close_with_byte_counts(self):
        with Muxd("-p", "0") as m:
            with m.connect() as s:
                s.sendall(b"12345")
                self.assertEqual(recv_exactly(s, 5), b"12345")
            self.assertEqual(m.stop(), 0)
            err = m.stderr()
            self.assertRegex(err, r"muxd: accepted 127\.0\.0\.1:\d+ on 127\.0\.0\.1:%d" % m.port)
            self.assertRegex(err, r"muxd: closed 127\.0\.0\.1:\d+: client closed \(5 bytes in, 5 bytes out")

    def test_host_option(self):
        with Muxd("-H", "127.0.0.2", "-p", "0", "-q") as m:
            self.assertEqual(m.addr[0], "127.0.0.2")
            with m.connect() as s:
                s.sendall(b"x")
                self.assertEqual(recv_exactly(s, 1), b"x")


class Transports(unittest.TestCase):
    def test_unix_socket(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "muxd.sock")
            with Muxd("-l", "unix:" + path, "-q") as m:
                self.assertEqual(m.listeners[0], ("unix", path))
                with m.connect() as s:
                    s.sendall(b"over unix")
                    self.assertEqual(recv_exactly(s, 9), b"over unix")
                self.assertEqual(m.stop(), 0)
            self.assertFalse(os.path.exists(path), "socket file left behind")

    def test_stale_unix_socket_is_replaced(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "stale.sock")
            s = socket.socket(socket.AF_UNIX)
            s.bind(path)  # bound, never listening: what a crash leaves
            s.close()
            with Muxd("-l", "unix:" + path, "-q") as m:
                with m.connect() as c:
                    c.sendall(b"ok")
                    self.assertEqual(recv_exactly(c, 2), b"ok")

    @unittest.skipUnless(muxtest.ipv6_available(), "no IPv6 loopback")
    def test_ipv6_and_ipv4_listeners_at_once(self):
        with Muxd("-l", "127.0.0.1:0", "-l", "[::1]:0", "-q", listeners=2) as m:
            self.assertEqual(m.listeners[0][0], "tcp")
            self.assertEqual(m.listeners[1][1][0], "::1")
            for i in range(2):
                with m.connect(i) as s:
                    s.sendall(b"both %d" % i)
                    self.assertEqual(recv_exactly(s, 6), b"both %d" % i)

    def test_several_listeners_share_one_loop(self):
        with Muxd("-l", ":0", "-l", "127.0.0.1:0", "-q", listeners=2) as m:
            a, b = m.connect(0), m.connect(1)
            a.sendall(b"a")
            b.sendall(b"b")
            self.assertEqual(recv_exactly(a, 1), b"a")
            self.assertEqual(recv_exactly(b, 1), b"b")
            a.close()
            b.close()


class Concurrency(unittest.TestCase):
    def test_100_concurrent_clients(self):
        with Muxd("-p", "0", "-q") as m:
            clients = [m.connect() for _ in range(100)]
            for i, c in enumerate(clients):
                c.sendall(b"client %03d\n" % i)
            sel = selectors.DefaultSelector()
            got = {}
            for i, c in enumerate(clients):
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, i)
                got[i] = b""
            deadline = time.monotonic() + muxtest.TIMEOUT
            while any(len(v) < 11 for v in got.values()):
                self.assertLess(time.monotonic(), deadline, "replies missing")
                for key, _ in sel.select(1.0):
                    got[key.data] += key.fileobj.recv(64)
            for i in range(100):
                self.assertEqual(got[i], b"client %03d\n" % i)
            for c in clients:
                c.close()

    def test_2mb_to_a_slow_reader_while_others_round_trip(self):
        payload = os.urandom(2 * 1024 * 1024)
        with Muxd("-p", "0", "-q") as m:
            slow = m.connect()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            sender = threading.Thread(target=slow.sendall, args=(payload,))
            sender.start()
            others = [m.connect() for _ in range(10)]
            for round_ in range(20):
                for i, c in enumerate(others):
                    msg = b"%d:%d;" % (i, round_)
                    c.sendall(msg)
                    self.assertEqual(recv_exactly(c, len(msg)), msg)
            received = bytearray()
            while len(received) < len(payload):
                chunk = slow.recv(8192)  # small reads: a slow reader
                self.assertTrue(chunk, "connection closed early")
                received += chunk
            sender.join(muxtest.TIMEOUT)
            self.assertEqual(bytes(received), payload)
            for c in others + [slow]:
                c.close()


class Signals(unittest.TestCase):
    def test_sigterm_exits_0(self):
        with Muxd("-p", "0", "-q") as m:
            self.assertEqual(m.stop(signal.SIGTERM), 0)

    def test_sigint_exits_0_after_answering_a_message_in_flight(self):
        with Muxd("-p", "0", "-q") as m:
            s = m.connect()
            s.sendall(b"hello")
            self.assertEqual(recv_exactly(s, 5), b"hello")
            s.sendall(b"last words")
            time.sleep(0.05)  # let them reach muxd's socket buffer
            m.send_signal(signal.SIGINT)
            self.assertEqual(recv_until_close(s), b"last words")
            self.assertEqual(m.wait(), 0)
            s.close()

    def test_listeners_close_on_sigterm(self):
        with Muxd("-p", "0", "-q") as m:
            s = m.connect()  # keeps muxd waiting for it
            m.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + muxtest.TIMEOUT
            while True:  # the listener goes away: new connects are refused
                try:
                    socket.create_connection(("127.0.0.1", m.port), 1).close()
                except ConnectionRefusedError:
                    break
                except ConnectionResetError:
                    pass  # queued as the listener closed: ask again
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.01)
            s.close()
            self.assertEqual(m.wait(), 0)


class Errors(unittest.TestCase):
    def test_address_already_in_use(self):
        with Muxd("-p", "0", "-q") as m:
            code, out, err = run("-p", str(m.port))
            self.assertEqual(code, 1)
            self.assertEqual(out, "")
            self.assertIn("muxd: cannot listen on 127.0.0.1:%d: Address already in use" % m.port, err)

    def test_unknown_host(self):
        code, _, err = run("-l", "no-such-host.invalid:0")
        self.assertEqual(code, 1)
        self.assertIn("cannot listen on no-such-host.invalid:0: Unknown host", err)

    def test_bad_usage_exits_2(self):
        cases = [
            (["-x"], "unknown option"),
            (["--bogus"], "unknown option"),
            (["-p", "70000"], "invalid port '70000': out of range (0-65535)"),
            (["-p", "-1"], "invalid port '-1': not a number 0-65535 or a service name"),
            (["-p", "12ab!"], "invalid port '12ab!': not a number"),
            (["-p", "no-such-service"], "invalid port 'no-such-service': unknown service name"),
            (["-l", "127.0.0.1:65536"], "invalid address '127.0.0.1:65536': port out of range"),
            (["--delay", "-1"], "invalid delay: '-1' (0 to 3600000)"),
            (["-l", "[::1"], "invalid address"),
            (["-l", ""], "invalid address"),
            (["-b", "-5"], "invalid backlog"),
            (["-l"], "needs an argument"),
            (["-s", "nope"], "unknown service: 'nope' (echo, ack, hello,"),
            (["stray"], "unexpected argument"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                code, out, err = run(*args)
                self.assertEqual(code, 2)
                self.assertIn(message, err)
                self.assertEqual(err.count("muxd --help"), 1, err)

    def test_help_and_version(self):
        code, out, _ = run("--help")
        self.assertEqual(code, 0)
        for word in ("Usage: muxd", "--listen", "--port", "127.0.0.1:9999"):
            self.assertIn(word, out)
        code, out, _ = run("-V")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^muxd \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    muxtest.main()
