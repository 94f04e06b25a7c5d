"""Helpers for the integration tests: start the real muxd, wait for its
ready lines, talk to it over real sockets, stop it. Every wait is bounded."""

import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def find_build_dir():
    """Where the binaries under test are: $MUX_BUILD_DIR (CTest sets it to
    its own build), else build/plain (scripts/test.sh), else build (the
    README's build by hand), whichever holds a muxd."""
    if os.environ.get("MUX_BUILD_DIR"):
        return os.environ["MUX_BUILD_DIR"]
    for sub in ("build/plain", "build"):
        path = os.path.join(SOURCE_DIR, sub)
        if os.path.exists(os.path.join(path, "muxd")):
            return path
    return os.path.join(SOURCE_DIR, "build", "plain")


BUILD_DIR = find_build_dir()
TIMEOUT = 10.0  # seconds: the bound of every wait in these tests
READY_RE = re.compile(r"^listening on (tcp|udp|unix) (.+)$")


def binary(name):
    """The path of a built program; a missing one fails the test (never a
    skip: a test that cannot find what it tests has not passed)."""
    path = os.path.join(BUILD_DIR, name)
    if not os.path.exists(path):
        raise AssertionError(
            f"{path} is not built: build it (cmake -S . -B build && cmake "
            f"--build build), or set MUX_BUILD_DIR to the build directory")
    return path


def require_tool(name, package):
    """The path of an outside program a test drives (nc, valgrind, ...);
    missing, the test fails and says what to install. The sbin
    directories count too (rdate lives there; a user's PATH may lack it)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not path:
        raise AssertionError(
            f"{name} is not installed (apt-get install {package}; "
            f"scripts/test.sh installs it)")
    return path


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def split_addr(transport, text):
    """'127.0.0.1:80' -> ('127.0.0.1', 80); '[::1]:80' -> ('::1', 80);
    a unix path stays a path."""
    if transport == "unix":
        return text
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class Muxd:
    """A running muxd. `listeners` is the list of (transport, address) from
    its ready lines, in order."""

    def __init__(self, *args, listeners=1, binary_name="muxd", wrapper=(),
                 stderr=None, **popen):
        """Starts `binary_name` with args; `wrapper` (e.g. valgrind and
        its options) goes in front of it. stderr: where its stderr goes
        (default: a temporary file that stderr() reads)."""
        self.stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [*wrapper, binary(binary_name), *args], stdout=subprocess.PIPE,
            stderr=self.stderr_file if stderr is None else stderr,
            stdin=subprocess.DEVNULL, **popen)
        self.listeners = []
        self._out = b""
        deadline = time.monotonic() + TIMEOUT
        while len(self.listeners) < listeners:
            line = self.readline(deadline)
            if line is None:
                self.kill()
                raise AssertionError(
                    f"muxd gave no ready line; stderr: {self.stderr()!r}")
            m = READY_RE.match(line)
            if not m:
                raise AssertionError(f"unexpected stdout line: {line!r}")
            self.listeners.append((m.group(1), split_addr(m.group(1), m.group(2))))

    def readline(self, deadline):
        """One line of stdout, or None at EOF or when the deadline passes."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._out:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sel = selectors.DefaultSelector()
            sel.register(fd, selectors.EVENT_READ)
            ready = sel.select(left)
            sel.close()
            if not ready:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self._out += chunk
        line, _, self._out = self._out.partition(b"\n")
        return line.decode()

    @property
    def port(self):
        return self.listeners[0][1][1]

    @property
    def addr(self):
        return self.listeners[0][1]

    def connect(self, index=0, timeout=TIMEOUT):
        transport, addr = self.listeners[index]
        if transport == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
            kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
            s = socket.socket(family, kind)
        s.settimeout(timeout)
        try:
            s.connect(addr)
        except OSError:
            s.close()
            raise
        return s

    def stderr(self):
        """What muxd wrote to stderr so far. Read with pread(): a seek
        would move the file offset muxd shares, and its next line would
        overwrite the start of the log."""
        fd = self.stderr_file.fileno()
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        return data.decode(errors="replace")

    def wait_for_log(self, text, count=1, timeout=TIMEOUT):
        """Waits (bounded) until stderr holds `text` `count` times; returns
        stderr."""
        deadline = time.monotonic() + timeout
        while True:
            err = self.stderr()
            if err.count(text) >= count:
                return err
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {count} x {text!r} logged; stderr: {err!r}")
            time.sleep(0.01)

    def diagnosis(self, client=None, wait=1.0):
        """Why a client may have lost its connection, for the message of a
        failing test: whether muxd still runs, and if not its exit status
        or the signal that ended it (a graceful exit is waited for up to
        `wait` s); whether it still accepts (a shutdown closes the
        listeners first: a stop signal from elsewhere, such as a stray
        `pkill muxd`, which also reaches a muxd in a chroot, shows this
        way even under -q); muxd's log lines about `client` (a socket);
        and the end of its log without the accept lines."""
        try:
            status = self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            status = None
        if status is None:
            state = f"muxd (pid {self.proc.pid}) still runs"
        elif status < 0:
            state = (f"muxd was killed by {signal.Signals(-status).name}, "
                     "which this test never sends")
        else:
            state = (f"muxd exited with status {status} (0: it was asked "
                     "to stop, by a signal or --max-accepts; 1: it failed, "
                     "or a sanitizer report ended it)")
        lines = [state + ("; " + self._accepting() if status is None else "")]
        log = self.stderr().splitlines()
        if client is not None:
            port = client.getsockname()[1]
            mine = [l for l in log if re.search(rf"[:\]]{port}\b", l)]
            lines.append(f"its log about the client on port {port}: "
                         + ("\n  ".join(mine) if mine else "nothing"))
        rest = [l for l in log if ": accepted " not in l][-30:]
        lines.append("its log ends (accepts left out):\n  " + "\n  ".join(rest))
        return "\n".join(lines)

    def _accepting(self):
        """Whether muxd's first TCP or unix listener still takes clients."""
        if not self.listeners or self.listeners[0][0] == "udp":
            return "no stream listener to try"
        try:
            self.connect(timeout=2.0).close()
            return "it still accepts clients"
        except OSError as e:
            return f"it no longer accepts clients ({e}): a shutdown began?"

    def send_signal(self, signo):
        self.proc.send_signal(signo)

    def wait(self, timeout=TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def stop(self, signo=signal.SIGTERM, timeout=TIMEOUT):
        """Sends signo and returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signo)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self.proc.stdout.close()
        self.stderr_file.close()


def run(*args, timeout=TIMEOUT, binary_name="muxd", input=None):
    """Runs a binary to completion: (exit status, stdout, stderr)."""
    p = subprocess.run([binary(binary_name), *args], capture_output=True,
                       timeout=timeout, input=input)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def tcp_listener(backlog=128):
    """A listening TCP socket on 127.0.0.1, any free port: a port taken,
    or a socket to hand to muxd."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


def recv_exactly(sock, n, timeout=TIMEOUT):
    """Reads n bytes (less only if the peer closes first)."""
    sock.settimeout(timeout)
    chunks, got = [], 0
    while got < n:
        b = sock.recv(min(65536, n - got))
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def recv_until_close(sock, timeout=TIMEOUT, limit=64 << 20):
    sock.settimeout(timeout)
    chunks, got = [], 0
    while got < limit:
        b = sock.recv(65536)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def round_trip(sock, msg):
    """Sends msg and reads as many bytes back."""
    sock.sendall(msg)
    return recv_exactly(sock, len(msg))


def openbsd_nc():
    """The path of OpenBSD netcat (it has -N and -U); a test that needs it
    fails without it."""
    path = require_tool("nc", "netcat-openbsd")
    usage = subprocess.run([path, "-h"], capture_output=True, timeout=TIMEOUT)
    if b"OpenBSD netcat" not in usage.stdout + usage.stderr:
        raise AssertionError(f"{path} is not OpenBSD netcat "
                             "(apt-get install netcat-openbsd)")
    return path


def fd_count(pid):
    """How many fds process `pid` holds open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def children(pid):
    """Pids of the live processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def wait_until(predicate, timeout=TIMEOUT):
    """Polls predicate() until it holds or the bound passes; its last
    value."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def _proc_status(pid, key):
    """A kB figure of /proc/PID/status (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def rss_kib(pid):
    """A process's resident set now, in KiB."""
    return _proc_status(pid, "VmRSS")


def peak_rss_kib(pid):
    """A process's peak resident set (VmHWM): the most it ever had, in KiB."""
    return _proc_status(pid, "VmHWM")


def cpu_seconds(pid):
    """CPU seconds (user + system) a process used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Control:
    """One connection to a control socket: command() sends a line and
    returns the parsed reply."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"control closed; got {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def command(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return json.loads(self.line())

    def close(self):
        self.sock.close()


def main():
    unittest.main(verbosity=2)


class ConnectionAsserts:
    """For a unittest.TestCase: how a test sees muxd end or refuse a
    connection (a proxy disabled, deleted, moved)."""

    def assert_closed(self, sock):
        """muxd ended the connection: EOF, or a reset."""
        sock.settimeout(TIMEOUT)
        try:
            self.assertEqual(sock.recv(16), b"")
        except ConnectionResetError:
            pass

    def assert_refused(self, port):
        """Nothing listens on 127.0.0.1:port."""
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port),
                                     timeout=TIMEOUT).close()
