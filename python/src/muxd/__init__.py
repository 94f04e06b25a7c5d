"""muxd as a test fixture: start the muxd binary on port 0 with a control
socket, wait until it is ready, change its faults while a test runs, read
its counters and clients, stop it and get its log.

    with muxd.Muxd("-s", "echo") as server:
        server.fault("refuse,first=2")
        sock = socket.create_connection(server.address)

Standard library only. The control socket's commands are those of
`muxd --control` (docs/fixtures.md in the muxd repository).

A Muxd that is never stopped is stopped anyway, its directory removed:
once it is garbage, or when the interpreter exits. On Linux muxd also
gets SIGTERM if the interpreter is killed (PR_SET_PDEATHSIG), when it
was started from the main thread.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref

__all__ = ["Muxd", "MuxdError", "find_binary"]
__version__ = "0.2.0"

# Options that give muxd a listener: without any, Muxd adds -l 127.0.0.1:0.
_LISTEN_OPTIONS = ("-l", "--listen", "-p", "--port", "--fd")
# The longest control socket path used under $TMPDIR: below every system's
# sockaddr_un.sun_path (108 bytes on Linux, 104 on the BSDs, with its NUL).
_SOCKET_PATH_MAX = 100
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class MuxdError(Exception):
    """muxd could not be found or started, did not get ready in time, or
    its control socket answered with an error."""


def find_binary(binary=None):
    """The muxd to run: `binary`, else $MUXD, else muxd on PATH."""
    path = binary or os.environ.get("MUXD") or shutil.which("muxd")
    if not path:
        raise MuxdError("muxd not found: pass binary=, set $MUXD, or put "
                        "muxd on PATH")
    if not os.path.exists(path):
        raise MuxdError(f"muxd not found: {path} does not exist")
    if os.path.isdir(path):
        raise MuxdError(f"muxd not executable: {path} is a directory")
    if not os.access(path, os.X_OK):
        raise MuxdError(f"muxd not executable: {path} (no execute "
                        f"permission)")
    return path


def _private_dir():
    """A new temporary directory for the control socket, the ready file
    and the log: under $TMPDIR, or under /tmp when the socket's path there
    would be too long for a unix socket."""
    path = tempfile.mkdtemp(prefix="muxd-")
    sock = os.fsencode(os.path.join(path, "control.sock"))
    if len(sock) <= _SOCKET_PATH_MAX:
        return path
    os.rmdir(path)
    return tempfile.mkdtemp(prefix="muxd-", dir="/tmp")


def _die_with_parent():
    """A preexec_fn for Popen: on Linux the child gets SIGTERM when the
    thread that started it ends, so muxd goes with a killed interpreter.
    None elsewhere, or from another thread than the main one (a thread
    that ends would stop muxd), or when libc's prctl cannot be had."""
    if (not sys.platform.startswith("linux") or
            threading.current_thread() is not threading.main_thread()):
        return None
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    parent = os.getpid()
    args = (ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGTERM),
            ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))

    def preexec():
        # The parent may have died before prctl: then nobody is left to
        # stop muxd, so it does not start.
        if prctl(*args) == 0 and os.getppid() != parent:
            os._exit(1)
    return preexec


def _stop_process(proc, timeout):
    """SIGTERM (a graceful stop), SIGKILL if it is not over within
    `timeout` seconds; returns once it is over."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _end(owner, proc, directory, timeout):
    """Stops muxd and removes its directory: the last step of stop(), and
    (through weakref.finalize) what ends a Muxd never stopped, once it is
    garbage or when the interpreter exits. Only in the process `owner`
    that started it: a forked child that exits leaves it alone."""
    if os.getpid() != owner:
        return
    _stop_process(proc, timeout)
    shutil.rmtree(directory, ignore_errors=True)


def _listen_address(text):
    """A proxy's listen address as .address gives one: '127.0.0.1:80' ->
    ('127.0.0.1', 80), '[::1]:80' -> ('::1', 80), 'unix:/p' -> '/p'."""
    if text.startswith("unix:"):
        return text[len("unix:"):]
    return _parse_address("tcp " + text)[1]


def _proxy(fields):
    """A proxy of the control socket's replies, with its "address": its
    first listener as .address gives one (None while disabled)."""
    listen = fields.get("listen") or []
    return dict(fields, address=_listen_address(listen[0]) if listen
                else None)


def _word(text):
    """`text` as one word of a control command: a space would make it
    two."""
    text = str(text)
    if not text or any(c.isspace() for c in text):
        raise MuxdError(f"{text!r}: a proxy's name and addresses are one "
                        f"word each: not empty, no spaces")
    return text


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
    -l 127.0.0.1:0 unless `args` give a listener or --api (which relays
    only). Returns once muxd is ready (at most `timeout` seconds). Use it
    as a context manager, or call stop(). With --workers muxd has no
    control socket: the control methods raise MuxdError."""

    def __init__(self, *args, binary=None, timeout=10.0):
        self.binary = find_binary(binary)
        self.timeout = timeout
        self.returncode = None
        argv = [self.binary, *map(str, args)]
        options = [a.split("=")[0] for a in argv[1:]]
        self._api = "--api" in options
        self._api_url = None
        if not self._api and not any(o in _LISTEN_OPTIONS for o in options):
            argv += ["-l", "127.0.0.1:0"]
        self._dir = _private_dir()
        self.control_path = None
        if "--workers" not in options:  # muxd refuses --control with it
            self.control_path = os.path.join(self._dir, "control.sock")
            argv += ["--control", "unix:" + self.control_path]
        self._ready_path = os.path.join(self._dir, "ready")
        self._log_path = os.path.join(self._dir, "muxd.log")
        argv += ["--ready-file", self._ready_path]
        try:
            # The log goes to a file: never a pipe that fills up and stops
            # muxd.
            with open(self._log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    preexec_fn=_die_with_parent())
        except OSError as e:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise MuxdError(f"cannot run muxd {self.binary}: "
                            f"{e.strerror or e}") from e
        self._finalizer = weakref.finalize(self, _end, os.getpid(),
                                           self.proc, self._dir, self.timeout)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self):
        deadline = time.monotonic() + self.timeout
        while not (os.path.exists(self._ready_path) and
                   (self.control_path is None or
                    os.path.exists(self.control_path)) and
                   (not self._api or self.api_url)):
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
        socket.create_connection(), or a unix socket's path; None if there
        is none (--api alone: proxies come later)."""
        return self.addresses[0][1] if self.addresses else None

    @property
    def api_url(self):
        """With --api: the API's base URL, "http://127.0.0.1:8474" (its
        port 0 the port it got); else None."""
        if self._api and self._api_url is None:
            for line in self.log.splitlines():
                if line.startswith("api on "):
                    self._api_url = line[len("api on "):]
        return self._api_url

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
        MuxdError for an error reply ({"ok": false, ...}), and for a CR, LF
        or NUL in `line`: a command is one line, never two."""
        if any(c in line for c in "\r\n\0"):
            raise MuxdError(f"{line!r}: a control command is one line: no "
                            f"CR, LF or NUL in it")
        if self.control_path is None:
            raise MuxdError("no control socket: muxd runs with --workers "
                            "(each worker has its own clients and faults)")
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

    def set_fault(self, fault_id, spec):
        """Changes fault `fault_id`'s numbers to `spec`'s (same kind)."""
        self.command(f"fault set {int(fault_id)} {spec}")

    def proxies(self):
        """The proxies (the relays, named): [{"name", "upstream",
        "enabled", "listen": [addresses], "address"}], "address" being
        the first listener as .address gives one (None while disabled)."""
        return [_proxy(p) for p in self.command("proxy list")["proxies"]]

    def proxy(self, name):
        """The proxy named `name`, as proxies() shows it."""
        for found in self.proxies():
            if found["name"] == name:
                return found
        raise MuxdError(f"no proxy named {name!r}")

    def add_proxy(self, name, upstream, listen="127.0.0.1:0"):
        """A new proxy while muxd runs (`proxy add`): listening on
        `listen` (port 0: a free one), relaying to `upstream`. Returns it
        as proxy() does: its "address" is where to connect."""
        line = f"proxy add {_word(name)} {_word(listen)} {_word(upstream)}"
        return _proxy(self.command(line)["proxy"])

    def del_proxy(self, name):
        """Deletes a proxy: its listeners, connections and faults."""
        self.command(f"proxy del {_word(name)}")

    def disable_proxy(self, name):
        """Closes a proxy's listeners (a connect is refused) and its
        connections; returns it."""
        return _proxy(self.command(f"proxy disable {_word(name)}")["proxy"])

    def enable_proxy(self, name):
        """Listens again on a disabled proxy's addresses (the same ports);
        returns it."""
        return _proxy(self.command(f"proxy enable {_word(name)}")["proxy"])

    def faults(self):
        """The faults in force: [{"id": N, "spec": "..."}, ...]."""
        return self.command("fault list")["faults"]

    def del_fault(self, fault_id):
        self.command(f"fault del {int(fault_id)}")

    def clear_faults(self):
        self.command("fault clear")

    def clients(self):
        """[{"id", "peer", "bytes_in", "bytes_out", "age_ms", "closing"},
        ...]: every client stats() counts, closing ones too."""
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
            _stop_process(self.proc, wait)
            self.returncode = self.proc.returncode
            self._final_log = self.log
            self._finalizer()  # removes the directory (muxd is over)
        return self.returncode, self._final_log

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<Muxd pid={self.proc.pid} address={self.address!r}>"
