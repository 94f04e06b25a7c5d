"""muxd as a fixture for test scripts and service managers: --ready-file,
--pidfile, socket activation and --fd, $NOTIFY_SOCKET, --max-accepts,
--log-format json, the SIGUSR1 stats line and --workers."""

import json
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import muxtest
from muxtest import children
from muxtest import (
    Muxd, recv_exactly, round_trip, run, tcp_listener)

# Started in front of muxd: moves the sockets it was given to fds 3, 4, ...
# and sets LISTEN_FDS and LISTEN_PID for its own pid (which muxd keeps:
# execv), as systemd does. argv: COUNT FD... [--wrong-pid] -- COMMAND...
LAUNCHER = r"""
import os, sys
args = sys.argv[1:]
n = int(args.pop(0))
fds = [int(args.pop(0)) for _ in range(n)]
wrong_pid = args[0] == "--wrong-pid"
command = args[args.index("--") + 1:]
import fcntl
high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
for fd in fds:
    os.close(fd)
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
    os.close(fd)
os.environ["LISTEN_FDS"] = str(n)
os.environ["LISTEN_PID"] = str(os.getpid() + (1 if wrong_pid else 0))
os.environ["LISTEN_FDNAMES"] = ":".join("s%d" % i for i in range(n))
os.execv(command[0], command)
"""

ISO_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def launcher(fds, wrong_pid=False):
    """The `wrapper` for Muxd: socket activation with `fds`."""
    return [sys.executable, "-c", LAUNCHER, str(len(fds)),
            *[str(fd) for fd in fds], *(["--wrong-pid"] if wrong_pid else []),
            "--"]


def udp_round_trip(addr, msg, family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(muxtest.TIMEOUT)
        s.sendto(msg, addr)
        return s.recv(65536)


def json_lines(text):
    """Every stderr line parsed; fails on one that is not a JSON object."""
    events = []
    for line in text.splitlines():
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise AssertionError(f"not an object: {line!r}")
        events.append(obj)
    return events


def wait_exit(pid, timeout=muxtest.TIMEOUT):
    """Waits until process `pid` (not our child) has exited; True if so."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def have_pidfd():
    try:
        os.close(os.pidfd_open(os.getpid()))
        return True
    except (AttributeError, OSError):
        return False


class ReadyFileAndPidfile(unittest.TestCase):
    def test_files_hold_every_listener_and_the_pid(self):
        with tempfile.TemporaryDirectory() as d:
            ready, pidfile = os.path.join(d, "ready"), os.path.join(d, "pid")
            sock = os.path.join(d, "s.sock")
            with Muxd("-l", "127.0.0.1:0", "-l", "udp://127.0.0.1:0",
                      "-l", "unix:" + sock, "--ready-file", ready,
                      "--pidfile", pidfile, "-q", listeners=3) as m:
                # Written before the ready lines: already complete now.
                with open(ready) as f:
                    lines = f.read().splitlines()
                self.assertEqual(lines, [
                    f"tcp 127.0.0.1:{m.listeners[0][1][1]}",
                    f"udp 127.0.0.1:{m.listeners[1][1][1]}",
                    f"unix {sock}"])
                with open(pidfile) as f:
                    self.assertEqual(f.read(), f"{m.proc.pid}\n")
                # Nothing else was left in the directory (no temp files).
                self.assertEqual(sorted(os.listdir(d)),
                                 ["pid", "ready", "s.sock"])
                with m.connect() as c:
                    self.assertEqual(round_trip(c, b"up"), b"up")
                self.assertEqual(m.stop(), 0)
            self.assertEqual(os.listdir(d), [])  # removed at exit

    def test_an_old_ready_file_is_replaced(self):
        with tempfile.TemporaryDirectory() as d:
            ready = os.path.join(d, "ready")
            with open(ready, "w") as f:
                f.write("tcp 127.0.0.1:1\nstale\n")
            with Muxd("-p", "0", "-q", "--ready-file", ready) as m:
                with open(ready) as f:
                    self.assertEqual(f.read(), f"tcp 127.0.0.1:{m.port}\n")
                self.assertEqual(m.stop(), 0)

    def test_unwritable_ready_file_fails_before_any_ready_line(self):
        code, out, err = run("-p", "0", "--ready-file", "/nonexistent/dir/r")
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        self.assertIn("muxd: cannot write the ready file /nonexistent/dir/r",
                      err)


class SocketActivation(unittest.TestCase):
    def sockets(self, d):
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(os.path.join(d, "act.sock"))
        unix.listen()
        bound = socket.socket()  # bound, not listening: muxd listens
        bound.bind(("127.0.0.1", 0))
        return [tcp, udp, unix, bound]

    def test_any_number_of_sockets_and_no_default_listener(self):
        with tempfile.TemporaryDirectory() as d:
            socks = self.sockets(d)
            fds = [s.fileno() for s in socks]
            ready = os.path.join(d, "ready")
            with Muxd("-q", "--ready-file", ready, listeners=4,
                      wrapper=launcher(fds), pass_fds=fds) as m:
                for s in socks:
                    s.close()
                with open(ready) as f:
                    self.assertEqual(len(f.read().splitlines()), 4)
                kinds = [t for t, _ in m.listeners]
                self.assertEqual(kinds, ["tcp", "udp", "unix", "tcp"])
                for i in (0, 2, 3):
                    with m.connect(i) as c:
                        self.assertEqual(round_trip(c, b"act %d" % i),
                                         b"act %d" % i)
                self.assertEqual(udp_round_trip(m.listeners[1][1], b"dgram"),
                                 b"dgram")
                self.assertEqual(m.stop(), 0)
            # An adopted unix socket's path belongs to whoever bound it.
            self.assertTrue(os.path.exists(os.path.join(d, "act.sock")))

    def test_listen_pid_of_another_process_is_ignored(self):
        s = tcp_listener()
        theirs = s.getsockname()[1]
        with tempfile.TemporaryDirectory() as d:
            ready = os.path.join(d, "ready")
            with Muxd("-p", "0", "-q", "--ready-file", ready,
                      wrapper=launcher([s.fileno()], True),
                      pass_fds=[s.fileno()]) as m:
                s.close()
                with open(ready) as f:  # one listener: -p 0's
                    self.assertEqual(f.read(), f"tcp 127.0.0.1:{m.port}\n")
                self.assertNotEqual(m.port, theirs)
                self.assertEqual(m.stop(), 0)

    def test_fd_option_with_an_explicit_listener(self):
        s = tcp_listener()
        fd = s.fileno()
        with Muxd("--fd", str(fd), "-l", "127.0.0.1:0", "-q", listeners=2,
                  pass_fds=[fd]) as m:
            s.close()
            # -l first, then inherited sockets
            self.assertNotEqual(m.listeners[0][1][1], m.listeners[1][1][1])
            for i in range(2):
                with m.connect(i) as c:
                    self.assertEqual(round_trip(c, b"fd%d" % i), b"fd%d" % i)
            self.assertEqual(m.stop(), 0)

    def test_fd_that_is_not_a_socket_fails(self):
        r, w = os.pipe()
        try:
            p = subprocess.run([muxtest.binary("muxd"), "--fd", str(r)],
                               pass_fds=[r], capture_output=True,
                               timeout=muxtest.TIMEOUT)
        finally:
            os.close(r)
            os.close(w)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"cannot serve the inherited fd %d" % r, p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_bad_fd_argument_is_a_usage_error(self):
        code, _, err = run("--fd", "three")
        self.assertEqual(code, 2)
        self.assertIn("invalid fd: 'three'", err)


class Notify(unittest.TestCase):
    def notify_socket(self, name):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(name)
        s.settimeout(muxtest.TIMEOUT)
        return s

    def check_ready_then_stopping(self, bind_name, env_name):
        with self.notify_socket(bind_name) as n:
            env = dict(os.environ, NOTIFY_SOCKET=env_name)
            with Muxd("-p", "0", "-q", env=env) as m:
                self.assertEqual(n.recv(4096), b"READY=1")
                with m.connect() as c:
                    self.assertEqual(round_trip(c, b"x"), b"x")
                self.assertEqual(m.stop(), 0)
                self.assertEqual(n.recv(4096), b"STOPPING=1")
                n.setblocking(False)
                with self.assertRaises(BlockingIOError):
                    n.recv(4096)  # each sent once

    def test_path_socket(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "notify")
            self.check_ready_then_stopping(path, path)

    def test_abstract_socket(self):
        name = f"muxd-test-notify-{os.getpid()}"
        self.check_ready_then_stopping("\0" + name, "@" + name)

    def test_unreachable_notify_socket_is_not_fatal(self):
        env = dict(os.environ, NOTIFY_SOCKET="/nonexistent/notify")
        with Muxd("-p", "0", "-q", env=env) as m:
            with m.connect() as c:
                self.assertEqual(round_trip(c, b"still"), b"still")
            self.assertEqual(m.stop(), 0)
            self.assertIn("cannot send READY=1 to NOTIFY_SOCKET "
                          "/nonexistent/notify", m.stderr())


class MaxAccepts(unittest.TestCase):
    def test_exit_0_once_the_n_clients_are_served_and_gone(self):
        with Muxd("-p", "0", "--max-accepts", "2") as m:
            a, b = m.connect(), m.connect()
            self.assertEqual(round_trip(a, b"a1"), b"a1")
            self.assertEqual(round_trip(b, b"b1"), b"b1")
            # The listener closed at the second accept.
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", m.port), timeout=5)
            # Both keep talking as long as they like.
            self.assertEqual(round_trip(a, b"a2"), b"a2")
            a.close()
            self.assertEqual(round_trip(b, b"b2"), b"b2")
            self.assertIsNone(m.proc.poll())  # b is still connected
            b.close()
            self.assertEqual(m.wait(), 0)
            err = m.stderr()
            self.assertIn("accepted 2 clients (--max-accepts): listeners "
                          "closed", err)
            self.assertEqual(err.count("muxd: closed"), 2)

    def test_json_log_ends_with_one_shutdown(self):
        with Muxd("-p", "0", "--max-accepts", "1", "--log-format",
                  "json") as m:
            with m.connect() as c:
                self.assertEqual(round_trip(c, b"only"), b"only")
            self.assertEqual(m.wait(), 0)
            names = [e["event"] for e in json_lines(m.stderr())]
        self.assertEqual(names, ["listen", "accept", "info", "close",
                                 "shutdown", "done"])

    def test_sigterm_still_stops_it(self):
        with Muxd("-p", "0", "-q", "--max-accepts", "5") as m:
            with m.connect() as c:
                self.assertEqual(round_trip(c, b"one"), b"one")
            self.assertEqual(m.stop(), 0)

    def test_zero_is_a_usage_error(self):
        code, _, err = run("--max-accepts", "0")
        self.assertEqual(code, 2)
        self.assertIn("invalid accept count: '0'", err)


class JsonLog(unittest.TestCase):
    def test_every_event_is_one_json_object(self):
        with Muxd("-p", "0", "-m", "1", "--log-format", "json") as m:
            a = m.connect()
            self.assertEqual(round_trip(a, b"12345"), b"12345")
            b = m.connect()  # over -m 1: refused
            self.assertEqual(recv_exactly(b, 18), b"muxd: server full\n")
            b.close()
            a.close()
            self.assertEqual(m.stop(), 0)
            events = json_lines(m.stderr())
        names = [e["event"] for e in events]
        for name in ("listen", "accept", "refuse", "close", "info",
                     "shutdown", "done"):
            self.assertIn(name, names)
        for e in events:
            self.assertRegex(e["ts"], ISO_TS)
            self.assertEqual(e["pid"], m.proc.pid)
        by = {e["event"]: e for e in events}
        self.assertEqual(by["listen"]["transport"], "tcp")
        self.assertEqual(by["listen"]["local"], f"127.0.0.1:{m.port}")
        self.assertEqual(by["accept"]["clients"], 1)
        self.assertRegex(by["accept"]["peer"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(by["refuse"]["reason"], "server full")
        self.assertEqual(by["close"]["bytes_in"], 5)
        self.assertEqual(by["close"]["bytes_out"], 5)
        self.assertIsInstance(by["close"]["duration_ms"], int)
        self.assertEqual(by["info"]["message"], "SIGTERM: shutting down")

    def test_bytes_from_the_network_are_escaped(self):
        # ack logs what a client sent: control bytes, an escape sequence,
        # UTF-8 (one C1 control among it), and bytes that are not UTF-8.
        sent = b"\x00\x07\x1b[2J\"q\\ caf\xc3\xa9 \xc2\x9b \xff\xc3("
        with Muxd("-p", "0", "-s", "ack", "--log-format", "json") as m:
            with m.connect() as c:
                c.sendall(sent + b"\n")
                self.assertEqual(muxtest.recv_until_close(c), b"ACK!\n")
            self.assertEqual(m.stop(), 0)
            raw = m.stderr()
        self.assertNotIn("\x1b", raw)  # no raw control byte reaches a terminal
        want = (r'"text":"received: \u0000\u0007\u001b[2J\"q\\ caf' "\u00e9"
                r' \u009b \ufffd\ufffd("')
        self.assertIn(want, raw)
        (service,) = [e for e in json_lines(raw) if e["event"] == "service"]
        self.assertEqual(service["text"], "received: \x00\x07\x1b[2J\"q\\ "
                         "caf\u00e9 \u009b \ufffd\ufffd(")
        self.assertEqual(service["transport"], "tcp")

    def test_odd_bytes_are_escaped(self):
        # A listener whose path holds control bytes and UTF-8: the listen
        # event carries it, escaped, and parses back to the same text.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "a\x01b\x1b[31m\u00e9\u0085.sock")
            with Muxd("-l", "unix:" + path, "--log-format", "json") as m:
                self.assertEqual(m.stop(), 0)
                raw = m.stderr()
        self.assertIn("a\\u0001b\\u001b[31m\u00e9\\u0085.sock", raw)
        self.assertNotIn("\x1b", raw)
        listen = [e for e in json_lines(raw) if e["event"] == "listen"]
        self.assertEqual(listen[0]["local"], path)

    def test_errors_are_json_too(self):
        s = tcp_listener()
        port = s.getsockname()[1]
        code, out, err = run("-p", str(port), "--log-format", "json")
        s.close()
        self.assertEqual(code, 1)
        (e,) = json_lines(err)
        self.assertEqual(e["event"], "error")
        self.assertIn("Address already in use", e["message"])

    def test_quiet_keeps_only_errors(self):
        with Muxd("-p", "0", "-q", "--log-format", "json") as m:
            with m.connect() as c:
                self.assertEqual(round_trip(c, b"q"), b"q")
            self.assertEqual(m.stop(), 0)
            self.assertEqual(m.stderr(), "")

    def test_bad_format_is_a_usage_error(self):
        code, _, err = run("--log-format", "xml")
        self.assertEqual(code, 2)
        self.assertIn("invalid log format: 'xml' (text or json)", err)


class Stats(unittest.TestCase):
    def run_stats(self, *fmt):
        """A client served (5 bytes), one refused, SIGUSR1 while the first
        is connected; then SIGTERM (handled after SIGUSR1)."""
        with Muxd("-p", "0", "-m", "1", "-q", *fmt) as m:
            a = m.connect()
            self.assertEqual(round_trip(a, b"hello"), b"hello")
            b = m.connect()
            self.assertEqual(recv_exactly(b, 18), b"muxd: server full\n")
            b.close()
            m.send_signal(signal.SIGUSR1)
            self.assertEqual(m.stop(), 0)
            a.close()
            return m.stderr()

    def test_text_line(self):
        err = self.run_stats()
        self.assertEqual(err, "muxd: stats: 1 client now, 1 accepted, "
                              "1 refused, 5 bytes in, 5 bytes out\n")

    def test_json_line(self):
        (e,) = json_lines(self.run_stats("--log-format", "json"))
        self.assertEqual(e["event"], "stats")
        self.assertEqual((e["clients"], e["accepted"], e["refused"],
                          e["bytes_in"], e["bytes_out"]), (1, 1, 1, 5, 5))


class Workers(unittest.TestCase):
    def test_two_workers_serve_one_port_zero(self):
        with tempfile.TemporaryDirectory() as d:
            ready, pidfile = os.path.join(d, "ready"), os.path.join(d, "pid")
            with Muxd("-p", "0", "--workers", "2", "--log-format", "json",
                      "--ready-file", ready, "--pidfile", pidfile) as m:
                workers = children(m.proc.pid)
                self.assertEqual(len(workers), 2)
                with open(ready) as f:
                    self.assertEqual(f.read(), f"tcp 127.0.0.1:{m.port}\n")
                with open(pidfile) as f:
                    self.assertEqual(f.read(), f"{m.proc.pid}\n")
                clients = [m.connect() for _ in range(40)]
                for i, c in enumerate(clients):
                    self.assertEqual(round_trip(c, b"w%d" % i), b"w%d" % i)
                for c in clients:
                    c.close()
                self.assertEqual(m.stop(), 0)
                self.assertEqual(m.proc.stdout.read(), b"")  # printed once
                events = json_lines(m.stderr())
            self.assertEqual(os.listdir(d), [])
        accepts = [e for e in events if e["event"] == "accept"]
        self.assertEqual(len(accepts), 40)
        # Spread by the kernel's hash: both served (all 40 on one worker
        # has a probability of 2^-39).
        self.assertEqual(sorted({e["pid"] for e in accepts}), workers)
        self.assertEqual(sorted({e["worker"] for e in accepts}), [1, 2])
        for pid in workers:  # the parent reaped them before it exited
            self.assertFalse(os.path.exists(f"/proc/{pid}"))

    def test_ctrl_c_stops_the_workers_gracefully(self):
        # ^C: SIGINT to the whole process group. The workers leave it to
        # the parent, which stops them with one SIGTERM each.
        with Muxd("-p", "0", "--workers", "2", "-q",
                  start_new_session=True) as m:
            c = m.connect()
            self.assertEqual(round_trip(c, b"before"), b"before")
            c.sendall(b"pending")
            os.killpg(m.proc.pid, signal.SIGINT)
            # What the client sent is answered, then the client is closed.
            self.assertEqual(muxtest.recv_until_close(c), b"pending")
            c.close()
            self.assertEqual(m.wait(), 0)

    def test_udp(self):
        with Muxd("-l", "udp://127.0.0.1:0", "--workers", "2", "-q") as m:
            for i in range(20):
                self.assertEqual(udp_round_trip(m.addr, b"d%d" % i), b"d%d" % i)
            self.assertEqual(m.stop(), 0)

    def test_a_shared_inherited_socket(self):
        s = tcp_listener()
        fd = s.fileno()
        with Muxd("--fd", str(fd), "--workers", "2", "-q",
                  pass_fds=[fd]) as m:
            s.close()
            self.assertEqual(len(children(m.proc.pid)), 2)
            for i in range(10):
                with m.connect() as c:
                    self.assertEqual(round_trip(c, b"s%d" % i), b"s%d" % i)
            self.assertEqual(m.stop(), 0)

    def serve_200(self, m, since):
        """200 clients each answered; returns the worker numbers that
        accepted them (from the log after offset `since`)."""
        for i in range(200):
            with m.connect() as c:
                self.assertEqual(round_trip(c, b"r%d" % i), b"r%d" % i)
        log = m.wait_for_log(": accepted ", count=200)
        return set(re.findall(r"^muxd: worker (\d): accepted ",
                              log[since:], re.M))

    def test_a_killed_worker_is_replaced(self):
        with Muxd("-p", "0", "--workers", "2") as m:
            victim, survivor = children(m.proc.pid)
            os.kill(victim, signal.SIGKILL)
            log = m.wait_for_log(" restarted: pid ")
            self.assertRegex(
                log, r"muxd: worker [12] \(pid %d\) was killed by signal 9 "
                     r"\(Killed\); 1 of 2 workers left; restarting it at "
                     r"once\n" % victim)
            new = int(re.search(r"restarted: pid (\d+) \(replaces pid %d\)"
                                % victim, log).group(1))
            self.assertEqual(children(m.proc.pid), sorted([survivor, new]))
            # The replacement took its place in the SO_REUSEPORT group.
            self.assertEqual(self.serve_200(m, len(log)), {"1", "2"})
            self.assertEqual(m.stop(), 1)  # a worker died during the run

    def kill_and_wait_for_replacement(self, m, victim, count=1):
        """Kills `victim`; returns the log and the pid that replaced it,
        once that one serves."""
        os.kill(victim, signal.SIGKILL)
        log = m.wait_for_log(" restarted: pid ", count=count)
        found = re.search(r"restarted: pid (\d+) \(replaces pid %d\)"
                          % victim, log)
        self.assertTrue(found, log)
        return log, int(found.group(1))

    def test_restarts_back_off_while_a_worker_keeps_dying(self):
        with Muxd("-p", "0", "--workers", "2") as m:
            victim = children(m.proc.pid)[0]
            for n, when in enumerate(("at once", "in 0.1 s", "in 0.2 s")):
                log, new = self.kill_and_wait_for_replacement(m, victim, n + 1)
                self.assertIn("(pid %d) was killed by signal 9 (Killed); 1 of "
                              "2 workers left; restarting it %s\n"
                              % (victim, when), log)
                victim = new
            with m.connect() as c:
                self.assertEqual(round_trip(c, b"still"), b"still")
            self.assertEqual(m.stop(), 1)

    def test_replacements_serve_a_shared_inherited_socket(self):
        s = tcp_listener()
        fd = s.fileno()
        with Muxd("--fd", str(fd), "--workers", "2",
                  pass_fds=[fd]) as m:
            s.close()
            first = children(m.proc.pid)
            for n, victim in enumerate(first):  # none of the first is left
                self.kill_and_wait_for_replacement(m, victim, n + 1)
            self.assertEqual(len(set(children(m.proc.pid)) - set(first)), 2)
            for i in range(10):
                with m.connect() as c:
                    self.assertEqual(round_trip(c, b"s%d" % i), b"s%d" % i)
            self.assertEqual(m.stop(), 1)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_with_user_a_dead_worker_is_not_replaced(self):
        # The parent gave up root: it could not bind what root bound.
        with Muxd("-p", "0", "--workers", "2", "-q", "--user", "nobody") as m:
            victim, survivor = children(m.proc.pid)
            os.kill(victim, signal.SIGKILL)
            m.wait_for_log("(pid %d) was killed by signal 9 (Killed); 1 of 2 "
                           "workers left; not restarted (--user: the parent "
                           "cannot bind any more)\n" % victim)
            self.assertEqual(children(m.proc.pid), [survivor])
            with m.connect() as c:
                self.assertEqual(round_trip(c, b"u"), b"u")
            self.assertEqual(m.stop(), 1)

    def test_a_stopped_worker_is_killed_and_replaced(self):
        with Muxd("-p", "0", "--workers", "2") as m:
            victim = children(m.proc.pid)[0]
            os.kill(victim, signal.SIGSTOP)
            m.wait_for_log("(pid %d) was stopped by signal 19 (Stopped "
                           "(signal)): its share of new clients waits; it is "
                           "killed and replaced unless it continues within "
                           "3 s\n" % victim)
            log = m.wait_for_log(" restarted: pid ")
            self.assertIn("(pid %d) stayed stopped for 3 s: killing it\n"
                          % victim, log)
            self.assertNotIn(victim, children(m.proc.pid))
            self.assertEqual(len(children(m.proc.pid)), 2)
            self.assertEqual(self.serve_200(m, len(log)), {"1", "2"})
            self.assertEqual(m.stop(), 1)

    def test_a_worker_continued_in_time_is_kept(self):
        with Muxd("-p", "0", "--workers", "2") as m:
            workers = children(m.proc.pid)
            os.kill(workers[0], signal.SIGSTOP)
            m.wait_for_log("(pid %d) was stopped by signal 19" % workers[0])
            os.kill(workers[0], signal.SIGCONT)
            log = m.wait_for_log("(pid %d) continued\n" % workers[0])
            self.assertEqual(children(m.proc.pid), workers)
            self.assertEqual(self.serve_200(m, len(log)), {"1", "2"})
            self.assertNotIn("killing it", m.stderr())
            self.assertEqual(m.stop(), 0)

    def test_a_worker_that_does_not_stop_is_killed(self):
        # A worker stopped (SIGSTOP) after the parent passed SIGTERM and
        # SIGCONT on cannot finish its shutdown: past --shutdown-timeout
        # and 3 s more the parent kills it, and exits 1.
        with Muxd("-p", "0", "--workers", "2", "--shutdown-timeout", "1") as m:
            workers = children(m.proc.pid)
            busy = m.connect()  # keeps one worker in its shutdown a while
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            m.proc.send_signal(signal.SIGTERM)
            m.wait_for_log("SIGTERM: stopping 2 workers")
            time.sleep(0.3)  # after the parent's SIGCONT
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass  # already gone
            self.assertEqual(m.proc.wait(timeout=muxtest.TIMEOUT), 1)
            self.assertIn("did not stop within 4 s of the stop signal: "
                          "killing it", m.stderr())
            busy.close()

    @unittest.skipUnless(have_pidfd(), "no pidfd_open")
    def test_workers_follow_a_killed_parent(self):
        with Muxd("-p", "0", "--workers", "2", "-q") as m:
            workers = children(m.proc.pid)
            m.kill()
            for pid in workers:
                self.assertTrue(wait_exit(pid), f"worker {pid} still runs")

    def test_more_clients_than_one_fd_setsize(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
        with Muxd("-p", "0", "--workers", "2", "-q") as m:
            clients = [m.connect() for _ in range(1300)]
            for i, c in enumerate(clients):
                self.assertEqual(round_trip(c, b"%d" % i), b"%d" % i)
            for c in clients:
                c.close()
            self.assertEqual(m.stop(), 0)

    def test_usage_errors(self):
        for args, msg in (
                (["--workers", "0"], "invalid worker count: '0'"),
                (["--workers", "2", "-l", "unix:/tmp/x.sock"],
                 "--workers cannot share a unix socket"),
                (["--workers", "2", "--max-accepts", "1"],
                 "--max-accepts cannot be combined with --workers")):
            code, _, err = run(*args)
            self.assertEqual(code, 2, args)
            self.assertIn(msg, err)

    def test_a_worker_that_cannot_listen_fails_the_start(self):
        s = tcp_listener()  # no SO_REUSEPORT: nobody may share it
        port = s.getsockname()[1]
        code, out, err = run("-p", str(port), "--workers", "2")
        s.close()
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        self.assertIn("muxd: worker 1: cannot listen on 127.0.0.1:%d" % port,
                      err)
        self.assertIn("muxd: worker 1 (pid ", err)
        self.assertIn("failed to start: exited with status 1", err)


if __name__ == "__main__":
    muxtest.main()
