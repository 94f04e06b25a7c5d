"""Every muxd service over TCP (IPv4 and, where the host has it, IPv6), a
unix socket and, for services with a datagram form, UDP: one muxd per
service with all of those listeners at once. Python's socket module is the
client here; test_services_nc.py drives a few services with nc."""

import datetime
import os
import re
import socket
import struct
import tempfile
import time
import unittest

import muxtest
from muxtest import Muxd, recv_exactly, recv_until_close

RFC868_EPOCH = 2208988800  # seconds from 1900-01-01 to 1970-01-01
CLOCK_SLACK = 120  # seconds a server's clock may differ from ours here


def chargen_pattern(first_line, count):
    """RFC 864: line i is the 72 printable characters (95 of them, from
    0x20) starting at the (i mod 95)-th, then CR LF."""
    printable = bytes(range(0x20, 0x7F))
    lines = []
    for i in range(first_line, first_line + count):
        start = i % 95
        lines.append((printable * 2)[start:start + 72] + b"\r\n")
    return b"".join(lines)


class ServiceCase(unittest.TestCase):
    """Starts one muxd for the class: `service` on every transport."""

    service = None
    args = ()
    udp = True

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        listen = ["-l", "127.0.0.1:0", "-l",
                  "unix:" + os.path.join(cls.tmp.name, "s.sock")]
        cls.stream_names = ["tcp", "unix"]
        if muxtest.ipv6_available():
            listen += ["-l", "[::1]:0"]
            cls.stream_names.append("tcp6")
        if cls.udp:
            listen += ["-l", "udp://127.0.0.1:0"]
        cls.muxd = Muxd("-s", cls.service, *cls.args, *listen,
                        listeners=len(listen) // 2)
        cls.muxd.__enter__()

    @classmethod
    def tearDownClass(cls):
        status = cls.muxd.stop()
        cls.muxd.__exit__(None, None, None)
        cls.tmp.cleanup()
        assert status == 0, f"muxd exited {status}"

    def stream(self, name):
        """A client connected to the stream listener called `name`."""
        return self.muxd.connect(self.stream_names.index(name))

    def udp_socket(self):
        return self.muxd.connect(len(self.muxd.listeners) - 1)

    def log(self):
        return self.muxd.stderr()


class Echo(ServiceCase):
    service = "echo"

    def test_stream_echoes_every_message(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                s.sendall(b"first\n")
                self.assertEqual(recv_exactly(s, 6), b"first\n")
                s.sendall(b"no newline")
                self.assertEqual(recv_exactly(s, 10), b"no newline")

    def test_udp_echoes_each_datagram(self):
        with self.udp_socket() as s:
            for msg in (b"one", b"two\n", b"\x00binary\xff"):
                s.send(msg)
                self.assertEqual(s.recv(2048), msg)


class EchoLines(ServiceCase):
    service = "echo"
    args = ("--framing", "line")
    udp = False

    def test_line_ends_come_back_as_lf(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                s.sendall(b"a\r\nb\nc")
                self.assertEqual(recv_exactly(s, 4), b"a\nb\n")
                # The unterminated tail is a line too, at EOF.
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_close(s), b"c\n")


class Ack(ServiceCase):
    service = "ack"

    def test_logs_the_first_message_answers_and_closes(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                s.sendall(f"hello from {name}\n".encode())
                self.assertEqual(recv_until_close(s), b"ACK!\n")
                self.assertIn(f"received: hello from {name}", self.log())

    def test_message_without_newline_gets_bare_ack(self):
        with self.muxd.connect(0) as s:
            s.sendall(b"ping")
            self.assertEqual(recv_until_close(s), b"ACK!")

    def test_control_bytes_are_escaped_in_the_log(self):
        with self.muxd.connect(0) as s:
            s.sendall(b"bell\x07esc\x1b\n")
            self.assertEqual(recv_until_close(s), b"ACK!\n")
        self.assertIn(r"received: bell\x07esc\x1b", self.log())

    def test_udp_answers_and_logs_each_datagram(self):
        with self.udp_socket() as s:
            s.send(b"udp ping")
            self.assertEqual(s.recv(2048), b"ACK!")
            s.send(b"again\n")
            self.assertEqual(s.recv(2048), b"ACK!\n")
        self.assertIn("received: udp ping", self.log())


class AckText(ServiceCase):
    service = "ack"
    args = ("--text", "got it")

    def test_text_replaces_ack_exactly(self):
        # --text goes out as given: the message's line end is not added.
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                s.sendall(b"x\n")
                self.assertEqual(recv_until_close(s), b"got it")
        with self.udp_socket() as s:
            s.send(b"x")
            self.assertEqual(s.recv(2048), b"got it")


class Hello(ServiceCase):
    service = "hello"

    def test_welcome_then_hello_until_exit(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                self.assertEqual(recv_exactly(s, 9), b"Welcome!\n")
                s.sendall(b"Michael\n")
                self.assertEqual(recv_exactly(s, 16), b"Hello, Michael!\n")
                s.sendall(b"Tracy")  # raw framing: no newline in, none out
                self.assertEqual(recv_exactly(s, 13), b"Hello, Tracy!")
                s.sendall(b"Chenqi\r\n")  # the line end goes after the '!'
                self.assertEqual(recv_exactly(s, 16), b"Hello, Chenqi!\r\n")
                s.sendall(b"exit\n")
                self.assertEqual(recv_until_close(s), b"")

    def test_eof_closes(self):
        with self.muxd.connect(0) as s:
            self.assertEqual(recv_exactly(s, 9), b"Welcome!\n")
            s.sendall(b"Bob\n")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_close(s), b"Hello, Bob!\n")

    def test_udp_says_hello_to_each_datagram(self):
        with self.udp_socket() as s:
            s.send(b"Bob\n")
            self.assertEqual(s.recv(2048), b"Hello, Bob!\n")
            s.send(b"exit")  # no session over UDP: just another name
            self.assertEqual(s.recv(2048), b"Hello, exit!")


class HelloLines(ServiceCase):
    service = "hello"
    args = ("--framing", "line", "--text", "Hi there, who are you?\\n")
    udp = False

    def test_each_line_answered_with_lf(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                self.assertEqual(recv_exactly(s, 23),
                                 b"Hi there, who are you?\n")
                s.sendall(b"Ann\r\nBob\nexit\nnever answered\n")
                self.assertEqual(recv_until_close(s),
                                 b"Hello, Ann!\nHello, Bob!\n")


class Reply(ServiceCase):
    service = "reply"

    def test_every_message_answered(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                for msg in (b"one\n", b"two\n", b"three"):
                    s.sendall(msg)
                    end = b"\n" if msg.endswith(b"\n") else b""
                    self.assertEqual(recv_exactly(s, 14 + len(end)),
                                     b"Hello, client!" + end)

    def test_udp(self):
        with self.udp_socket() as s:
            s.send(b"anyone?")
            self.assertEqual(s.recv(2048), b"Hello, client!")


class ReplyText(ServiceCase):
    service = "reply"
    args = ("--text", "pong")

    def test_text_replaces_the_reply_exactly(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                s.sendall(b"ping\n")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_close(s), b"pong")
        with self.udp_socket() as s:
            s.send(b"ping")
            self.assertEqual(s.recv(2048), b"pong")


class Greet(ServiceCase):
    service = "greet"
    udp = False

    def test_greets_and_closes(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                self.assertEqual(recv_until_close(s),
                                 b"Thank you for connecting\n")


class GreetText(ServiceCase):
    service = "greet"
    args = ("--text", "Go away")
    udp = False

    def test_text_replaces_the_greeting_exactly(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                self.assertEqual(recv_until_close(s), b"Go away")


class Discard(ServiceCase):
    service = "discard"

    def test_nothing_comes_back_and_eof_closes(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                s.sendall(b"x" * 100000)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_close(s), b"")
        self.assertRegex(self.log(), r"100000 bytes in, 0 bytes out")

    def test_udp_gets_no_answer(self):
        with self.udp_socket() as s:
            s.send(b"into the void")
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                s.recv(2048)


class Chargen(ServiceCase):
    service = "chargen"

    def test_stream_is_the_rfc864_pattern(self):
        lines = 95 * 2 + 7  # two full turns and a bit
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                got = recv_exactly(s, 74 * lines)
                self.assertEqual(
                    got[:74], b" !\"#$%&'()*+,-./0123456789:;<=>?@"
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n")
                self.assertEqual(got, chargen_pattern(0, lines))

    def test_keeps_going_after_client_eof(self):
        with self.muxd.connect(0) as s:
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_exactly(s, 74 * 100),
                             chargen_pattern(0, 100))

    def test_udp_datagram_is_six_lines(self):
        with self.udp_socket() as s:
            s.send(b"")
            got = s.recv(2048)
            self.assertLessEqual(len(got), 512)
            self.assertEqual(got, chargen_pattern(0, 6))


DAYTIME_RE = re.compile(
    rb"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    rb"(January|February|March|April|May|June|July|August|September|"
    rb"October|November|December) ([1-9]|[12][0-9]|3[01]), (\d{4}) "
    rb"(\d\d):(\d\d):(\d\d)-UTC\r\n$")


class Daytime(ServiceCase):
    service = "daytime"

    def check(self, text):
        self.assertRegex(text, DAYTIME_RE)
        when = datetime.datetime.strptime(
            text.decode().strip(), "%A, %B %d, %Y %H:%M:%S-UTC").replace(
                tzinfo=datetime.timezone.utc)
        self.assertLess(abs(when.timestamp() - time.time()), CLOCK_SLACK)
        self.assertEqual(when.strftime("%A").encode(), text.split(b",")[0])

    def test_stream_sends_one_line_and_closes(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                self.check(recv_until_close(s))

    def test_udp(self):
        with self.udp_socket() as s:
            s.send(b"")
            self.check(s.recv(2048))


class Time(ServiceCase):
    service = "time"

    def check(self, data):
        self.assertEqual(len(data), 4)
        (secs,) = struct.unpack("!I", data)
        self.assertLess(abs(secs - RFC868_EPOCH - time.time()), CLOCK_SLACK)

    def test_stream_sends_four_bytes_and_closes(self):
        for name in self.stream_names:
            with self.subTest(transport=name), self.stream(name) as s:
                self.check(recv_until_close(s))

    def test_udp(self):
        with self.udp_socket() as s:
            s.send(b"")
            self.check(s.recv(2048))


class NoDatagramForm(unittest.TestCase):
    def test_udp_listener_refused_for_stream_only_services(self):
        for service in ("greet", "chat"):
            with self.subTest(service=service):
                status, out, err = muxtest.run(
                    "-s", service, "-l", "udp://127.0.0.1:0")
                self.assertEqual(status, 1)
                self.assertEqual(out, "")
                self.assertIn(f"the {service} service has no datagram form",
                              err)


if __name__ == "__main__":
    muxtest.main()
