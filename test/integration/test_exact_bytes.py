"""The tutorials' exact bytes: muxd in place of each tutorial server, with
--text sent exactly as given (C escapes decoded, nothing added), and the
hello and reply services' auto framing, which serves both the tutorial
client (one message per send, no line end) and a person piping lines
through OpenBSD netcat."""

import shutil
import socket
import subprocess
import unittest

import muxtest
from muxtest import (
    TIMEOUT, Muxd, openbsd_nc, recv_exactly, recv_until_close, run)


def tutorial_client(sock, welcome, names):
    """The tutorials' welcome client: reads the welcome, sends each name
    with no line end and reads its answer, then sends "exit". Returns all
    it received, up to the server's close."""
    got = recv_exactly(sock, len(welcome))
    for name in names:
        sock.sendall(name)
        got += recv_exactly(sock, len(b"Hello, %s!" % name))
    sock.sendall(b"exit")
    return got + recv_until_close(sock)


class TextExactly(unittest.TestCase):
    """Each tutorial server's bytes, from muxd with --text."""

    def test_hello_as_the_welcome_server(self):
        with Muxd("-s", "hello", "--text", "Welcome!", "-p", "0", "-q") as m:
            with m.connect() as s:
                got = tutorial_client(s, b"Welcome!", [b"Michael", b"Tracy"])
        self.assertEqual(got, b"Welcome!Hello, Michael!Hello, Tracy!")

    def test_greet_as_the_thank_you_server(self):
        with Muxd("-s", "greet", "--text", "Thank you for connecting",
                  "-p", "0", "-q") as m:
            with m.connect() as s:
                self.assertEqual(recv_until_close(s),
                                 b"Thank you for connecting")

    def test_ack_as_the_port_listener(self):
        with Muxd("-s", "ack", "--text", "ACK!", "-p", "0", "-q") as m:
            with m.connect() as s:
                s.sendall(b"Hello, server!\n")
                self.assertEqual(recv_until_close(s), b"ACK!")

    def test_reply_as_the_select_server(self):
        with Muxd("-s", "reply", "--text", "Hello, client!", "-p", "0",
                  "-q") as m:
            with m.connect() as s:
                for msg in (b"first", b"second\n"):
                    s.sendall(msg)
                    self.assertEqual(recv_exactly(s, 14), b"Hello, client!")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_close(s), b"")

    def test_escapes_are_decoded(self):
        text = r"one\r\ntwo\t\x41\\\0end"
        with Muxd("-s", "greet", "--text", text, "-p", "0", "-q") as m:
            with m.connect() as s:
                self.assertEqual(recv_until_close(s),
                                 b"one\r\ntwo\tA\\\x00end")

    def test_defaults_still_end_in_a_newline(self):
        with Muxd("-s", "greet", "-p", "0", "-q") as m:
            with m.connect() as s:
                self.assertEqual(recv_until_close(s),
                                 b"Thank you for connecting\n")

    def test_bad_escape_is_a_usage_error(self):
        for text, at in ((r"a\qb", r"\qb"), (r"x\x4", r"\x4"),
                         ("trailing\\", "\\"), (r"\xZZ", r"\xZZ")):
            with self.subTest(text=text):
                status, out, err = run("-s", "hello", "--text", text)
                self.assertEqual((status, out), (2, ""))
                self.assertIn(f"muxd: invalid escape in --text at '{at}' "
                              r"(known: \n \r \t \\ \0 \xHH)", err)


class AutoFraming(unittest.TestCase):
    """hello and reply take both kinds of client without --framing."""

    @classmethod
    def setUpClass(cls):
        cls.nc = openbsd_nc()

    def nc_run(self, port, data, *flags):
        """nc to completion (bounded): (exit status, stdout)."""
        p = subprocess.run([self.nc, *flags, "127.0.0.1", str(port)],
                           input=data, capture_output=True, timeout=TIMEOUT)
        return p.returncode, p.stdout

    def test_piped_lines_each_answered_and_exit_closes(self):
        # nc without -N never half-closes: it exits because "exit" closes.
        with Muxd("-s", "hello", "-p", "0", "-q") as m:
            status, out = self.nc_run(m.port, b"Michael\nTracy\nChenqi\nexit\n")
        self.assertEqual((status, out),
                         (0, b"Welcome!\nHello, Michael!\nHello, Tracy!\n"
                             b"Hello, Chenqi!\n"))

    def test_last_line_without_newline_still_answered(self):
        with Muxd("-s", "hello", "-p", "0", "-q") as m:
            status, out = self.nc_run(m.port, b"Michael\nexit")
        self.assertEqual((status, out), (0, b"Welcome!\nHello, Michael!\n"))

    def test_tutorial_client_without_line_ends(self):
        with Muxd("-s", "hello", "-p", "0", "-q") as m:
            with m.connect() as s:
                got = tutorial_client(s, b"Welcome!\n",
                                      [b"Michael", b"Tracy", b"Chenqi"])
        self.assertEqual(got, b"Welcome!\nHello, Michael!Hello, Tracy!"
                              b"Hello, Chenqi!")

    def test_reply_answers_each_piped_line(self):
        with Muxd("-s", "reply", "-p", "0", "-q") as m:
            status, out = self.nc_run(m.port, b"one\ntwo\nthree\n", "-N")
        self.assertEqual((status, out), (0, b"Hello, client!\n" * 3))

    def test_lines_cut_by_reads_are_joined(self):
        # 200 KB of lines in one send: reads end mid-line, each line is
        # still one message.
        names = [b"name%06d" % i + b"x" * 90 for i in range(2000)]
        with Muxd("-s", "hello", "-p", "0", "-q") as m:
            with m.connect() as s:
                self.assertEqual(recv_exactly(s, 9), b"Welcome!\n")
                s.sendall(b"".join(n + b"\n" for n in names) + b"exit\n")
                got = recv_until_close(s)
        self.assertEqual(got, b"".join(b"Hello, %s!\n" % n for n in names))

    def test_line_framing_still_waits_for_the_line_end(self):
        with Muxd("-s", "hello", "--framing", "line", "-p", "0", "-q") as m:
            with m.connect() as s:
                self.assertEqual(recv_exactly(s, 9), b"Welcome!\n")
                s.sendall(b"Mich")
                s.sendall(b"ael\n")
                self.assertEqual(recv_exactly(s, 16), b"Hello, Michael!\n")


if __name__ == "__main__":
    muxtest.main()
