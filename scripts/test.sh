#!/usr/bin/env bash
# One command on a fresh Debian 12: install dependencies, build, run every test
# (C++ unit and real-data tests, CLI tests, the CMake consumer test).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
build="${SSMX_BUILD_DIR:-$root/build}"
export SSMX_DATA="${SSMX_DATA:-$root/../shared/data}"
ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)" --timeout 600
