#!/usr/bin/env bash
# The Debian packages as an admin gets them: builds them (scripts/package.sh),
# runs lintian on them, then installs them with dpkg -i into a throwaway
# copy of this machine and uses them there (test/package/test_package.py).
#
# The copy is an overlay of / (writes go to a tmpfs) in a private mount
# namespace, entered with chroot: dpkg, its maintainer scripts and ldconfig
# run for real on the real paths, yet this machine's dpkg database, /usr
# and /etc never change, a concurrent apt-get or a muxd installed here is
# not disturbed, and nothing is left behind even if the test is killed.
# Its /run is empty, so no maintainer script talks to a running systemd.
#
#   test/package/run.sh        needs root (dpkg, mount, chroot)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

[ "$(id -u)" -eq 0 ] ||
    die "needs root: it installs the packages into a throwaway overlay of / (MUX_TEST_PACKAGE=0 scripts/test.sh leaves it out)"
# Every package by name (a fresh minbase machine has none of them):
# lintian; systemd-analyze (and man, for the units' Documentation=); what
# the consumer programs are built with.
ensure_packages lintian:lintian systemd-analyze:systemd man:man-db python3:python3 \
    pkg-config:pkgconf cmake:cmake make:make cc:gcc \
    /usr/include/stdio.h:libc6-dev unshare:util-linux

src=$(pwd)
debs=$src/build/deb
MUX_DEB_DIR=$debs scripts/package.sh

echo "== lintian =="
# Every finding is printed (E: error, W: warning, I: info, P: pedantic);
# an error, or lintian failing, fails the test. As root, lintian says so
# on stderr: that line is left out.
status=0
lintian --fail-on error --display-info --pedantic "$debs"/*.deb \
    >"$debs/lintian.txt" 2>&1 || status=$?
sed -i '/running with root privileges/d' "$debs/lintian.txt"
cat "$debs/lintian.txt"
if [ "$status" -ne 0 ] || grep -q '^E:' "$debs/lintian.txt"; then
    die "lintian found errors in the packages (status $status): $debs/lintian.txt"
fi

echo "== install into an overlay of / and use the packages =="
# The source tree is bound at its own path: it may live on another mount
# than / (then the overlay of / would not hold it).
#
# The namespace keeps the mounts' propagation as it is (unshare cannot make
# "/" private inside a chroot, where "/" is no mount point: CI may run in
# one). So the scratch directory is first bound onto itself and made
# private: every mount below it stays in the namespace. That first bind may
# propagate back to this machine if its mount is shared: the trap undoes it.
scratch=$(mktemp -d /tmp/mux-package.XXXXXX)
trap 'umount "$scratch" 2>/dev/null || true; rmdir "$scratch"' EXIT
unshare --mount --propagation unchanged -- bash -euo pipefail -c '
    src=$1 debs=$2 scratch=$3
    mount --bind "$scratch" "$scratch"
    mount --make-rprivate "$scratch"
    mount -t tmpfs -o mode=0755 mux-package "$scratch"
    mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
    root=$scratch/root
    mount -t overlay mux-package -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" "$root"
    mount --rbind /dev "$root/dev"
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount -t tmpfs tmpfs "$root/run"
    mount -t tmpfs tmpfs "$root/tmp"
    mkdir -p "$root$src"
    mount --bind "$src" "$root$src"
    mount -o remount,bind,ro "$root$src"
    exec chroot "$root" env MUX_PACKAGE_ROOT=overlay MUX_DEB_DIR="$debs" \
        PYTHONPATH="$src/test/integration" \
        python3 "$src/test/package/test_package.py"
' mux-package "$src" "$debs" "$scratch"
