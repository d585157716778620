#!/usr/bin/env bash
# One command on a fresh Debian 12: install dependencies, build, run `ssmx demo`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
"${SSMX_BUILD_DIR:-$root/build}/bindings/cli/ssmx" demo --out "${SSMX_DEMO_OUT:-$root/build/demo}"
