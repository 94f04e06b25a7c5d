"""muxd --api against hostile clients: a 10 MB header, a body that never
ends, 1,000 idle keep-alive connections, pipelined requests, a client that
pipelines and never reads. Each costs muxd bounded memory and only its
own connection: the API answers the next client at once and the relay
keeps relaying. And a client that fills the fault registry: a change that
does not fit is refused as a whole. Every wait and every load is bounded; nothing waits for
the API's own timeouts (15 s for a request, 60 s idle)."""

import json
import resource
import socket
import threading
import unittest

import muxtest
from muxtest import TIMEOUT, fd_count, peak_rss_kib, recv_exactly, rss_kib
from test_api import Api

MIB = 1024  # in KiB, as /proc gives them


class Reader:
    """HTTP/1.1 responses read off one socket, in order."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed; unread {self.buf[:200]!r}")
        self.buf += chunk

    def response(self):
        """(status, headers with lower-case names, body bytes)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def json(self):
        status, _, body = self.response()
        return status, json.loads(body) if body else None


def request(method, path, body=None, close=False):
    """One request's bytes."""
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: muxd\r\n"
    if body is not None:
        head += f"Content-Length: {len(data)}\r\n"
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + data


class Hostile(unittest.TestCase):
    def setUp(self):
        self.api = Api()
        host, _, port = self.api.url.removeprefix("http://").rpartition(":")
        self.api_addr = (host, int(port))
        self.pid = self.api.m.proc.pid

    def tearDown(self):
        # A clean exit: under ASan, no memory error and no leak either.
        status = self.api.m.stop()
        stderr = self.api.m.stderr()
        self.api.__exit__(None, None, None)
        self.assertEqual(status, 0, stderr)
        self.assertNotIn("Sanitizer", stderr)

    def connect_api(self):
        return socket.create_connection(self.api_addr, timeout=TIMEOUT)

    def call(self, method, path, body=None):
        """One request on a new connection: (status, parsed body)."""
        with self.connect_api() as s:
            s.sendall(request(method, path, body, close=True))
            return Reader(s).json()

    def assert_api_answers(self):
        self.assertEqual(self.call("GET", "/version"),
                         (200, {"version": "muxd 0.2.0"}))

    def assert_relay_relays(self):
        with self.api.m.connect() as c:
            msg = b"through the proxy\n"
            c.sendall(msg)
            self.assertEqual(recv_exactly(c, len(msg)), msg)

    def test_10mb_header_gets_431_and_costs_no_memory(self):
        before = rss_kib(self.pid)
        got = []

        with self.connect_api() as s:
            def read():
                try:
                    while True:
                        b = s.recv(65536)
                        if not b:
                            return
                        got.append(b)
                except OSError:  # a reset once muxd stopped lingering
                    return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            s.sendall(b"GET /proxies HTTP/1.1\r\nX-Big: ")
            chunk = b"a" * 65536
            sent = 0
            try:
                while sent < 10 << 20:
                    s.sendall(chunk)
                    sent += len(chunk)
            except OSError:  # muxd closed: the rest is not wanted
                pass
            s.shutdown(socket.SHUT_WR)
            reader.join(TIMEOUT)
            self.assertFalse(reader.is_alive(), "muxd did not close")
        data = b"".join(got)
        # The whole answer, then EOF (or a reset): nothing more.
        self.assertEqual(data, (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"Content-Type: application/json\r\nContent-Length: 47\r\n"
            b"Connection: close\r\n\r\n"
            b'{"error":"request head too large","status":431}'))
        self.assertLess(peak_rss_kib(self.pid), before + 2 * MIB)
        self.assert_api_answers()
        self.assert_relay_relays()

    def test_body_that_never_ends_holds_only_its_own_connection(self):
        body = b'{"type":"noop","name":"late"' + b" " * 971 + b"}"
        self.assertEqual(len(body), 1000)
        with self.connect_api() as slow:
            slow.sendall(b"POST /proxies/echo/toxics HTTP/1.1\r\n"
                         b"Content-Length: 1000\r\n\r\n" + body[:10])
            # Another client is answered at once, the relay relays ...
            self.assert_api_answers()
            self.assert_relay_relays()
            # ... while the slow one has had no answer (its 408 is 15 s off).
            slow.setblocking(False)
            with self.assertRaises(BlockingIOError):
                slow.recv(1)
            slow.settimeout(TIMEOUT)
            # Its body, once complete, is the request it began.
            slow.sendall(body[10:])
            self.assertEqual(Reader(slow).json(), (200, {
                "attributes": {}, "name": "late", "type": "noop",
                "stream": "downstream", "toxicity": 1}))

    def test_1000_idle_keep_alive_connections(self):
        # muxd raises its soft RLIMIT_NOFILE to the hard limit at start
        # (docs/reliability.md); this process needs 1000 fds of its own.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1000 + 64
        if soft < want and (hard == resource.RLIM_INFINITY or hard >= want):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        # The hard limit caps it: fewer connections then, never a skip.
        n = min(1000, soft - 64)
        self.assertGreater(n, 100, "RLIMIT_NOFILE too low for this test")
        fds, before = fd_count(self.pid), rss_kib(self.pid)
        conns = []
        try:
            for _ in range(n):
                s = self.connect_api()
                conns.append((s, Reader(s)))
                s.sendall(request("GET", "/version"))
                self.assertEqual(conns[-1][1].json()[0], 200)
            # All open in muxd at once, idle after their answer.
            self.assertGreaterEqual(fd_count(self.pid), fds + n)
            self.assert_api_answers()
            self.assert_relay_relays()
            grown = rss_kib(self.pid) - before
            # 4 KiB each bounds it (measured: about 0.9 MiB for 1000; the
            # sockets' buffers are the kernel's, not in muxd's RSS).
            self.assertLess(grown, n * 4, f"{grown} KiB for {n} clients")
            # None was dropped: each answers a second request.
            for s, reader in conns:
                s.sendall(request("GET", "/proxies/echo/toxics"))
            for s, reader in conns:
                self.assertEqual(reader.json(), (200, []))
        finally:
            for s, _ in conns:
                s.close()

    def test_pipelined_requests_answered_in_order(self):
        toxic = {"type": "latency", "attributes": {"latency": 5}}
        made = {"attributes": {"latency": 5, "jitter": 0},
                "name": "latency_downstream", "type": "latency",
                "stream": "downstream", "toxicity": 1}
        path = "/proxies/echo/toxics/latency_downstream"
        reqs = [("GET", "/version", None),
                ("POST", "/proxies/echo/toxics", toxic),
                ("GET", "/proxies/echo/toxics", None),
                ("POST", "/proxies/echo/toxics", toxic),
                ("PATCH", path, {"toxicity": 0.5}),
                ("GET", path, None),
                ("DELETE", path, None),
                ("GET", path, None),
                ("POST", "/reset", None),
                ("GET", "/proxies/echo/toxics", None)]
        want = [(200, {"version": "muxd 0.2.0"}),
                (200, made),
                (200, [made]),
                (409, {"error": "toxic already exists", "status": 409}),
                (200, dict(made, toxicity=0.5)),
                (200, dict(made, toxicity=0.5)),
                (204, None),
                (404, {"error": "toxic not found", "status": 404}),
                (204, None),
                (200, [])]
        with self.connect_api() as s:
            s.sendall(b"".join(request(*r) for r in reqs))  # one write
            reader = Reader(s)
            self.assertEqual([reader.json() for _ in reqs], want)
            # Still open, and nothing more came.
            self.assertEqual(reader.buf, b"")
            s.sendall(request("GET", "/version"))
            self.assertEqual(reader.json(), (200, {"version": "muxd 0.2.0"}))

    def test_pipelined_replies_leave_in_one_write(self):
        # Written one by one, each reply after the first waited for the
        # client's delayed ACK (Nagle's algorithm): up to 40 ms a reply.
        # A few requests one at a time first: then the client's TCP delays
        # its ACKs (it no longer acks each segment at once).
        with self.connect_api() as s:
            reader = Reader(s)
            for _ in range(5):
                s.sendall(request("GET", "/version"))
                self.assertEqual(reader.json(),
                                 (200, {"version": "muxd 0.2.0"}))
            s.sendall(request("GET", "/version") * 4)  # one write
            got = s.recv(65536)  # one read takes all four
            self.assertEqual(got.count(b"HTTP/1.1 200 OK\r\n"), 4, got)
            reader.buf = got
            for _ in range(4):
                self.assertEqual(reader.json(),
                                 (200, {"version": "muxd 0.2.0"}))
            self.assertEqual(reader.buf, b"")

    def test_pipelined_past_one_write(self):
        # 300 replies, about 40 KiB: more than one write's worth, each
        # whole and in order.
        reqs, want = [], []
        for i in range(100):
            name = f"t{i}"
            made = {"attributes": {"latency": i, "jitter": 0}, "name": name,
                    "type": "latency", "stream": "downstream",
                    "toxicity": 1}
            path = f"/proxies/echo/toxics/{name}"
            reqs += [request("POST", "/proxies/echo/toxics",
                             {"name": name, "type": "latency",
                              "attributes": {"latency": i}}),
                     request("GET", path), request("DELETE", path)]
            want += [(200, made), (200, made), (204, None)]
        with self.connect_api() as s:
            s.sendall(b"".join(reqs))
            reader = Reader(s)
            self.assertEqual([reader.json() for _ in reqs], want)
            s.sendall(request("GET", "/proxies/echo/toxics"))
            self.assertEqual(reader.json(), (200, []))
            self.assertEqual(reader.buf, b"")

    def test_client_that_never_reads(self):
        one = request("GET", "/proxies")
        before = rss_kib(self.pid)
        with socket.socket() as hog:
            # A small receive buffer: muxd's output backs up sooner.
            hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            hog.connect(self.api_addr)
            hog.setblocking(False)
            # Pipeline until muxd stops reading it (bounded count).
            batch, sent = one * 1024, 0
            for _ in range(1000):
                try:
                    n = hog.send(batch)
                except BlockingIOError:
                    break
                sent += n
                if n < len(batch):
                    break
            else:
                self.fail("muxd read 1,000,000 requests it could not answer")
            self.assertGreater(sent, 0)
            # Another client is answered, the relay relays.
            self.assert_api_answers()
            self.assert_relay_relays()
            # What waits is bounded: about the output watermark (256 KiB)
            # and one read; the rest stays in the kernel's buffers.
            grown = rss_kib(self.pid) - before
            self.assertLess(grown, 2 * MIB, f"{grown} KiB")
            # The hog was paused, not dropped: once it reads, every whole
            # request it sent is answered, in order.
            hog.settimeout(TIMEOUT)
            reader = Reader(hog)
            proxies = self.call("GET", "/proxies")
            for _ in range(sent // len(one)):
                self.assertEqual(reader.json(), proxies)
            # Its partial last request, completed, is answered too.
            hog.sendall(one[sent % len(one):])
            self.assertEqual(reader.json(), proxies)
            self.assertEqual(reader.buf, b"")

    def test_a_full_registry_leaves_a_toxic_whose_kind_changes_as_it_was(self):
        # 64 faults in force (MUXD_FAULTS_MAX): a rate of 0 turns the
        # bandwidth fault into a stall, a new fault that does not fit.
        spec = "bandwidth=100000,dir=down,odds=100,proxy=echo"
        path = "/proxies/echo/toxics"
        with self.connect_api() as s:
            reader = Reader(s)
            s.sendall(b"".join(request("POST", path, {
                "name": f"b{i}", "type": "bandwidth",
                "attributes": {"rate": 100}}) for i in range(64)))
            self.assertEqual([reader.json()[0] for _ in range(64)],
                             [200] * 64)
            s.sendall(request("PATCH", path + "/b5",
                              {"attributes": {"rate": 0}}))
            status, body = reader.json()
            self.assertEqual((status, body["status"]), (500, 500))
            # Refused as a whole: the toxic and its fault as they were.
            self.assertEqual(self.api.fault_specs(), [spec] * 64)
            s.sendall(request("GET", path + "/b5"))
            self.assertEqual(reader.json()[1]["attributes"], {"rate": 100})
            # With room, the same change is made.
            s.sendall(request("DELETE", path + "/b0") +
                      request("PATCH", path + "/b5",
                              {"attributes": {"rate": 0}}))
            self.assertEqual(reader.json(), (204, None))
            self.assertEqual(reader.json()[0], 200)
            self.assertEqual(sorted(self.api.fault_specs()), [spec] * 62 + [
                "stall,dir=down,odds=100,proxy=echo"])


if __name__ == "__main__":
    muxtest.main()
