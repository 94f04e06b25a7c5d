"""muxd --api driven by toxiproxy's Node client, the npm package
toxiproxy-node-client 4.1.0 (scripts/test.sh installs it into build/npm
from test/npm's lockfile):
what a toxiproxy user's test suite does, unchanged, against muxd: proxies
made, listed, changed, disabled, deleted, populated and reset, and every
toxic muxd has added, changed and removed, with its effect seen through
real services the test starts (redis-server with redis-cli, python's
http.server with curl). Every wait is bounded; the only times asserted
are lower bounds muxd's timers guarantee."""

import collections
import hashlib
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import muxtest
from muxtest import Muxd, TIMEOUT, recv_exactly, recv_until_close
from test_api import echo_upstream

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "toxiproxy_client.js")


def client_module():
    """The installed package's directory; missing, the test fails and
    says how to get it."""
    base = os.environ.get("MUX_NODE_MODULES") or os.path.join(
        muxtest.SOURCE_DIR, "build", "npm", "node_modules")
    path = os.path.join(base, "toxiproxy-node-client")
    if not os.path.isfile(os.path.join(path, "package.json")):
        raise AssertionError(
            f"toxiproxy-node-client is not installed at {path} (scripts/"
            f"test.sh installs it: npm ci in build/npm with test/npm's "
            f"package.json and package-lock.json)")
    return path


class NodeClient:
    """toxiproxy_client.js on its own process: call() sends one request
    and returns its answer."""

    def __init__(self, url):
        node = muxtest.require_tool("node", "nodejs")
        self.proc = subprocess.Popen(
            [node, CLIENT, client_module(), url], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def call(self, op, **req):
        self.proc.stdin.write(json.dumps(dict(req, op=op)) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"node client died: {self.proc.stderr.read()}")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()


class TestNodeClient(unittest.TestCase):
    def setUp(self):
        self.up, port = echo_upstream()
        self.m = Muxd("-l", "127.0.0.1:0", "--to", f"127.0.0.1:{port}",
                      "--name", "echo", "--api", "127.0.0.1:0")
        line = self.m.readline(time.monotonic() + TIMEOUT)
        url = re.fullmatch(r"api on (http://\S+)", line or "").group(1)
        self.client = NodeClient(url)
        self.upstream_port = port

    def tearDown(self):
        self.client.close()
        self.m.__exit__(None, None, None)
        self.up.close()

    def test_proxies_as_the_client_sees_them(self):
        self.assertEqual(self.client.call("version"),
                         {"ok": '{"version":"muxd 0.2.0"}'})
        proxy = {"enabled": True, "listen": f"127.0.0.1:{self.m.port}",
                 "name": "echo",
                 "upstream": f"127.0.0.1:{self.upstream_port}"}
        self.assertEqual(self.client.call("proxies"), {"ok": [proxy]})
        self.assertEqual(self.client.call("get", proxy="echo"), {"ok": proxy})
        self.assertEqual(self.client.call("get", proxy="nope"),
                         {"error": "Request failed with status code 404"})

    def test_a_latency_toxic_added_updated_removed(self):
        added = self.client.call("add", proxy="echo", body={
            "type": "latency", "attributes": {"latency": 300}})
        self.assertEqual(added, {"ok": {
            "attributes": {"latency": 300, "jitter": 0},
            "name": "latency_downstream", "stream": "downstream",
            "toxicity": 1, "type": "latency"}})
        with self.m.connect() as c:
            start = time.monotonic()
            c.sendall(b"ping")
            self.assertEqual(recv_exactly(c, 4), b"ping")
            self.assertGreaterEqual(time.monotonic() - start, 0.3)
            updated = self.client.call(
                "update", proxy="echo", name="latency_downstream",
                body={"attributes": {"latency": 600}})
            self.assertEqual(updated["ok"]["attributes"]["latency"], 600)
            start = time.monotonic()
            c.sendall(b"pong")
            self.assertEqual(recv_exactly(c, 4), b"pong")
            self.assertGreaterEqual(time.monotonic() - start, 0.6)
            self.assertEqual(self.client.call(
                "remove", proxy="echo", name="latency_downstream"),
                {"ok": None})
            self.assertEqual(self.client.call(
                "toxic", proxy="echo", name="latency_downstream"),
                {"error": "Request failed with status code 404"})

    def test_limit_data_and_reset(self):
        self.assertIn("ok", self.client.call("add", proxy="echo", body={
            "name": "cut", "type": "limit_data", "toxicity": 1.0,
            "attributes": {"bytes": 3}}))
        with self.m.connect() as c:
            c.sendall(b"abcdef")  # 3 bytes of the echo, then EOF
            self.assertEqual(recv_until_close(c), b"abc")
        self.assertEqual(self.client.call("reset"), {"ok": None})
        with self.m.connect() as c:
            c.sendall(b"abcdef")
            self.assertEqual(recv_exactly(c, 6), b"abcdef")


NOT_FOUND = {"error": "Request failed with status code 404"}
BLOB_SIZE = 1_000_000  # bytes of random data http.server serves
# muxd's bandwidth is a token bucket of 10 ms (docs/faults.md): at most
# 10 ms of the rate goes out at once, so S bytes take at least S/rate
# less those 10 ms.
BUCKET = 0.010


class Service:
    """A service the test starts, up once it printed its ready line."""

    def __init__(self, args, ready, cwd):
        self.proc = subprocess.Popen(
            args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.log = b""
        self.match = self._wait_for(re.compile(ready))

    def _wait_for(self, pattern):
        """The match of `pattern` in a line of its output; bounded."""
        deadline = time.monotonic() + TIMEOUT
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                m = pattern.search(self.log.decode(errors="replace"))
                if m:
                    return m
                if sel.select(deadline - time.monotonic()):
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        break
                    self.log += chunk
        self.stop()
        raise AssertionError(f"{self.proc.args[0]} did not get ready: "
                             f"{self.log.decode(errors='replace')!r}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=TIMEOUT)
        self.proc.stdout.close()


Download = collections.namedtuple(
    "Download", "rc status header_size body seconds stderr")


class TestNodeClientServices(unittest.TestCase):
    """Proxies the Node client makes in front of redis-server (on a unix
    socket) and http.server (on 127.0.0.1), each test its own muxd."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.tmp.cleanup)  # cleanups: even if one fails
        cls.blob = os.urandom(BLOB_SIZE)
        with open(os.path.join(cls.tmp.name, "blob"), "wb") as f:
            f.write(cls.blob)
        cls.sha = hashlib.sha256(cls.blob).hexdigest()
        cls.redis_cli = muxtest.require_tool("redis-cli", "redis-tools")
        cls.curl_path = muxtest.require_tool("curl", "curl")
        sock = os.path.join(cls.tmp.name, "redis.sock")
        cls.redis = Service(
            [muxtest.require_tool("redis-server", "redis-server"),
             "--port", "0", "--unixsocket", sock, "--save", "",
             "--appendonly", "no", "--dir", cls.tmp.name],
            r"(?i)ready to accept connections", cls.tmp.name)
        cls.addClassCleanup(cls.redis.stop)
        cls.redis_up = f"unix:{sock}"
        cls.web = Service(
            [sys.executable, "-u", "-m", "http.server", "0", "--bind",
             "127.0.0.1", "--directory", cls.tmp.name],
            r"Serving HTTP on 127\.0\.0\.1 port (\d+)", cls.tmp.name)
        cls.addClassCleanup(cls.web.stop)
        cls.web_up = f"127.0.0.1:{cls.web.match.group(1)}"

    def setUp(self):
        self.m = Muxd("--api", "127.0.0.1:0", listeners=0)
        self.addCleanup(self.m.__exit__, None, None, None)
        line = self.m.readline(time.monotonic() + TIMEOUT)
        url = re.fullmatch(r"api on (http://\S+)", line or "").group(1)
        self.client = NodeClient(url)
        self.addCleanup(self.client.close)

    # What the test does through a proxy, as a user would.

    def create(self, name, upstream, listen="127.0.0.1:0"):
        """Makes a proxy with the client; (its JSON, its port)."""
        made = self.client.call("create", body={
            "name": name, "listen": listen, "upstream": upstream})
        self.assertIn("ok", made, made)
        return made["ok"], port_of(made["ok"])

    def ping(self, port):
        """redis-cli PING through the proxy: (status, stdout, stderr,
        seconds)."""
        start = time.monotonic()
        p = subprocess.run(
            [self.redis_cli, "-h", "127.0.0.1", "-p", str(port), "PING"],
            capture_output=True, text=True, timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - start

    def assert_pong(self, port):
        """redis answers PING through the proxy; the seconds it took."""
        rc, out, err, seconds = self.ping(port)
        self.assertEqual((rc, out, err), (0, "PONG\n", ""))
        return seconds

    def assert_refused(self, port):
        self.assertEqual(self.ping(port)[:3], (
            1, "", f"Could not connect to Redis at 127.0.0.1:{port}: "
            f"Connection refused\n"))

    def fetch(self, port, *options):
        """curl GET /blob through the proxy."""
        out = os.path.join(self.tmp.name, "download")
        start = time.monotonic()
        p = subprocess.run(
            [self.curl_path, "-sS", "-o", out, "-w",
             "%{http_code} %{size_header}", *options,
             f"http://127.0.0.1:{port}/blob"],
            capture_output=True, text=True, timeout=TIMEOUT)
        seconds = time.monotonic() - start
        try:  # curl makes no file when nothing came
            with open(out, "rb") as f:
                body = f.read()
            os.unlink(out)
        except FileNotFoundError:
            body = b""
        status, header_size = p.stdout.split()
        return Download(p.returncode, status, int(header_size), body,
                        seconds, p.stderr)

    def assert_file(self, port, *options):
        """curl gets the whole file through the proxy; the download."""
        got = self.fetch(port, *options)
        self.assertEqual((got.rc, got.status, got.stderr), (0, "200", ""))
        self.assertEqual(hashlib.sha256(got.body).hexdigest(), self.sha)
        return got

    def redis_conn(self, port):
        """A connection through the proxy that redis answered once."""
        conn = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.assert_live(conn)
        return conn

    def assert_live(self, conn):
        conn.sendall(b"PING\r\n")
        self.assertEqual(recv_exactly(conn, 7), b"+PONG\r\n")

    def toxic_added(self, proxy, body, expected):
        """Adds a toxic with the client, checks the answer."""
        self.assertEqual(self.client.call("add", proxy=proxy, body=body),
                         {"ok": expected})

    def toxic_changed(self, proxy, name, body, expected):
        self.assertEqual(self.client.call("update", proxy=proxy, name=name,
                                          body=body), {"ok": expected})

    def toxic_removed(self, proxy, name):
        self.assertEqual(self.client.call("remove", proxy=proxy, name=name),
                         {"ok": None})
        self.assertEqual(self.client.call("toxic", proxy=proxy, name=name),
                         NOT_FOUND)

    # Proxies.

    def test_proxies_created_listed_got_and_deleted(self):
        redis, redis_port = self.create("redis", self.redis_up)
        self.assertEqual(redis, {
            "enabled": True, "listen": f"127.0.0.1:{redis_port}",
            "name": "redis", "upstream": self.redis_up})
        self.assertNotEqual(redis_port, 0)
        web, web_port = self.create("web", self.web_up)
        self.assert_pong(redis_port)
        self.assert_file(web_port)
        self.assertEqual(self.client.call("proxies"), {"ok": [redis, web]})
        self.assertEqual(self.client.call("get", proxy="web"), {"ok": web})
        self.assertEqual(self.client.call("create", body={
            "name": "redis", "listen": "127.0.0.1:0",
            "upstream": self.web_up}),
            {"error": "Request failed with status code 409"})
        self.assertEqual(self.client.call("delete", proxy="redis"),
                         {"ok": None})
        self.assertEqual(self.client.call("get", proxy="redis"), NOT_FOUND)
        self.assertEqual(self.client.call("delete", proxy="redis"), NOT_FOUND)
        self.assertEqual(self.client.call("proxies"), {"ok": [web]})
        self.assert_refused(redis_port)
        self.assert_file(web_port)

    def test_upstream_and_listen_changed(self):
        made, port = self.create("svc", self.redis_up)
        live = self.redis_conn(port)
        changed = self.client.call("change", proxy="svc",
                                   body={"upstream": self.web_up})
        self.assertEqual(changed, {"ok": dict(made, upstream=self.web_up)})
        with live:  # closed: it was redis's
            self.assertEqual(recv_until_close(live), b"")
        self.assert_file(port)  # the same port, the new upstream
        moved = self.client.call("change", proxy="svc",
                                 body={"listen": "127.0.0.1:0"})
        new_port = port_of(moved["ok"])
        self.assertNotEqual(new_port, port)
        self.assertEqual(moved, {"ok": dict(
            made, upstream=self.web_up, listen=f"127.0.0.1:{new_port}")})
        self.assertEqual(self.client.call("get", proxy="svc"), moved)
        refused = self.fetch(port)
        self.assertEqual((refused.rc, refused.status, refused.body),
                         (7, "000", b""))
        self.assertIn(f"Failed to connect to 127.0.0.1 port {port}",
                      refused.stderr)
        self.assert_file(new_port)

    def test_disabled_and_enabled(self):
        made, port = self.create("redis", self.redis_up)
        live = self.redis_conn(port)
        self.assertEqual(
            self.client.call("change", proxy="redis",
                             body={"enabled": False}),
            {"ok": dict(made, enabled=False)})
        with live:  # the live connection is closed ...
            self.assertEqual(recv_until_close(live), b"")
        self.assert_refused(port)  # ... and new ones refused
        self.assertEqual(self.client.call("get", proxy="redis"),
                         {"ok": dict(made, enabled=False)})
        self.assertEqual(
            self.client.call("change", proxy="redis", body={"enabled": True}),
            {"ok": made})
        self.assert_pong(port)  # served again on the same port

    def test_populate(self):
        asked = [{"name": "web", "listen": "127.0.0.1:0",
                  "upstream": self.web_up},
                 {"name": "redis", "listen": "127.0.0.1:0",
                  "upstream": self.redis_up}]
        made = self.client.call("populate", body=asked)["ok"]
        self.assertEqual([p["name"] for p in made], ["redis", "web"])
        redis_port, web_port = port_of(made[0]), port_of(made[1])
        self.assertEqual(made, [
            {"enabled": True, "listen": f"127.0.0.1:{redis_port}",
             "name": "redis", "upstream": self.redis_up},
            {"enabled": True, "listen": f"127.0.0.1:{web_port}",
             "name": "web", "upstream": self.web_up}])
        live = self.redis_conn(redis_port)
        # The same again: kept as they are, connections and all.
        again = [{k: p[k] for k in ("name", "listen", "upstream")}
                 for p in made]
        self.assertEqual(self.client.call("populate", body=again),
                         {"ok": made})
        with live:
            self.assert_live(live)
        self.assert_file(web_port)
        # One without its upstream: a 400, and nothing made.
        self.assertEqual(self.client.call("populate", body=[
            {"name": "more", "listen": "127.0.0.1:0",
             "upstream": self.web_up}, {"name": "bad", "listen": "127.0.0.1:0"}]),
            {"error": "Request failed with status code 400"})
        self.assertEqual(self.client.call("proxies"), {"ok": made})

    def test_reset(self):
        redis, redis_port = self.create("redis", self.redis_up)
        web, web_port = self.create("web", self.web_up)
        self.assertIn("ok", self.client.call("add", proxy="web", body={
            "type": "limit_data", "attributes": {"bytes": 1000}}))
        self.assertIn("ok", self.client.call("add", proxy="redis", body={
            "type": "latency", "attributes": {"latency": 100}}))
        self.client.call("change", proxy="redis", body={"enabled": False})
        self.assertEqual(self.fetch(web_port).rc, 18)
        self.assert_refused(redis_port)
        self.assertEqual(self.client.call("reset"), {"ok": None})
        self.assertEqual(self.client.call("proxies"), {"ok": [redis, web]})
        self.assertEqual(self.client.call(
            "toxic", proxy="web", name="limit_data_downstream"), NOT_FOUND)
        self.assertEqual(self.client.call(
            "toxic", proxy="redis", name="latency_downstream"), NOT_FOUND)
        self.assert_file(web_port)
        self.assert_pong(redis_port)

    # Toxics, each added, changed and removed with traffic going through.

    def test_latency(self):
        _, port = self.create("redis", self.redis_up)
        self.toxic_added("redis", {"type": "latency",
                                   "attributes": {"latency": 300}}, {
            "attributes": {"latency": 300, "jitter": 0},
            "name": "latency_downstream", "stream": "downstream",
            "toxicity": 1, "type": "latency"})
        self.assertGreaterEqual(self.assert_pong(port), 0.3)
        self.toxic_added("redis", {"name": "slow_up", "type": "latency",
                                   "stream": "upstream",
                                   "attributes": {"latency": 200}}, {
            "attributes": {"latency": 200, "jitter": 0}, "name": "slow_up",
            "stream": "upstream", "toxicity": 1, "type": "latency"})
        self.assertGreaterEqual(self.assert_pong(port), 0.5)  # they add up
        self.toxic_changed("redis", "latency_downstream",
                           {"attributes": {"latency": 600}}, {
            "attributes": {"latency": 600, "jitter": 0},
            "name": "latency_downstream", "stream": "downstream",
            "toxicity": 1, "type": "latency"})
        self.assertGreaterEqual(self.assert_pong(port), 0.8)
        self.toxic_removed("redis", "latency_downstream")
        self.toxic_removed("redis", "slow_up")
        self.assert_pong(port)

    def test_bandwidth(self):
        _, port = self.create("web", self.web_up)
        self.toxic_added("web", {"type": "bandwidth",
                                 "attributes": {"rate": 4000}}, {
            "attributes": {"rate": 4000}, "name": "bandwidth_downstream",
            "stream": "downstream", "toxicity": 1, "type": "bandwidth"})
        got = self.assert_file(port)  # 4000 KB/s: 4,000,000 bytes a second
        size = got.header_size + len(got.body)
        self.assertGreaterEqual(got.seconds, size / 4_000_000 - BUCKET)
        self.toxic_changed("web", "bandwidth_downstream",
                           {"attributes": {"rate": 2000}}, {
            "attributes": {"rate": 2000}, "name": "bandwidth_downstream",
            "stream": "downstream", "toxicity": 1, "type": "bandwidth"})
        got = self.assert_file(port)
        self.assertGreaterEqual(got.seconds, size / 2_000_000 - BUCKET)
        self.toxic_removed("web", "bandwidth_downstream")
        self.assert_file(port)

    def assert_cut(self, port, limit):
        """curl gets `limit` bytes of the answer, then the connection
        closes: a file short of its Content-Length."""
        got = self.fetch(port)
        self.assertEqual((got.rc, got.status), (18, "200"), got.stderr)
        self.assertEqual(got.header_size + len(got.body), limit)
        self.assertEqual(got.body, self.blob[:len(got.body)])

    def test_limit_data(self):
        _, port = self.create("web", self.web_up)
        self.toxic_added("web", {"type": "limit_data",
                                 "attributes": {"bytes": 100_000}}, {
            "attributes": {"bytes": 100_000}, "name": "limit_data_downstream",
            "stream": "downstream", "toxicity": 1, "type": "limit_data"})
        self.assert_cut(port, 100_000)
        self.toxic_changed("web", "limit_data_downstream",
                           {"attributes": {"bytes": 5000}}, {
            "attributes": {"bytes": 5000}, "name": "limit_data_downstream",
            "stream": "downstream", "toxicity": 1, "type": "limit_data"})
        self.assert_cut(port, 5000)
        # toxicity 0: no connection gets it.
        self.toxic_changed("web", "limit_data_downstream", {"toxicity": 0}, {
            "attributes": {"bytes": 5000}, "name": "limit_data_downstream",
            "stream": "downstream", "toxicity": 0, "type": "limit_data"})
        self.assert_file(port)
        self.toxic_removed("web", "limit_data_downstream")
        self.assert_file(port)

    def assert_timed_out(self, port, seconds):
        """curl gets nothing, and the connection closes after `seconds`."""
        got = self.fetch(port)
        self.assertEqual((got.rc, got.status, got.header_size, got.body),
                         (52, "000", 0, b""), got.stderr)
        self.assertGreaterEqual(got.seconds, seconds)

    def test_timeout(self):
        _, port = self.create("web", self.web_up)
        self.toxic_added("web", {"type": "timeout",
                                 "attributes": {"timeout": 300}}, {
            "attributes": {"timeout": 300}, "name": "timeout_downstream",
            "stream": "downstream", "toxicity": 1, "type": "timeout"})
        self.assert_timed_out(port, 0.3)
        self.toxic_changed("web", "timeout_downstream",
                           {"attributes": {"timeout": 600}}, {
            "attributes": {"timeout": 600}, "name": "timeout_downstream",
            "stream": "downstream", "toxicity": 1, "type": "timeout"})
        self.assert_timed_out(port, 0.6)
        # 0: held until the toxic goes; removed, it closes what it held.
        self.toxic_changed("web", "timeout_downstream",
                           {"attributes": {"timeout": 0}}, {
            "attributes": {"timeout": 0}, "name": "timeout_downstream",
            "stream": "downstream", "toxicity": 1, "type": "timeout"})
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=TIMEOUT) as held:
            held.sendall(b"GET /blob HTTP/1.0\r\n\r\n")
            # Accepted (with its toxic) before the toxic goes:
            self.m.wait_for_log(
                f"accepted 127.0.0.1:{held.getsockname()[1]} on")
            self.toxic_removed("web", "timeout_downstream")
            self.assertEqual(recv_until_close(held), b"")
        self.assert_file(port)

    def test_slow_close(self):
        _, port = self.create("web", self.web_up)
        # curl reads to the close, as it does when it cannot trust the
        # length: the close is what slow_close delays.
        whole = "--ignore-content-length"
        self.toxic_added("web", {"type": "slow_close",
                                 "attributes": {"delay": 300}}, {
            "attributes": {"delay": 300}, "name": "slow_close_downstream",
            "stream": "downstream", "toxicity": 1, "type": "slow_close"})
        self.assertGreaterEqual(self.assert_file(port, whole).seconds, 0.3)
        self.toxic_changed("web", "slow_close_downstream",
                           {"attributes": {"delay": 600}}, {
            "attributes": {"delay": 600}, "name": "slow_close_downstream",
            "stream": "downstream", "toxicity": 1, "type": "slow_close"})
        self.assertGreaterEqual(self.assert_file(port, whole).seconds, 0.6)
        self.toxic_removed("web", "slow_close_downstream")
        self.assert_file(port, whole)


    def assert_reset(self, conn, seconds):
        """A PING on `conn` gets no answer: a reset, `seconds` or more
        after it was sent."""
        start = time.monotonic()
        conn.sendall(b"PING\r\n")
        with self.assertRaises(ConnectionResetError):
            self.assertEqual(conn.recv(64), b"")  # never an answer
        self.assertGreaterEqual(time.monotonic() - start, seconds)

    def test_reset_peer(self):
        _, port = self.create("redis", self.redis_up)
        before = self.redis_conn(port)  # open before the toxic: reached too
        self.addCleanup(before.close)
        self.toxic_added("redis", {"type": "reset_peer",
                                   "attributes": {"timeout": 200}}, {
            "attributes": {"timeout": 200}, "name": "reset_peer_downstream",
            "stream": "downstream", "toxicity": 1, "type": "reset_peer"})
        self.assert_reset(before, 0.2)
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=TIMEOUT) as conn:
            self.assert_reset(conn, 0.2)
        self.toxic_changed("redis", "reset_peer_downstream",
                           {"attributes": {"timeout": 0}}, {
            "attributes": {"timeout": 0}, "name": "reset_peer_downstream",
            "stream": "downstream", "toxicity": 1, "type": "reset_peer"})
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=TIMEOUT) as conn:
            self.assert_reset(conn, 0)
        self.toxic_removed("redis", "reset_peer_downstream")
        self.assert_pong(port)

    def test_slicer(self):
        _, web_port = self.create("web", self.web_up)
        self.toxic_added("web", {"type": "slicer", "attributes": {
            "average_size": 1000, "size_variation": 300, "delay": 100}}, {
            "attributes": {"average_size": 1000, "size_variation": 300,
                           "delay": 100},
            "name": "slicer_downstream", "stream": "downstream",
            "toxicity": 1, "type": "slicer"})
        self.assert_file(web_port)  # in pieces, intact
        _, port = self.create("redis", self.redis_up)
        self.toxic_added("redis", {"type": "slicer", "attributes": {
            "average_size": 2, "delay": 100_000}}, {
            "attributes": {"average_size": 2, "size_variation": 0,
                           "delay": 100_000},
            "name": "slicer_downstream", "stream": "downstream",
            "toxicity": 1, "type": "slicer"})
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=TIMEOUT) as conn:
            # +PONG\r\n, 7 bytes in toxiproxy's halves: 1 2 2 2, 100 ms
            # apart (each its own read).
            conn.sendall(b"PING\r\n")
            reads = []
            while sum(map(len, reads)) < 7:
                reads.append(conn.recv(64))
            self.assertEqual(reads, [b"+", b"PO", b"NG", b"\r\n"])
        self.assertEqual(self.client.call(  # a variation below the size
            "update", proxy="redis", name="slicer_downstream",
            body={"attributes": {"average_size": 2, "size_variation": 2}}),
            {"error": "Request failed with status code 400"})
        self.toxic_removed("redis", "slicer_downstream")
        self.toxic_removed("web", "slicer_downstream")
        self.assert_pong(port)
        self.assert_file(web_port)

def port_of(proxy):
    """The port of a proxy's listen address (127.0.0.1:PORT)."""
    return int(re.fullmatch(r"127\.0\.0\.1:(\d+)", proxy["listen"]).group(1))


if __name__ == "__main__":
    muxtest.main()
