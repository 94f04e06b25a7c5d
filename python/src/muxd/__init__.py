"""muxd as a test fixture: start the muxd binary on port 0 with a control
socket, wait until it is ready, change its faults while a test runs, read
its counters and clients, stop it and get its log.

    with muxd.Muxd("-s", "echo") as server:
        server.fault("refuse,first=2")
        sock = socket.create_connection(server.address)

Standard library only. The control socket's commands are those of
`muxd --control` (docs/fixtures.md in the muxd repository).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

__all__ = ["Muxd", "MuxdError", "find_binary"]
__version__ = "0.1.0"

# Options that give muxd a listener: without any, Muxd adds -l 127.0.0.1:0.
_LISTEN_OPTIONS = ("-l", "--listen", "-p", "--port", "--fd")


class MuxdError(Exception):
    """muxd could not be found or started, did not get ready in time, or
    its control socket answered with an error."""


def find_binary(binary=None):
    """The muxd to run: `binary`, else $MUXD, else muxd on PATH."""
    path = binary or os.environ.get("MUXD") or shutil.which("muxd")
    if not path:
        raise MuxdError("muxd not found: pass binary=, set $MUXD, or put "
                        "muxd on PATH")
    if not os.access(path, os.X_OK):
        raise MuxdError(f"muxd not executable: {path}")
    return path


def _parse_address(line):
    """'tcp 127.0.0.1:80' -> ('tcp', ('127.0.0.1', 80)); '[::1]:80' loses
    its brackets; 'unix /p' -> ('unix', '/p')."""
    transport, _, text = line.partition(" ")
    if transport == "unix":
        return transport, text
    host, _, port = text.rpartition(":")
    return transport, (host.strip("[]"), int(port))


class Muxd:
    """A running muxd, started with `args` (muxd's options) plus a control
    socket and a ready file in a private temporary directory, and
    -l 127.0.0.1:0 unless `args` give a listener. Returns once muxd is
    ready (at most `timeout` seconds). Use it as a context manager, or
    call stop()."""

    def __init__(self, *args, binary=None, timeout=10.0):
        self.binary = find_binary(binary)
        self.timeout = timeout
        self._dir = tempfile.mkdtemp(prefix="muxd-")
        self.control_path = os.path.join(self._dir, "control.sock")
        self._ready_path = os.path.join(self._dir, "ready")
        self._log_path = os.path.join(self._dir, "muxd.log")
        self.returncode = None
        argv = [self.binary, *map(str, args)]
        if not any(a.split("=")[0] in _LISTEN_OPTIONS for a in argv[1:]):
            argv += ["-l", "127.0.0.1:0"]
        argv += ["--control", "unix:" + self.control_path,
                 "--ready-file", self._ready_path]
        # The log goes to a file: never a pipe that fills up and stops muxd.
        with open(self._log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self):
        deadline = time.monotonic() + self.timeout
        while not (os.path.exists(self._ready_path) and
                   os.path.exists(self.control_path)):
            if self.proc.poll() is not None:
                raise MuxdError(f"muxd exited with status "
                                f"{self.proc.returncode}: {self.log}")
            if time.monotonic() > deadline:
                raise MuxdError(f"muxd not ready within {self.timeout} s: "
                                f"{self.log}")
            time.sleep(0.01)
        with open(self._ready_path) as f:
            self.addresses = [_parse_address(line) for line in
                              f.read().splitlines() if line]

    @property
    def address(self):
        """The first listener: a (host, port) tuple for
        socket.create_connection(), or a unix socket's path."""
        return self.addresses[0][1]

    @property
    def log(self):
        """What muxd logged so far (stdout and stderr)."""
        try:
            with open(self._log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    # ---- the control socket ----

    def command(self, line):
        """Sends one control command; returns its reply (a dict). Raises
        MuxdError for an error reply ({"ok": false, ...})."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(self.timeout)
            try:
                s.connect(self.control_path)
                s.sendall(line.encode() + b"\n")
                reply = b""
                while not reply.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
            except OSError as e:
                raise MuxdError(f"control socket: {e}") from e
        if not reply.endswith(b"\n"):
            raise MuxdError(f"no reply to {line!r}: {self.log}")
        answer = json.loads(reply)
        if answer.get("ok") is False:
            raise MuxdError(f"{line}: {answer.get('error')}")
        return answer

    def fault(self, spec):
        """Adds a fault (a --fault spec); returns its id."""
        return self.command(f"fault add {spec}")["id"]

    def faults(self):
        """The faults in force: [{"id": N, "spec": "..."}, ...]."""
        return self.command("fault list")["faults"]

    def del_fault(self, fault_id):
        self.command(f"fault del {int(fault_id)}")

    def clear_faults(self):
        self.command("fault clear")

    def clients(self):
        """[{"id", "peer", "bytes_in", "bytes_out", "age_ms"}, ...]."""
        return self.command("clients")["clients"]

    def stats(self):
        """{"clients", "accepted", "refused", "bytes_in", "bytes_out", ...}."""
        return self.command("stats")

    def kick(self, client_id):
        self.command(f"kick {int(client_id)}")

    def pause(self):
        """Stops accepting: new clients wait in the backlog."""
        self.command("pause")

    def resume(self):
        self.command("resume")

    def refuse(self, on=True):
        """Resets new clients (on) or serves them again (off)."""
        self.command("refuse on" if on else "refuse off")

    # ---- the end ----

    def stop(self, timeout=None):
        """Stops muxd (SIGTERM: a graceful stop; SIGKILL if it is not over
        within `timeout`) and removes its files. Returns (exit status,
        log). Calling it again returns the same."""
        if self.returncode is None:
            wait = self.timeout if timeout is None else timeout
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.returncode = self.proc.returncode
            self._final_log = self.log
            shutil.rmtree(self._dir, ignore_errors=True)
        return self.returncode, self._final_log

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<Muxd pid={self.proc.pid} address={self.address!r}>"
