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
#
# --relay runs bench/relay.py instead: muxd's relay (--to) against haproxy,
# rinetd, redir and socat, each in front of an epoll_echo upstream, and
# writes relay.md, relay.dat, relay.png and relay-raw.jsonl into the same
# output directory. The Debian packages of haproxy and rinetd ship services
# that start on install: the install keeps them from starting (policy-rc.d)
# and disables them, so that no system haproxy or rinetd is left running.
set -eu

usage() {
    cat <<EOF
Usage: bench/compare.sh [OPTION]...
  --duration SEC   measured seconds per level and round (default 2)
  --warmup SEC     load before measuring (default 0.3)
  --rounds N       rounds of turns; medians are reported (default 5;
                   --relay: 3)
  --servers LIST   comma-separated subset of: muxd,select,epoll,libevent,
                   libuv,py-selectors,py-asyncio (default: all); with
                   --relay: muxd,haproxy,rinetd,redir,socat (default: all;
                   --smoke: muxd,socat,rinetd)
  --relay          benchmark relays instead of echo servers: each relays
                   to an epoll_echo upstream (muxd only once it has --to)
  --quiet-wait SEC before each measurement, wait up to SEC for other
                   processes to go idle (default 20; 3 min in all)
  --build-dir DIR  Release build directory (default: build-release)
  --out DIR        where results go (default: BUILD-DIR/bench-results)
  --no-install     do not apt-get install missing packages
  --no-build       use the build in --build-dir as it is (no cmake)
  --no-pin         do not pin server and load to CPUs 0 and 1
  --smoke          CI smoke test: muxd and select only, ~1 s per level;
                   with --relay: muxd, socat and rinetd, ~0.5 s per level
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
build_it=1
script=compare.py

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
    --no-build) build_it=0; shift ;;
    --relay) script=relay.py; shift ;;
    --no-pin) pass="$pass --no-pin"; shift ;;
    --smoke) install=0; pass="$pass --smoke"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die_usage "unknown option: '$1'" ;;
    esac
done
[ -n "$out" ] || out="$build/bench-results"

# Debian packages for the peers, the plot and the instruction counts.
missing_packages() {
    missing_from "cmake gcc make pkg-config python3 util-linux valgrind \
        gnuplot-nox libevent-dev libuv1-dev"
}

missing_from() {
    for pkg in $1; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null |
            grep -q "install ok installed" || printf '%s ' "$pkg"
    done
}

# The relays compared with muxd's; haproxy and rinetd run as services.
RELAY_PACKAGES="haproxy rinetd redir socat"
RELAY_SERVICES="haproxy rinetd"

# Installs packages without letting their services start (policy-rc.d
# answers 101, "action forbidden", to every invoke-rc.d while it exists),
# then disables and stops the services of the packages it installed.
install_quietly() {
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $1 >/dev/null
    [ "$own_policy" = 0 ] || { rm -f "$policy"; trap - EXIT; }
    for svc in $RELAY_SERVICES; do
        case " $1 " in *" $svc "*) stop_service "$svc" ;; esac
    done
}

stop_service() {
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now "$1" >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null; then
        update-rc.d "$1" disable >/dev/null 2>&1 || true
        service "$1" stop >/dev/null 2>&1 || true
    fi
    if pgrep -x "$1" >/dev/null; then
        echo "compare.sh: warning: a $1 is running outside the benchmark" >&2
    fi
}

if [ "$install" = 1 ] && command -v dpkg-query >/dev/null; then
    need=$(missing_packages)
    if [ "$script" = relay.py ]; then
        need="$need$(missing_from "$RELAY_PACKAGES")"
    fi
    if [ -n "$need" ] && [ "$(id -u)" = 0 ]; then
        echo "compare.sh: installing $need"
        install_quietly "$need"
    elif [ -n "$need" ]; then
        echo "compare.sh: missing $need (not root: not installing);" \
            "the peers that need them are skipped" >&2
    fi
fi

if [ "$build_it" = 1 ]; then
    echo "compare.sh: building Release in $build"
    tests=""
    [ -f "$build/CMakeCache.txt" ] || tests="-DMUX_TESTS=OFF" # a new directory
    # shellcheck disable=SC2086 # $tests is empty or one word
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release $tests >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi

# shellcheck disable=SC2086 # $pass holds separate words
exec python3 "$root/bench/$script" --build-dir "$build" --out "$out" $pass
