#!/usr/bin/env bash
# One command on a fresh Debian 12: install dependencies, build, run every test
# (C++ unit and real-data tests, CLI tests, the CMake consumer test, the Python
# tests and notebooks), then rebuild the command with AddressSanitizer + UBSan
# and run the CLI tests on garbage input against it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# ccache: paths relative to the clone, so a rebuild in another folder hits the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}" CCACHE_NOHASHDIR=1
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
build="${SSMX_BUILD_DIR:-$root/build}"
export SSMX_DATA="${SSMX_DATA:-$root/../shared/data}"
if [ ! -d "$SSMX_DATA" ]; then
  echo "ssmx test: no data at $SSMX_DATA; the real-data tests will be skipped (set SSMX_DATA)"
fi

echo "== sanitizer build (ASan + UBSan) of the ssmx command =="
asan="${build}-asan"
# -O1 -g1: line tables for readable reports, and half the compile time of -O2 -g.
cmake -S "$root" -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSMX_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSSMX_BUILD_TESTS=OFF > /dev/null
cmake --build "$asan" --target ssmx_cli --parallel "$(nproc)"
bash "$root/tests/cli/cli_test.sh" "$asan/bindings/cli/ssmx"

echo "== test suite =="
ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)" --timeout 600
