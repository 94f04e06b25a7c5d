"""muxcat against the real muxd (echo over TCP, unix, IPv6 and UDP) and
against small Python servers for what echo cannot show: a greeting, a
server that closes first, one that answers only after end of file, one that
never closes. Every wait is bounded; ports are 0 or held open by the test."""

import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import muxtest
from muxtest import TIMEOUT, binary, ipv6_available


def muxcat(*args, input=b"", timeout=TIMEOUT):
    """Runs muxcat to completion: (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([binary("muxcat"), *args], input=input,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


class Muxd(muxtest.Muxd):
    """muxd -q with the given listeners."""

    def __init__(self, *listen):
        args = [a for addr in listen for a in ("-l", addr)]
        super().__init__("-q", *args, listeners=len(listen))

    def address(self, index=0):
        """The address of a listener in muxcat's syntax."""
        transport, addr = self.listeners[index]
        if transport == "unix":
            return "unix:" + addr
        host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
        prefix = "udp://" if transport == "udp" else ""
        return f"{prefix}{host}:{addr[1]}"

    def port(self, index=0):
        return self.listeners[index][1][1]


class PyServer:
    """A one-connection-at-a-time TCP server on 127.0.0.1 running
    `handler(conn)` in a thread per client."""

    def __init__(self, handler):
        self.sock = muxtest.tcp_listener(8)
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.errors = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(TIMEOUT)
            threading.Thread(target=self._run, args=(conn,),
                             daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn)
        except OSError as e:
            self.errors.append(e)
        finally:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()


def hello_handler(conn):
    """The tutorials' welcome server: Welcome!, Hello, <msg>!, exit."""
    conn.sendall(b"Welcome!")
    while True:
        msg = conn.recv(1024)
        if not msg or msg == b"exit":
            return
        conn.sendall(b"Hello, " + msg + b"!")


def http_handler(conn):
    """Answers once the request's blank line arrived, then closes."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(1024)
        if not chunk:
            return
        request += chunk
    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nbody of " + request.split()[1])


def count_until_eof(conn):
    """Answers only after end of file: proves muxcat half-closed."""
    total = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        total += len(chunk)
    conn.sendall(b"got %d bytes\n" % total)


def refused_port(kind=socket.SOCK_STREAM):
    """A socket bound to a port on 127.0.0.1 that accepts nothing: TCP
    bound but not listening; UDP closed again. Connecting is refused."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    if kind == socket.SOCK_DGRAM:
        s.close()
    return s, port


class PipeMode(unittest.TestCase):
    def test_tcp_host_port_and_addr(self):
        with Muxd("127.0.0.1:0") as muxd:
            status, out, err = muxcat("127.0.0.1", str(muxd.port()),
                                      input=b"hello\n")
            self.assertEqual((status, out, err), (0, b"hello\n", ""))
            status, out, err = muxcat(muxd.address(), input=b"addr form")
            self.assertEqual((status, out, err), (0, b"addr form", ""))

    def test_unix(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "echo.sock")
            with Muxd("unix:" + path) as muxd:
                status, out, err = muxcat(muxd.address(), input=b"over unix\n")
                self.assertEqual((status, out, err), (0, b"over unix\n", ""))

    @unittest.skipUnless(ipv6_available(), "no IPv6 on ::1")
    def test_ipv6(self):
        with Muxd("[::1]:0") as muxd:
            port = str(muxd.port())
            self.assertEqual(muxcat("::1", port, input=b"six\n"),
                             (0, b"six\n", ""))
            self.assertEqual(muxcat(f"[::1]:{port}", input=b"six\n"),
                             (0, b"six\n", ""))

    def test_all_of_stdin_is_echoed_then_exit_0(self):
        data = bytes(range(256)) * 4096  # 1 MiB, more than any buffer
        with Muxd("127.0.0.1:0") as muxd:
            status, out, err = muxcat(muxd.address(), input=data)
        self.assertEqual(status, 0, err)
        self.assertEqual(len(out), len(data))
        self.assertEqual(out, data)

    def test_half_close_lets_the_server_answer_at_eof(self):
        with PyServer(count_until_eof) as srv:
            status, out, err = muxcat("127.0.0.1", str(srv.port),
                                      input=b"x" * 100000)
        self.assertEqual((status, out, err), (0, b"got 100000 bytes\n", ""))

    def test_exits_when_the_server_closes_first(self):
        def bye(conn):
            conn.sendall(b"bye\n")
        with PyServer(bye) as srv:
            p = subprocess.Popen([binary("muxcat"), "127.0.0.1", str(srv.port)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            try:  # stdin stays open: only the server's close ends muxcat
                status = p.wait(timeout=TIMEOUT)
                out, err = p.stdout.read(), p.stderr.read()
            finally:
                p.kill()
                p.wait()
                for f in (p.stdin, p.stdout, p.stderr):
                    f.close()
        self.assertEqual((status, out, err), (0, b"bye\n", b""))

    def test_until_close_with_a_raw_http_request(self):
        with PyServer(http_handler) as srv:
            status, out, err = muxcat(
                "--until-close", "127.0.0.1", str(srv.port),
                input=b"GET /index HTTP/1.0\r\n\r\n")
        self.assertEqual((status, out, err),
                         (0, b"HTTP/1.0 200 OK\r\n\r\nbody of /index", ""))

    def test_until_close_fails_if_the_server_stays_open(self):
        released = threading.Event()

        def never_close(conn):
            while conn.recv(1024):
                pass
            conn.sendall(b"still here\n")  # at end of file, but stays open
            released.wait(TIMEOUT)

        with PyServer(never_close) as srv:
            try:
                status, out, err = muxcat("-w", "0.3", "--until-close",
                                          "127.0.0.1", str(srv.port),
                                          input=b"x")
                self.assertEqual(status, 1)
                self.assertEqual(out, b"still here\n")
                self.assertIn("did not close the connection", err)
                # Without --until-close a quiet server ends the run normally.
                status, out, err = muxcat("-w", "0.3", "127.0.0.1",
                                          str(srv.port), input=b"x")
                self.assertEqual((status, out, err), (0, b"still here\n", ""))
            finally:
                released.set()

    def test_connection_refused(self):
        s, port = refused_port()
        with s:
            status, out, err = muxcat("127.0.0.1", str(port), input=b"x")
        self.assertEqual((status, out), (1, b""))
        self.assertEqual(
            err, f"muxcat: cannot connect to 127.0.0.1:{port}: "
                 "Connection refused\n")

    def test_connect_timeout_is_bounded_by_w(self):
        # A full accept queue (backlog 0 holds the one connection nobody
        # accepts) drops muxcat's SYN: its connect waits -w, then fails.
        with socket.socket() as s, socket.socket() as filler:
            s.bind(("127.0.0.1", 0))
            s.listen(0)
            port = s.getsockname()[1]
            filler.connect(("127.0.0.1", port))
            status, out, err = muxcat("-w", "0.2", "127.0.0.1", str(port),
                                      input=b"x")
        self.assertEqual((status, out), (1, b""))
        self.assertEqual(
            err, f"muxcat: cannot connect to 127.0.0.1:{port}: "
                 "Connection timed out\n")


    def test_a_reset_after_connecting_is_not_a_failed_connect(self):
        # The server accepts, greets and resets at once: often before
        # muxcat looked at its connect's result.
        with muxtest.Muxd("-q", "-s", "greet", "-p", "0", "--fault", "rst") as m:
            for _ in range(20):
                status, _, err = muxcat("127.0.0.1", str(m.port))
                self.assertEqual(status, 1)
                self.assertEqual(
                    err, f"muxcat: 127.0.0.1:{m.port}: Connection reset by peer\n")


class Udp(unittest.TestCase):
    def test_pipe_datagram_echo(self):
        with Muxd("udp://127.0.0.1:0") as muxd:
            status, out, err = muxcat(muxd.address(), input=b"ping\n")
            self.assertEqual((status, out, err), (0, b"ping\n", ""))
            status, out, err = muxcat("-u", "127.0.0.1", str(muxd.port()),
                                      input=b"dash u\n")
            self.assertEqual((status, out, err), (0, b"dash u\n", ""))

    def test_script_datagrams(self):
        with Muxd("udp://127.0.0.1:0") as muxd:
            status, out, err = muxcat(muxd.address(), "--send", "a",
                                      "--expect", "a", "--send", "bc",
                                      "--expect", "bc")
        self.assertEqual((status, out, err), (0, b"a\nbc\n", ""))

    def test_refused(self):
        _, port = refused_port(socket.SOCK_DGRAM)
        status, out, err = muxcat(f"udp://127.0.0.1:{port}", "--send", "x")
        self.assertEqual(status, 1)
        self.assertEqual(
            err, f"muxcat: cannot connect to udp://127.0.0.1:{port}: "
                 "Connection refused\n")


class ScriptMode(unittest.TestCase):
    def test_expect_passes_against_echo(self):
        with Muxd("127.0.0.1:0") as muxd:
            status, out, err = muxcat(muxd.address(), "--send", "hi",
                                      "--expect", "hi")
        self.assertEqual((status, out, err), (0, b"hi\n", ""))

    def test_expect_fails_with_both_texts_escaped(self):
        with Muxd("127.0.0.1:0") as muxd:
            status, out, err = muxcat(muxd.address(), "-e", "--send",
                                      "hi\\t\\x01", "--expect", "ho")
        self.assertEqual(status, 1)
        self.assertEqual(out, b"hi\t\x01\n")
        self.assertIn('expected "ho", got "hi\\t\\x01"', err)
        self.assertTrue(err.startswith('muxcat: reply to --send "hi\\t\\x01"'),
                        err)

    def test_a_failure_message_follows_the_printed_reply(self):
        # stdout and stderr on one terminal: the reply's line is complete
        # before muxcat says what differed (it was "himuxcat: ...").
        with Muxd("127.0.0.1:0") as muxd:
            for steps in (["--send", "hi", "--expect", "hello"],
                          ["--send", "hi", "--send", "x", "--expect", "y"]):
                p = subprocess.run([binary("muxcat"), muxd.address(), *steps],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 1)
                last = steps[-3]
                self.assertRegex(p.stdout.decode(), r"\Ahi\n(x\n)?muxcat: "
                                 rf'reply to --send "{last}" differs: '
                                 rf'expected "{steps[-1]}", got "{last}"\n\Z')

    def test_newline_option_and_trailing_line_end(self):
        with Muxd("127.0.0.1:0") as muxd:
            status, out, err = muxcat(muxd.address(), "-n", "--send", "hi",
                                      "--expect", "hi")
            self.assertEqual((status, out, err), (0, b"hi\n", ""),
                             None if status == 0 else muxd.diagnosis())
            status, out, err = muxcat(muxd.address(), "--crlf", "-e",
                                      "--send", "hi", "--expect", "hi\\r\\n")
            self.assertEqual((status, out, err), (0, b"hi\r\n", ""),
                             None if status == 0 else muxd.diagnosis())

    def test_tutorial_client(self):
        # The greeting is waited for by --idle; 500 ms leave room for a
        # loaded machine (the --expect test below needs no such margin).
        with PyServer(hello_handler) as srv:
            status, out, err = muxcat(
                f"127.0.0.1:{srv.port}", "--idle", "500", "--send", "Michael",
                "--send", "Tracy", "--send", "Chenqi", "--send", "exit")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, b"Welcome!\nHello, Michael!\nHello, Tracy!\n"
                              b"Hello, Chenqi!\n")

    def test_greeting_and_replies_expected(self):
        with PyServer(hello_handler) as srv:
            status, out, err = muxcat(
                f"127.0.0.1:{srv.port}", "--expect", "Welcome!",
                "--send", "Bob", "--expect", "Hello, Bob!", "--send", "exit")
            self.assertEqual((status, out, err),
                             (0, b"Welcome!\nHello, Bob!\n", ""))
            status, out, err = muxcat(f"127.0.0.1:{srv.port}",
                                      "--expect", "Welcome", "--send", "Bob")
            self.assertEqual((status, out), (1, b"Welcome!\n"))
            self.assertIn('greeting differs: expected "Welcome", '
                          'got "Welcome!"', err)

    def test_server_closing_before_the_last_send(self):
        with PyServer(hello_handler) as srv:
            status, out, err = muxcat(f"127.0.0.1:{srv.port}", "--expect",
                                      "Welcome!", "--send", "exit",
                                      "--send", "more")
        self.assertEqual(status, 1)
        self.assertIn('closed the connection before --send "more"', err)

    def test_until_close_after_the_last_send(self):
        with PyServer(http_handler) as srv:
            status, out, err = muxcat(
                f"127.0.0.1:{srv.port}", "-e", "--until-close",
                "--send", "GET /s HTTP/1.0\\r\\n\\r\\n")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, b"HTTP/1.0 200 OK\r\n\r\nbody of /s\n")

    def test_refused(self):
        s, port = refused_port()
        with s:
            status, out, err = muxcat(f"127.0.0.1:{port}", "--send", "x")
        self.assertEqual((status, out), (1, b""))
        self.assertIn("cannot connect to", err)


CHARGEN_START = b' !"#$%&\'()*+,-./0123456789'


class TimeLimit(unittest.TestCase):
    """--max-time: a total limit in every mode. Against a server that
    trickles forever (chargen at 100 bytes a second) -w never ends a run:
    the server is never quiet that long."""

    def trickle(self):
        return muxtest.Muxd("-q", "-s", "chargen", "-p", "0",
                            "--fault", "bandwidth=100")

    def held_stdin(self):
        """A pipe for stdin whose write end the test holds open."""
        r, w = os.pipe()
        self.addCleanup(os.close, w)
        return r

    def assert_limit(self, result, target, secs, out_starts=CHARGEN_START):
        status, out, err = result
        self.assertEqual(status, 1, err)
        self.assertEqual(err, f"muxcat: {target}: time limit ({secs} s) "
                              "reached\n")
        self.assertTrue(out.startswith(out_starts), out)

    def run_held(self, *args):
        """muxcat with stdin open until it has exited."""
        stdin = self.held_stdin()
        try:
            p = subprocess.run([binary("muxcat"), *args], stdin=stdin,
                               capture_output=True, timeout=TIMEOUT)
        finally:
            os.close(stdin)
        return p.returncode, p.stdout, p.stderr.decode(errors="replace")

    def test_pipe_while_stdin_stays_open(self):
        with self.trickle() as m:
            self.assert_limit(self.run_held("--max-time", "0.5", "127.0.0.1",
                                            str(m.port)),
                              f"127.0.0.1:{m.port}", "0.5")

    def test_pipe_after_stdin_ended(self):
        with self.trickle() as m:
            self.assert_limit(muxcat("-w", "0.3", "--max-time", "0.5",
                                     f"127.0.0.1:{m.port}"),
                              f"127.0.0.1:{m.port}", "0.5")

    def test_until_close(self):
        with self.trickle() as m:
            self.assert_limit(muxcat("-w", "0.3", "--until-close",
                                     "--max-time", "0.5",
                                     f"127.0.0.1:{m.port}"),
                              f"127.0.0.1:{m.port}", "0.5")

    def test_script_until_close(self):
        with self.trickle() as m:
            self.assert_limit(muxcat("-w", "0.3", "--until-close",
                                     "--max-time", "0.7",
                                     f"127.0.0.1:{m.port}", "--send", "x"),
                              f"127.0.0.1:{m.port}", "0.7")

    def test_udp_pipe_while_stdin_stays_open(self):
        with Muxd("udp://127.0.0.1:0") as m:
            self.assert_limit(self.run_held("--max-time", "0.3",
                                            m.address()),
                              m.address(), "0.3", out_starts=b"")

    def test_connecting(self):
        # As in test_connect_timeout_is_bounded_by_w: the SYN is dropped.
        with socket.socket() as s, socket.socket() as filler:
            s.bind(("127.0.0.1", 0))
            s.listen(0)
            port = s.getsockname()[1]
            filler.connect(("127.0.0.1", port))
            self.assert_limit(muxcat("-w", "5", "--max-time", "0.2",
                                     f"127.0.0.1:{port}", input=b"x"),
                              f"127.0.0.1:{port}", "0.2", out_starts=b"")

    def test_a_run_that_ends_in_time_is_unchanged(self):
        with Muxd("127.0.0.1:0") as m:
            self.assertEqual(muxcat("--max-time", "5", m.address(),
                                    input=b"in time\n"),
                             (0, b"in time\n", ""))
            self.assertEqual(muxcat("--max-time", "5", m.address(),
                                    "--send", "s", "--expect", "s"),
                             (0, b"s\n", ""))


class Resolve(unittest.TestCase):
    LINE = re.compile(r"^(ipv4|ipv6) +(stream|dgram) +(\S+) +(\d+)$")

    def test_localhost(self):
        status, out, err = muxcat("--resolve", "localhost")
        self.assertEqual((status, err), (0, ""))
        lines = out.decode().splitlines()
        self.assertTrue(lines)
        for line in lines:
            m = self.LINE.match(line)
            self.assertTrue(m, line)
            self.assertIn(m.group(3), ("127.0.0.1", "::1"))
            self.assertEqual(m.group(4), "0")

    def test_with_a_service(self):
        status, out, err = muxcat("--resolve", "127.0.0.1", "80")
        self.assertEqual((status, err), (0, ""))
        self.assertIn("ipv4  stream  127.0.0.1  80", out.decode())
        try:
            socket.getservbyname("www", "tcp")
        except OSError:
            return  # no /etc/services entry for www here
        status, out, err = muxcat("--resolve", "localhost", "www")
        self.assertEqual(status, 0, err)
        self.assertRegex(out.decode(), r"stream +(127\.0\.0\.1|::1) +80\n")


    def test_a_name_that_does_not_resolve_says_what_getaddrinfo_said(self):
        # docs/muxcat.md: "Name or service not known" (glibc's text for
        # EAI_NONAME), or whatever getaddrinfo() says here and now.
        try:
            socket.getaddrinfo("nosuch.invalid", None)
            self.fail("nosuch.invalid resolved")
        except socket.gaierror as e:
            want = e.strerror
        status, out, err = muxcat("--resolve", "nosuch.invalid")
        self.assertEqual((status, out, err),
                         (1, b"", f"muxcat: cannot resolve nosuch.invalid: "
                                  f"{want}\n"))
        status, out, err = muxcat("--resolve", "localhost", "nosuchservice")
        self.assertEqual(status, 1)
        self.assertIn("cannot resolve localhost nosuchservice: ", err)


class Usage(unittest.TestCase):
    def assert_usage(self, *args, message):
        status, out, err = muxcat(*args)
        self.assertEqual(status, 2, (args, err))
        self.assertEqual(out, b"")
        self.assertIn(message, err)
        self.assertTrue(err.startswith("muxcat: "), err)
        self.assertIn("Try 'muxcat --help'", err)

    def test_usage_errors(self):
        self.assert_usage(message="missing address")
        self.assert_usage("--bogus", message="unknown option: '--bogus'")
        self.assert_usage("-x", "h", "1", message="unknown option: '-x'")
        self.assert_usage("a", "1", "c", message="unexpected argument: 'c'")
        self.assert_usage("-w", message="needs an argument")
        self.assert_usage("-w", "0", "h:1", message="invalid wait")
        self.assert_usage("-w", "x", "h:1", message="invalid wait")
        # Numbers are decimal: no hex, exponent or sign (strtod took them).
        for number in ("0x10", "1e3", "+1"):
            self.assert_usage("-w", number, "h:1", message="invalid wait")
        self.assert_usage("--max-time", "0", "h:1",
                          message="invalid time limit (seconds, more than 0)")
        self.assert_usage("--max-time", "1s", "h:1",
                          message="invalid time limit")
        self.assert_usage("host:99999", message="invalid address")
        self.assert_usage("-n", "h:1", message="--newline needs --send")
        self.assert_usage("-e", "h:1", "--send", "a\\q",
                          message="bad escape")
        self.assert_usage("h:1", "--expect", "a", "--expect", "b",
                          message="two --expect in a row")
        self.assert_usage("--until-close", "udp://h:1",
                          message="--until-close needs a stream")
        self.assert_usage("udp://h:1", "--expect", "x", "--send", "y",
                          message="UDP server sends no greeting")
        self.assert_usage("-u", "unix:/tmp/x", message="--udp does not apply")
        self.assert_usage("--resolve", message="missing HOST")

    def test_help_and_version(self):
        status, out, err = muxcat("--help")
        self.assertEqual((status, err), (0, ""))
        text = out.decode()
        for word in ("Usage: muxcat", "--send", "--expect", "--until-close",
                     "--max-time",
                     "--resolve", "Examples:", "Exit status"):
            self.assertIn(word, text)
        status, out, err = muxcat("-V")
        self.assertEqual((status, err), (0, ""))
        self.assertRegex(out.decode(), r"^muxcat \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
