"""muxd --api: toxiproxy's HTTP API over muxd's proxies (the --to relays)
and its faults, driven with curl as a toxiproxy client would: statuses,
JSON shapes and defaults as toxiproxy 2.12.0 answers them, and each toxic's
effect on real traffic through the relay. Every wait is bounded; the only
times asserted are lower bounds muxd's timers guarantee."""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import muxtest
from muxtest import Muxd, TIMEOUT, recv_exactly, recv_until_close


def echo_upstream(prefix=b""):
    """A listening socket of the test's own that echoes every connection
    on a thread until EOF (each read back after `prefix`, to tell two
    upstreams apart); (socket, port)."""
    sock = muxtest.tcp_listener()

    def one(conn):
        with conn:
            while True:
                try:
                    b = conn.recv(65536)
                except OSError:
                    return
                if not b:
                    return
                conn.sendall(prefix + b)

    def run():
        sock.settimeout(TIMEOUT)
        try:
            while True:
                conn, _ = sock.accept()
                threading.Thread(target=one, args=(conn,), daemon=True).start()
        except OSError:
            return

    threading.Thread(target=run, daemon=True).start()
    return sock, sock.getsockname()[1]


class Api:
    """A relaying muxd with --api and --control, its API's base URL."""

    def __init__(self, *args, proxies=(("echo", None),), listeners=None):
        self.upstreams = []
        argv = []
        for name, port in proxies:
            if port is None:
                sock, port = echo_upstream()
                self.upstreams.append(sock)
            argv += ["-l", "127.0.0.1:0", "--to", f"127.0.0.1:{port}",
                     "--name", name]
        self.dir = tempfile.TemporaryDirectory()
        self.ctl_path = os.path.join(self.dir.name, "ctl")
        self.m = Muxd(*argv, "--api", "127.0.0.1:0", "--control",
                      "unix:" + self.ctl_path, *args,
                      listeners=len(proxies) if listeners is None
                      else listeners)
        line = self.m.readline(time.monotonic() + TIMEOUT)
        match = re.fullmatch(r"api on (http://127\.0\.0\.1:\d+)", line or "")
        if not match:
            self.m.kill()
            raise AssertionError(f"no api line: {line!r}")
        self.url = match.group(1)
        self.curl = muxtest.require_tool("curl", "curl")

    def call(self, method, path, body=None, agent="muxd-test"):
        """(status, parsed JSON body or None)."""
        cmd = [self.curl, "-sS", "-X", method, "-A", agent, "-w",
               "\n%{http_code}", self.url + path]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary",
                    body if isinstance(body, str) else json.dumps(body)]
        p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT,
                           text=True)
        assert p.returncode == 0, p.stderr
        text, _, status = p.stdout.rpartition("\n")
        return int(status), json.loads(text) if text else None

    def control(self, line):
        """One control command's reply."""
        ctl = muxtest.Control(self.ctl_path)
        try:
            return ctl.command(line)
        finally:
            ctl.close()

    def fault_specs(self):
        return [f["spec"] for f in self.control("fault list")["faults"]]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.m.__exit__(*exc)
        for s in self.upstreams:
            s.close()
        self.dir.cleanup()


LATENCY = {"attributes": {"latency": 300, "jitter": 0}, "name":
           "latency_downstream", "type": "latency", "stream": "downstream",
           "toxicity": 1}


class TestEndpoints(unittest.TestCase):
    def test_version_and_proxies(self):
        with Api(proxies=(("cache", None), ("db", None))) as api:
            status, body = api.call("GET", "/version")
            self.assertEqual((status, body), (200, {"version": "muxd 0.2.0"}))
            status, body = api.call("GET", "/proxies")
            self.assertEqual(status, 200)
            self.assertEqual(sorted(body), ["cache", "db"])
            port = api.m.listeners[0][1][1]
            self.assertEqual(body["cache"], {
                "name": "cache", "listen": f"127.0.0.1:{port}",
                "upstream": "127.0.0.1:%d" % api.upstreams[0].getsockname()[1],
                "enabled": True, "toxics": []})
            self.assertEqual(api.call("GET", "/proxies/db"),
                             (200, body["db"]))
            self.assertEqual(api.call("GET", "/proxies/nope"), (404, {
                "error": "proxy not found", "status": 404}))

    def test_toxics_created_listed_updated_deleted(self):
        with Api() as api:
            self.assertEqual(api.call("GET", "/proxies/echo/toxics"),
                             (200, []))
            # Defaults: stream downstream, toxicity 1, name type_stream.
            self.assertEqual(api.call("POST", "/proxies/echo/toxics", {
                "type": "latency", "attributes": {"latency": 300}}),
                (200, LATENCY))
            self.assertEqual(api.call("POST", "/proxies/echo/toxics", {
                "type": "latency"}), (409, {
                    "error": "toxic already exists", "status": 409}))
            self.assertEqual(api.call(
                "GET", "/proxies/echo/toxics/latency_downstream"),
                (200, LATENCY))
            self.assertEqual(api.call("GET", "/proxies/echo")[1]["toxics"],
                             [LATENCY])
            # The toxic is a fault: the control socket shows it.
            self.assertEqual(api.fault_specs(), [
                "latency=300,dir=down,odds=100,proxy=echo"])
            updated = dict(LATENCY, attributes={"latency": 50, "jitter": 5},
                           toxicity=0.5)
            self.assertEqual(api.call(
                "PATCH", "/proxies/echo/toxics/latency_downstream",
                {"attributes": {"latency": 50, "jitter": 5},
                 "toxicity": 0.5}), (200, updated))
            self.assertEqual(api.fault_specs(), [
                "latency=50,jitter=5,dir=down,odds=50,proxy=echo"])
            self.assertEqual(api.call(
                "DELETE", "/proxies/echo/toxics/latency_downstream"),
                (204, None))
            self.assertEqual(api.fault_specs(), [])
            self.assertEqual(api.call(
                "DELETE", "/proxies/echo/toxics/latency_downstream"),
                (404, {"error": "toxic not found", "status": 404}))

    def test_named_upstream_toxic_and_reset(self):
        with Api() as api:
            status, body = api.call("POST", "/proxies/echo/toxics", {
                "name": "cut", "type": "limit_data", "stream": "upstream",
                "toxicity": 0.25, "attributes": {"bytes": 10}})
            self.assertEqual((status, body), (200, {
                "attributes": {"bytes": 10}, "name": "cut",
                "type": "limit_data", "stream": "upstream",
                "toxicity": 0.25}))
            self.assertEqual(api.fault_specs(), [
                "drop-after=10,dir=up,odds=25,proxy=echo"])
            # A fault the control socket removes is gone from the API too.
            ctl = muxtest.Control(api.ctl_path)
            self.assertEqual(ctl.command("fault clear"), {"ok": True})
            ctl.close()
            self.assertEqual(api.call("GET", "/proxies/echo/toxics"),
                             (200, []))
            self.assertEqual(api.call("POST", "/reset"), (204, None))
            self.assertEqual(api.call("GET", "/proxies/echo/toxics"),
                             (200, []))
            self.assertEqual(api.fault_specs(), [])

    def test_errors(self):
        with Api() as api:
            bad = [
                ("POST", "/proxies/echo/toxics", {"type": "bogus"}, 400,
                 "invalid toxic type"),
                ("POST", "/proxies/echo/toxics",
                 {"type": "latency", "stream": "sideways"}, 400,
                 "stream was invalid, can be either upstream or downstream"),
                ("POST", "/proxies/echo/toxics", "{nope", 400, None),
                ("POST", "/proxies/echo/toxics",
                 {"type": "latency", "attributes": {"latency": 1.5}}, 400,
                 "bad request body: latency: an integer"),
                ("POST", "/proxies/echo/toxics",
                 {"type": "latency", "toxicity": 2}, 400,
                 "bad request body: toxicity: a number, 0 to 1"),
                ("POST", "/proxies/nope/toxics", {"type": "latency"}, 404,
                 "proxy not found"),
                ("GET", "/nowhere", None, 404, "404 page not found"),
                ("DELETE", "/version", None, 405, "method not allowed"),
                ("GET", "/reset", None, 405, "method not allowed"),
            ]
            for method, path, body, status, error in bad:
                with self.subTest(method=method, path=path, body=body):
                    got_status, got = api.call(method, path, body)
                    self.assertEqual(got_status, status)
                    self.assertEqual(got["status"], status)
                    if error:
                        self.assertEqual(got["error"], error)
            # A browser is refused, as toxiproxy refuses it.
            self.assertEqual(api.call("GET", "/proxies",
                                      agent="Mozilla/5.0 (X11)")[0], 403)
            self.assertEqual(api.fault_specs(), [])


class TestToxicsOnTraffic(unittest.TestCase):
    def round_trip(self, sock, data):
        sock.sendall(data)
        return recv_exactly(sock, len(data))

    def test_latency_reaches_an_open_connection(self):
        with Api() as api, api.m.connect() as c:
            self.assertEqual(self.round_trip(c, b"before"), b"before")
            api.call("POST", "/proxies/echo/toxics",
                     {"type": "latency", "attributes": {"latency": 300}})
            start = time.monotonic()
            self.assertEqual(self.round_trip(c, b"after"), b"after")
            self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_limit_data_and_bandwidth_zero(self):
        with Api() as api:
            api.call("POST", "/proxies/echo/toxics",
                     {"type": "limit_data", "attributes": {"bytes": 5}})
            with api.m.connect() as c:
                c.sendall(b"0123456789")
                self.assertEqual(recv_until_close(c), b"01234")
            api.call("POST", "/reset")
            # rate 0 stops the data: nothing comes back, until removed.
            api.call("POST", "/proxies/echo/toxics",
                     {"type": "bandwidth", "attributes": {"rate": 0}})
            with api.m.connect() as c:
                c.sendall(b"held")
                c.settimeout(0.3)
                with self.assertRaises(socket.timeout):
                    c.recv(4)
                api.call("DELETE", "/proxies/echo/toxics/bandwidth_downstream")
                c.settimeout(TIMEOUT)
                self.assertEqual(recv_exactly(c, 4), b"held")

    def test_reset_peer(self):
        with Api() as api:
            # stream upstream, at once: what the client sends never
            # reaches the upstream (nothing is echoed); a reset.
            self.assertEqual(api.call("POST", "/proxies/echo/toxics", {
                "type": "reset_peer", "stream": "upstream"}), (200, {
                    "attributes": {"timeout": 0},
                    "name": "reset_peer_upstream", "type": "reset_peer",
                    "stream": "upstream", "toxicity": 1}))
            self.assertEqual(api.fault_specs(),
                             ["reset-peer=0,dir=up,odds=100,proxy=echo"])
            with api.m.connect() as c:
                c.sendall(b"ping")
                c.settimeout(TIMEOUT)
                with self.assertRaises(ConnectionResetError):
                    self.assertEqual(c.recv(4), b"")  # never data
            api.call("POST", "/reset")
            # downstream, 200 ms: the echo is dropped, the reset comes
            # after it.
            status, body = api.call("POST", "/proxies/echo/toxics", {
                "type": "reset_peer", "attributes": {"timeout": 200}})
            self.assertEqual((status, body["attributes"]), (200,
                                                            {"timeout": 200}))
            with api.m.connect() as c:
                start = time.monotonic()
                c.sendall(b"ping")
                c.settimeout(TIMEOUT)
                with self.assertRaises(ConnectionResetError):
                    self.assertEqual(c.recv(4), b"")
                self.assertGreaterEqual(time.monotonic() - start, 0.2)
            self.assertEqual(api.call("POST", "/proxies/echo/toxics", {
                "type": "reset_peer", "name": "bad",
                "attributes": {"timeout": -1}}), (400, {
                    "error": "bad request body: timeout: 0 to 3600000 ms",
                    "status": 400}))

    def test_slicer(self):
        with Api() as api:
            self.assertEqual(api.call("POST", "/proxies/echo/toxics", {
                "type": "slicer", "attributes": {
                    "average_size": 10, "delay": 100000}}), (200, {
                        "attributes": {"average_size": 10, "size_variation": 0,
                                       "delay": 100000},
                        "name": "slicer_downstream", "type": "slicer",
                        "stream": "downstream", "toxicity": 1}))
            self.assertEqual(api.fault_specs(), [
                "slicer=10:0:100000,dir=down,odds=100,proxy=echo"])
            # 40 bytes echoed as toxiproxy's halves of halves: 10 x 4,
            # 100 ms apart (each its own read).
            data = b"0123456789abcdefghijklmnopqrstuvwxyz!?+-"
            with api.m.connect() as c:
                c.sendall(data)
                sizes, got = [], b""
                while len(got) < len(data):
                    b = c.recv(65536)
                    self.assertTrue(b)
                    sizes.append(len(b))
                    got += b
                self.assertEqual((sizes, got), ([10] * 4, data))
            why = ("bad request body: average_size: 1 to 1073741824; "
                   "size_variation: 0 to average_size - 1; delay: 0 to "
                   "3600000000 us")
            for attributes in ({}, {"average_size": 10, "size_variation": 10},
                               {"average_size": 10, "delay": -1}):
                self.assertEqual(api.call("POST", "/proxies/echo/toxics", {
                    "type": "slicer", "name": "bad", "attributes": attributes}),
                    (400, {"error": why, "status": 400}))


def port_of(listen):
    """The port of a proxy's listen address, 127.0.0.1:PORT."""
    host, _, port = listen.rpartition(":")
    assert host == "127.0.0.1", listen
    return int(port)


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


class ProxyCase(muxtest.ConnectionAsserts, unittest.TestCase):
    """Proxies made while muxd runs, checked with traffic through them to
    two echo upstreams of the test's own, the second one's replies after
    "B:"."""

    def setUp(self):
        a, self.a_port = echo_upstream()
        b, self.b_port = echo_upstream(b"B:")
        self.up_a = f"127.0.0.1:{self.a_port}"
        self.up_b = f"127.0.0.1:{self.b_port}"
        for sock in (a, b):
            self.addCleanup(sock.close)

    def start(self, *args, **kwargs):
        api = Api(*args, **kwargs)
        self.addCleanup(api.__exit__, None, None, None)
        return api

    def talk(self, sock, msg, reply):
        sock.sendall(msg)
        self.assertEqual(recv_exactly(sock, len(reply)), reply)

    def busy_port(self):
        """A port a socket of the test's own listens on."""
        taken = muxtest.tcp_listener()
        self.addCleanup(taken.close)
        return taken.getsockname()[1]

    def create(self, api, name, upstream, **fields):
        status, body = api.call("POST", "/proxies",
                                dict(name=name, upstream=upstream, **fields))
        self.assertEqual(status, 201, body)
        return body


class TestProxiesAtRunTime(ProxyCase):
    """POST /proxies, PATCH|POST|DELETE /proxies/{p}, /populate, /reset on
    a muxd --api with no proxy of the command line (it relays only)."""

    def setUp(self):
        super().setUp()
        self.api = self.start(proxies=())

    def test_create_port_0_and_default_listen(self):
        api = self.api
        self.assertEqual(api.call("GET", "/proxies"), (200, {}))
        cache = self.create(api, "cache", self.up_a, listen="127.0.0.1:0")
        port = port_of(cache["listen"])
        self.assertNotEqual(port, 0)
        self.assertEqual(cache, {"name": "cache",
                                 "listen": f"127.0.0.1:{port}",
                                 "upstream": self.up_a, "enabled": True,
                                 "toxics": []})
        with connect(port) as c:
            self.talk(c, b"ping", b"ping")
        db = self.create(api, "db", self.up_b)  # no listen: 127.0.0.1:0
        self.assertNotIn(port_of(db["listen"]), (0, port))
        with connect(port_of(db["listen"])) as c:
            self.talk(c, b"ping", b"B:ping")
        off = self.create(api, "off", self.up_a, listen="127.0.0.1:0",
                          enabled=False)
        self.assertEqual(off, {"name": "off", "listen": "127.0.0.1:0",
                               "upstream": self.up_a, "enabled": False,
                               "toxics": []})
        self.assertEqual(api.call("GET", "/proxies"),
                         (200, {"cache": cache, "db": db, "off": off}))
        self.assertEqual(api.call("GET", "/proxies/db"), (200, db))
        self.assertEqual(api.control("proxy list"), {"proxies": [
            {"name": "cache", "upstream": self.up_a, "enabled": True,
             "listen": [cache["listen"]]},
            {"name": "db", "upstream": self.up_b, "enabled": True,
             "listen": [db["listen"]]},
            {"name": "off", "upstream": self.up_a, "enabled": False,
             "listen": []}]})

    def test_a_bare_port_listens_on_loopback(self):
        # As -l PORT does (-H's default); toxiproxy would bind every
        # interface.
        bare = self.create(self.api, "bare", self.up_a, listen="0")
        port = port_of(bare["listen"])
        self.assertEqual(bare["listen"], f"127.0.0.1:{port}")
        with connect(port) as c:
            self.talk(c, b"ping", b"ping")

    def test_create_errors(self):
        api = self.api
        cache = self.create(api, "cache", self.up_a)
        busy = self.busy_port()
        up = self.up_a
        not_addr = "not HOST:PORT, [V6]:PORT, PORT or unix:PATH"
        for body, status, error in [
                ({"upstream": up}, 400, "missing required field: name"),
                ({"name": "", "upstream": up}, 400,
                 "missing required field: name"),
                ({"name": "x"}, 400, "missing required field: upstream"),
                ({"name": "x", "upstream": ""}, 400,
                 "missing required field: upstream"),
                ({"name": "a/b", "upstream": up}, 400,
                 "invalid proxy name 'a/b' (1 to 64 of A-Z a-z 0-9 . _ -)"),
                ({"name": "n" * 65, "upstream": up}, 400,
                 "bad request body: name: a string of at most 64 bytes"),
                ({"name": 5, "upstream": up}, 400,
                 "bad request body: name: a string of at most 64 bytes"),
                ({"name": "x", "upstream": "127.0.0.1"}, 400,
                 f"invalid upstream '127.0.0.1': {not_addr} (or an unknown "
                 "port name)"),
                ({"name": "x", "upstream": "127.0.0.1:99999"}, 400,
                 f"invalid upstream '127.0.0.1:99999': {not_addr} (or an "
                 "unknown port name)"),
                ({"name": "x", "upstream": up, "listen": "127.0.0.1:x"}, 400,
                 f"invalid listen address '127.0.0.1:x': {not_addr}"),
                ({"name": "x", "upstream": up, "listen": "udp://127.0.0.1:0"},
                 400, "invalid listen address 'udp://127.0.0.1:0': a proxy "
                 "relays streams (TCP or unix:PATH), not udp://"),
                ({"name": "x", "upstream": up, "enabled": "yes"}, 400,
                 "bad request body: enabled: true or false"),
                ("[]", 400, "bad request body: not a JSON object"),
                ({"name": "cache", "upstream": self.up_b}, 409,
                 "proxy already exists"),
                ({"name": "x", "upstream": up,
                  "listen": f"127.0.0.1:{busy}"}, 500,
                 f"cannot listen on 127.0.0.1:{busy}: Address already in "
                 "use")]:
            with self.subTest(body=body):
                self.assertEqual(api.call("POST", "/proxies", body),
                                 (status, {"error": error, "status": status}))
        # None of them made anything, nor changed cache.
        self.assertEqual(api.call("GET", "/proxies"), (200, {"cache": cache}))
        self.assertNotIn("proxy x:", api.m.stderr())

    def test_disable_closes_enable_listens_again(self):
        api = self.api
        cache = self.create(api, "cache", self.up_a)
        port = port_of(cache["listen"])
        with connect(port) as live:
            self.talk(live, b"1", b"1")
            off = dict(cache, enabled=False)
            self.assertEqual(api.call("PATCH", "/proxies/cache",
                                      {"enabled": False}), (200, off))
            self.assert_closed(live)
        self.assert_refused(port)
        self.assertEqual(api.call("GET", "/proxies/cache"), (200, off))
        self.assertEqual(api.control("proxy list")["proxies"], [
            {"name": "cache", "upstream": self.up_a, "enabled": False,
             "listen": []}])
        # Again: nothing changes.
        self.assertEqual(api.call("PATCH", "/proxies/cache",
                                  {"enabled": False}), (200, off))
        # Enabled: the same port.
        self.assertEqual(api.call("PATCH", "/proxies/cache",
                                  {"enabled": True}), (200, cache))
        with connect(port) as c:
            self.talk(c, b"2", b"2")

    def test_new_upstream_keeps_the_toxics(self):
        api = self.api
        cache = self.create(api, "cache", self.up_a)
        port = port_of(cache["listen"])
        status, toxic = api.call("POST", "/proxies/cache/toxics", {
            "type": "latency", "attributes": {"latency": 300}})
        self.assertEqual((status, toxic), (200, LATENCY))
        with connect(port) as live:
            self.talk(live, b"a", b"a")
            # The same upstream again changes nothing: live stays.
            self.assertEqual(api.call("PATCH", "/proxies/cache",
                                      {"upstream": self.up_a}),
                             (200, dict(cache, toxics=[LATENCY])))
            self.talk(live, b"b", b"b")
            # A bad one is refused, nothing changed.
            self.assertEqual(api.call("PATCH", "/proxies/cache",
                                      {"upstream": "127.0.0.1:0x"}),
                             (400, {"error": "invalid upstream "
                                    "'127.0.0.1:0x': not HOST:PORT, "
                                    "[V6]:PORT, PORT or unix:PATH (or an "
                                    "unknown port name)", "status": 400}))
            self.talk(live, b"c", b"c")
            moved = dict(cache, upstream=self.up_b, toxics=[LATENCY])
            self.assertEqual(api.call("PATCH", "/proxies/cache",
                                      {"upstream": self.up_b}), (200, moved))
            self.assert_closed(live)
        with connect(port) as c:
            start = time.monotonic()
            self.talk(c, b"d", b"B:d")
            self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertEqual(api.fault_specs(),
                         ["latency=300,dir=down,odds=100,proxy=cache"])
        self.assertEqual(api.call("GET", "/proxies/cache"), (200, moved))

    def test_new_listen_and_post_as_update(self):
        api = self.api
        cache = self.create(api, "cache", self.up_a)
        old = port_of(cache["listen"])
        status, moved = api.call("POST", "/proxies/cache",
                                 {"listen": "127.0.0.1:0"})
        self.assertEqual(status, 200, moved)
        new = port_of(moved["listen"])
        self.assertNotIn(new, (0, old))
        self.assertEqual(moved, dict(cache, listen=f"127.0.0.1:{new}"))
        self.assert_refused(old)
        with connect(new) as c:
            self.talk(c, b"x", b"x")
        # Listen and upstream at once.
        status, both = api.call("PATCH", "/proxies/cache", {
            "listen": "127.0.0.1:0", "upstream": self.up_b})
        self.assertEqual(status, 200, both)
        self.assertEqual(both, dict(moved, listen=both["listen"],
                                    upstream=self.up_b))
        self.assert_refused(new)
        with connect(port_of(both["listen"])) as c:
            self.talk(c, b"y", b"B:y")
        # Errors: nothing changed by a bad one.
        for method, path, body, status, error in [
                ("PATCH", "/proxies/cache", {"listen": "127.0.0.1:x"}, 400,
                 "invalid listen address '127.0.0.1:x': not HOST:PORT, "
                 "[V6]:PORT, PORT or unix:PATH"),
                ("PATCH", "/proxies/cache", {"enabled": 1}, 400,
                 "bad request body: enabled: true or false"),
                ("PATCH", "/proxies/cache", "[1]", 400,
                 "bad request body: not a JSON object"),
                ("PATCH", "/proxies/nope", {"enabled": False}, 404,
                 "proxy not found"),
                ("POST", "/proxies/nope", {"enabled": False}, 404,
                 "proxy not found"),
                ("PUT", "/proxies/cache", {"enabled": False}, 405,
                 "method not allowed")]:
            with self.subTest(method=method, path=path, body=body):
                self.assertEqual(api.call(method, path, body),
                                 (status, {"error": error, "status": status}))
        self.assertEqual(api.call("GET", "/proxies/cache"), (200, both))
        # A listen that fails leaves it disabled, with its new address.
        busy = self.busy_port()
        self.assertEqual(api.call("PATCH", "/proxies/cache",
                                  {"listen": f"127.0.0.1:{busy}"}),
                         (500, {"error": f"cannot listen on 127.0.0.1:{busy}:"
                                " Address already in use", "status": 500}))
        self.assertEqual(api.call("GET", "/proxies/cache"), (200, dict(
            both, listen=f"127.0.0.1:{busy}", enabled=False)))
        status, back = api.call("PATCH", "/proxies/cache", {
            "listen": "127.0.0.1:0", "enabled": True})
        self.assertEqual((status, back["enabled"]), (200, True))
        with connect(port_of(back["listen"])) as c:
            self.talk(c, b"z", b"B:z")

    def test_delete_takes_connections_and_toxics(self):
        api = self.api
        cache = self.create(api, "cache", self.up_a)
        port = port_of(cache["listen"])
        other = self.create(api, "other", self.up_a)
        api.call("POST", "/proxies/cache/toxics",
                 {"type": "latency", "attributes": {"latency": 5}})
        ctl = api.control("fault add latency=7,proxy=cache")
        self.assertTrue(ctl["ok"], ctl)
        api.control("fault add latency=9,proxy=other")
        with connect(port) as live:
            self.talk(live, b"x", b"x")
            self.assertEqual(api.call("DELETE", "/proxies/cache"),
                             (204, None))
            self.assert_closed(live)
        self.assert_refused(port)
        self.assertEqual(api.fault_specs(), ["latency=9,proxy=other"])
        self.assertEqual(api.call("GET", "/proxies/cache"), (404, {
            "error": "proxy not found", "status": 404}))
        self.assertEqual(api.call("DELETE", "/proxies/cache"), (404, {
            "error": "proxy not found", "status": 404}))
        self.assertEqual(api.call("GET", "/proxies"), (200, {"other": other}))
        # The same name again: a new proxy, no toxics.
        again = self.create(api, "cache", self.up_b)
        self.assertEqual(again["toxics"], [])
        self.assertEqual(api.call("GET", "/proxies/cache/toxics"), (200, []))
        with connect(port_of(again["listen"])) as c:
            self.talk(c, b"x", b"B:x")

    def test_deleted_by_the_control_socket(self):
        # Its toxics go with it; a proxy of the same name, made by the
        # control socket, has none.
        api = self.api
        cache = self.create(api, "cache", self.up_a)
        api.call("POST", "/proxies/cache/toxics",
                 {"type": "latency", "attributes": {"latency": 5}})
        with connect(port_of(cache["listen"])) as live:
            self.talk(live, b"x", b"x")
            self.assertEqual(api.control("proxy del cache"), {"ok": True})
            self.assert_closed(live)
        self.assertEqual(api.fault_specs(), [])
        self.assertEqual(api.call("GET", "/proxies"), (200, {}))
        made = api.control(f"proxy add cache 127.0.0.1:0 {self.up_b}")
        self.assertTrue(made["ok"], made)
        self.assertEqual(api.call("GET", "/proxies/cache/toxics"), (200, []))
        self.assertEqual(api.call("GET", "/proxies/cache"), (200, {
            "name": "cache", "listen": made["proxy"]["listen"][0],
            "upstream": self.up_b, "enabled": True, "toxics": []}))
        self.assertEqual(api.fault_specs(), [])

    def test_populate(self):
        api = self.api
        status, body = api.call("POST", "/populate", [
            {"name": "kept", "listen": "127.0.0.1:0", "upstream": self.up_a},
            {"name": "moved", "upstream": self.up_a, "toxics": [
                {"type": "latency", "attributes": {"latency": 300}}]}])
        self.assertEqual(status, 201, body)
        kept, moved = body["proxies"]
        self.assertEqual(body, {"proxies": [
            {"name": "kept", "listen": kept["listen"], "upstream": self.up_a,
             "enabled": True, "toxics": []},
            {"name": "moved", "listen": moved["listen"],
             "upstream": self.up_a, "enabled": True, "toxics": [LATENCY]}]})
        self.assertEqual(api.fault_specs(),
                         ["latency=300,dir=down,odds=100,proxy=moved"])
        status, toxic = api.call("POST", "/proxies/kept/toxics", {
            "type": "latency", "attributes": {"latency": 1}})
        self.assertEqual(status, 200)
        kept["toxics"] = [toxic]
        with connect(port_of(kept["listen"])) as live_kept, \
                connect(port_of(moved["listen"])) as live_moved:
            self.talk(live_kept, b"k", b"k")
            self.talk(live_moved, b"m", b"m")
            # kept is the same (no toxics member: its toxics stay), moved
            # has a new upstream: made anew, without its toxics.
            self.assertEqual(api.call("POST", "/populate", [
                {"name": "kept", "listen": kept["listen"],
                 "upstream": self.up_a},
                {"name": "moved", "listen": moved["listen"],
                 "upstream": self.up_b}]), (201, {"proxies": [
                     kept, dict(moved, upstream=self.up_b, toxics=[])]}))
            self.talk(live_kept, b"still", b"still")
            self.assert_closed(live_moved)
        with connect(port_of(moved["listen"])) as c:
            self.talk(c, b"m", b"B:m")
        self.assertEqual(api.fault_specs(),
                         ["latency=1,dir=down,odds=100,proxy=kept"])
        # A missing field, or toxics that are not an array: none is made.
        for proxies, error in [
                ([{"name": "new1", "upstream": self.up_a},
                  {"upstream": self.up_a}],
                 "missing required field: name at proxy 2"),
                ([{"name": "new1"}], "missing required field: upstream at "
                                     "proxy 1"),
                ([{"name": "new1", "upstream": self.up_a},
                  {"name": "new2", "upstream": self.up_a, "toxics": {}}],
                 "bad request body: toxics: a JSON array at proxy 2")]:
            with self.subTest(proxies=proxies):
                self.assertEqual(api.call("POST", "/populate", proxies), (
                    400, {"error": error, "status": 400, "proxies": []}))
        self.assertEqual(api.call("POST", "/populate", {"name": "x"}), (
            400, {"error": "bad request body: not a JSON array",
                  "status": 400, "proxies": []}))
        self.assertEqual(sorted(api.call("GET", "/proxies")[1]),
                         ["kept", "moved"])
        # A listen that fails: 500, with the proxies made before it.
        busy = self.busy_port()
        status, body = api.call("POST", "/populate", [
            {"name": "new1", "upstream": self.up_a},
            {"name": "new2", "upstream": self.up_a,
             "listen": f"127.0.0.1:{busy}"},
            {"name": "new3", "upstream": self.up_a}])
        new1 = api.call("GET", "/proxies/new1")[1]
        self.assertEqual((status, body), (500, {
            "error": f"cannot listen on 127.0.0.1:{busy}: Address already "
                     "in use", "status": 500, "proxies": [new1]}))
        # A toxic that fails: its proxy is made, and listed.
        status, body = api.call("POST", "/populate", [
            {"name": "new4", "upstream": self.up_a,
             "toxics": [{"type": "bogus"}]}])
        new4 = api.call("GET", "/proxies/new4")[1]
        self.assertEqual((status, body), (400, {
            "error": "invalid toxic type", "status": 400, "proxies": [new4]}))
        self.assertEqual(sorted(api.call("GET", "/proxies")[1]),
                         ["kept", "moved", "new1", "new4"])

    def test_populate_toxics_replace_a_kept_proxys(self):
        api = self.api
        cache = self.create(api, "cache", self.up_a)
        api.call("POST", "/proxies/cache/toxics", {"type": "latency"})
        same = {"name": "cache", "listen": cache["listen"],
                "upstream": self.up_a}
        with connect(port_of(cache["listen"])) as live:
            self.talk(live, b"1", b"1")
            self.assertEqual(api.call("POST", "/populate", [dict(
                same, toxics=[{"type": "latency", "stream": "upstream",
                               "attributes": {"latency": 300}}])]),
                (201, {"proxies": [dict(cache, toxics=[dict(
                    LATENCY, name="latency_upstream",
                    stream="upstream")])]}))
            self.assertEqual(api.fault_specs(),
                             ["latency=300,dir=up,odds=100,proxy=cache"])
            start = time.monotonic()  # kept: the toxic reaches it
            self.talk(live, b"2", b"2")
            self.assertGreaterEqual(time.monotonic() - start, 0.3)
            self.assertEqual(api.call("POST", "/populate", [
                dict(same, toxics=[])]), (201, {"proxies": [cache]}))
            self.talk(live, b"3", b"3")
        self.assertEqual(api.fault_specs(), [])

    def test_reset_enables_every_proxy(self):
        api = self.api
        cache = self.create(api, "cache", self.up_a)
        db = self.create(api, "db", self.up_b, enabled=False)
        api.call("PATCH", "/proxies/cache", {"enabled": False})
        api.call("POST", "/proxies/cache/toxics", {"type": "latency"})
        self.assert_refused(port_of(cache["listen"]))
        self.assertEqual(api.call("POST", "/reset"), (204, None))
        status, proxies = api.call("GET", "/proxies")
        self.assertEqual((status, proxies["cache"]), (200, cache))
        self.assertEqual(proxies["db"]["enabled"], True)
        with connect(port_of(cache["listen"])) as c:
            self.talk(c, b"c", b"c")
        with connect(port_of(proxies["db"]["listen"])) as c:
            self.talk(c, b"d", b"B:d")
        self.assertEqual(api.fault_specs(), [])


class TestCommandLineProxies(ProxyCase):
    def test_disabled_enabled_deleted_through_the_api(self):
        # -l X --to Y --name n: two listeners for one of them.
        api = self.start("-l", "127.0.0.1:0", "-l", "127.0.0.1:0", "--to",
                         self.up_b, "--name", "two", proxies=(("echo", None),),
                         listeners=3)
        ports = [addr[1] for _, addr in api.m.listeners]
        status, echo = api.call("GET", "/proxies/echo")
        self.assertEqual(echo["listen"], f"127.0.0.1:{ports[0]}")
        with api.m.connect(0) as live:
            self.talk(live, b"e", b"e")
            self.assertEqual(api.call("PATCH", "/proxies/echo", {
                "enabled": False}), (200, dict(echo, enabled=False)))
            self.assert_closed(live)
        self.assert_refused(ports[0])
        self.assertEqual(api.call("PATCH", "/proxies/echo", {
            "enabled": True}), (200, echo))
        with api.m.connect(0) as c:
            self.talk(c, b"e", b"e")
        # Both of its addresses, the same ports again.
        api.call("PATCH", "/proxies/two", {"enabled": False})
        self.assert_refused(ports[1])
        self.assert_refused(ports[2])
        api.call("PATCH", "/proxies/two", {"enabled": True})
        self.assertEqual(api.control("proxy list")["proxies"][1]["listen"],
                         [f"127.0.0.1:{ports[1]}", f"127.0.0.1:{ports[2]}"])
        for index in (1, 2):
            with api.m.connect(index) as c:
                self.talk(c, b"t", b"B:t")
        self.assertEqual(api.call("DELETE", "/proxies/echo"), (204, None))
        self.assert_refused(ports[0])
        self.assertEqual(sorted(api.call("GET", "/proxies")[1]), ["two"])
        again = self.create(api, "echo", self.up_b,
                            listen=f"127.0.0.1:{ports[0]}")
        self.assertEqual(again["listen"], f"127.0.0.1:{ports[0]}")
        with api.m.connect(0) as c:
            self.talk(c, b"e", b"B:e")


# Runs in a network namespace of its own (the doc's fixed ports): an echo
# upstream on the doc's upstream address, then muxd as the doc starts it,
# with the doc's file; prints what a client saw, as JSON.
DOC_CONFIG_RUN = """
import json, socket, subprocess, sys, threading, time
import muxtest
exec(sys.argv[1])  # the loopback interface up
config, command, upstream = json.loads(sys.argv[2])
host, _, port = upstream.rpartition(":")
up = socket.create_server((host, int(port)))

def echo():
    conn, _ = up.accept()
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)

threading.Thread(target=echo, daemon=True).start()
with open("proxies.json", "w") as f:
    f.write(config)
with muxtest.Muxd(*command[1:]) as m:
    api_line = m.readline(time.monotonic() + muxtest.TIMEOUT)
    with m.connect() as c:
        start = time.monotonic()
        c.sendall(b"ping")
        echoed = muxtest.recv_exactly(c, 4).decode()
        elapsed = time.monotonic() - start
    url = api_line.split()[-1]
    proxies = subprocess.run(["curl", "-sS", url + "/proxies"],
                             capture_output=True, text=True,
                             timeout=muxtest.TIMEOUT).stdout
print(json.dumps({"listeners": m.listeners, "api": api_line,
                  "echoed": echoed, "elapsed": elapsed,
                  "proxies": json.loads(proxies)}))
"""


def doc_config_example():
    """docs/toxiproxy.md's --api-config example: (the JSON file, the
    command that starts muxd with it)."""
    path = os.path.join(muxtest.SOURCE_DIR, "docs", "toxiproxy.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"\n```json\n(.*?)```\n\n`(muxd [^`]*--api-config "
                      r"proxies\.json)`", text, re.S)
    assert match, f"{path}: no --api-config example (a json block, then " \
                  "`muxd ... --api-config proxies.json`)"
    return match.group(1), match.group(2).split()


class TestApiConfig(ProxyCase):
    def write(self, text):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        path = os.path.join(d.name, "proxies.json")
        if text is not None:
            with open(path, "w") as f:
                f.write(text if isinstance(text, str) else json.dumps(text))
        return path

    def test_proxies_and_toxics_there_at_the_ready_line(self):
        path = self.write([
            {"name": "slow", "listen": "127.0.0.1:0", "upstream": self.up_a,
             "toxics": [{"type": "latency",
                         "attributes": {"latency": 300}}]},
            {"name": "off", "upstream": self.up_b, "enabled": False}])
        api = self.start("--api-config", path, proxies=(), listeners=1)
        (transport, (host, port)), = api.m.listeners
        with api.m.connect() as c:  # the first connection has the toxic
            start = time.monotonic()
            self.talk(c, b"first", b"first")
            self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertEqual(api.call("GET", "/proxies"), (200, {
            "slow": {"name": "slow", "listen": f"127.0.0.1:{port}",
                     "upstream": self.up_a, "enabled": True,
                     "toxics": [LATENCY]},
            "off": {"name": "off", "listen": "127.0.0.1:0",
                    "upstream": self.up_b, "enabled": False, "toxics": []}}))
        self.assertEqual(api.fault_specs(),
                         ["latency=300,dir=down,odds=100,proxy=slow"])

    def test_a_bad_file_is_a_start_error(self):
        busy = self.busy_port()
        not_addr = "not HOST:PORT, [V6]:PORT, PORT or unix:PATH"
        for text, reason in [
                (None, "cannot read --api-config {}: No such file or "
                       "directory"),
                ("[{", "cannot apply --api-config {}: bad request body: at "
                       "byte 2: expected '\"' to start an object key, got "
                       "the end of the input (nothing is served)"),
                ({"name": "x"}, "cannot apply --api-config {}: bad request "
                                "body: not a JSON array (nothing is "
                                "served)"),
                ([{"name": "x", "upstream": "127.0.0.1"}],
                 "cannot apply --api-config {}: invalid upstream "
                 f"'127.0.0.1': {not_addr} (or an unknown port name) "
                 "(nothing is served)"),
                ([{"name": "x", "upstream": self.up_a},
                  {"upstream": self.up_a}],
                 "cannot apply --api-config {}: missing required field: "
                 "name at proxy 2 (nothing is served)"),
                ([{"name": "x", "upstream": self.up_a,
                   "listen": f"127.0.0.1:{busy}"}],
                 "cannot apply --api-config {}: cannot listen on "
                 f"127.0.0.1:{busy}: Address already in use (nothing is "
                 "served)"),
                ([{"name": "x", "upstream": self.up_a,
                   "toxics": [{"type": "bogus"}]}],
                 "cannot apply --api-config {}: invalid toxic type "
                 "(nothing is served)")]:
            path = self.write(text)
            with self.subTest(text=text):
                status, out, err = muxtest.run("--api", "127.0.0.1:0",
                                               "--api-config", path)
                self.assertEqual((status, out), (1, ""))
                # The reason, last; before it the proxy a bad toxic
                # came after (made, then undone by the exit).
                *made, last = err.split("\n")[:-1]
                self.assertEqual(last, "muxd: " + reason.format(path))
                self.assertEqual(len(made), "toxic" in reason, made)
                for line in made:
                    self.assertRegex(line, r"^muxd: proxy x: added, "
                                     r"listening on 127\.0\.0\.1:\d+, "
                                     rf"relaying to {self.up_a}$")

    def test_the_docs_example(self):
        """docs/toxiproxy.md's JSON and command as they are written, fixed
        ports and all, in a network namespace of the test's own."""
        from test_docs import LO_UP, namespace_prefix
        config, command = doc_config_example()
        upstream = json.loads(config)[0]["upstream"]
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ,
                       MUX_BUILD_DIR=os.path.abspath(muxtest.BUILD_DIR),
                       PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
            p = subprocess.run(
                [*namespace_prefix(), sys.executable, "-c", DOC_CONFIG_RUN,
                 LO_UP, json.dumps([config, command, upstream])],
                capture_output=True, text=True, timeout=3 * TIMEOUT, cwd=d,
                env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        seen = json.loads(p.stdout)
        self.assertEqual(command[:3], ["muxd", "--api", "127.0.0.1:8474"])
        self.assertEqual(seen["listeners"], [["tcp", ["127.0.0.1", 26379]]])
        self.assertEqual(seen["api"], "api on http://127.0.0.1:8474")
        self.assertEqual(seen["echoed"], "ping")
        self.assertGreaterEqual(seen["elapsed"], 0.1)
        self.assertEqual(seen["proxies"], {"echo": {
            "name": "echo", "listen": "127.0.0.1:26379",
            "upstream": "127.0.0.1:7001", "enabled": True,
            "toxics": [dict(LATENCY, attributes={"latency": 100,
                                                  "jitter": 0})]}})


class TestOptions(unittest.TestCase):
    def test_loopback_only_unless_asked(self):
        status, _, err = muxtest.run("--to", "1", "--api", "10.1.2.3:0")
        self.assertEqual(status, 1)
        self.assertIn("cannot serve --api on 10.1.2.3:0: not a loopback "
                      "address (add --api-remote to allow it", err)
        status, _, err = muxtest.run("--api-remote")
        self.assertEqual(status, 2)
        self.assertIn("muxd: --api-remote needs --api ADDR", err)
        status, _, err = muxtest.run("--api", "127.0.0.1:0", "--workers",
                                     "2", "-l", "127.0.0.1:0", "--to",
                                     "127.0.0.1:1")
        self.assertEqual(status, 2)
        self.assertIn("muxd: --api cannot be combined with --workers", err)


if __name__ == "__main__":
    muxtest.main()
