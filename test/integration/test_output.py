#!/usr/bin/env python3
"""Output that never blocks, and a hostile start-up: a stderr pipe nobody
reads (muxd, its workers, muxcat), closed fds 0-2, inherited fds that are
muxd's own, files replaced while muxd runs, a stdout that takes nothing,
SIGHUP, and --user with files in a root-only directory."""

import json
import os
import selectors
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

import muxtest
from muxtest import Muxd, TIMEOUT, recv_until_close, run

CLIENTS = 3000  # enough to fill a 64 KiB pipe several times over


def echo_cycles(m, n):
    """n clients, one after the other: connect, echo, close."""
    for i in range(n):
        with m.connect() as c:
            c.sendall(b"x%d" % i)
            want = b"x%d" % i
            got = b""
            while len(got) < len(want):
                chunk = c.recv(64)
                if not chunk:
                    break
                got += chunk
            assert got == want, (i, got)


def read_until(fd, pattern, timeout=TIMEOUT):
    """Reads fd (a pipe) until `pattern` (bytes) is in what was read, or
    the deadline passes; returns all of it."""
    data = b""
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    try:
        while pattern not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        sel.close()
    return data


def pipe_full(fd):
    """Whether the pipe behind fd (its read end) holds 64 KiB or more."""
    import fcntl
    import termios
    buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return int.from_bytes(buf, "little") >= 60000


class UnreadStderr(unittest.TestCase):
    """issue 10 §1: stderr a pipe that nobody reads."""

    def serve_then_stop(self, *args):
        with Muxd("-p", "0", *args, stderr=subprocess.PIPE) as m:
            echo_cycles(m, CLIENTS)
            self.assertTrue(pipe_full(m.proc.stderr.fileno()))
            m.send_signal(signal.SIGTERM)
            self.assertEqual(m.wait(timeout=1.0), 0)
            m.proc.stderr.close()

    def test_3000_clients_then_sigterm(self):
        self.serve_then_stop()

    def test_3000_clients_then_sigterm_json(self):
        self.serve_then_stop("--log-format", "json")

    def test_workers_3000_clients_then_sigterm(self):
        self.serve_then_stop("--workers", "2")

    def test_dropped_lines_are_counted_once_drained(self):
        with Muxd("-p", "0", stderr=subprocess.PIPE) as m:
            fd = m.proc.stderr.fileno()
            echo_cycles(m, CLIENTS)
            err = read_until(fd, b"dropped")
            self.assertIn(b"log lines dropped: stderr was not read", err)
            # The log goes on after the notice.
            with m.connect() as c:
                c.sendall(b"after")
                self.assertEqual(c.recv(16), b"after")
            m.send_signal(signal.SIGTERM)
            err += read_until(fd, b"\0")  # to EOF: muxd exits
            self.assertEqual(m.wait(), 0)
            m.proc.stderr.close()
        lines = err.decode().splitlines()
        self.assertTrue(all(l.startswith("muxd: ") for l in lines))
        notes = [l for l in lines if "log lines dropped" in l]
        dropped = sum(int(l.split()[1]) for l in notes)
        self.assertGreater(dropped, 0)
        self.assertIn("SIGTERM: shutting down", lines[-1])
        # Every line is written or counted: accepted and closed for each
        # client (3000 and "after"), and the SIGTERM line.
        self.assertEqual(len(lines) - len(notes) + dropped,
                         2 * (CLIENTS + 1) + 1)

    def test_dropped_lines_json_event(self):
        with Muxd("-p", "0", "--log-format", "json",
                  stderr=subprocess.PIPE) as m:
            fd = m.proc.stderr.fileno()
            echo_cycles(m, CLIENTS)
            err = read_until(fd, b'"log_dropped"')
            m.send_signal(signal.SIGTERM)
            err += read_until(fd, b"\0")
            self.assertEqual(m.wait(), 0)
            m.proc.stderr.close()
        events = [json.loads(l) for l in err.decode().splitlines()]
        dropped = [e["lines"] for e in events if e["event"] == "log_dropped"]
        self.assertGreater(len(dropped), 0)
        self.assertTrue(all(n > 0 for n in dropped))
        # accept and close per client; listen, info (SIGTERM), shutdown
        # and done.
        self.assertEqual(len(events) - len(dropped) + sum(dropped),
                         2 * CLIENTS + 4)

    def test_muxd_leaves_the_shared_pipe_blocking(self):
        # muxd's own description of the pipe is non-blocking; the one it
        # shares with this process is left as it was.
        r, w = os.pipe()
        try:
            with Muxd("-p", "0", stderr=w) as m:
                self.assertTrue(os.get_blocking(w))
                self.assertEqual(m.stop(), 0)
        finally:
            os.close(r)
            os.close(w)


class MuxcatUnreadStderr(unittest.TestCase):
    def test_messages_to_a_full_stderr_do_not_block(self):
        # A pipe already full: muxcat's message cannot be written, yet
        # muxcat exits with its status at once.
        r, w = os.pipe()
        os.set_blocking(w, False)
        try:
            while True:
                os.write(w, b"x" * 65536)
        except BlockingIOError:
            pass
        os.set_blocking(w, True)
        try:
            with muxtest.tcp_listener() as s:
                port = s.getsockname()[1]
                p = subprocess.Popen(
                    [muxtest.binary("muxcat"), "-w", "0.5",
                     "--expect", "hello", "127.0.0.1", str(port)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=w)
                conn, _ = s.accept()
                conn.sendall(b"bye\n")
                self.assertEqual(p.wait(timeout=TIMEOUT), 1)
                conn.close()
        finally:
            os.close(r)
            os.close(w)


def close_fds_wrapper(redirections):
    """A wrapper that runs its command with some of fds 0-2 closed."""
    return ("bash", "-c", 'exec "$0" "$@" ' + redirections)


class ClosedStdFds(unittest.TestCase):
    """issue 15 item 1."""

    def test_closed_stdin_and_stderr_are_dev_null(self):
        with Muxd("-p", "0", wrapper=close_fds_wrapper("<&- 2>&-")) as m:
            for fd in (0, 2):
                self.assertEqual(
                    os.readlink(f"/proc/{m.proc.pid}/fd/{fd}"), "/dev/null")
            echo_cycles(m, 20)  # logs 40 lines: none reaches the loop
            # SIGUSR1 works: the signal pipe is not fd 2.
            self.assertEqual(m.stop(), 0)

    def test_workers_never_send_their_log_to_a_client(self):
        with Muxd("--workers", "2", "-s", "ack", "-p", "0",
                  wrapper=close_fds_wrapper("<&- 2>&-")) as m:
            for i in range(12):
                with m.connect() as c:
                    c.sendall(b"password=secret%d\n" % i)
                    reply = recv_until_close(c)
                self.assertNotIn(b"muxd", reply)
                self.assertNotIn(b"secret", reply)
            self.assertEqual(m.stop(), 0)


class InheritedFds(unittest.TestCase):
    """issue 15 item 9."""

    def test_std_fds_are_a_usage_error(self):
        for fd in ("0", "1", "2"):
            code, out, err = run("--fd", fd)
            self.assertEqual(code, 2, err)
            self.assertIn(f"invalid fd: '{fd}' (0, 1 and 2 are stdin", err)
            self.assertEqual(out, "")

    def test_duplicate_fd_is_a_usage_error(self):
        with muxtest.tcp_listener() as s:
            fd = str(s.fileno())
            p = subprocess.run([muxtest.binary("muxd"), "--fd", fd, "--fd",
                                fd], pass_fds=[s.fileno()],
                               capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"fd %s is given twice" % fd.encode(), p.stderr)

    def test_fds_that_would_be_muxds_own(self):
        # Not open when muxd starts: 3..5 would be its wake-up pipe and
        # spare fd, 6 its listener.
        for fd in ("3", "4", "5", "6"):
            code, out, err = run("-p", "0", "--fd", fd)
            self.assertEqual(code, 1, err)
            self.assertIn(f"cannot serve the inherited fd {fd}: it is not "
                          "open", err)
            self.assertEqual(out, "")

    def test_connected_socket_is_refused(self):
        with muxtest.tcp_listener() as s, socket.create_connection(
                s.getsockname()) as c:
            p = subprocess.run([muxtest.binary("muxd"), "--fd",
                                str(c.fileno())], pass_fds=[c.fileno()],
                               capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"it is a connected socket, not a listening one",
                      p.stderr)
        self.assertEqual(p.stdout, b"")


class OwnFilesOnly(unittest.TestCase):
    """issue 15 item 6: cleanup unlinks only what is still muxd's."""

    def test_draining_muxd_leaves_the_next_ones_files(self):
        with tempfile.TemporaryDirectory() as d:
            pid, ready = os.path.join(d, "m.pid"), os.path.join(d, "ready")
            args = ("-p", "0", "--pidfile", pid, "--ready-file", ready)
            with Muxd(*args) as first:
                client = first.connect()
                client.sendall(b"hi")
                self.assertEqual(client.recv(2), b"hi")
                first.send_signal(signal.SIGTERM)  # drains: client open
                with Muxd(*args) as second:
                    client.close()
                    self.assertEqual(first.wait(), 0)
                    with open(pid) as f:
                        self.assertEqual(f.read(), f"{second.proc.pid}\n")
                    self.assertTrue(os.path.exists(ready))
                    self.assertEqual(second.stop(), 0)
                self.assertFalse(os.path.exists(pid))
                self.assertFalse(os.path.exists(ready))

    def test_replaced_unix_socket_path_is_left(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s")
            with Muxd("-l", "unix:" + path) as m:
                os.unlink(path)
                with open(path, "w") as f:
                    f.write("someone else's\n")
                self.assertEqual(m.stop(), 0)
            with open(path) as f:
                self.assertEqual(f.read(), "someone else's\n")
            os.unlink(path)
            with Muxd("-l", "unix:" + path) as m:
                os.unlink(path)
                other = socket.socket(socket.AF_UNIX)
                other.bind(path)
                other.listen()
                self.assertEqual(m.stop(), 0)
            self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))
            other.close()

    def test_own_unix_socket_is_removed(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s")
            with Muxd("-l", "unix:" + path) as m:
                self.assertEqual(m.stop(), 0)
            self.assertFalse(os.path.exists(path))


class ReadyLineAndSighup(unittest.TestCase):
    """issue 15 item 10."""

    def test_stdout_that_takes_nothing_fails(self):
        with open("/dev/full", "w") as full:
            p = subprocess.run([muxtest.binary("muxd"), "-p", "0"],
                               stdout=full, stderr=subprocess.PIPE,
                               timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"muxd: cannot write the ready lines to stdout: No "
                      b"space left on device", p.stderr)

    def check_sighup(self, *args):
        with tempfile.TemporaryDirectory() as d:
            pid, ready = os.path.join(d, "m.pid"), os.path.join(d, "ready")
            sock = os.path.join(d, "s")
            with Muxd("-p", "0", "-l", "unix:" + sock, "--pidfile", pid,
                      "--ready-file", ready, *args, listeners=2) as m:
                for path in (pid, ready, sock):
                    self.assertTrue(os.path.exists(path))
                self.assertEqual(m.stop(signal.SIGHUP), 0)
                self.assertIn("SIGHUP: ", m.stderr())
            self.assertEqual(os.listdir(d), [])

    def test_sighup_is_a_graceful_stop(self):
        self.check_sighup()

    def test_sighup_stops_workers_gracefully(self):
        with tempfile.TemporaryDirectory() as d:
            pid = os.path.join(d, "m.pid")
            with Muxd("-p", "0", "--workers", "2", "--pidfile", pid) as m:
                with m.connect() as c:
                    c.sendall(b"hi")
                    self.assertEqual(c.recv(2), b"hi")
                self.assertEqual(m.stop(signal.SIGHUP), 0)
            self.assertEqual(os.listdir(d), [])


@unittest.skipUnless(os.geteuid() == 0, "needs root to test --user")
class UserAndRootOnlyFiles(unittest.TestCase):
    """issue 15 item 8: files are written while muxd is still root."""

    def test_pidfile_in_root_only_dir(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o700)
            pid, ready = os.path.join(d, "m.pid"), os.path.join(d, "ready")
            with Muxd("-p", "0", "--user", "nobody", "--pidfile", pid,
                      "--ready-file", ready) as m:
                with open(pid) as f:
                    self.assertEqual(f.read(), f"{m.proc.pid}\n")
                self.assertTrue(os.path.exists(ready))
                with open(f"/proc/{m.proc.pid}/status") as f:
                    uid = [l for l in f if l.startswith("Uid:")][0]
                self.assertNotEqual(uid.split()[1], "0")
                self.assertEqual(m.stop(), 0)
                # Documented limitation (muxd.1, FILES): nobody cannot
                # remove them from a directory only root may write; muxd
                # says so.
                self.assertIn("cannot remove the pidfile", m.stderr())

    def test_pidfile_in_a_directory_the_user_may_write(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o777)
            pid = os.path.join(d, "m.pid")
            with Muxd("-p", "0", "--user", "nobody", "--pidfile", pid,
                      "-l", "unix:" + os.path.join(d, "s"),
                      listeners=2) as m:
                self.assertTrue(os.path.exists(pid))
                self.assertEqual(m.stop(), 0)
                self.assertNotIn("cannot remove", m.stderr())
            self.assertEqual(os.listdir(d), [])


if __name__ == "__main__":
    muxtest.main()
