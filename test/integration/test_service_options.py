"""muxd's service options: --delay (a timer per client, never blocking),
--framing, --max-line, --text, and their usage errors."""

import selectors
import signal
import time
import unittest

import muxtest
from muxtest import Muxd, TIMEOUT, recv_exactly, recv_until_close, run
from test_services import chargen_pattern

DELAY = 0.5
CLIENTS = 50


class Delay(unittest.TestCase):
    def test_fifty_clients_all_answered_after_one_delay_not_fifty(self):
        with Muxd("-p", "0", "-s", "echo", "--delay", "500", "-q") as m:
            clients = [m.connect() for _ in range(CLIENTS)]
            sel = selectors.DefaultSelector()
            start = time.monotonic()
            for i, s in enumerate(clients):
                s.setblocking(False)
                s.send(b"client %d\n" % i)
                sel.register(s, selectors.EVENT_READ, i)
            got = {i: b"" for i in range(CLIENTS)}
            answered_at = {}
            deadline = start + CLIENTS * DELAY + TIMEOUT
            while len(answered_at) < CLIENTS and time.monotonic() < deadline:
                for key, _ in sel.select(deadline - time.monotonic()):
                    i = key.data
                    got[i] += key.fileobj.recv(4096)
                    if got[i].endswith(b"\n"):
                        answered_at[i] = time.monotonic()
                        sel.unregister(key.fileobj)
            total = time.monotonic() - start
            for s in clients:
                s.close()
            self.assertEqual(m.stop(), 0)  # and frees everything (ASan)
        # Every client got its own answer...
        self.assertEqual(got, {i: b"client %d\n" % i for i in range(CLIENTS)})
        # ...none before its delay (the server's clock counts whole ms)...
        self.assertGreaterEqual(min(answered_at.values()) - start,
                                DELAY - 0.01)
        # ...and all of them together took about one delay, not one delay
        # per client as a server that slept would (25 s).
        self.assertLess(total, 10.0)

    def test_order_kept_and_close_waits_for_delayed_output(self):
        with Muxd("-p", "0", "-s", "hello", "--framing", "line",
                  "--delay", "200", "-q") as m:
            with m.connect() as s:
                start = time.monotonic()
                s.sendall(b"Ann\nBob\nexit\nnever answered\n")
                got = recv_until_close(s)
                elapsed = time.monotonic() - start
            self.assertEqual(m.stop(), 0)
        self.assertEqual(got, b"Welcome!\nHello, Ann!\nHello, Bob!\n")
        self.assertGreaterEqual(elapsed, 0.19)

    def test_shutdown_waits_for_delayed_output(self):
        with Muxd("-p", "0", "-s", "echo", "--delay", "300") as m:
            with m.connect() as s:
                s.sendall(b"first\n")
                self.assertEqual(recv_exactly(s, 6), b"first\n")  # accepted
                s.sendall(b"second\n")
                m.send_signal(signal.SIGTERM)
                self.assertEqual(recv_until_close(s), b"second\n")
            self.assertEqual(m.wait(), 0)

    def test_client_gone_with_output_still_delayed(self):
        with Muxd("-p", "0", "-s", "echo", "--delay", "200") as m:
            with m.connect() as s:
                s.sendall(b"never read\n")
            with m.connect() as s:  # the server is fine, and still delays
                s.sendall(b"ok\n")
                self.assertEqual(recv_exactly(s, 3), b"ok\n")
            self.assertEqual(m.stop(), 0)
            self.assertEqual(m.stderr().count("muxd: closed"), 2)

    def test_delayed_chargen_keeps_the_pattern(self):
        with Muxd("-p", "0", "-s", "chargen", "--delay", "20", "-q") as m:
            with m.connect() as s:
                lines = 95 * 3
                self.assertEqual(recv_exactly(s, 74 * lines),
                                 chargen_pattern(0, lines))

    def test_greeting_services_are_delayed_too(self):
        with Muxd("-p", "0", "-s", "greet", "--delay", "100", "-q") as m:
            with m.connect() as s:
                start = time.monotonic()
                got = recv_until_close(s)
                elapsed = time.monotonic() - start
        self.assertEqual(got, b"Thank you for connecting\n")
        self.assertGreaterEqual(elapsed, 0.09)


class Framing(unittest.TestCase):
    def test_max_line_error_and_close(self):
        with Muxd("-p", "0", "-s", "echo", "--framing", "line",
                  "--max-line", "16") as m:
            with m.connect() as s:
                s.sendall(b"sixteen bytes ok\n")
                self.assertEqual(recv_exactly(s, 17), b"sixteen bytes ok\n")
                s.sendall(b"x" * 17 + b"\n")
                self.assertEqual(recv_until_close(s),
                                 b"error: line too long (max 16 bytes)\n")
            self.assertEqual(m.stop(), 0)
            self.assertIn("line too long", m.stderr())

    def test_max_line_counts_an_unterminated_line_too(self):
        with Muxd("-p", "0", "-s", "echo", "--framing", "line",
                  "--max-line", "100", "-q") as m:
            with m.connect() as s:
                s.sendall(b"y" * 1000)  # no newline: still too long
                self.assertEqual(recv_until_close(s),
                                 b"error: line too long (max 100 bytes)\n")

    def test_chat_is_line_framed_by_default(self):
        with Muxd("-p", "0", "-s", "chat", "--max-line", "8", "-q") as m:
            with m.connect() as s:
                self.assertEqual(recv_exactly(s, 16), b"* you are user1\n")
                s.sendall(b"too long a line\n")
                self.assertEqual(recv_until_close(s),
                                 b"error: line too long (max 8 bytes)\n")

    def test_raw_framing_makes_chat_take_each_read(self):
        with Muxd("-p", "0", "-s", "chat", "--framing", "raw", "-q") as m:
            with m.connect() as a, m.connect() as b:
                self.assertEqual(recv_exactly(a, 16), b"* you are user1\n")
                self.assertEqual(recv_exactly(b, 16), b"* you are user2\n")
                self.assertEqual(recv_exactly(a, 15), b"* user2 joined\n")
                b.sendall(b"no newline")
                self.assertEqual(recv_exactly(a, 19),
                                 b"<user2> no newline\n")


class Usage(unittest.TestCase):
    def assert_usage_error(self, args, message):
        status, out, err = run(*args)
        self.assertEqual(status, 2, err)
        self.assertEqual(out, "")
        self.assertIn(message, err)
        self.assertIn("Try 'muxd --help'", err)

    def test_bad_values(self):
        cases = [
            (["--framing", "words"], "invalid framing: 'words'"),
            (["--delay", "-5"], "invalid delay: '-5'"),
            (["--delay", "soon"], "invalid delay: 'soon'"),
            (["-s", "chat", "--max-line", "0"], "invalid line length: '0'"),
            (["-s", "chat", "--max-line", "12k"], "invalid line length"),
            (["--text"], "option '--text' needs an argument"),
            (["-s", "nope"], "unknown service: 'nope'"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                self.assert_usage_error(args, message)

    def test_text_only_for_services_with_a_text(self):
        for service in ("echo", "chat", "chargen", "time"):
            with self.subTest(service=service):
                self.assert_usage_error(
                    ["-s", service, "--text", "x"],
                    f"--text does not apply to the {service} service")

    def test_max_line_needs_line_framing(self):
        self.assert_usage_error(["--max-line", "10"],
                                "--max-line needs line or auto framing")
        self.assert_usage_error(["-s", "chat", "--framing", "raw",
                                 "--max-line", "10"],
                                "--max-line needs line or auto framing")

    def test_help_lists_every_service_and_option(self):
        status, out, _ = run("--help")
        self.assertEqual(status, 0)
        for word in ("echo", "ack", "hello", "reply", "greet", "discard",
                     "chargen", "daytime", "time", "chat", "--text",
                     "--framing", "--max-line", "--delay", "ACK!",
                     "Welcome!", "Hello, client!",
                     "Thank you for connecting"):
            self.assertIn(word, out)


if __name__ == "__main__":
    muxtest.main()
