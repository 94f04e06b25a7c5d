"""nmap (Debian's) against muxd: its service detection names the RFC
services by their own answers, and its scans leave muxd serving with no
client left behind. A missing nmap fails the test (scripts/test.sh
installs it)."""

import contextlib
import os
import re
import subprocess
import unittest

import muxtest
from muxtest import TIMEOUT, Muxd

# nmap's grepable output: "Ports: 9202/open/tcp//daytime//Cisco.../, ..."
PORT_RE = re.compile(r"(\d+)/(\w+)/tcp//([^/]*)/")


def nmap(*args):
    """Runs nmap on 127.0.0.1 (no ping, no DNS): {port: (state, service)}."""
    p = subprocess.run([muxtest.require_tool("nmap", "nmap"), "-n", "-Pn",
                        "-oG", "-", *args, "127.0.0.1"],
                       capture_output=True, timeout=4 * TIMEOUT)
    assert p.returncode == 0, p.stderr
    ports = {}
    for line in p.stdout.decode().splitlines():
        if "Ports:" in line:
            for port, state, service in PORT_RE.findall(line):
                ports[int(port)] = (state, service)
    return ports


class Nmap(unittest.TestCase):
    def test_version_detection_names_the_rfc_services(self):
        # echo is left out: a service that says nothing first costs nmap
        # about 20 s of probes before it settles on "echo".
        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(Muxd("-s", name, "-p", "0", "-q"))
                       for name in ("daytime", "chargen", "time")]
            ports = nmap("-sV", "--version-light",
                         "-p", ",".join(str(m.port) for m in servers))
            self.assertEqual(
                {ports.get(m.port) for m in servers},
                {("open", "daytime"), ("open", "chargen"), ("open", "time")},
                ports)

    def test_scans_leave_muxd_serving_with_no_client_behind(self):
        with Muxd("-l", "127.0.0.1:0", "-l", "127.0.0.1:0",
                  listeners=2) as m:
            ports = [addr[1] for _, addr in m.listeners]
            span = f"{min(ports) - 5}-{max(ports) + 5}"
            # A connect scan (connect, then close) of the ports around
            # muxd's; as root also a SYN scan (SYN, SYN-ACK, then a
            # reset from nmap: the kernel's business, never an accept).
            scans = [["-sT"]] + ([["-sS"]] if os.geteuid() == 0 else [])
            for scan in scans:
                found = nmap(*scan, "-p", span)
                for port in ports:
                    self.assertEqual(found.get(port, ("?",))[0], "open",
                                     (scan, found))
            # Both scanned connections were accepted and closed: the next
            # client is the only one.
            # (Lines that begin so: "client closed" would count twice.)
            m.wait_for_log("muxd: closed ", count=2)
            with m.connect() as s:
                s.sendall(b"still here\n")
                self.assertEqual(s.recv(100), b"still here\n")
            log = m.wait_for_log("accepted", count=3)
            last = [l for l in log.splitlines() if "accepted" in l][-1]
            self.assertIn("(1 client)", last, log)
            self.assertIsNone(m.proc.poll(), "muxd exited")


if __name__ == "__main__":
    muxtest.main()
