#!/bin/sh
# compare.sh -- benchmark muxd against its peers (see docs/performance.md).
#
# Installs what the run needs when it is missing (Debian packages, only when
# run as root), builds Release, then runs bench/compare.py: every server in
# turns, pinned to CPU 0, with muxbench on CPU 1, and writes results.md,
# results.dat, plot.png and raw.jsonl into the output directory.
#
# --smoke is the CI form: muxd and select_echo only, about a second per
# level, one round, bytes verified, no timing assertion; it installs
# nothing and exits non-zero on any error or mismatch.
set -eu

usage() {
    cat <<EOF
Usage: bench/compare.sh [OPTION]...
  --duration SEC   measured seconds per level and round (default 2)
  --warmup SEC     load before measuring (default 0.3)
  --rounds N       rounds of turns; medians are reported (default 5)
  --servers LIST   comma-separated subset of: muxd,select,epoll,libevent,
                   libuv,py-selectors,py-asyncio (default: all)
  --quiet-wait SEC before each measurement, wait up to SEC for other
                   processes to go idle (default 20; 3 min in all)
  --build-dir DIR  Release build directory (default: build-release)
  --out DIR        where results go (default: BUILD-DIR/bench-results)
  --no-install     do not apt-get install missing packages
  --no-pin         do not pin server and load to CPUs 0 and 1
  --smoke          CI smoke test: muxd and select only, ~1 s per level
  -h, --help       show this help and exit
Exit status: 0 ok, 1 a server failed or bytes came back wrong, 2 usage.
EOF
}

die_usage() {
    echo "compare.sh: $1" >&2
    echo "Try 'bench/compare.sh --help' for more information." >&2
    exit 2
}

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-release"
out=""
install=1

pass=""
while [ $# -gt 0 ]; do
    case "$1" in
    --duration | --warmup | --rounds | --servers | --quiet-wait)
        [ $# -ge 2 ] || die_usage "option '$1' needs an argument"
        pass="$pass $1 $2"
        shift 2
        ;;
    --build-dir)
        [ $# -ge 2 ] || die_usage "option '$1' needs an argument"
        build=$2
        shift 2
        ;;
    --out)
        [ $# -ge 2 ] || die_usage "option '$1' needs an argument"
        out=$2
        shift 2
        ;;
    --no-install) install=0; shift ;;
    --no-pin) pass="$pass --no-pin"; shift ;;
    --smoke) install=0; pass="$pass --smoke"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die_usage "unknown option: '$1'" ;;
    esac
done
[ -n "$out" ] || out="$build/bench-results"

# Debian packages for the peers, the plot and the instruction counts.
missing_packages() {
    for pkg in cmake gcc make pkg-config python3 util-linux valgrind \
        gnuplot-nox libevent-dev libuv1-dev; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null |
            grep -q "install ok installed" || printf '%s ' "$pkg"
    done
}

if [ "$install" = 1 ] && command -v dpkg-query >/dev/null; then
    need=$(missing_packages)
    if [ -n "$need" ] && [ "$(id -u)" = 0 ]; then
        echo "compare.sh: installing $need"
        apt-get update -qq
        # shellcheck disable=SC2086 # one word per package
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
    elif [ -n "$need" ]; then
        echo "compare.sh: missing $need (not root: not installing);" \
            "the peers that need them are skipped" >&2
    fi
fi

echo "compare.sh: building Release in $build"
tests=""
[ -f "$build/CMakeCache.txt" ] || tests="-DMUX_TESTS=OFF" # a new directory
# shellcheck disable=SC2086 # $tests is empty or one word
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release $tests >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

# shellcheck disable=SC2086 # $pass holds separate words
exec python3 "$root/bench/compare.py" --build-dir "$build" --out "$out" $pass
