"""The Python package in python/: installed offline the way its README
says (Debian's /usr/bin/python3, pip, setuptools: no package index), then
its own pytest suite run against this build's muxd, its `muxd` fixture
coming from the installed pytest11 entry point. And the package from the
source tree: a muxd never stopped, a bad binary=, a long $TMPDIR and
--workers."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

import muxtest
from test_fixture import wait_exit

sys.path.insert(0, os.path.join(muxtest.SOURCE_DIR, "python", "src"))
import muxd  # noqa: E402  (the package in the source tree)

PYTHON = "/usr/bin/python3"  # Debian's, with python3-pytest and pip
PACKAGE = os.path.join(muxtest.SOURCE_DIR, "python")


def copy_package(tmp):
    """A copy of python/ in directory `tmp` (a build writes into the
    source tree); its path."""
    source = os.path.join(tmp, "src")
    shutil.copytree(PACKAGE, source,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info",
                                                  "build"))
    return source


def install_package(tmp):
    """pip install --no-build-isolation, from a copy (the build writes into
    the source tree) in directory `tmp`, into a private target directory
    there, which it returns. test_docs.py runs the docs' examples with it."""
    if not os.path.exists(PYTHON):
        raise AssertionError(f"{PYTHON} is missing (apt-get install "
                             f"python3; scripts/test.sh installs it)")
    source = copy_package(tmp)
    target = os.path.join(tmp, "site")
    p = subprocess.run(
        [PYTHON, "-m", "pip", "install", "--no-build-isolation", "--no-index",
         "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
         "--target", target, source],
        capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"pip install of {PACKAGE} failed "
                             f"({p.returncode}):\n{p.stdout}{p.stderr}")
    return target


class PythonPackageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def run_python(self, *args, env=None, timeout=300):
        p = subprocess.run([PYTHON, *args], capture_output=True, text=True,
                           timeout=timeout, env=env)
        return p.returncode, p.stdout + p.stderr

    def install(self):
        return install_package(self.tmp.name)

    def test_installs_offline_and_its_tests_pass(self):
        target = self.install()
        env = dict(os.environ, PYTHONPATH=target,
                   MUXD=muxtest.binary("muxd"),
                   PYTHONDONTWRITEBYTECODE="1")
        rc, out = self.run_python(
            "-c", "import importlib.metadata as m; print([e.value for e in "
            "m.entry_points(group='pytest11') if e.name == 'muxd'])", env=env)
        self.assertEqual((rc, out.strip()), (0, "['muxd.pytest_plugin']"), out)
        rc, out = self.run_python(
            "-m", "pytest", "-q", "-p", "no:cacheprovider",
            os.path.join(PACKAGE, "tests"), env=env)
        sys.stdout.write(out)
        self.assertEqual(rc, 0, out)
        self.assertIn(" passed", out)
        self.assertNotIn("skipped", out)

    def test_installs_into_a_venv_with_system_site_packages(self):
        """What docs/python.md says for a venv: one made with
        --system-site-packages (Debian's wheel and pytest in it) takes the
        package offline; there the plugin is loaded by itself, and naming
        it with -p as well is an error."""
        venv = os.path.join(self.tmp.name, "venv")
        rc, out = self.run_python("-m", "venv", "--system-site-packages",
                                  venv)
        self.assertEqual(rc, 0, out + "\n(apt-get install python3-venv; "
                                "scripts/test.sh installs it)")
        python = os.path.join(venv, "bin", "python")
        p = subprocess.run(
            [python, "-m", "pip", "install", "--no-build-isolation",
             "--no-index", "--no-cache-dir", "--disable-pip-version-check",
             self.copy_package()], capture_output=True, text=True,
            timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        env = dict(os.environ, MUXD=muxtest.binary("muxd"),
                   PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONPATH", None)
        tests = os.path.join(PACKAGE, "tests")
        p = subprocess.run([python, "-m", "pytest", "-q", "-p",
                            "no:cacheprovider", tests], capture_output=True,
                           text=True, timeout=300, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = subprocess.run([python, "-m", "pytest", "-q", "-p",
                            "no:cacheprovider", "-p", "muxd.pytest_plugin",
                            tests], capture_output=True, text=True,
                           timeout=300, env=env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Plugin already registered", p.stdout + p.stderr)

    def copy_package(self):
        return copy_package(self.tmp.name)


# A script that starts muxd with the package, says its pid and directory,
# then does what argv[1] says instead of stopping it.
NEVER_STOPPED = """
import os, sys, muxd
server = muxd.Muxd("-s", "echo")
print(server.proc.pid, server.control_path, flush=True)
if sys.argv[1] == "raise":
    raise RuntimeError("a test failed before its `with`")
if sys.argv[1] == "block":
    sys.stdin.read()
if sys.argv[1] == "fork":  # a child that exits the normal way, atexit run
    child = os.fork()
    if child == 0:
        sys.exit(0)
    os.waitpid(child, 0)
    print(server.stats()["clients"], flush=True)
"""


class PrivateTmpdir(unittest.TestCase):
    """Each test with an empty $TMPDIR of its own (tempfile.tempdir for
    this process), to see what the package leaves behind."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.addCleanup(setattr, tempfile, "tempdir", tempfile.tempdir)
        tempfile.tempdir = self.tmp.name
        self.muxd = muxtest.binary("muxd")

    def left_behind(self):
        return sorted(os.listdir(self.tmp.name))


class NeverStopped(PrivateTmpdir):
    """A Muxd that nobody stops: muxd ends with the interpreter, or once
    the Muxd is garbage, and its directory goes."""

    def start(self, how):
        env = dict(os.environ, TMPDIR=self.tmp.name, MUXD=self.muxd,
                   PYTHONPATH=os.path.join(muxtest.SOURCE_DIR, "python",
                                           "src"))
        return subprocess.Popen([PYTHON, "-c", NEVER_STOPPED, how], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def check_gone(self, proc, how):
        line = proc.stdout.readline()
        if how == "kill":
            proc.kill()
        out, err = proc.communicate(timeout=muxtest.TIMEOUT)
        self.assertTrue(line, err)
        pid, control = int(line.split()[0]), line.split()[1]
        self.assertTrue(wait_exit(pid), f"muxd {pid} still runs after "
                                        f"python exited ({how}): {err}")
        return os.path.dirname(control), err

    def test_interpreter_exits_without_stop(self):
        for how in ("exit", "raise"):
            with self.subTest(how=how):
                directory, err = self.check_gone(self.start(how), how)
                self.assertEqual(self.left_behind(), [], err)
                if how == "raise":
                    self.assertIn("RuntimeError: a test failed", err)

    def test_a_forked_child_leaves_it_alone(self):
        proc = self.start("fork")
        out, err = proc.communicate(timeout=muxtest.TIMEOUT)
        self.assertEqual((proc.returncode, out.split("\n")[1:]),
                         (0, ["0", ""]), err)
        self.assertEqual(self.left_behind(), [])

    def test_killed_interpreter_takes_muxd_along(self):
        """SIGKILL: nothing runs in python; muxd gets SIGTERM from the
        kernel (PR_SET_PDEATHSIG) and stops gracefully: its control socket
        and ready file are gone, its log stays (nobody is left to remove
        it)."""
        directory, err = self.check_gone(self.start("block"), "kill")
        self.assertEqual(self.left_behind(), [os.path.basename(directory)])
        self.assertEqual(os.listdir(directory), ["muxd.log"])
        with open(os.path.join(directory, "muxd.log")) as f:
            self.assertIn("SIGTERM: shutting down", f.read())

    def test_garbage_muxd_is_stopped(self):
        server = muxd.Muxd("-s", "echo", binary=self.muxd)
        pid = server.proc.pid
        del server  # the last reference: CPython collects it at once
        self.assertTrue(wait_exit(pid))
        self.assertEqual(self.left_behind(), [])


class BadBinary(PrivateTmpdir):
    def test_clear_error_and_nothing_left(self):
        garbage = os.path.join(self.tmp.name, "garbage")
        with open(garbage, "w") as f:
            f.write("not a program\n")
        os.chmod(garbage, 0o755)
        plain = os.path.join(self.tmp.name, "plain")
        shutil.copy(self.muxd, plain)
        os.chmod(plain, 0o644)
        cases = {self.tmp.name: f"muxd not executable: {self.tmp.name} is "
                                f"a directory",
                 garbage: f"cannot run muxd {garbage}: Exec format error"}
        cases[plain] = f"muxd not executable: {plain} (no execute permission)"
        for binary, message in cases.items():
            with self.subTest(binary=binary):
                with self.assertRaises(muxd.MuxdError) as caught:
                    muxd.Muxd("-s", "echo", binary=binary)
                self.assertEqual(str(caught.exception), message)
                self.assertEqual(self.left_behind(), ["garbage", "plain"])


class LongTmpdirAndWorkers(PrivateTmpdir):
    def test_long_tmpdir(self):
        """A $TMPDIR so long that a socket in it would not fit in a
        sockaddr_un (108 bytes): the control socket goes under /tmp."""
        long_dir = os.path.join(self.tmp.name, "d" * 120)
        os.mkdir(long_dir)
        tempfile.tempdir = long_dir
        with muxd.Muxd("-s", "echo", binary=self.muxd) as server:
            fault = server.fault("latency=1")
            self.assertEqual(server.faults(), [{"id": fault,
                                                "spec": "latency=1"}])
            self.assertEqual(server.stats()["accepted"], 0)
            directory = os.path.dirname(server.control_path)
        self.assertEqual(server.returncode, 0)
        self.assertFalse(os.path.exists(directory))
        self.assertEqual(os.listdir(long_dir), [])

    def test_workers_serve_without_a_control_socket(self):
        with muxd.Muxd("-s", "echo", "--workers", "2",
                       binary=self.muxd) as server:
            with socket.create_connection(server.address,
                                          timeout=muxtest.TIMEOUT) as s:
                s.sendall(b"ping")
                self.assertEqual(muxtest.recv_exactly(s, 4), b"ping")
            with self.assertRaisesRegex(muxd.MuxdError,
                                        "no control socket: muxd runs with "
                                        "--workers"):
                server.stats()
        self.assertEqual(server.returncode, 0)
        self.assertEqual(self.left_behind(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
