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
import tempfile
import threading
import time
import unittest

import muxtest
from muxtest import Muxd, TIMEOUT, recv_exactly, recv_until_close


def echo_upstream():
    """A listening socket of the test's own that echoes every connection
    on a thread until EOF; (socket, port)."""
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
                conn.sendall(b)

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

    def __init__(self, *args, proxies=(("echo", None),)):
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
                      "unix:" + self.ctl_path, *args, listeners=len(proxies))
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

    def fault_specs(self):
        ctl = muxtest.Control(self.ctl_path)
        try:
            return [f["spec"] for f in ctl.command("fault list")["faults"]]
        finally:
            ctl.close()

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
