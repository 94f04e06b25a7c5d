"""libmux as a user gets it: `cmake --install` into a temporary prefix, then
a tiny program built against it three ways -- pkg-config, find_package(mux)
and add_subdirectory() of the source tree. Each program runs a loop with a
1 ms timer and exits 0.

The consumers are built with the compiler of the build under test. A
sanitized libmux (MUX_SANITIZE=ON) brings its sanitizer link flags along
(in mux.pc and in the CMake targets), so the same steps work there too."""

import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import unittest

import muxtest

SOURCE_DIR = os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
STEP_TIMEOUT = 100  # seconds, for one configure, build or install

CONSUMER_C = r"""
#include <mux.h>
#include <stdio.h>

static void on_timer(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    *(int *)arg += 1;
}

int main(void) {
    mux_loop_t *loop;
    mux_timer_t timer;
    int fired = 0;
    int err = mux_loop_new(&loop);
    if (err < 0) {
        fprintf(stderr, "consumer: %s\n", mux_strerror(err));
        return 1;
    }
    mux_timer_init(&timer, loop, on_timer, &fired);
    err = mux_timer_start(&timer, 1, 0);
    if (err == 0)
        err = mux_run(loop, MUX_RUN_DEFAULT);
    mux_loop_free(loop);
    printf("libmux %s: timer fired %d time(s), run returned %d\n",
           MUX_VERSION, fired, err);
    return err == 0 && fired == 1 ? 0 : 1;
}
"""


def read_cache(build_dir):
    """The build's CMakeCache.txt as a dict (KEY -> value)."""
    cache = {}
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_0-9]+):[A-Z]+=(.*)$", line.rstrip("\n"))
            if m:
                cache[m.group(1)] = m.group(2)
    return cache


def header_version():
    with open(os.path.join(SOURCE_DIR, "include", "mux.h")) as f:
        return re.search(r'#define MUX_VERSION "([^"]+)"', f.read()).group(1)


def needed_libs(path):
    """The DT_NEEDED entries of an executable."""
    muxtest.require_tool("readelf", "binutils")
    out = subprocess.run(["readelf", "-d", path], capture_output=True,
                         text=True, check=True).stdout
    return re.findall(r"\(NEEDED\).*\[(.+)\]", out)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_dir = os.path.abspath(muxtest.BUILD_DIR)
        if not os.path.exists(os.path.join(cls.build_dir, "CMakeCache.txt")):
            raise unittest.SkipTest(f"{cls.build_dir} is not a CMake build")
        cls.cache = read_cache(cls.build_dir)
        if cls.cache.get("MUX_INSTALL") == "OFF":
            raise unittest.SkipTest("configured with MUX_INSTALL=OFF")
        cls.tmp = tempfile.TemporaryDirectory(prefix="mux-install-")
        cls.prefix = os.path.join(cls.tmp.name, "prefix")
        cls.libdir = os.path.join(
            cls.prefix, cls.cache.get("CMAKE_INSTALL_LIBDIR", "lib"))
        cls.run_step(["cmake", "--install", cls.build_dir,
                      "--prefix", cls.prefix])
        cls.consumer_c = os.path.join(cls.tmp.name, "consumer.c")
        with open(cls.consumer_c, "w") as f:
            f.write(CONSUMER_C)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def run_step(cmd, env=None):
        p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=STEP_TIMEOUT)
        if p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p.stdout

    def run_consumer(self, path, env=None):
        p = subprocess.run([path], capture_output=True, text=True, env=env,
                           timeout=muxtest.TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, f"libmux {header_version()}: timer fired "
                         "1 time(s), run returned 0\n")

    def cmake_project(self, name, body, *args):
        """Configures and builds a consumer project; returns its build dir
        and the configure output."""
        src = os.path.join(self.tmp.name, name)
        os.makedirs(src)
        shutil.copy(self.consumer_c, src)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.16)\n"
                    "project(consumer LANGUAGES C)\n" + textwrap.dedent(body))
        build = os.path.join(src, "build")
        cmd = ["cmake", "-S", src, "-B", build,
               "-DCMAKE_BUILD_TYPE=" + self.cache.get("CMAKE_BUILD_TYPE", ""),
               "-DCMAKE_C_COMPILER=" + self.cache["CMAKE_C_COMPILER"]]
        if self.cache.get("CMAKE_GENERATOR"):
            cmd += ["-G", self.cache["CMAKE_GENERATOR"]]
        out = self.run_step(cmd + list(args))
        self.run_step(["cmake", "--build", build, "-j", "2"])
        return build, out

    def test_installed_files(self):
        for path in ("include/mux.h", "bin/muxd"):
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, path)),
                            path)
        for name in ("libmux.a", "libmux.so", "pkgconfig/mux.pc",
                     "cmake/mux/muxConfig.cmake",
                     "cmake/mux/muxConfigVersion.cmake"):
            self.assertTrue(os.path.exists(os.path.join(self.libdir, name)),
                            name)
        for program in ("muxd", "muxcat"):  # muxcat and the pages may be new
            if os.path.exists(os.path.join(self.build_dir, program)):
                self.assertTrue(os.path.isfile(
                    os.path.join(self.prefix, "bin", program)), program)
            if os.path.exists(os.path.join(SOURCE_DIR, "docs", program + ".1")):
                self.assertTrue(os.path.isfile(os.path.join(
                    self.prefix, "share", "man", "man1", program + ".1")))
        out = self.run_step([os.path.join(self.prefix, "bin", "muxd"), "-V"])
        self.assertEqual(out, f"muxd {header_version()}\n")

    def test_shared_library_exports_only_the_api(self):
        muxtest.require_tool("nm", "binutils")
        out = self.run_step(["nm", "-D", "--defined-only",
                             os.path.join(self.libdir, "libmux.so")])
        symbols = [line.split()[-1] for line in out.splitlines()]
        self.assertIn("mux_loop_new", symbols)
        self.assertIn("mux_server_listen", symbols)
        self.assertEqual([s for s in symbols if not re.match(
            r"^mux_[a-z]", s)], [])

    def test_pkg_config(self):
        pkg_config = muxtest.require_tool("pkg-config", "pkgconf")
        env = dict(os.environ,
                   PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        query = lambda *a: self.run_step([pkg_config, *a, "mux"], env).strip()
        # The prefix is the one given to cmake --install, not the configured.
        self.assertEqual(query("--variable=prefix"), self.prefix)
        self.assertEqual(query("--modversion"), header_version())
        flags = query("--cflags", "--libs").split()
        exe = os.path.join(self.tmp.name, "consumer-pkg-config")
        self.run_step([self.cache["CMAKE_C_COMPILER"], self.consumer_c,
                       "-o", exe, *flags])
        self.assertIn("libmux.so.1", needed_libs(exe))
        self.run_consumer(exe, dict(os.environ, LD_LIBRARY_PATH=self.libdir))

    def test_find_package(self):
        build, out = self.cmake_project("find-package", """
            find_package(mux 0.1 REQUIRED)
            message(STATUS "found mux ${mux_VERSION}")
            add_executable(consumer consumer.c)
            target_link_libraries(consumer PRIVATE mux::mux)
            add_executable(consumer_static consumer.c)
            target_link_libraries(consumer_static PRIVATE mux::mux_static)
            """, "-DCMAKE_PREFIX_PATH=" + self.prefix)
        self.assertIn(f"found mux {header_version()}", out)
        shared = os.path.join(build, "consumer")
        static = os.path.join(build, "consumer_static")
        self.assertIn("libmux.so.1", needed_libs(shared))
        self.assertNotIn("libmux.so.1", needed_libs(static))
        self.run_consumer(shared)  # found through the build RPATH
        self.run_consumer(static)

    def test_add_subdirectory(self):
        build, _ = self.cmake_project("add-subdirectory", f"""
            add_subdirectory("{SOURCE_DIR}" muxd EXCLUDE_FROM_ALL)
            add_executable(consumer consumer.c)
            target_link_libraries(consumer PRIVATE mux::mux)
            """)
        # Not the top-level project: no tests, examples or install rules.
        cache = read_cache(build)
        for option in ("MUX_TESTS", "MUX_EXAMPLES", "MUX_INSTALL"):
            self.assertEqual(cache.get(option), "OFF", option)
        self.run_consumer(os.path.join(build, "consumer"))


if __name__ == "__main__":
    muxtest.main()
