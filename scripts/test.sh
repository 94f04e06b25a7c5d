#!/usr/bin/env bash
# Builds muxd with -Werror and runs every test, then builds it again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs every test again,
# then builds it with clang -Werror (warnings differ between compilers)
# and runs the unit tests, and last builds the Debian packages and tests
# them (test/package/run.sh). Installs what it needs with apt-get when root.
#
#   scripts/test.sh            all three builds
#   MUX_TEST_BUILDS=plain scripts/test.sh    only the plain build
#   MUX_TEST_BUILDS=asan  scripts/test.sh    only the sanitizer build
#   MUX_TEST_FUZZ=0 scripts/test.sh           without the short fuzz runs
#   MUX_TEST_PACKAGE=0 scripts/test.sh        without the Debian packages
#   extra arguments go to ctest (e.g. -R loop, -L unit)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# The build, then what the tests run: the outside clients and tools they
# drive (a test fails, never skips, when one is missing) and /etc/services
# (netbase), which a minimal Debian does not have.
ensure_packages "${BUILD_PACKAGES[@]}" python3:python3 valgrind:valgrind \
    nc:netcat-openbsd ncat:ncat socat:socat pkg-config:pkgconf \
    readelf:binutils mandoc:mandoc unshare:util-linux \
    /usr/lib/python3/dist-packages/pytest:python3-pytest \
    /usr/lib/python3/dist-packages/setuptools:python3-setuptools \
    /usr/lib/python3/dist-packages/pip:python3-pip \
    /usr/share/doc/python3-venv:python3-venv \
    curl:curl redis-server:redis-server redis-cli:redis-tools \
    /usr/sbin/rdate:rdate nmap:nmap \
    /usr/include/cmocka.h:libcmocka-dev /etc/services:netbase

# The toxiproxy client library the API's tests drive (test_api_node.py),
# from the npm registry with npm ci: test/npm's lockfile pins its version
# and sha512, and npm checks the tarball against it. Where the machine's
# CA store lacks its network's TLS proxy (npm: "self-signed certificate in
# certificate chain"), it is fetched again without TLS verification: the
# lockfile's sha512 still decides what is installed.
ensure_packages node:nodejs npm:npm
if ! cmp -s test/npm/package-lock.json build/npm/installed-lock.json; then
    echo "== npm ci (test/npm: toxiproxy-node-client) =="
    rm -rf build/npm && mkdir -p build/npm
    cp test/npm/package.json test/npm/package-lock.json build/npm/
    npm_ci() { (cd build/npm && npm ci --no-audit --no-fund --loglevel=error "$@"); }
    if ! npm_ci; then
        echo "npm ci failed; again without TLS verification (the sha512 checks)"
        npm_ci --strict-ssl=false
    fi
    cp test/npm/package-lock.json build/npm/installed-lock.json
fi
export MUX_NODE_MODULES=$PWD/build/npm/node_modules

jobs=$(nproc 2>/dev/null || echo 2)
builds=${MUX_TEST_BUILDS:-plain asan clang}

run_suite() { # name, cmake args...
    local name=$1 dir=build/$1
    shift
    echo "== $name build =="
    cmake -S . -B "$dir" -DMUX_WERROR=ON -DMUX_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
    echo "== $name tests =="
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" ${ONLY_LABEL:+-L "$ONLY_LABEL"} \
        "${CTEST_ARGS[@]}"
}

CTEST_ARGS=("$@")
for b in $builds; do
    case $b in
    plain) run_suite plain ;;
    asan)
        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
            run_suite asan -DMUX_SANITIZE=ON ;;
    clang)
        ensure_packages clang:clang
        ONLY_LABEL=unit run_suite clang -DCMAKE_C_COMPILER=clang ;;
    *) die "unknown build '$b' in MUX_TEST_BUILDS (plain, asan, clang)" ;;
    esac
done
# The libFuzzer harnesses, briefly (scripts/fuzz.sh SECONDS for a campaign).
if [ "${MUX_TEST_FUZZ:-1}" = 1 ]; then
    echo "== fuzz (10 s per harness) =="
    scripts/fuzz.sh --ctest
fi

# == Debian packages ==
# Builds muxd, libmux1 and libmux-dev, lints them, installs them into a
# throwaway overlay of this machine and uses them (about 30 s; needs root;
# the packages it needs are listed in test/package/run.sh).
# MUX_TEST_PACKAGE=0 leaves it out.
if [ "${MUX_TEST_PACKAGE:-1}" = 1 ]; then
    echo "== Debian packages =="
    test/package/run.sh
fi
echo "== all tests passed ($builds) =="
