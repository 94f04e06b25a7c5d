#!/usr/bin/env bash
# Builds the project (Release, in build/release: muxd, muxcat and libmux, so
# that cmake --install build/release works too) and starts muxd. With no
# arguments it serves echo on 127.0.0.1:9999; any arguments are passed on:
# scripts/run.sh -p 0 -s chat
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages "${BUILD_PACKAGES[@]}"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DMUX_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec build/release/muxd "$@"
