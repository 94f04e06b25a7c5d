"""muxd serving a mixed session under valgrind: no leak, no memory error."""

import os
import signal
import socket
import tempfile
import threading
import time
import unittest

import muxtest
from muxtest import Muxd, recv_exactly, recv_until_close


def sanitized_build():
    try:
        with open(os.path.join(muxtest.BUILD_DIR, "CMakeCache.txt")) as f:
            return "MUX_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


@unittest.skipIf(sanitized_build(), "valgrind does not run ASan binaries")
class Valgrind(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        muxtest.require_tool("valgrind", "valgrind")

    def test_a_session_leaks_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "vg.log")
            sock = os.path.join(d, "s.sock")
            valgrind = ["valgrind", "--quiet", "--leak-check=full",
                        "--show-leak-kinds=all", "--errors-for-leak-kinds=all",
                        "--error-exitcode=99", f"--log-file={log}"]
            with Muxd("-l", "127.0.0.1:0", "-l", "unix:" + sock, "-m", "20",
                      listeners=2, wrapper=valgrind) as m:
                last = self.exercise(m)
                m.send_signal(signal.SIGTERM)
                self.assertEqual(recv_until_close(last, timeout=60),
                                 b"in flight")
                last.close()
                code = m.wait(timeout=60)
                with open(log) as f:
                    report = f.read()
                self.assertEqual(code, 0, report)
                self.assertEqual(report.strip(), "", report)

    def exercise(self, m):
        clients = [m.connect(i % 2, timeout=30) for i in range(25)]
        for c in clients:
            c.sendall(b"hello")
        served = 0
        for c in clients:
            data = recv_exactly(c, 5, timeout=30)
            served += data == b"hello"
        self.assertEqual(served, 20)  # 5 told "server full"
        big = clients[0]
        payload = os.urandom(1 << 20)
        t = threading.Thread(target=big.sendall, args=(payload,))
        t.start()
        self.assertEqual(recv_exactly(big, len(payload), timeout=60), payload)
        t.join(60)
        clients[1].shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_close(clients[1], timeout=30), b"")
        clients[2].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              b"\x01\x00\x00\x00\x00\x00\x00\x00")
        clients[2].sendall(b"y" * 100000)
        for c in clients:
            c.close()
        for _ in range(100):  # until muxd has seen the closes: room again
            last = m.connect(0, timeout=30)
            last.sendall(b"ping")
            if recv_exactly(last, 4, timeout=30) == b"ping":
                break
            last.close()
            time.sleep(0.05)
        last.sendall(b"in flight")  # answered during the graceful shutdown
        return last


if __name__ == "__main__":
    muxtest.main()
