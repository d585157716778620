#!/usr/bin/env bash
# Configures and builds ssmx in Release into ./build (override with
# SSMX_BUILD_DIR), with the tests, and installs it into ./build/install.
# Extra arguments go to CMake, e.g. scripts/build.sh -DSSMX_SANITIZE=ON
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# ccache: paths relative to the clone, so a rebuild in another folder hits the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}" CCACHE_NOHASHDIR=1
build="${SSMX_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$build/install" -DSSMX_BUILD_TESTS=ON "$@"
cmake --build "$build" --parallel "$(nproc)"
cmake --install "$build" > /dev/null
