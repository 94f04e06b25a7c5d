"""The muxd package against the real muxd ($MUXD, else PATH), through its
pytest plugin's `muxd` fixture (loaded from the installed entry point)."""

import json
import os
import socket
import tempfile
import urllib.request

import pytest

import muxd as muxd_pkg

TIMEOUT = 10


def echo(address, data=b"ping", size=None):
    """Sends data on a new connection; the first `size` bytes back (as
    many as sent by default)."""
    size = len(data) if size is None else size
    with socket.create_connection(address, timeout=TIMEOUT) as s:
        s.sendall(data)
        got = b""
        while len(got) < size:
            chunk = s.recv(size - len(got))
            if not chunk:
                break
            got += chunk
        return got


def fetch_with_retries(address, attempts):
    """A client with retries: what the faults below test."""
    for attempt in range(1, attempts + 1):
        try:
            return echo(address), attempt
        except (ConnectionResetError, BrokenPipeError):
            continue
    raise ConnectionError(f"gave up after {attempts} attempts")


def test_starts_on_a_free_port_and_serves(muxd):
    server = muxd()
    host, port = server.address
    assert host == "127.0.0.1" and port > 0
    assert server.addresses[0][0] == "tcp"
    assert echo(server.address) == b"ping"


def test_retries_get_past_refused_connections(muxd):
    server = muxd("-s", "echo")
    server.fault("refuse,first=2")
    assert fetch_with_retries(server.address, attempts=3) == (b"ping", 3)
    stats = server.stats()
    assert stats["accepted"] == 3


def test_too_few_retries_give_up(muxd):
    server = muxd()
    server.fault("refuse,first=2")
    with pytest.raises(ConnectionError):
        fetch_with_retries(server.address, attempts=2)


def test_faults_listed_removed_cleared(muxd):
    server = muxd()
    first = server.fault("latency=50")
    second = server.fault("split=1,dir=down")
    assert server.faults() == [{"id": first, "spec": "latency=50"},
                               {"id": second, "spec": "split=1,dir=down"}]
    server.set_fault(first, "latency=80,jitter=5")
    assert server.faults()[0] == {"id": first, "spec": "latency=80,jitter=5"}
    with pytest.raises(muxd_pkg.MuxdError, match="keeps its kind"):
        server.set_fault(first, "stall")
    server.del_fault(first)
    assert [f["id"] for f in server.faults()] == [second]
    server.clear_faults()
    assert server.faults() == []
    with pytest.raises(muxd_pkg.MuxdError, match="invalid fault"):
        server.fault("nonsense")


def test_a_line_break_in_a_spec_is_refused(muxd):
    # Sent as is, "latency=5\nshutdown" would be a second command.
    server = muxd()
    for spec in ("latency=5\nshutdown", "latency=5\rshutdown",
                 "latency=5\0shutdown"):
        with pytest.raises(muxd_pkg.MuxdError, match="is one line"):
            server.fault(spec)
    assert server.faults() == []
    assert echo(server.address) == b"ping"


def test_fault_specs_pass_through_unchanged(muxd):
    # python.md's example: odds as a fraction, as toxiproxy's toxicity.
    server = muxd()
    fid = server.fault("latency=200,dir=down,odds=0.5")
    assert server.faults() == [{"id": fid,
                                "spec": "latency=200,dir=down,odds=0.5"}]


def test_clients_and_kick(muxd):
    server = muxd()
    with socket.create_connection(server.address, timeout=TIMEOUT) as s:
        s.sendall(b"abc")
        assert s.recv(3) == b"abc"
        (client,) = server.clients()
        assert client["peer"] == "%s:%d" % s.getsockname()
        assert client["bytes_in"] == 3
        server.kick(client["id"])
        assert s.recv(1) == b""
    with pytest.raises(muxd_pkg.MuxdError, match="no client"):
        server.kick(client["id"])


def test_pause_and_resume(muxd):
    server = muxd()
    server.pause()
    with socket.create_connection(server.address, timeout=TIMEOUT) as s:
        s.sendall(b"wait")
        s.settimeout(0.3)  # bounds the wait for what must not come
        with pytest.raises(socket.timeout):
            s.recv(4)
        assert server.stats()["accepted"] == 0
        server.resume()
        s.settimeout(TIMEOUT)
        assert s.recv(4) == b"wait"


def test_refuse_on_and_off(muxd):
    server = muxd()
    server.refuse(True)
    with pytest.raises(ConnectionError):
        echo(server.address)
    server.refuse(False)
    assert echo(server.address) == b"ping"


def test_unix_listener(muxd):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "echo.sock")
        server = muxd("-l", "unix:" + path)
        assert server.address == path
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(TIMEOUT)
            s.connect(server.address)
            s.sendall(b"u")
            assert s.recv(1) == b"u"


def test_stop_returns_status_and_log(muxd):
    server = muxd("-v")
    for _ in range(300):  # far more log than a pipe would hold unread
        echo(server.address, b"x" * 10)
    status, log = server.stop()
    assert status == 0
    assert log.count("accepted") >= 300
    assert "SIGTERM: shutting down" in log
    assert server.stop() == (status, log)


_started = []


def test_the_fixture_stops_what_it_started(muxd):
    _started.append(muxd())


def test_after_the_fixture_muxd_is_gone():
    (server,) = _started
    assert server.proc.poll() is not None
    assert not os.path.exists(server.control_path)


def test_context_manager():
    with muxd_pkg.Muxd("-s", "ack") as server:
        assert echo(server.address, b"hi\n")[:3] == b"ACK"
    assert server.returncode == 0


def test_binary_not_found():
    with pytest.raises(muxd_pkg.MuxdError, match="not found|not executable"):
        muxd_pkg.Muxd(binary="/nonexistent/muxd")


def test_bad_option_says_why():
    with pytest.raises(muxd_pkg.MuxdError, match="unknown option"):
        muxd_pkg.Muxd("--no-such-option")


def test_proxies_are_listed_and_a_fault_kept_to_one(muxd):
    # Two relays, named; nothing listens upstream: only the listing and
    # the fault registry are looked at.
    server = muxd("-l", "127.0.0.1:0", "--to", "127.0.0.1:1", "--name", "db",
                  "-l", "127.0.0.1:0", "--to", "127.0.0.1:2")
    proxies = server.proxies()
    assert [(p["name"], p["upstream"]) for p in proxies] == [
        ("db", "127.0.0.1:1"), ("proxy2", "127.0.0.1:2")]
    assert all(len(p["listen"]) == 1 for p in proxies)
    fid = server.fault("latency=50,proxy=db")
    assert server.faults() == [{"id": fid, "spec": "latency=50,proxy=db"}]
    with pytest.raises(muxd_pkg.MuxdError, match="no proxy named 'x'"):
        server.fault("latency=50,proxy=x")


HELLO = b"Hello, client!\n"  # muxd -s reply's answer to a line


def test_proxies_added_disabled_enabled_deleted(muxd):
    # Two upstreams told apart: muxd's echo and its reply service.
    echo_up, reply_up = muxd("-s", "echo"), muxd("-s", "reply")
    to_echo = "%s:%d" % echo_up.address
    to_reply = "%s:%d" % reply_up.address
    server = muxd("-l", "127.0.0.1:0", "--to", to_echo, "--name", "first")
    second = server.add_proxy("second", to_reply)
    host, port = second["address"]
    assert (host, port != 0) == ("127.0.0.1", True)
    assert second == {"name": "second", "upstream": to_reply,
                      "enabled": True, "listen": ["%s:%d" % (host, port)],
                      "address": (host, port)}
    assert echo(second["address"], b"hi\n", len(HELLO)) == HELLO
    assert server.proxy("second") == second
    assert [p["name"] for p in server.proxies()] == ["first", "second"]
    assert server.proxy("first")["address"] == server.address
    # Disabled: its listener and connections close; enabled: same port.
    with socket.create_connection(second["address"], timeout=TIMEOUT) as s:
        off = server.disable_proxy("second")
        assert off == dict(second, enabled=False, listen=[], address=None)
        assert s.recv(16) == b""
    with pytest.raises(ConnectionRefusedError):
        echo(second["address"], b"x")
    assert server.enable_proxy("second") == second
    assert echo(second["address"], b"x\n", len(HELLO)) == HELLO
    # A fault kept to it goes with it.
    server.fault("latency=5,proxy=second")
    server.del_proxy("second")
    assert server.faults() == []
    with pytest.raises(ConnectionRefusedError):
        echo(second["address"], b"x")
    with pytest.raises(muxd_pkg.MuxdError, match="no proxy named 'second'"):
        server.proxy("second")
    with pytest.raises(muxd_pkg.MuxdError,
                       match="no proxy named 'second' \\(see: proxy list\\)"):
        server.enable_proxy("second")
    # The same name again, on a fixed address: the one it had.
    again = server.add_proxy("second", to_echo,
                             listen="%s:%d" % second["address"])
    assert again["address"] == second["address"]
    assert echo(again["address"], b"x") == b"x"


def test_proxy_errors(muxd):
    server = muxd("-l", "127.0.0.1:0", "--to", "127.0.0.1:1")
    taken = "%s:%d" % server.address
    with pytest.raises(muxd_pkg.MuxdError,
                       match=f"cannot listen on {taken}: Address already "
                             "in use"):
        server.add_proxy("x", "127.0.0.1:1", listen=taken)
    with pytest.raises(muxd_pkg.MuxdError, match="proxy already exists"):
        server.add_proxy("proxy1", "127.0.0.1:1")
    with pytest.raises(muxd_pkg.MuxdError, match="invalid upstream"):
        server.add_proxy("x", "nowhere")
    # A space would shift the words of the command: refused before.
    for name in ("a b", "", "a\nproxy del proxy1"):
        with pytest.raises(muxd_pkg.MuxdError, match="one word each"):
            server.add_proxy(name, "127.0.0.1:1")
        with pytest.raises(muxd_pkg.MuxdError, match="one word each"):
            server.del_proxy(name)
    assert [p["name"] for p in server.proxies()] == ["proxy1"]


def test_api_alone_relays_only(muxd):
    # --api: no default listener; proxies come from the API or add_proxy.
    upstream = muxd("-s", "echo")
    server = muxd("--api", "127.0.0.1:0")
    assert server.addresses == [] and server.address is None
    assert server.api_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(server.api_url + "/version",
                                timeout=TIMEOUT) as r:
        assert json.load(r) == {"version": "muxd 0.2.0"}
    made = server.add_proxy("echo", "%s:%d" % upstream.address)
    assert echo(made["address"], b"ping") == b"ping"
    assert muxd().api_url is None
