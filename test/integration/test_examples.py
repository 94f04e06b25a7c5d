"""The examples of docs/embedding.md, run as a user runs them: upper (a
custom service), loop_main (libmux as the main loop, with commands on
stdin) and host_select (a select() loop of its own driving libmux); and the
complete programs in docs/api.md (a timer and an fd, a server, a client
with an outbound connect), compiled from the page and run."""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import muxtest
from muxtest import Muxd, recv_until_close
from test_install import read_cache


def recv_line(sock, timeout=muxtest.TIMEOUT):
    """One line from a socket, with its LF ("" if the peer closes first)."""
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            break
        data += b
    return data.decode(errors="replace")


class Example(Muxd):
    """A running example with a pipe to its stdin (where Muxd has none)."""

    def __init__(self, name, *args):
        self.stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [muxtest.binary("examples/" + name), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr_file)
        self.listeners = []
        self._out = b""
        line = self.line()
        m = muxtest.READY_RE.match(line or "")
        if not m:
            self.kill()
            raise AssertionError(f"{name}: no ready line but {line!r}; "
                                 f"stderr: {self.stderr()!r}")
        self.listeners.append(
            (m.group(1), muxtest.split_addr(m.group(1), m.group(2))))

    def line(self):
        """The next line of stdout, without its LF (None: EOF or timeout)."""
        return self.readline(time.monotonic() + muxtest.TIMEOUT)

    def command(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        if not self.proc.stdin.closed:
            self.proc.stdin.close()


def run_example(name, *args):
    return muxtest.run(*args, binary_name="examples/" + name)


class Upper(unittest.TestCase):
    def test_lines_come_back_in_upper_case(self):
        with Example("upper", "0") as ex:
            self.assertEqual(ex.listeners[0][1][0], "127.0.0.1")
            with ex.connect() as s:
                s.sendall(b"hello World 42\r\nsecond\n")
                self.assertEqual(recv_line(s), "HELLO WORLD 42\n")
                self.assertEqual(recv_line(s), "SECOND\n")
                s.sendall("ä\x01x\n".encode())  # non-ASCII bytes unchanged
                self.assertEqual(recv_line(s), "ä\x01X\n")
                s.sendall(b"a" * 1024 + b"\n")
                self.assertEqual(recv_line(s), "A" * 1024 + "\n")
                s.sendall(b"last words")  # unterminated, then half-close
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_close(s), b"LAST WORDS\n")

    def test_a_line_over_the_limit_is_refused(self):
        with Example("upper", "0") as ex:
            with ex.connect() as s:
                s.sendall(b"b" * 1025 + b"\n")
                self.assertIn(b"line too long", recv_until_close(s))
            with ex.connect() as s:  # the server carries on
                s.sendall(b"ok\n")
                self.assertEqual(recv_line(s), "OK\n")

    def test_ctrl_c_answers_what_was_sent_then_exits_0(self):
        with Example("upper", "0") as ex:
            with ex.connect() as s:
                s.sendall(b"one\n")
                self.assertEqual(recv_line(s), "ONE\n")
                s.sendall(b"in flight\n")
                ex.proc.send_signal(signal.SIGINT)
                self.assertEqual(recv_until_close(s), b"IN FLIGHT\n")
            self.assertEqual(ex.proc.wait(timeout=muxtest.TIMEOUT), 0)
            self.assertEqual(ex.stderr(), "")

    def test_bad_address_exits_1(self):
        code, out, err = run_example("upper", "[::1")
        self.assertEqual((code, out), (1, ""))
        self.assertIn("upper: [::1: ", err)


class LoopMain(unittest.TestCase):
    def test_console_sees_clients_and_broadcasts_to_them(self):
        with Example("loop_main", "127.0.0.1:0") as ex:
            a = ex.connect()
            self.assertEqual(recv_line(a), "welcome, client 1\n")
            self.assertRegex(ex.line(),
                             r"^client 1 connected from 127\.0\.0\.1:\d+$")
            a.sendall(b"hello \x1b[2J console\n")
            self.assertEqual(ex.line(), r"client 1: hello \x1b[2J console")
            b = ex.connect()
            self.assertEqual(recv_line(b), "welcome, client 2\n")
            self.assertRegex(ex.line(), r"^client 2 connected from")
            ex.command("clients")
            self.assertEqual(ex.line(), "2 clients")
            listed = sorted([ex.line(), ex.line()])  # in the server's order
            self.assertRegex(listed[0], r"^  client 1 from 127\.0\.0\.1:\d+$")
            self.assertRegex(listed[1], r"^  client 2 from 127\.0\.0\.1:\d+$")
            ex.command("broadcast news for all")
            self.assertEqual(ex.line(), "sent to 2 clients")
            self.assertEqual(recv_line(a), "news for all\n")
            self.assertEqual(recv_line(b), "news for all\n")
            b.close()
            self.assertEqual(ex.line(), "client 2 left")
            ex.command("frobnicate")
            self.assertRegex(ex.line(), r"^unknown command: frobnicate")
            ex.command("quit")
            self.assertEqual(recv_until_close(a), b"bye\n")
            a.close()  # as a client does at EOF: the server lingers until
            self.assertEqual(ex.line(), "client 1 left")
            self.assertEqual(ex.wait(), 0)

    def test_eof_on_stdin_quits(self):
        with Example("loop_main", "0") as ex:
            with ex.connect() as s:
                self.assertEqual(recv_line(s), "welcome, client 1\n")
                ex.close_stdin()
                self.assertEqual(recv_until_close(s), b"bye\n")
            self.assertEqual(ex.wait(), 0)

    def test_sigterm_quits(self):
        with Example("loop_main", "0") as ex:
            self.assertEqual(ex.stop(signal.SIGTERM), 0)

    def test_usage_and_errors(self):
        code, _, err = run_example("loop_main")
        self.assertEqual(code, 2)
        self.assertIn("usage: loop_main", err)
        code, _, err = run_example("loop_main", "no-such-host.invalid:0")
        self.assertEqual(code, 1)
        self.assertIn("loop_main: cannot listen on no-such-host.invalid:0",
                      err)


class HostSelect(unittest.TestCase):
    def tick(self, sock, text):
        sock.sendall(text.encode() + b"\n")
        m = re.match(r"^\[tick (\d+)\] (.*)\n$", recv_line(sock))
        self.assertIsNotNone(m)
        self.assertEqual(m.group(2), text)
        return int(m.group(1))

    def test_serves_while_the_hosts_own_timer_ticks(self):
        with Example("host_select", "0", "5") as ex:
            with ex.connect() as s:
                first = self.tick(s, "hello")
                # The host's timer keeps running between libmux's turns.
                deadline = time.monotonic() + muxtest.TIMEOUT
                while self.tick(s, "again") <= first:
                    self.assertLess(time.monotonic(), deadline,
                                    "the host's tick never advanced")
                    time.sleep(0.005)
                ex.command("status")
                self.assertRegex(ex.line(), r"^tick \d+, 1 client$")
                ex.command("bogus")
                self.assertRegex(ex.line(), r"^unknown command: bogus")
                s.sendall(b"last\n")
                ex.command("quit")  # the line sent before is still answered
                self.assertRegex(recv_until_close(s).decode(),
                                 r"^\[tick \d+\] last\n$")
            self.assertEqual(ex.wait(), 0)

    def test_signals_reach_libmux_through_the_hosts_select(self):
        for signo in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signo=signo), Example("host_select", "0") as ex:
                with ex.connect() as s:
                    self.tick(s, "x")
                    ex.send_signal(signo)
                    self.assertEqual(recv_until_close(s), b"")
                self.assertEqual(ex.wait(), 0)

    def test_eof_on_stdin_quits(self):
        with Example("host_select", "0") as ex:
            ex.close_stdin()
            self.assertEqual(ex.wait(), 0)

    def test_usage(self):
        for args in ([], ["0", "0"], ["0", "x"], ["0", "-5"], ["0", "1", "2"]):
            with self.subTest(args=args):
                code, _, err = run_example("host_select", *args)
                self.assertEqual(code, 2)
                self.assertIn("usage: host_select", err)


def api_doc_programs():
    """The ```c blocks of docs/api.md that are whole programs."""
    path = os.path.join(muxtest.SOURCE_DIR, "docs", "api.md")
    with open(path) as f:
        blocks = re.findall(r"^```c\n(.*?)^```", f.read(), re.M | re.S)
    return [b for b in blocks if "int main(" in b]


class ApiDocPrograms(unittest.TestCase):
    """docs/api.md's examples, built against this build's libmux.a the way
    the page says (cc -I include ... libmux.a)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.programs = api_doc_programs()
        cache = read_cache(muxtest.BUILD_DIR)
        cls.binaries = []
        for i, source in enumerate(cls.programs):
            src = os.path.join(cls.tmp.name, f"api{i}.c")
            exe = os.path.join(cls.tmp.name, f"api{i}")
            with open(src, "w") as f:
                f.write(source)
            flags = ["-fsanitize=address,undefined"] \
                if cache.get("MUX_SANITIZE") == "ON" else []
            p = subprocess.run(
                [cache["CMAKE_C_COMPILER"], "-std=c11", "-Wall", "-Wextra",
                 "-Werror", *flags, "-I",
                 os.path.join(muxtest.SOURCE_DIR, "include"), src, "-o", exe,
                 os.path.join(muxtest.BUILD_DIR, "libmux.a")],
                capture_output=True, text=True, timeout=100)
            if p.returncode != 0:
                raise AssertionError(f"docs/api.md program {i} does not "
                                     f"build:\n{p.stderr}")
            cls.binaries.append(exe)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_there_are_three(self):
        self.assertEqual(len(self.binaries), 3)

    def test_the_timer_and_fd_program_ticks_three_times(self):
        p = subprocess.run([self.binaries[0]], capture_output=True, text=True,
                           timeout=muxtest.TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^tick 1 at \d+ ms\ntick 2 at \d+ ms\n"
                                   r"tick 3 at \d+ ms\n$")

    def test_the_server_program_answers_then_stops_on_sigterm(self):
        proc = subprocess.Popen([self.binaries[1]], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            m = re.match(r"^listening on tcp 127\.0\.0\.1:(\d+)\n$",
                         proc.stdout.readline())
            self.assertIsNotNone(m)
            with socket.create_connection(("127.0.0.1", int(m.group(1))),
                                          muxtest.TIMEOUT) as s:
                s.sendall(b"hello\r\nquit\n")
                # What the page promises.
                self.assertEqual(recv_until_close(s), b"ready\nHELLO\nbye\n")
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=muxtest.TIMEOUT)
            self.assertEqual(proc.returncode, 0)
            self.assertIn("client 1: 2 lines\n", out)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    def test_the_client_program_asks_echo_and_reports_a_refusal(self):
        with Muxd("-q", "-p", "0") as m:
            p = subprocess.run([self.binaries[2], f"127.0.0.1:{m.port}",
                                "hello"], capture_output=True, text=True,
                               timeout=muxtest.TIMEOUT)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "hello\n", ""))
        with socket.socket() as bound:  # bound, not listening: refused
            bound.bind(("127.0.0.1", 0))
            port = bound.getsockname()[1]
            p = subprocess.run([self.binaries[2], f"127.0.0.1:{port}", "x"],
                               capture_output=True, text=True,
                               timeout=muxtest.TIMEOUT)
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (1, "", "ask: cannot connect: Connection refused\n"))


if __name__ == "__main__":
    muxtest.main()
