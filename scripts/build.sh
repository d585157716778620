#!/usr/bin/env bash
# Configures and builds ssmx in Release into ./build (override with
# SSMX_BUILD_DIR), with the tests and the Python package, and installs it into
# ./build/install. Extra arguments go to CMake, e.g. scripts/build.sh
# -DSSMX_SANITIZE=ON (or -DSSMX_BUILD_PYTHON=OFF).
#
# As root, it then makes `import ssmx` work for Debian's /usr/bin/python3: a
# file ssmx.pth in its site-packages (/usr/local/lib/python3.X/dist-packages)
# names the package folder of this build tree, <build>/python, so a rebuild is
# picked up at once. Otherwise it prints the PYTHONPATH to set.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# ccache: paths relative to the clone, so a rebuild in another folder hits the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}" CCACHE_NOHASHDIR=1
build="${SSMX_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$build/install" -DSSMX_BUILD_TESTS=ON -DSSMX_BUILD_PYTHON=ON "$@"
cmake --build "$build" --parallel "$(nproc)"
cmake --install "$build" > /dev/null

cache="$build/CMakeCache.txt"
if grep -q '^SSMX_BUILD_PYTHON:BOOL=ON$' "$cache"; then
  python="$(sed -n 's/^SSMX_PYTHON_EXECUTABLE:FILEPATH=//p' "$cache")"
  site="$("$python" -c 'import site; print(site.getsitepackages()[0])')"
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$site"
    printf '# written by ssmx scripts/build.sh\n%s\n' "$build/python" > "$site/ssmx.pth"
    "$python" -c 'import ssmx; print("ssmx build: import ssmx", ssmx.__version__, "from", ssmx.__file__)'
  else
    echo "ssmx build: for import ssmx, run as root or: export PYTHONPATH=$build/python ($python)"
  fi
fi
