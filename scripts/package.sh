#!/usr/bin/env bash
# Builds the Debian packages muxd, libmux0 and libmux-dev (dpkg-buildpackage
# -us -uc -b on a copy of this tree) and leaves them in build/deb/:
#
#   scripts/package.sh          build/deb/muxd_VERSION_ARCH.deb, ...
#   MUX_DEB_DIR=DIR scripts/package.sh      somewhere else
#
# Installs the build dependencies with apt-get when root. Then, e.g.:
#   apt install ./build/deb/muxd_*.deb     (docs/install.md)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# Every package by name: a fresh minbase machine has none of them.
ensure_packages dpkg-buildpackage:dpkg-dev dh:debhelper cmake:cmake \
    make:make cc:gcc /usr/include/stdio.h:libc6-dev \
    /usr/share/build-essential/essential-packages-list:build-essential

out=$(realpath -m "${MUX_DEB_DIR:-build/deb}")
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
cmake_version=$(sed -n 's/^project(muxd VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ "$version" = "$cmake_version" ] ||
    die "debian/changelog says $version, CMakeLists.txt $cmake_version: add a changelog entry (dch -v $cmake_version)"

# dpkg-buildpackage writes its results next to the source directory, so the
# source is copied (without builds and .git) to $out/muxd-VERSION.
src=$out/muxd-$version
rm -rf "$src" "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mkdir -p "$src"
tar -C . --exclude=./.git --exclude='./build*' --exclude=./out -cf - . | tar -C "$src" -xf -
echo "== dpkg-buildpackage in $src =="
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc 2>/dev/null || echo 2) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 ||
    { tail -n 30 "$out/build.log" >&2; die "dpkg-buildpackage failed: $out/build.log"; }
rm -rf "$src"
ls -1 "$out"/*.deb
