"""The Debian packages as an admin gets them (run by test/package/run.sh,
inside a throwaway overlay of the machine): dpkg -i of muxd, libmux1 and
libmux-dev; the installed files; the systemd units (systemd-analyze
verify, and muxd started the way muxd.socket + muxd.service start it); the
installed muxd and muxcat; programs built against the installed libmux-dev
with pkg-config and with find_package(mux); then dpkg --purge."""

import glob
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import unittest

os.environ["MUX_BUILD_DIR"] = "/usr/bin"  # muxtest runs the installed muxd
import muxtest  # noqa: E402
from muxtest import Muxd, recv_exactly  # noqa: E402
from test_fixture import launcher  # noqa: E402
from test_install import CONSUMER_C, header_version, needed_libs  # noqa: E402

DEB_DIR = os.environ.get("MUX_DEB_DIR", "")
PACKAGES = ("libmux1", "libmux-dev", "muxd")
UNITS = ("/lib/systemd/system/muxd.service", "/lib/systemd/system/muxd.socket")
STEP_TIMEOUT = 120  # seconds, for one dpkg, configure or build step


def run_step(*cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=STEP_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")
    return p.stdout + p.stderr


def unit_exec_start(unit):
    """The argv of the unit's ExecStart=, its $VARIABLES taken from its
    EnvironmentFile= as systemd does (an unquoted $VAR splits into words)."""
    with open(unit) as f:
        text = f.read()
    command = re.search(r"^ExecStart=(.*)$", text, re.M).group(1)
    env_file = re.search(r"^EnvironmentFile=-?(.*)$", text, re.M).group(1)
    argv = []
    for word in shlex.split(command):
        if word.startswith("$"):
            value = run_step("sh", "-c", f'. {env_file}; printf %s "{word}"')
            argv += value.split()
        else:
            argv.append(word)
    return argv


class Packages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.environ.get("MUX_PACKAGE_ROOT") != "overlay":
            raise AssertionError("run it through test/package/run.sh: it "
                                 "installs packages, into a throwaway root")
        cls.debs = [glob.glob(os.path.join(DEB_DIR, f"{p}_*.deb"))
                    for p in PACKAGES]
        for package, found in zip(PACKAGES, cls.debs):
            if len(found) != 1:
                raise AssertionError(f"not one {package}_*.deb in {DEB_DIR!r}: "
                                     f"{found} (scripts/package.sh builds them)")
        run_step("dpkg", "-i", *[found[0] for found in cls.debs])
        cls.tmp = tempfile.TemporaryDirectory(prefix="mux-package-")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_1_installed(self):
        for package in PACKAGES:
            status = run_step("dpkg-query", "-W", "-f", "${Status} ${Version}",
                              package)
            self.assertEqual(status, f"install ok installed {header_version()}")
        files = run_step("dpkg", "-L", "muxd").split()
        for path in ("/usr/bin/muxd", "/usr/bin/muxcat", *UNITS,
                     "/etc/default/muxd", "/usr/share/man/man1/muxd.1.gz",
                     "/usr/share/man/man1/muxcat.1.gz",
                     "/usr/share/doc/muxd/install.md"):
            self.assertIn(path, files)
        self.assertEqual(run_step("muxd", "-V"), f"muxd {header_version()}\n")
        self.assertIn("muxcat", run_step("muxcat", "--help"))

    def test_units_verify_without_warnings(self):
        out = run_step("systemd-analyze", "verify", *UNITS)
        self.assertEqual(out, "")

    def test_service_is_hardened(self):
        """systemd's own rating, 0 (locked down) to 10 (exposed): at most
        2.0, "OK" (docs/install.md gives the figure)."""
        out = run_step("systemd-analyze", "security", "--offline=true",
                       "--threshold=20", UNITS[0])
        self.assertRegex(out, r"Overall exposure level for muxd.service: "
                         r"[01]\.\d OK")

    def test_muxd_and_muxcat_from_the_package(self):
        with Muxd("-p", "0") as m:
            addr = f"127.0.0.1:{m.port}"
            p = subprocess.run(["muxcat", addr], input=b"packaged\n",
                               capture_output=True, timeout=muxtest.TIMEOUT)
            self.assertEqual((p.returncode, p.stdout), (0, b"packaged\n"))
            out = run_step("muxcat", addr, "--send", "hi", "--expect", "hi")
            self.assertEqual(out, "hi\n")
            self.assertEqual(m.stop(), 0)

    def test_socket_unit_starts_the_service_on_its_socket_only(self):
        """muxd.service's ExecStart with the shipped /etc/default/muxd,
        handed one socket as muxd.socket does, with $NOTIFY_SOCKET:
        READY=1, and the passed socket is the only listener."""
        argv = unit_exec_start(UNITS[0])
        self.assertEqual(argv, ["/usr/bin/muxd"])
        notify_path = os.path.join(self.tmp.name, "notify")
        with muxtest.tcp_listener() as listener, \
                socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(notify_path)
            notify.settimeout(muxtest.TIMEOUT)
            fd = listener.fileno()
            env = dict(os.environ, NOTIFY_SOCKET=notify_path)
            with Muxd(*argv[1:], wrapper=launcher([fd]), pass_fds=[fd],
                      env=env) as m:
                self.assertEqual(notify.recv(4096), b"READY=1")
                # The ready lines come before READY=1: any second one is
                # in muxd's stdout by now.
                self.assertEqual(m.readline(0), None)
                os.set_blocking(m.proc.stdout.fileno(), False)
                with self.assertRaises(BlockingIOError):
                    os.read(m.proc.stdout.fileno(), 4096)
                self.assertEqual(m.listeners,
                                 [("tcp", listener.getsockname())])
                with m.connect() as c:
                    c.sendall(b"activated\n")
                    self.assertEqual(recv_exactly(c, 10), b"activated\n")
                self.assertEqual(m.stop(), 0)

    def consumer_source(self, name):
        d = os.path.join(self.tmp.name, name)
        os.makedirs(d)
        with open(os.path.join(d, "consumer.c"), "w") as f:
            f.write(CONSUMER_C)
        return d

    def run_consumer(self, path):
        out = run_step(path)
        self.assertEqual(out, f"libmux {header_version()}: timer fired "
                         "1 time(s), run returned 0\n")

    def test_consumer_with_pkg_config(self):
        d = self.consumer_source("pkg-config")
        self.assertEqual(run_step("pkg-config", "--variable=prefix", "mux"),
                         "/usr\n")
        flags = run_step("pkg-config", "--cflags", "--libs", "mux").split()
        exe = os.path.join(d, "consumer")
        run_step("cc", os.path.join(d, "consumer.c"), "-o", exe, *flags)
        self.assertIn("libmux.so.1", needed_libs(exe))
        self.run_consumer(exe)  # found by ld.so: libmux1 ran ldconfig

    def test_consumer_with_find_package(self):
        d = self.consumer_source("find-package")
        with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.16)\n"
                    "project(consumer LANGUAGES C)\n"
                    f"find_package(mux {header_version()} REQUIRED)\n"
                    "add_executable(consumer consumer.c)\n"
                    "target_link_libraries(consumer PRIVATE mux::mux)\n"
                    "add_executable(consumer_static consumer.c)\n"
                    "target_link_libraries(consumer_static PRIVATE "
                    "mux::mux_static)\n")
        build = os.path.join(d, "build")
        run_step("cmake", "-S", d, "-B", build)
        run_step("cmake", "--build", build)
        self.assertIn("libmux.so.1", needed_libs(os.path.join(build, "consumer")))
        self.assertNotIn("libmux.so.1",
                         needed_libs(os.path.join(build, "consumer_static")))
        self.run_consumer(os.path.join(build, "consumer"))
        self.run_consumer(os.path.join(build, "consumer_static"))

    def test_z_purge_leaves_nothing(self):
        files = set()
        for package in PACKAGES:
            files.update(line for line in run_step("dpkg", "-L", package)
                         .splitlines() if not os.path.isdir(line))
        run_step("dpkg", "--purge", *reversed(PACKAGES))
        self.assertEqual([f for f in sorted(files) if os.path.lexists(f)], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
