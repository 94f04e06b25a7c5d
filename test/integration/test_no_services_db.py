"""A machine without /etc/services (a minimal Debian has none until netbase
is installed): the service names muxd's docs use still work, any other name
fails with a message that says the database is missing.

The tests hide /etc/services behind an empty file in a mount namespace of
their own (unshare -m, as root, as CI runs); where that is not allowed they
skip and say why."""

import os
import shlex
import socket
import subprocess
import unittest

import muxtest
from muxtest import TIMEOUT


def without_services(argv):
    """argv, run where /etc/services is an empty file."""
    script = ("mount --bind /dev/null /etc/services && exec "
              + " ".join(shlex.quote(a) for a in argv))
    return ["unshare", "-m", "sh", "-c", script]


def namespaces_allowed():
    if os.geteuid() != 0 or not os.path.exists("/etc/services"):
        return False
    p = subprocess.run(without_services(["true"]), capture_output=True,
                       timeout=TIMEOUT)
    return p.returncode == 0


@unittest.skipUnless(namespaces_allowed(),
                     "needs root and unshare -m to hide /etc/services")
class NoServicesDatabase(unittest.TestCase):
    def run_hidden(self, *argv):
        p = subprocess.run(without_services(argv), capture_output=True,
                           timeout=TIMEOUT, text=True)
        return p.returncode, p.stdout, p.stderr

    def test_the_database_is_really_hidden(self):
        code, out, _ = self.run_hidden("cat", "/etc/services")
        self.assertEqual((code, out), (0, ""))

    def test_documented_names_resolve_without_it(self):
        muxcat = muxtest.binary("muxcat")
        for name, port in (("echo", 7), ("discard", 9), ("daytime", 13),
                           ("chargen", 19), ("time", 37), ("www", 80),
                           ("http", 80)):
            with self.subTest(name=name):
                code, out, err = self.run_hidden(
                    muxcat, "--resolve", "127.0.0.1", name)
                self.assertEqual(code, 0, err)
                self.assertIn(f"127.0.0.1  {port}\n", out)

    def test_muxd_serves_on_a_named_port(self):
        # A loopback address of its own, so port 13 is not shared.
        muxd = muxtest.binary("muxd")
        proc = subprocess.Popen(
            without_services([muxd, "-s", "daytime", "-l", "127.9.13.1:daytime"]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            self.assertEqual(line, "listening on tcp 127.9.13.1:13\n",
                             proc.stderr.read() if not line else line)
            with socket.create_connection(("127.9.13.1", 13), TIMEOUT) as s:
                reply = muxtest.recv_until_close(s)
            self.assertRegex(reply, rb"^\w+, \w+ \d+, \d{4} \d\d:\d\d:\d\d")
        finally:
            proc.terminate()
            proc.communicate(timeout=TIMEOUT)

    def test_other_names_say_the_database_is_missing(self):
        code, _, err = self.run_hidden(muxtest.binary("muxd"), "-p", "imaps")
        self.assertEqual(code, 2)
        self.assertIn("muxd: invalid port 'imaps': Unknown service name "
                      "(this system has no services database, "
                      "/etc/services: install netbase", err)
        code, _, err = self.run_hidden(muxtest.binary("muxcat"),
                                       "--resolve", "localhost", "imaps")
        self.assertEqual(code, 1)
        self.assertIn("no services database", err)


if __name__ == "__main__":
    muxtest.main()
