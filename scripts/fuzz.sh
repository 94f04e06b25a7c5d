#!/usr/bin/env bash
# Builds the libFuzzer harnesses (test/fuzz/, clang with
# -fsanitize=fuzzer,address,undefined) into build/fuzz and runs each for
# SECONDS (default 60), one after another. Installs clang and the
# compiler-rt fuzzer library with apt-get when root and they are missing.
#
#   scripts/fuzz.sh                  every harness, 60 s each
#   scripts/fuzz.sh 600 fuzz_lines   one harness, 10 minutes
#   scripts/fuzz.sh --ctest          CI: the CTest tests (label fuzz), each
#                                    harness for MUX_FUZZ_SECONDS (10) s
#
# New inputs are kept in build/fuzz/test/fuzz/corpus/<name>/ (so a campaign
# continues where the last one stopped), the seeds in test/fuzz/corpus/ are
# only read. A crash, leak or failed check leaves its input in
# build/fuzz/test/fuzz/artifacts/ and makes the script exit 1; reproduce it
# with build/fuzz/test/fuzz/<name> <that file>.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ctest_mode=false
if [ "${1:-}" = --ctest ]; then
    ctest_mode=true
    shift
fi
seconds=${1:-60}
shift || true
fuzzers=("$@")
[ ${#fuzzers[@]} -eq 0 ] && fuzzers=(fuzz_addr fuzz_lines fuzz_server fuzz_http)
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [--ctest | SECONDS [FUZZER...]]"

ensure_packages cmake:cmake clang:clang
rt="$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a"
ensure_packages "$rt:libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"

dir=build/fuzz
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DMUX_FUZZ=ON -DMUX_TESTS=OFF \
    -DMUX_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMUX_FUZZ_SECONDS="${MUX_FUZZ_SECONDS:-10}" >/dev/null
cmake --build "$dir" --target fuzzers -j "$jobs"
if $ctest_mode; then
    exec ctest --test-dir "$dir" -L fuzz --output-on-failure -j "$jobs"
fi

out=$dir/test/fuzz
failed=()
for name in "${fuzzers[@]}"; do
    [ -x "$out/$name" ] || die "no fuzzer named $name"
    mkdir -p "$out/corpus/$name" "$out/artifacts"
    log=$out/$name.log
    echo "== $name: ${seconds}s (log: $log) =="
    status=0
    "$out/$name" -max_total_time="$seconds" -timeout=60 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$name-" \
        "$out/corpus/$name" "test/fuzz/corpus/$name" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(ls "$out/corpus/$name" | wc -l)
    if [ "$status" -eq 0 ]; then
        echo "$name: ${runs:-?} runs in ${seconds}s, corpus $corpus inputs, no failure"
    else
        echo "$name: FAILED (exit $status) after ${runs:-?} runs:"
        grep -E 'ERROR|check failed|SUMMARY|Test unit written' "$log" | head -20
        failed+=("$name")
    fi
done
[ ${#failed[@]} -eq 0 ] || die "failing fuzzers: ${failed[*]}"
echo "== all fuzzers ran without failure =="
