"""The chat broker: three clients on mixed transports, join and leave
notices, no echo to the sender, and a reader that never reads: it costs
the others nothing, and past the hard cap it is dropped."""

import os
import re
import socket
import tempfile
import threading
import unittest

import muxtest
from muxtest import Muxd, TIMEOUT

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
        self.muxd = Muxd("-s", "chat", *listen, listeners=len(listen) // 2)
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

    def test_a_slow_reader_does_not_stall_the_others(self):
        a = self.join()
        b = self.join()
        slow = self.join(rcvbuf=4096)  # and it reads nothing for now
        for _ in range(2):
            a.readline()  # two joins
        b.readline()  # slow's join
        lines, size = 4000, 1000  # 4 MB: past the watermark, below the cap
        sender = self.flood(a, lines, size)
        self.assertEqual(self.read_flood(b, a, lines, size), [])
        sender.join(TIMEOUT)
        self.assertNotIn("output overflow", self.muxd.stderr())
        # Nothing was lost for the slow reader either, only held back.
        self.assertEqual(self.read_flood(slow, a, lines, size), [])

    def test_a_reader_past_the_hard_cap_is_dropped(self):
        a = self.join()
        b = self.join()
        slow = self.join(rcvbuf=4096)
        for _ in range(2):
            a.readline()
        b.readline()
        # 24 MB: past 16 x the 1 MiB watermark plus what the kernel buffers.
        lines, size = 3000, 8192
        sender = self.flood(a, lines, size)
        notices = self.read_flood(b, a, lines, size)
        sender.join(TIMEOUT)
        left = b"* %s left\n" % slow.name.encode()
        self.assertEqual(notices, [left])
        self.assertEqual(a.readline(), left)
        self.assertRegex(self.muxd.stderr(), r"closed .*: output overflow")
        b.say(b"still here\n")
        self.assertEqual(a.readline(), b"<%s> still here\n" % b.name.encode())


if __name__ == "__main__":
    muxtest.main()
