"""muxd's own fault kinds as toxic types through toxiproxy's API (refuse,
blackhole, stall, rst, limit_time, corrupt, drop_after) and the `first`
attribute any toxic takes: each toxic's JSON, the fault it makes (as the
control socket's `fault list` shows it), and its effect on real traffic
through the relay. Every wait is bounded; no time is asserted."""

import socket
import unittest

from muxtest import TIMEOUT, recv_exactly, recv_until_close
from test_api import Api


def connect(api):
    s = socket.create_connection(("127.0.0.1", api.m.listeners[0][1][1]),
                                 timeout=TIMEOUT)
    return s


def add(api, type_, attributes=None, stream="downstream"):
    body = {"type": type_, "stream": stream}
    if attributes is not None:
        body["attributes"] = attributes
    return api.call("POST", "/proxies/echo/toxics", body)


class TestMuxdKinds(unittest.TestCase):
    def test_each_type_makes_its_fault(self):
        cases = [("refuse", None, {}, "refuse"),
                 ("blackhole", None, {}, "blackhole"),
                 ("stall", None, {}, "stall"),
                 ("rst", None, {}, "rst"),
                 ("limit_time", {"time": 500}, {"time": 500},
                  "limit-time=500"),
                 ("corrupt", {"percent": 5}, {"percent": 5}, "corrupt=5"),
                 ("drop_after", {"bytes": 10}, {"bytes": 10, "rst": 0},
                  "drop-after=10"),
                 ("drop_after", {"bytes": 10, "rst": 1},
                  {"bytes": 10, "rst": 1}, "drop-after=10,rst")]
        with Api() as api:
            for type_, attrs, shown, spec in cases:
                status, body = add(api, type_, attrs)
                self.assertEqual((status, body), (200, {
                    "attributes": shown, "name": f"{type_}_downstream",
                    "type": type_, "stream": "downstream", "toxicity": 1}))
                self.assertEqual(api.fault_specs(), [
                    f"{spec},dir=down,odds=100,proxy=echo"])
                self.assertEqual(api.call(
                    "DELETE", f"/proxies/echo/toxics/{type_}_downstream"),
                    (204, None))

    def test_bad_numbers_are_400(self):
        with Api() as api:
            for type_, attrs, why in [
                    ("limit_time", {"time": 0}, "time: 1 to 3600000 ms"),
                    ("corrupt", {"percent": 101}, "percent: 1 to 100"),
                    ("drop_after", {"bytes": 1, "rst": 2},
                     "bytes: 0 to 1099511627776; rst: 0 or 1"),
                    ("refuse", {"first": -1}, None)]:
                status, body = add(api, type_, attrs)
                self.assertEqual(status, 400, type_)
                self.assertEqual(body["error"], "bad request body: " + (
                    why or "first: 0 to 1000000000"))
            self.assertEqual(api.fault_specs(), [])

    def test_refuse_with_first_resets_the_first_two_only(self):
        with Api() as api:
            status, body = add(api, "refuse", {"first": 2})
            self.assertEqual(status, 200)
            self.assertEqual(body["attributes"], {"first": 2})
            self.assertEqual(api.fault_specs(), [
                "refuse,first=2,dir=down,odds=100,proxy=echo"])
            for _ in range(2):
                # The reset may come before connect() has looked at the
                # socket's error (a timeout makes it poll): then it is
                # connect()'s.
                with self.assertRaises(ConnectionResetError):
                    with connect(api) as s:
                        s.sendall(b"x")
                        s.recv(1)
            with connect(api) as s:
                s.sendall(b"ping")
                self.assertEqual(recv_exactly(s, 4), b"ping")

    def test_drop_after_with_rst_cuts_the_reply(self):
        with Api() as api:
            self.assertEqual(add(api, "drop_after",
                                 {"bytes": 3, "rst": 1})[0], 200)
            with connect(api) as s:
                s.sendall(b"abcdef")
                got = b""
                with self.assertRaises(ConnectionResetError):
                    while True:
                        b = s.recv(100)
                        if not b:
                            break
                        got += b
                self.assertEqual(got, b"abc")

    def test_blackhole_answers_nothing_and_limit_time_ends_it(self):
        with Api() as api:
            self.assertEqual(add(api, "blackhole")[0], 200)
            self.assertEqual(add(api, "limit_time", {"time": 200})[0], 200)
            with connect(api) as s:  # nothing sent, nothing unread: EOF
                self.assertEqual(recv_until_close(s), b"")


class TestLimitDataZero(unittest.TestCase):
    def test_zero_bytes_closes_at_the_first_data_either_stream(self):
        # toxiproxy's default: limit_data with bytes 0 closes the
        # connection at its first data, none of it passed on.
        for stream in ("downstream", "upstream"):
            with self.subTest(stream=stream), Api() as api:
                status, body = add(api, "limit_data", {"bytes": 0}, stream)
                self.assertEqual((status, body["attributes"]),
                                 (200, {"bytes": 0}))
                self.assertEqual(api.fault_specs(), [
                    "drop-after=0,dir=%s,odds=100,proxy=echo"
                    % stream[:-len("stream")]])
                with connect(api) as s:
                    s.sendall(b"ping")
                    self.assertEqual(recv_until_close(s), b"")


class TestTimeoutRemoved(unittest.TestCase):
    def test_deleting_a_timeout_toxic_closes_its_connections(self):
        # toxiproxy's timeout toxic, removed, closes the connections it
        # held; what they sent meanwhile is dropped.
        with Api() as api:
            with connect(api) as s:
                s.sendall(b"ping")
                self.assertEqual(recv_exactly(s, 4), b"ping")
                self.assertEqual(add(api, "timeout", {"timeout": 0})[0], 200)
                s.sendall(b"held")
                s.settimeout(0.3)
                with self.assertRaises(socket.timeout):
                    s.recv(4)
                self.assertEqual(api.call(
                    "DELETE", "/proxies/echo/toxics/timeout_downstream"),
                    (204, None))
                self.assertEqual(recv_until_close(s), b"")


if __name__ == "__main__":
    unittest.main()
