"""muxd --control: the control socket's commands (stats, clients, fault
add/list/del/clear, proxy add/del/enable/disable, kick, pause, resume,
refuse, shutdown), its bounds (long lines, junk, a client that never
reads, many clients), and muxcat --control."""

import json
import os
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from muxtest import (
    ConnectionAsserts, Control, Muxd, TIMEOUT, binary, recv_exactly, round_trip, run)
from test_api import echo_upstream


class ControlTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "muxd.ctl")
        self.muxd = Muxd("-l", "127.0.0.1:0", "--control", "unix:" + self.path)
        self.ctl = Control(self.path)

    def tearDown(self):
        self.ctl.close()
        self.muxd.__exit__()
        self.dir.cleanup()

    def test_socket_is_private_and_removed_at_exit(self):
        mode = os.stat(self.path).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        self.assertEqual(self.muxd.stop(), 0)
        self.assertFalse(os.path.exists(self.path))

    def test_stats_and_clients(self):
        c = self.muxd.connect()
        self.assertEqual(round_trip(c, b"hello"), b"hello")
        stats = self.ctl.command("stats")
        self.assertEqual(stats["clients"], 1)
        self.assertEqual(stats["accepted"], 1)
        self.assertEqual(stats["bytes_in"], 5)
        self.assertEqual(stats["bytes_out"], 5)
        clients = self.ctl.command("clients")["clients"]
        self.assertEqual(len(clients), 1)
        self.assertEqual(clients[0]["peer"],
                         "%s:%d" % c.getsockname())
        self.assertEqual(clients[0]["bytes_in"], 5)
        self.assertGreaterEqual(clients[0]["age_ms"], 0)
        c.close()

    def test_fault_add_list_del_clear(self):
        self.assertEqual(self.ctl.command("fault add latency=100"),
                         {"ok": True, "id": 1})
        self.assertEqual(self.ctl.command("fault add split=2,dir=down"),
                         {"ok": True, "id": 2})
        self.assertEqual(self.ctl.command("fault list"), {"faults": [
            {"id": 1, "spec": "latency=100"},
            {"id": 2, "spec": "split=2,dir=down"}]})
        self.assertEqual(self.ctl.command("fault del 1"), {"ok": True})
        reply = self.ctl.command("fault del 1")
        self.assertEqual(reply["ok"], False)
        self.assertIn("no fault with id 1", reply["error"])
        self.assertEqual(self.ctl.command("fault clear"), {"ok": True})
        self.assertEqual(self.ctl.command("fault list"), {"faults": []})
        reply = self.ctl.command("fault add latency=oops")
        self.assertFalse(reply["ok"])
        self.assertIn("invalid fault", reply["error"])

    def test_fault_add_takes_every_spelling_of_the_cli(self):
        # SPEC exactly as --fault: odds as a fraction (fixtures.md's
        # example) or a percent, a split with no pause, a kind with rst.
        for spec in ["latency=200,dir=down,odds=0.5", "rst,odds=25%",
                     "split=4:0", "drop-after=1000,rst"]:
            with self.subTest(spec=spec):
                reply = self.ctl.command(f"fault add {spec}")
                self.assertTrue(reply["ok"], reply)
        reply = self.ctl.command("fault add latency=10,latency=20")
        self.assertFalse(reply["ok"])
        self.assertIn("latency given twice", reply["error"])
        self.assertEqual(self.ctl.command("fault clear"), {"ok": True})

    def test_add_and_del_without_end(self):
        # A long test adds and deletes faults all along: the registry's 64
        # places are used again once deleted (clients connected meanwhile
        # keep what they were given).
        c = self.muxd.connect()
        for i in range(1, 201):
            reply = self.ctl.command("fault add latency=1,odds=50")
            self.assertEqual(reply, {"ok": True, "id": i})
            self.assertEqual(self.ctl.command(f"fault del {i}"), {"ok": True})
        self.assertEqual(self.ctl.command("fault list"), {"faults": []})
        self.assertEqual(round_trip(c, b"still"), b"still")
        c.close()

    def test_a_fault_reaches_an_open_connection(self):
        c = self.muxd.connect()
        self.assertEqual(round_trip(c, b"before"), b"before")
        fid = self.ctl.command("fault add stall")["id"]
        c.sendall(b"held")
        c.settimeout(0.3)  # bounds the wait for a reply that must not come
        with self.assertRaises(socket.timeout):
            c.recv(10)
        c.settimeout(TIMEOUT)
        self.assertEqual(self.ctl.command(f"fault del {fid}"), {"ok": True})
        self.assertEqual(recv_exactly(c, 4), b"held")
        c.close()

    def test_kick(self):
        c = self.muxd.connect()
        self.assertEqual(round_trip(c, b"x"), b"x")
        cid = self.ctl.command("clients")["clients"][0]["id"]
        self.assertEqual(self.ctl.command(f"kick {cid}"), {"ok": True})
        self.assertEqual(c.recv(10), b"")
        self.assertFalse(self.ctl.command(f"kick {cid}")["ok"])
        c.close()

    def test_pause_leaves_clients_in_the_backlog(self):
        self.assertEqual(self.ctl.command("pause"), {"ok": True})
        self.assertTrue(self.ctl.command("stats")["paused"])
        c = self.muxd.connect()  # the kernel completes the handshake
        c.sendall(b"waiting")
        c.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            c.recv(10)
        self.assertEqual(self.ctl.command("stats")["accepted"], 0)
        c.settimeout(TIMEOUT)
        self.assertEqual(self.ctl.command("resume"), {"ok": True})
        self.assertEqual(recv_exactly(c, 7), b"waiting")
        self.assertEqual(self.ctl.command("stats")["accepted"], 1)
        c.close()

    def test_refuse_resets_new_clients(self):
        self.assertEqual(self.ctl.command("refuse on"), {"ok": True})
        with self.assertRaises(ConnectionResetError):
            c = self.muxd.connect()  # the reset may come before it returns
            try:
                c.sendall(b"x")
                c.recv(10)
            finally:
                c.close()
        self.assertEqual(self.ctl.command("refuse off"), {"ok": True})
        c = self.muxd.connect()
        self.assertEqual(round_trip(c, b"y"), b"y")
        c.close()

    def test_shutdown_is_graceful(self):
        c = self.muxd.connect()
        self.assertEqual(round_trip(c, b"x"), b"x")
        self.assertEqual(self.ctl.command("shutdown"), {"ok": True})
        self.assertEqual(c.recv(10), b"")
        c.close()
        self.assertEqual(self.muxd.wait(), 0)
        self.assertIn("control: shutting down", self.muxd.stderr())
        self.assertFalse(os.path.exists(self.path))

    def test_bad_commands_get_errors_and_the_server_goes_on(self):
        for line in ["", "nope", "stats now", "fault", "fault del x",
                     "fault del 0", "kick", "kick -1", "refuse maybe",
                     "a b c d e f", "fault add"]:
            reply = self.ctl.command(line)
            self.assertEqual(reply["ok"], False, line)
            self.assertTrue(reply["error"], line)
        self.ctl.sock.sendall(b"\x00\xff\x01junk\r\n")
        self.assertFalse(json.loads(self.ctl.line())["ok"])
        self.ctl.sock.sendall(b"s" * 5000 + b"\n")
        reply = json.loads(self.ctl.line())
        self.assertIn("line too long", reply["error"])
        self.ctl.sock.sendall(b"x" * 100000 + b"\nstats\n")
        self.assertIn("line too long", json.loads(self.ctl.line())["error"])
        self.assertEqual(json.loads(self.ctl.line())["clients"], 0)
        c = self.muxd.connect()
        self.assertEqual(round_trip(c, b"alive"), b"alive")
        c.close()

    def test_each_misuse_gets_its_message(self):
        known = ("stats, clients, fault, proxy, kick, pause, resume, refuse, "
                 "shutdown")
        for line, error in [
                ("", "empty command"),
                ("nope", "unknown command: 'nope' (known: %s)" % known),
                ("Stats", "unknown command: 'Stats' (known: %s)" % known),
                ("stats now", "usage: stats"),
                ("clients 1", "usage: clients"),
                ("pause x", "usage: pause"),
                ("resume x", "usage: resume"),
                ("shutdown now", "usage: shutdown"),
                ("fault", "usage: fault add SPEC | fault set ID SPEC | "
                          "fault list | fault del ID | fault clear"),
                ("fault drop 1", "usage: fault add SPEC | fault set ID SPEC | "
                                 "fault list | fault del ID | fault clear"),
                ("fault set 1", "usage: fault set ID SPEC"),
                ("fault set x latency=1", "invalid fault id: 'x'"),
                ("fault add", "usage: fault add SPEC"),
                ("fault add a b", "usage: fault add SPEC"),
                ("fault add a b c", "usage: fault add SPEC"),
                ("fault add a b c d", "too many words"),
                ("proxy add a b", "usage: proxy add NAME LISTEN UPSTREAM"),
                ("proxy del", "usage: proxy del NAME"),
                ("proxy del nosuch", "no proxy named 'nosuch' (see: proxy list)"),
                ("proxy enable nosuch",
                 "no proxy named 'nosuch' (see: proxy list)"),
                ("proxy add a 127.0.0.1:0 127.0.0.1:1",
                 "this muxd relays nothing: proxies need --to or --api"),
                ("fault list x", "usage: fault list"),
                ("fault del", "usage: fault del ID"),
                ("fault del x", "invalid fault id: 'x'"),
                ("fault del 0", "invalid fault id: '0'"),
                ("fault del 7", "no fault with id 7"),
                ("fault clear x", "usage: fault clear"),
                ("kick", "usage: kick ID"),
                ("kick -1", "invalid client id: '-1'"),
                ("kick 1 2", "usage: kick ID"),
                ("kick 99", "no client with id 99"),
                ("refuse", "usage: refuse on|off"),
                ("refuse maybe", "usage: refuse on|off"),
                ("refuse on off", "usage: refuse on|off"),
                ("a b c d e f", "too many words")]:
            self.assertEqual(self.ctl.command(line),
                             {"ok": False, "error": error}, line)

    def test_a_line_break_inside_a_line_is_an_error(self):
        # A CR inside a line (not the one of a CRLF end), or a NUL, ends
        # nothing: the whole line is one error, nothing of it runs.
        for line in (b"fault add latency=5\rshutdown", b"stats\r\r",
                     b"fault add latency=5\r shutdown", b"stats\x00\r"):
            self.ctl.sock.sendall(line + b"\n")
            reply = json.loads(self.ctl.line())
            self.assertFalse(reply["ok"], line)
            self.assertRegex(reply["error"],
                             r"^a (line break \(CR or LF\) inside the "
                             r"command: one command per line|NUL byte in the "
                             r"command)$")
        self.assertEqual(self.ctl.command("fault list")["faults"], [])
        self.ctl.sock.sendall(b"stats\r\n")  # a CRLF end is fine
        self.assertEqual(json.loads(self.ctl.line())["clients"], 0)

    def test_muxcat_refuses_a_line_break_in_a_word(self):
        # `fault add $'latency=5\nshutdown'` sent as is would be two
        # commands, the second one stopping muxd.
        for word in ("latency=5\nshutdown", "latency=5\rshutdown",
                     "latency=5\r\nshutdown"):
            rc, out, err = run("--control", self.path, "fault", "add", word,
                               binary_name="muxcat")
            self.assertEqual((rc, out), (2, ""), word)
            self.assertIn("muxcat: a control command is one line: no CR or "
                          "LF in its words: 'latency=5\\", err)
        self.assertEqual(self.ctl.command("fault list")["faults"], [])
        self.assertNotIn("shutting down", self.muxd.stderr())

    def test_a_client_that_never_reads_is_dropped(self):
        quiet = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        quiet.settimeout(TIMEOUT)
        quiet.connect(self.path)
        with self.assertRaises(OSError):  # EPIPE or a reset, once dropped
            for _ in range(100):
                quiet.sendall(b"clients\nstats\n" * 5000)
        quiet.close()
        self.muxd.wait_for_log("control: client dropped")
        self.assertEqual(self.ctl.command("stats")["clients"], 0)

    def test_control_clients_are_bounded(self):
        # 16 at once: one more closes the one idle for longest (self.ctl,
        # the first to connect), telling it why; the others stay.
        others = [Control(self.path) for _ in range(15)]  # 16 with self.ctl
        for o in others:
            self.assertEqual(o.command("stats")["clients"], 0)
        extra = Control(self.path)
        self.assertEqual(extra.command("stats")["clients"], 0)
        self.assertEqual(json.loads(self.ctl.line())["error"],
                         "closed: the control client idle for longest, to "
                         "make room for a new one")
        self.assertEqual(self.ctl.sock.recv(10), b"")
        self.muxd.wait_for_log("control: the client idle for longest closed "
                               "to make room (16 at most)")
        # The next one closes others[0]: a command moves a client to the
        # back of the line, so others[1] is kept after it speaks.
        self.assertEqual(others[1].command("stats")["clients"], 0)
        newer = Control(self.path)
        self.assertFalse(json.loads(others[0].line())["ok"])
        for c in [*others[1:], extra, newer]:
            self.assertEqual(c.command("fault list")["faults"], [])
            c.close()
        others[0].close()

    def test_idle_control_clients_never_lock_others_out(self):
        # 16 clients that connect and never send (nor read): muxcat, the
        # Python package and any test harness still get in, every time.
        idle = []
        for _ in range(16):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.path)
            idle.append(s)
        for _ in range(3):
            rc, out, err = run("--control", self.path, "stats",
                               binary_name="muxcat")
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(json.loads(out)["clients"], 0)
        for s in idle:
            s.close()

    def test_muxcat_control(self):
        addr = "unix:" + self.path
        rc, out, err = run("--control", addr, "fault", "add", "latency=5",
                           binary_name="muxcat")
        self.assertEqual((rc, json.loads(out)), (0, {"ok": True, "id": 1}))
        rc, out, err = run("--control", self.path, "stats",
                           binary_name="muxcat")
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(out)["faults"], 1)
        rc, out, err = run("--control", addr, "fault", "del", "7",
                           binary_name="muxcat")
        self.assertEqual(rc, 1)
        self.assertFalse(json.loads(out)["ok"])
        rc, out, err = run("--control", addr, binary_name="muxcat")
        self.assertEqual(rc, 2)
        self.assertIn("missing CMD", err)
        rc, out, err = run("--control", self.path + ".none", "stats",
                           binary_name="muxcat")
        self.assertEqual(rc, 1)
        self.assertIn("cannot connect", err)


class ProxyCommandsTest(ConnectionAsserts, unittest.TestCase):
    """proxy add/del/enable/disable on a relaying muxd (-l --to --name
    first), with traffic through each proxy to echo upstreams of the
    test's own (the second one's replies after "B:")."""

    def setUp(self):
        a, self.a_port = echo_upstream()
        b, self.b_port = echo_upstream(b"B:")
        self.up_a = f"127.0.0.1:{self.a_port}"
        self.up_b = f"127.0.0.1:{self.b_port}"
        self.dir = tempfile.TemporaryDirectory()
        path = os.path.join(self.dir.name, "muxd.ctl")
        self.muxd = Muxd("-l", "127.0.0.1:0", "--to", self.up_a, "--name",
                         "first", "--control", "unix:" + path)
        self.ctl = Control(path)
        for sock in (a, b):
            self.addCleanup(sock.close)
        self.addCleanup(self.dir.cleanup)
        self.addCleanup(self.muxd.__exit__)
        self.addCleanup(self.ctl.close)

    def talk(self, port, msg, reply):
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=TIMEOUT) as c:
            c.sendall(msg)
            self.assertEqual(recv_exactly(c, len(reply)), reply)

    def add(self, name, upstream, listen="127.0.0.1:0"):
        """proxy add; the port it listens on."""
        reply = self.ctl.command(f"proxy add {name} {listen} {upstream}")
        self.assertTrue(reply["ok"], reply)
        port = int(reply["proxy"]["listen"][0].rpartition(":")[2])
        self.assertEqual(reply, {"ok": True, "proxy": {
            "name": name, "upstream": upstream, "enabled": True,
            "listen": [f"127.0.0.1:{port}"]}})
        return port

    def test_add_relays_at_once(self):
        port = self.add("second", self.up_b)
        self.assertNotEqual(port, 0)
        self.talk(port, b"2", b"B:2")
        self.talk(self.muxd.port, b"1", b"1")
        self.assertEqual(self.ctl.command("proxy list"), {"proxies": [
            {"name": "first", "upstream": self.up_a, "enabled": True,
             "listen": [f"127.0.0.1:{self.muxd.port}"]},
            {"name": "second", "upstream": self.up_b, "enabled": True,
             "listen": [f"127.0.0.1:{port}"]}]})

    def test_add_errors(self):
        taken = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(taken.close)
        busy = taken.getsockname()[1]
        not_addr = "not HOST:PORT, [V6]:PORT, PORT or unix:PATH"
        up = self.up_b
        for line, error in [
                (f"proxy add first 127.0.0.1:0 {up}", "proxy already exists"),
                (f"proxy add a/b 127.0.0.1:0 {up}",
                 "invalid proxy name 'a/b' (1 to 64 of A-Z a-z 0-9 . _ -)"),
                (f"proxy add x 127.0.0.1:x {up}",
                 f"invalid listen address '127.0.0.1:x': {not_addr}"),
                (f"proxy add x udp://127.0.0.1:0 {up}",
                 "invalid listen address 'udp://127.0.0.1:0': a proxy "
                 "relays streams (TCP or unix:PATH), not udp://"),
                ("proxy add x 127.0.0.1:0 127.0.0.1",
                 f"invalid upstream '127.0.0.1': {not_addr} (or an unknown "
                 "port name)"),
                (f"proxy add x 127.0.0.1:{busy} {up}",
                 f"cannot listen on 127.0.0.1:{busy}: Address already in "
                 "use"),
                (f"proxy add x 127.0.0.1:{self.muxd.port} {up}",
                 f"cannot listen on 127.0.0.1:{self.muxd.port}: Address "
                 "already in use"),
                ("proxy add x 127.0.0.1:0", "usage: proxy add NAME LISTEN "
                                            "UPSTREAM"),
                ("proxy del x", "no proxy named 'x' (see: proxy list)"),
                ("proxy enable x", "no proxy named 'x' (see: proxy list)"),
                ("proxy disable x", "no proxy named 'x' (see: proxy list)"),
                ("proxy disable", "usage: proxy disable NAME"),
                ("proxy enable a b", "usage: proxy enable NAME")]:
            self.assertEqual(self.ctl.command(line),
                             {"ok": False, "error": error}, line)
        self.assertEqual([p["name"] for p in
                          self.ctl.command("proxy list")["proxies"]],
                         ["first"])
        self.talk(self.muxd.port, b"1", b"1")
        self.assertNotIn("proxy x", self.muxd.stderr())

    def test_disable_and_enable(self):
        port = self.add("second", self.up_b)
        live = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.addCleanup(live.close)
        live.sendall(b"x")
        self.assertEqual(recv_exactly(live, 3), b"B:x")
        self.assertEqual(self.ctl.command("proxy disable second"), {
            "ok": True, "proxy": {"name": "second", "upstream": self.up_b,
                                  "enabled": False, "listen": []}})
        self.assert_closed(live)
        self.assert_refused(port)
        self.talk(self.muxd.port, b"1", b"1")  # the other one serves on
        enabled = {"ok": True, "proxy": {
            "name": "second", "upstream": self.up_b, "enabled": True,
            "listen": [f"127.0.0.1:{port}"]}}
        self.assertEqual(self.ctl.command("proxy enable second"), enabled)
        self.talk(port, b"y", b"B:y")
        self.assertEqual(self.ctl.command("proxy enable second"), enabled)
        # A listen that fails: the error, and it stays disabled.
        self.ctl.command("proxy disable second")
        taken = socket.create_server(("127.0.0.1", port))
        self.assertEqual(self.ctl.command("proxy enable second"), {
            "ok": False, "error": f"cannot listen on 127.0.0.1:{port}: "
                                  "Address already in use"})
        self.assertFalse(self.ctl.command("proxy list")["proxies"][1][
            "enabled"])
        taken.close()
        self.assertEqual(self.ctl.command("proxy enable second"), enabled)
        self.talk(port, b"z", b"B:z")

    def test_del_takes_its_faults(self):
        port = self.add("second", self.up_b)
        mine = self.ctl.command("fault add latency=5,proxy=second")["id"]
        theirs = self.ctl.command("fault add latency=7,proxy=first")["id"]
        everyone = self.ctl.command("fault add latency=9")["id"]
        live = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.addCleanup(live.close)
        live.sendall(b"x")
        self.assertEqual(recv_exactly(live, 3), b"B:x")
        self.assertEqual(self.ctl.command("proxy del second"), {"ok": True})
        self.assert_closed(live)
        self.assert_refused(port)
        self.assertEqual(self.ctl.command("fault list"), {"faults": [
            {"id": theirs, "spec": "latency=7,proxy=first"},
            {"id": everyone, "spec": "latency=9"}]})
        self.assertEqual(self.ctl.command("fault del %d" % mine), {
            "ok": False, "error": f"no fault with id {mine}"})
        self.assertEqual(self.ctl.command("fault add latency=5,proxy=second"),
                         {"ok": False, "error": "invalid fault: no proxy "
                          "named 'second' (see: proxy list)"})
        self.assertEqual(self.ctl.command("proxy del second"), {
            "ok": False, "error": "no proxy named 'second' (see: proxy "
                                  "list)"})
        # The same name again: a new proxy, without the old one's faults.
        again = self.add("second", self.up_a)
        self.talk(again, b"a", b"a")
        self.assertEqual(len(self.ctl.command("fault list")["faults"]), 2)
        # The command line's proxy goes the same way.
        self.assertEqual(self.ctl.command("proxy del first"), {"ok": True})
        self.assert_refused(self.muxd.port)
        self.assertEqual(self.ctl.command("fault list"), {"faults": [
            {"id": everyone, "spec": "latency=9"}]})

    def test_unix_listener(self):
        path = os.path.join(self.dir.name, "second.sock")
        reply = self.ctl.command(f"proxy add second unix:{path} {self.up_b}")
        self.assertEqual(reply, {"ok": True, "proxy": {
            "name": "second", "upstream": self.up_b, "enabled": True,
            "listen": ["unix:" + path]}})
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(TIMEOUT)
            c.connect(path)
            c.sendall(b"u")
            self.assertEqual(recv_exactly(c, 3), b"B:u")
        self.ctl.command("proxy disable second")
        self.assertFalse(os.path.exists(path))
        self.ctl.command("proxy enable second")
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        self.assertEqual(self.ctl.command("proxy del second"), {"ok": True})
        self.assertFalse(os.path.exists(path))


class ControlOptionsTest(unittest.TestCase):
    def test_tcp_only_on_loopback(self):
        for addr in ["10.1.2.3:0", "*:0", "udp://127.0.0.1:0"]:
            rc, out, err = run("--control", addr)
            self.assertEqual(rc, 2, addr)
            self.assertIn("loopback", err)
        rc, out, err = run("--control", "unix:/tmp/x", "--workers", "2")
        self.assertEqual(rc, 2)
        self.assertIn("--control cannot be combined with --workers", err)

    def test_tcp_control_on_loopback(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with Muxd("-l", "127.0.0.1:0", "--control",
                  f"127.0.0.1:{port}") as m:
            rc, out, err = run("--control", f"127.0.0.1:{port}", "stats",
                               binary_name="muxcat")
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out)["clients"], 0)
            self.assertEqual(m.stop(), 0)

    def test_no_faults_given_still_takes_faults(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "c")
            with Muxd("-l", "127.0.0.1:0", "--control", path) as m:
                ctl = Control(path)
                self.assertEqual(ctl.command("fault add split=1,dir=down"),
                                 {"ok": True, "id": 1})
                c = m.connect()
                c.sendall(b"abc")
                self.assertEqual(recv_exactly(c, 3), b"abc")
                c.close()
                ctl.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
