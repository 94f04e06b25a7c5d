"""muxd --api driven by toxiproxy's Node client, the npm package
toxiproxy-node-client 4.1.0 (scripts/test.sh installs it into build/npm
from test/npm's lockfile):
what a toxiproxy user's test suite does, unchanged, against muxd, with the
toxics' effect seen through the relay. Every wait is bounded; the only
times asserted are lower bounds muxd's timers guarantee."""

import json
import os
import re
import subprocess
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


if __name__ == "__main__":
    muxtest.main()
