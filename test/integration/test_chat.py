"""The chat broker: three clients on mixed transports, join and leave
notices, no echo to the sender; a slow reader slows the sender and loses
nothing; a reader that never reads is dropped once it has held the sender
back for --chat-stall; muxd's memory stays within --chat-memory."""

import os
import re
import socket
import tempfile
import threading
import unittest

import muxtest
from muxtest import TIMEOUT, Muxd, peak_rss_kib

YOU_ARE = re.compile(rb"^\* you are user(\d+)\n$")


class Client:
    """A chat client reading whole lines."""

    def __init__(self, sock):
        self.sock = sock
        self.file = sock.makefile("rb")
        m = YOU_ARE.match(self.readline())
        assert m, "no '* you are userN' greeting"
        self.name = "user" + m.group(1).decode()

    def readline(self):
        line = self.file.readline()
        assert line.endswith(b"\n"), f"connection ended mid-line: {line!r}"
        return line

    def say(self, text):
        self.sock.sendall(text)

    def close(self):
        self.file.close()
        self.sock.close()


class Chat(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        listen = ["-l", "127.0.0.1:0",
                  "-l", "unix:" + os.path.join(self.tmp.name, "chat.sock")]
        if muxtest.ipv6_available():
            listen += ["-l", "[::1]:0"]
        # --chat-stall 1: a client that never reads is dropped after 1 s
        # of holding the senders back (10 s by default).
        self.muxd = Muxd("-s", "chat", "--chat-stall", "1", *listen,
                         listeners=len(listen) // 2, env=measured_env())
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        status = self.muxd.stop()
        self.muxd.__exit__(None, None, None)
        self.tmp.cleanup()
        self.assertEqual(status, 0)

    def join(self, listener=0, rcvbuf=None):
        transport, addr = self.muxd.listeners[listener]
        family = (socket.AF_UNIX if transport == "unix" else
                  socket.AF_INET6 if ":" in addr[0] else socket.AF_INET)
        s = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(TIMEOUT)
        s.connect(addr)
        client = Client(s)
        self.clients.append(client)
        return client

    def test_three_clients_on_mixed_transports(self):
        last = len(self.muxd.listeners) - 1  # [::1] if the host has it
        a = self.join(0)
        b = self.join(1)
        self.assertEqual(a.readline(), b"* %s joined\n" % b.name.encode())
        c = self.join(last)
        for other in (a, b):
            self.assertEqual(other.readline(),
                             b"* %s joined\n" % c.name.encode())
        self.assertEqual(len({a.name, b.name, c.name}), 3)

        a.say(b"hi there\n")
        for other in (b, c):
            self.assertEqual(other.readline(),
                             b"<%s> hi there\n" % a.name.encode())
        b.say(b"yo\r\n")  # CR LF in, LF out
        # a's next line is b's: a never got its own "hi there" back.
        for other in (a, c):
            self.assertEqual(other.readline(), b"<%s> yo\n" % b.name.encode())

        c.close()
        self.clients.remove(c)
        for other in (a, b):
            self.assertEqual(other.readline(),
                             b"* %s left\n" % c.name.encode())

    def flood(self, sender, lines, size):
        """Sends `lines` numbered lines of `size` bytes from a thread."""
        def run():
            for i in range(lines):
                sender.say(b"%08d " % i + b"x" * (size - 10) + b"\n")
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def read_flood(self, client, sender, lines, size):
        """Reads the flood's lines in order; returns the notices ("* ...")
        that came in between."""
        prefix = b"<%s> " % sender.name.encode()
        notices = []
        i = 0
        while i < lines:
            line = client.readline()
            if line.startswith(b"* "):
                notices.append(line)
                continue
            self.assertEqual(line[:len(prefix) + 8], prefix + b"%08d" % i)
            self.assertEqual(len(line), len(prefix) + size)
            i += 1
        return notices

    def read_flood_in_thread(self, client, sender, lines, size):
        """read_flood() in a thread; returns a function that joins it and
        returns its notices."""
        result = {}

        def run():
            result["notices"] = self.read_flood(client, sender, lines, size)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        def join():
            thread.join(TIMEOUT * 3)
            self.assertFalse(thread.is_alive(), "the slow reader hung")
            return result["notices"]
        return join

    def test_a_slow_reader_slows_the_sender_and_loses_nothing(self):
        a = self.join()
        b = self.join()
        slow = self.join(rcvbuf=4096)
        for _ in range(2):
            a.readline()  # two joins
        b.readline()  # slow's join
        lines, size = 4000, 1000  # 4 MB: past the 1 MiB watermark
        sender = self.flood(a, lines, size)
        slow_done = self.read_flood_in_thread(slow, a, lines, size)
        self.assertEqual(self.read_flood(b, a, lines, size), [])
        self.assertEqual(slow_done(), [])
        sender.join(TIMEOUT)
        log = self.muxd.stderr()
        self.assertNotIn("output overflow", log)
        self.assertNotIn("dropped", log)

    def test_a_reader_that_never_reads_is_dropped(self):
        a = self.join()
        b = self.join()
        slow = self.join(rcvbuf=4096)
        for _ in range(2):
            a.readline()
        b.readline()
        # 24 MB: far past what slow's share of the queues may hold.
        lines, size = 3000, 8192
        sender = self.flood(a, lines, size)
        notices = self.read_flood(b, a, lines, size)
        sender.join(TIMEOUT)
        left = b"* %s left\n" % slow.name.encode()
        self.assertEqual(notices, [left])
        self.assertEqual(a.readline(), left)
        self.assertRegex(self.muxd.stderr(),
                         r"dropped: \d+ bytes unread, nothing read for \d+ "
                         r"ms, holding the senders back")
        b.say(b"still here\n")
        self.assertEqual(a.readline(), b"<%s> still here\n" % b.name.encode())

    def test_memory_bounded_with_twenty_clients_that_never_read(self):
        # issue 15 item 4, scaled down: before, each client that never read
        # queued up to 16 MiB (20 of them: ~320 MiB of muxd's RSS).
        reader = self.join()
        sender = self.join()
        reader.readline()  # sender's join
        idle = [self.join(rcvbuf=4096) for _ in range(20)]
        for _ in idle:
            reader.readline()
        lines, size = 300, 60000  # 18 MB of input
        thread = self.flood(sender, lines, size)
        notices = self.read_flood(reader, sender, lines, size)
        thread.join(TIMEOUT)
        self.assertEqual(sorted(notices), sorted(
            b"* %s left\n" % c.name.encode() for c in idle))
        self.assertEqual(self.muxd.stderr().count("holding the senders back"),
                         20)
        peak = peak_rss_kib(self.muxd.proc.pid) / 1024
        # 64 MiB budget: at most 1 MiB queued per client here, 22 clients.
        self.assertLess(peak, 64, f"muxd's peak RSS: {peak:.1f} MiB")


class ChatMemory(unittest.TestCase):
    def test_a_smaller_budget_holds_rss_lower(self):
        with Muxd("-s", "chat", "--chat-memory", "8M", "--chat-stall", "0.5",
                  "-p", "0", "-q", env=measured_env()) as m:
            reader = Client(m.connect())
            sender = Client(m.connect())
            reader.readline()
            idle = [m.connect() for _ in range(20)]
            for s in idle:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            for _ in idle:
                reader.readline()
            line = b"y" * 59999 + b"\n"
            def flood():
                for _ in range(200):
                    sender.say(line)
            threading.Thread(target=flood, daemon=True).start()
            got = 0
            while got < 200:
                text = reader.readline()
                if not text.startswith(b"* "):
                    self.assertEqual(text, b"<%s> " % sender.name.encode()
                                     + line)
                    got += 1
            peak = peak_rss_kib(m.proc.pid) / 1024
            for s in idle:
                s.close()
            reader.close()
            sender.close()
        self.assertLess(peak, 40, f"muxd's peak RSS: {peak:.1f} MiB")

    def test_options_only_for_chat(self):
        status, out, err = muxtest.run("-s", "echo", "--chat-memory", "1M")
        self.assertEqual(status, 2)
        self.assertIn("--chat-memory and --chat-stall apply to the chat "
                      "service, not echo", err)
        status, out, err = muxtest.run("-s", "chat", "--chat-stall", "0")
        self.assertEqual(status, 2)
        self.assertIn("invalid chat stall time: '0'", err)


def measured_env():
    """The environment for a muxd whose memory is measured: in the
    sanitizer build, ASan's quarantine (freed memory it keeps, up to
    256 MiB) would count as muxd's; a plain build ignores the variable."""
    env = dict(os.environ)
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=0"
    return env


if __name__ == "__main__":
    muxtest.main()
