"""The Python package in python/: installed offline the way its README
says (Debian's /usr/bin/python3, pip, setuptools: no package index), then
its own pytest suite run against this build's muxd, its `muxd` fixture
coming from the installed pytest11 entry point."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import muxtest

PYTHON = "/usr/bin/python3"  # Debian's, with python3-pytest and pip
PACKAGE = os.path.join(muxtest.SOURCE_DIR, "python")


class PythonPackageTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(PYTHON):
            raise AssertionError(f"{PYTHON} is missing (apt-get install "
                                 f"python3; scripts/test.sh installs it)")
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def run_python(self, *args, env=None, timeout=300):
        p = subprocess.run([PYTHON, *args], capture_output=True, text=True,
                           timeout=timeout, env=env)
        return p.returncode, p.stdout + p.stderr

    def install(self):
        """pip install --no-build-isolation, from a copy (the build writes
        into the source tree), into a private target directory."""
        source = os.path.join(self.tmp.name, "src")
        shutil.copytree(PACKAGE, source,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info",
                                                      "build"))
        target = os.path.join(self.tmp.name, "site")
        rc, out = self.run_python(
            "-m", "pip", "install", "--no-build-isolation", "--no-index",
            "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
            "--target", target, source)
        self.assertEqual(rc, 0, out)
        return target

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
