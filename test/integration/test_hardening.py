"""Limits, faults and hostile clients: muxd keeps serving everyone else,
loses nothing and stays bounded."""

import os
import re
import resource
import selectors
import signal
import socket
import threading
import time
import unittest

import muxtest
from muxtest import fd_count
from muxtest import (
    Muxd, cpu_seconds, recv_exactly, recv_until_close, round_trip, rss_kib)

FULL = b"muxd: server full\n"


def with_nofile(n):
    return nofile(n, n)


def nofile(soft, hard):
    """For preexec_fn: the child's fd limits."""
    def preexec():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return preexec


def allow_fds(test, n):
    """Raises this process's soft fd limit to at least n, leaving the hard
    one alone (a later test may need more); skips, saying why, where the
    hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n:
        test.skipTest(f"the hard fd limit ({hard}) is below {n}: raise it "
                      "(ulimit -Hn) to run this test")
    if soft != resource.RLIM_INFINITY and soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def nofile_of(pid):
    """(soft, hard) fd limits of a running process."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no fd limit in /proc/PID/limits")


def fds_of(pid):
    return [int(fd) for fd in os.listdir(f"/proc/{pid}/fd")]


def assert_echoed(test, m, sock, msg):
    """A round trip through muxd `m` that must bring msg back; if it does
    not, the failure says what came back and what muxd says about it
    (for a client that loses its connection now and then)."""
    try:
        got = round_trip(sock, msg)
    except OSError as e:  # reset, or no reply within the bound
        got = e
    if got != msg:
        test.fail(f"sent {msg!r}, got back {got!r}\n{m.diagnosis(sock)}")


def fill_fds(last):
    """A wrapper that runs its command with fds 3..last all open on
    /dev/null, whatever the test process itself holds."""
    script = (f'for i in $(seq 3 {last}); do eval "exec $i</dev/null"; '
              'done; exec "$@"')
    return ("bash", "-c", script, "fill_fds")


def fd_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def muxd_inheriting(held):
    """`muxd -p 0 -q` with the fds `held` inherited (closed here after)."""
    try:
        return Muxd("-p", "0", "-q", pass_fds=held)
    finally:
        for fd in held:
            os.close(fd)


def connect_and_classify(m, count, settle):
    """`count` clients, `settle` seconds, then (clients, served, refused)."""
    clients = [m.connect() for _ in range(count)]
    time.sleep(settle)
    return (clients, *classify(clients))


def classify(clients):
    """Reads from each client after sending a probe: (served, refused)."""
    served, refused = [], []
    for c in clients:
        try:
            c.sendall(b"probe")
        except OSError:
            pass  # already closed by muxd: a refusal
        data = b""
        c.settimeout(muxtest.TIMEOUT)
        try:
            while data != b"probe" and len(data) < len(FULL):
                chunk = c.recv(64)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        if data == b"probe":
            served.append(c)
        else:
            # a refused client may see the line, or a reset if it was fast
            refused.append((c, data))
    return served, refused


class ClientLimit(unittest.TestCase):
    def test_max_clients_5_of_10(self):
        with Muxd("-p", "0", "-m", "5") as m:
            clients = [m.connect() for _ in range(10)]
            time.sleep(0.2)  # every accept has happened (not a readiness wait)
            served, refused = classify(clients)
            self.assertEqual(len(served), 5)
            self.assertEqual(len(refused), 5)
            for _, data in refused:
                self.assertIn(data, (FULL, b""))
            self.assertTrue(any(d == FULL for _, d in refused))
            for c in served:  # everyone admitted is still served
                self.assertEqual(round_trip(c, b"again"), b"again")
            for c in clients:
                c.close()
            self.assertEqual(m.stop(), 0)
            self.assertIn("server full", m.stderr())

    def test_1500_clients_all_served_once_the_limit_is_raised(self):
        # Started with the usual soft limit of 1024 and a hard one of 4096:
        # muxd raises its soft limit, and its sets grow past FD_SETSIZE.
        allow_fds(self, 4096)
        with Muxd("-p", "0", "-q", preexec_fn=nofile(1024, 4096)) as m:
            self.assertEqual(nofile_of(m.proc.pid), (4096, 4096))
            clients = [m.connect() for _ in range(1500)]
            served, refused = classify(clients)
            self.assertEqual(len(refused), 0)
            self.assertEqual(len(served), 1500)
            self.assertGreater(max(fds_of(m.proc.pid)), 1500)
            for c in served[:50] + served[-50:]:
                self.assertEqual(round_trip(c, b"still here"), b"still here")
            for c in clients:
                c.close()
            self.assertEqual(m.stop(), 0)

    def test_server_full_at_the_real_fd_limit(self):
        # A hard limit of 1200: the default limit is what it leaves, well
        # past FD_SETSIZE, and the rest are told "server full".
        allow_fds(self, 4096)
        with Muxd("-p", "0", "-q", preexec_fn=with_nofile(1200)) as m:
            clients, served, refused = connect_and_classify(m, 1500, 0.5)
            self.assertGreater(len(served), 1150)
            self.assertLess(len(served), 1200)
            self.assertEqual(len(served) + len(refused), 1500)
            self.assertTrue(any(d == FULL for _, d in refused))
            for c in served[-20:]:
                self.assertEqual(round_trip(c, b"last ones"), b"last ones")
            for c in clients:
                c.close()
            self.assertEqual(m.stop(), 0)

    def test_a_high_inherited_fd_leaves_the_rest_to_clients(self):
        # The free fds are counted: one inherited at 900 takes one slot,
        # not the 900 below it.
        allow_fds(self, 4096)
        high = next(fd for fd in range(900, 1000) if not fd_open(fd))
        tmp = os.open("/dev/null", os.O_RDONLY)
        os.dup2(tmp, high)
        os.close(tmp)
        with muxd_inheriting([high]) as m:
            clients, served, refused = connect_and_classify(m, 300, 0.3)
            self.assertEqual(len(refused), 0)
            self.assertEqual(len(served), 300)
            for c in clients:
                c.close()
            self.assertEqual(m.stop(), 0)


class FdSetSize(unittest.TestCase):
    """muxd started with inherited fds filling 3..1102, past FD_SETSIZE.
    The fds are opened by a bash wrapper, so the layout does not depend on
    what the test process holds. Once muxd refused to start here (no fd
    below FD_SETSIZE for its pipe); now its fds go above, and it serves."""

    def setUp(self):
        allow_fds(self, 4096)

    def test_inherited_fds_past_fd_setsize_leave_the_rest_to_clients(self):
        with Muxd("-p", "0", "-q", wrapper=fill_fds(1102)) as m:
            clients, served, refused = connect_and_classify(m, 300, 0.2)
            self.assertEqual(len(refused), 0)
            self.assertEqual(len(served), 300)
            # The listener and every client sit above the inherited fds.
            self.assertGreater(min(fd for fd in fds_of(m.proc.pid)
                                   if fd > 2 and not 3 <= fd <= 1102), 1102)
            for c in served[:10] + served[-10:]:
                self.assertEqual(round_trip(c, b"ok"), b"ok")
            for c in clients:
                c.close()
            self.assertEqual(m.stop(), 0)


class TenThousandClients(unittest.TestCase):
    """10,000 clients held at once by one muxd, every one served."""

    COUNT = 10000

    def setUp(self):
        allow_fds(self, self.COUNT + 200)  # the clients' ends, here

    def test_10000_clients_in_one_muxd(self):
        with Muxd("-p", "0") as m:  # not -q: a failure shows muxd's log
            rss_before = rss_kib(m.proc.pid)
            clients = [m.connect() for _ in range(self.COUNT)]
            for i, c in enumerate(clients):
                c.sendall(b"%d;" % i)
            for i, c in enumerate(clients):  # every one answered
                got = recv_exactly(c, len(b"%d;" % i))
                if got != b"%d;" % i:
                    self.fail(f"client {i} got {got!r}\n{m.diagnosis(c)}")
            self.assertGreaterEqual(fd_count(m.proc.pid), self.COUNT)
            # Small per idle client (the bench measures it: under 1 KiB).
            per_client = (rss_kib(m.proc.pid) - rss_before) / self.COUNT
            self.assertLess(per_client, 2.0)
            for c in clients[::100]:  # still served, after all that
                assert_echoed(self, m, c, b"again")
            for c in clients:
                c.close()
            self.assertEqual(m.stop(), 0)


class OutOfFds(unittest.TestCase):
    def run_emfile(self, *extra):
        with Muxd("-p", "0", "-q", *extra, preexec_fn=with_nofile(64)) as m:
            clients = [m.connect() for _ in range(200)]
            time.sleep(0.3)
            cpu_before = cpu_seconds(m.proc.pid)
            time.sleep(1.0)  # clients wait; muxd must not spin meanwhile
            cpu_used = cpu_seconds(m.proc.pid) - cpu_before
            self.assertLess(cpu_used, 0.5, "muxd spins while out of fds")
            served, refused = classify(clients)
            self.assertGreater(len(served), 10)
            self.assertGreater(len(refused), 0)
            for c in clients:
                c.close()
            time.sleep(0.3)
            late = [m.connect() for _ in range(10)]  # served once others left
            for c in late:
                self.assertEqual(round_trip(c, b"late"), b"late")
                c.close()
            self.assertEqual(m.stop(), 0)

    def test_emfile_sheds_clients_without_spinning(self):
        self.run_emfile("-m", "1000")  # a limit above the fds: hits EMFILE

    def test_default_limit_follows_the_fd_limit(self):
        self.run_emfile()


class SlowReader(unittest.TestCase):
    def test_100mb_to_a_client_that_never_reads(self):
        with Muxd("-p", "0") as m:
            hog = m.connect()
            hog.settimeout(2.0)
            chunk = b"x" * (1 << 20)
            stop = threading.Event()
            sent = [0]

            def flood():
                try:
                    while sent[0] < 100 * len(chunk) and not stop.is_set():
                        sent[0] += hog.send(chunk)
                except OSError:
                    pass  # send timed out: muxd stopped reading, as it should

            t = threading.Thread(target=flood)
            t.start()
            others = [m.connect() for _ in range(10)]
            worst = 0.0
            for i in range(30):
                for c in others:
                    start = time.monotonic()
                    assert_echoed(self, m, c, b"rt%d" % i)
                    worst = max(worst, time.monotonic() - start)
            t.join(30)
            stop.set()
            self.assertLess(rss_kib(m.proc.pid), 64 * 1024)
            self.assertLess(sent[0], 100 * len(chunk), "muxd never pushed back")
            print(f"slow reader: {sent[0] >> 20} MiB taken before push-back, "
                  f"worst round trip of others {worst * 1000:.1f} ms, "
                  f"RSS {rss_kib(m.proc.pid)} KiB")
            hog.close()
            for c in others:
                assert_echoed(self, m, c, b"after")
                c.close()


class EndlessLine(unittest.TestCase):
    def test_10mb_without_a_newline(self):
        with Muxd("-p", "0", "--framing", "line") as m:
            other = m.connect()
            c = m.connect()
            stop = threading.Event()

            def flood():
                chunk = b"n" * 65536
                try:
                    for _ in range(160):  # 10 MiB, no newline
                        if stop.is_set():
                            return
                        c.sendall(chunk)
                except OSError:
                    pass  # muxd closed it: expected

            t = threading.Thread(target=flood)
            t.start()
            reply = recv_until_close(c)
            stop.set()
            t.join(muxtest.TIMEOUT)
            self.assertEqual(reply, b"error: line too long (max 65536 bytes)\n")
            self.assertLess(rss_kib(m.proc.pid), 16 * 1024)
            self.assertEqual(round_trip(other, b"fine\n"), b"fine\n")
            other.close()
            c.close()
            self.assertEqual(m.stop(), 0)
            self.assertIn("line too long", m.stderr())


class Escaping(unittest.TestCase):
    def test_client_bytes_are_escaped_in_the_log(self):
        with Muxd("-p", "0", "-s", "ack") as m:
            c = m.connect()
            c.sendall(b"evil\x1b[31m\r\nline\x00\xff\"end")
            self.assertEqual(recv_until_close(c), b"ACK!")
            c.close()
            self.assertEqual(m.stop(), 0)
            err = m.stderr()
            self.assertIn(r'received: evil\x1b[31m\r\nline\x00\xff\"end', err)
            self.assertNotIn("\x1b", err)
            for ch in err:
                self.assertTrue(ch == "\n" or " " <= ch <= "~", repr(ch))


class Timeouts(unittest.TestCase):
    def test_idle_clients_are_closed_active_ones_kept(self):
        with Muxd("-p", "0", "--idle-timeout", "0.4") as m:
            idle, busy = m.connect(), m.connect()
            deadline = time.monotonic() + 1.2
            while time.monotonic() < deadline:
                self.assertEqual(round_trip(busy, b"."), b".")
                time.sleep(0.1)
            self.assertEqual(recv_until_close(idle), b"")  # closed by muxd
            self.assertEqual(round_trip(busy, b"still"), b"still")
            busy.close()
            idle.close()
            self.assertEqual(m.stop(), 0)
            self.assertIn(": idle timeout", m.stderr())


class HalfCloseAndResets(unittest.TestCase):
    def test_half_close_still_gets_every_reply(self):
        payload = os.urandom(3 << 20)
        with Muxd("-p", "0", "-q") as m:
            s = m.connect()
            t = threading.Thread(
                target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
            t.start()
            self.assertEqual(recv_until_close(s), payload)
            t.join(muxtest.TIMEOUT)
            s.close()

    def test_reset_mid_transfer_is_noticed_by_nobody_else(self):
        with Muxd("-p", "0") as m:
            other = m.connect()
            for _ in range(5):
                s = m.connect()
                s.sendall(os.urandom(4 << 20) if False else b"y" * (2 << 20))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()  # RST while muxd is still writing the echo
                self.assertEqual(round_trip(other, b"fine"), b"fine")
            other.close()
            self.assertEqual(m.stop(), 0)  # alive: no SIGPIPE killed it
            err = m.stderr()
            self.assertEqual(err.count("closed 127.0.0.1"), 6)


class ResetsAroundOthers(unittest.TestCase):
    """Clients that go away abruptly, some with MiBs of output pending,
    while others round-trip: the others never lose their connection. The
    scenario of a loss seen once (test_100mb_to_a_client_that_never_reads,
    in the ASan build); closed connections' structs are reused by the next
    clients in the plain build, so both builds run it."""

    ROUND_TRIPPERS = 10
    SECONDS = 3.0
    ABORTIVE = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # SO_LINGER {1, 0}

    def hog(self, m, stop, resets):
        """Floods without reading until muxd pushes back, then resets."""
        while not stop.is_set():
            with m.connect() as s:
                s.setblocking(False)
                deadline = time.monotonic() + 0.3
                while time.monotonic() < deadline:
                    try:
                        s.send(b"x" * (1 << 20))
                    except BlockingIOError:
                        time.sleep(0.01)  # pushed back: keep it full a while
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             self.ABORTIVE)
            resets[0] += 1

    def churn(self, m, stop):
        """Connects, sends, and leaves in turn by RST, FIN, or half-close."""
        for n in range(1 << 30):
            if stop.is_set():
                return
            with m.connect() as s:
                s.sendall(b"y" * (100, 70000)[n % 2])
                if n % 3 == 0:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 self.ABORTIVE)
                elif n % 3 == 1:
                    s.shutdown(socket.SHUT_WR)
                    recv_until_close(s)

    def round_trips(self, m, k, stop, failures, done):
        with m.connect() as c:
            for i in range(1 << 30):
                if stop.is_set():
                    done[k] = i
                    return
                msg = b"%d.%d;" % (k, i) * (1 + i % 40)
                try:
                    got = round_trip(c, msg)
                except OSError as e:
                    got = e
                if got != msg:
                    failures.append(f"client {k}, round trip {i}: sent "
                                    f"{len(msg)} bytes, got back {got!r:.80}"
                                    f"\n{m.diagnosis(c)}")
                    stop.set()
                    return

    def test_resets_with_output_pending_lose_nobody_else(self):
        with Muxd("-p", "0") as m:
            stop, failures, resets = threading.Event(), [], [0]
            done = [0] * self.ROUND_TRIPPERS

            def guarded(fn, *args):  # a hog or churner muxd failed
                try:
                    fn(*args)
                except OSError as e:
                    failures.append(f"{fn.__name__}: {e!r}\n{m.diagnosis()}")
                    stop.set()

            threads = [threading.Thread(target=self.round_trips,
                                        args=(m, k, stop, failures, done))
                       for k in range(self.ROUND_TRIPPERS)]
            threads += [threading.Thread(target=guarded,
                                         args=(self.hog, m, stop, resets))
                        for _ in range(2)]
            threads += [threading.Thread(target=guarded,
                                         args=(self.churn, m, stop))
                        for _ in range(2)]
            for t in threads:
                t.start()
            stop.wait(self.SECONDS)
            stop.set()
            for t in threads:
                t.join(muxtest.TIMEOUT)
            self.assertFalse(failures, f"{len(failures)} failed; the first: "
                             f"{failures[0] if failures else ''}")
            self.assertEqual(m.stop(), 0)  # alive, and a clean exit
            # The scenario happened: hogs reset with a MiB or more unsent.
            pending = [int(i) - int(o) for i, o in re.findall(
                r"(?:reset by client|Broken pipe) \((\d+) bytes in, "
                r"(\d+) bytes out", m.stderr())]
            big = sum(p >= 1 << 20 for p in pending)
            self.assertGreaterEqual(resets[0], 4)
            self.assertGreaterEqual(big, 4, sorted(pending)[-8:])
            print(f"resets around others: {sum(done)} round trips, none "
                  f"lost; {resets[0]} hogs reset ({big} with 1 MiB or more "
                  f"unsent, at most {max(pending) >> 10} KiB)")


class Fairness(unittest.TestCase):
    def test_a_flood_does_not_starve_round_trips(self):
        with Muxd("-p", "0", "-q") as m:
            flooder = m.connect()
            stop = threading.Event()

            def flood():
                msg = b"flood " * 1000
                while not stop.is_set():
                    flooder.sendall(msg)

            def drain():
                flooder.settimeout(0.5)
                while not stop.is_set():
                    try:
                        if not flooder.recv(1 << 16):
                            return
                    except OSError:
                        pass

            threads = [threading.Thread(target=flood),
                       threading.Thread(target=drain)]
            for t in threads:
                t.start()
            try:
                c = m.connect()
                for i in range(200):
                    self.assertEqual(round_trip(c, b"%d;" % i), b"%d;" % i)
                c.close()
            finally:
                stop.set()
                for t in threads:
                    t.join(muxtest.TIMEOUT)
                flooder.close()


class GracefulShutdown(unittest.TestCase):
    def test_sigterm_answers_100_messages_in_flight(self):
        with Muxd("-p", "0", "-q") as m:
            clients = [m.connect() for _ in range(100)]
            for i, c in enumerate(clients):
                round_trip(c, b"hi")  # every client is accepted
            for i, c in enumerate(clients):
                c.sendall(b"in flight %03d" % i)
            m.send_signal(signal.SIGTERM)
            for i, c in enumerate(clients):
                self.assertEqual(recv_until_close(c), b"in flight %03d" % i)
                c.close()
            self.assertEqual(m.wait(), 0)

    def test_sigterm_answers_the_clients_still_in_the_backlog(self):
        # muxd stopped: 100 connects complete in the kernel's queue and
        # each sends a line; SIGTERM, then SIGCONT. The listener's queue
        # is emptied before it closes: every client gets its echo, none
        # a reset.
        with Muxd("-p", "0", "-q") as m:
            m.send_signal(signal.SIGSTOP)
            try:
                clients = [m.connect() for _ in range(100)]
                for i, c in enumerate(clients):
                    c.sendall(b"waiting %03d\n" % i)
                m.send_signal(signal.SIGTERM)
            finally:
                m.send_signal(signal.SIGCONT)
            for i, c in enumerate(clients):
                self.assertEqual(recv_until_close(c), b"waiting %03d\n" % i)
                c.close()
            self.assertEqual(m.wait(), 0)

    def test_shutdown_timeout_bounds_the_wait(self):
        with Muxd("-p", "0", "-q", "--shutdown-timeout", "0.3") as m:
            c = m.connect()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.sendall(b"z" * 65536)  # more than it will read: output waits
            start = time.monotonic()
            m.send_signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)
            self.assertLess(time.monotonic() - start, 3.0)
            c.close()


class AccessLists(unittest.TestCase):
    def test_deny(self):
        with Muxd("-p", "0", "--deny", "127.0.0.0/8") as m:
            c = m.connect()
            self.assertEqual(recv_until_close(c), b"")  # closed, no message
            c.close()
            self.assertEqual(m.stop(), 0)
            self.assertRegex(m.stderr(), r"refused 127\.0\.0\.1:\d+ .*denied by --deny")

    def test_allow_admits_only_the_listed_source(self):
        with Muxd("-H", "127.0.0.1", "-p", "0", "--allow", "127.0.0.2/32") as m:
            bad = m.connect()
            self.assertEqual(recv_until_close(bad), b"")
            good = socket.socket()
            good.settimeout(muxtest.TIMEOUT)
            good.bind(("127.0.0.2", 0))
            good.connect(("127.0.0.1", m.port))
            self.assertEqual(round_trip(good, b"allowed"), b"allowed")
            good.close()
            bad.close()
            self.assertEqual(m.stop(), 0)
            self.assertIn("not in --allow", m.stderr())

    @unittest.skipUnless(muxtest.ipv6_available(), "no IPv6 loopback")
    def test_ipv6_deny(self):
        with Muxd("-l", "[::1]:0", "-l", "127.0.0.1:0", "--deny", "::1/128",
                  "-q", listeners=2) as m:
            v6 = m.connect(0)
            self.assertEqual(recv_until_close(v6), b"")
            v4 = m.connect(1)
            self.assertEqual(round_trip(v4, b"v4"), b"v4")
            v4.close()
            v6.close()

    def test_bad_cidr_is_a_usage_error(self):
        for bad in ("10.0.0.0/33", "nope", "::1/129", "1.2.3.4/"):
            code, _, err = muxtest.run("--allow", bad)
            self.assertEqual(code, 2, bad)
            self.assertIn("invalid CIDR", err)


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class Privileges(unittest.TestCase):
    def test_user_drops_privileges_after_binding(self):
        with Muxd("-p", "0", "-q", "--user", "nobody") as m:
            with open(f"/proc/{m.proc.pid}/status") as f:
                uid_line = next(l for l in f if l.startswith("Uid:"))
            self.assertEqual(set(uid_line.split()[1:]), {"65534"})
            c = m.connect()
            self.assertEqual(round_trip(c, b"as nobody"), b"as nobody")
            c.close()

    def test_unknown_user(self):
        code, out, err = muxtest.run("-p", "0", "--user", "no-such-user-x")
        self.assertEqual(code, 1)
        self.assertIn("cannot switch to user no-such-user-x: no such user", err)

    def test_low_port_without_privileges_says_why(self):
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            if int(f.read()) <= 1:
                self.skipTest("unprivileged low ports are allowed here")
        p = muxtest.subprocess.run(
            [muxtest.binary("muxd"), "-p", "1"], capture_output=True,
            timeout=muxtest.TIMEOUT, preexec_fn=lambda: os.setuid(65534))
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"cannot listen on 127.0.0.1:1: Permission denied "
                      b"(ports below 1024 need root or CAP_NET_BIND_SERVICE)",
                      p.stderr)


class NoLeaks(unittest.TestCase):
    def test_fd_count_after_10000_connections(self):
        with Muxd("-p", "0", "-q") as m:
            c = m.connect()
            self.assertEqual(round_trip(c, b"warm"), b"warm")
            c.close()
            time.sleep(0.1)
            before = fd_count(m.proc.pid)
            for i in range(10000):
                c = socket.create_connection(("127.0.0.1", m.port), 5)
                if i % 10 == 0:
                    self.assertEqual(round_trip(c, b"x"), b"x")
                c.close()
            c = m.connect()  # a last round trip: every close was processed
            self.assertEqual(round_trip(c, b"last"), b"last")
            c.close()
            deadline = time.monotonic() + muxtest.TIMEOUT
            while fd_count(m.proc.pid) != before and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(fd_count(m.proc.pid), before)


if __name__ == "__main__":
    muxtest.main()
