#!/usr/bin/env bash
# Installs every dependency of ssmx from Debian 12's repositories. Run as root
# (or through sudo). Safe to run again: apt-get skips what is installed.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E bash "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libeigen3-dev libinsighttoolkit5-dev libgdcm-dev libvtk9-dev libopencv-dev libceres-dev
  libboost-dev libgtest-dev libgmock-dev libbenchmark-dev libhdf5-dev nlohmann-json3-dev
  zlib1g-dev pybind11-dev python3-dev python3-numpy python3-pytest python3-h5py
  python3-nbclient python3-ipykernel python3-tqdm python3-distributed plastimatch
  chromium python3-matplotlib blender
)
# Node.js and npm for the AR viewer and its tests, from Debian unless a
# node/npm is already installed (another distribution's nodejs package
# conflicts with Debian's npm).
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ssmx setup: installing ${#missing[@]} Debian packages"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "ssmx setup: all Debian packages already installed"
fi

# npm packages of the AR viewer and its tests (model-viewer, glTF validator,
# puppeteer-core, tinyusdz, tree-sitter), pinned by package-lock.json into
# ar_export/viewer/node_modules. Never a browser download: the tests drive
# Debian's /usr/bin/chromium.
root="$(cd "$(dirname "$0")/.." && pwd)"
viewer="$root/ar_export/viewer"
if [ ! -f "$viewer/node_modules/.package-lock.json" ] ||
   ! cmp -s "$viewer/package-lock.json" "$viewer/node_modules/.ssmx-installed-lock"; then
  echo "ssmx setup: installing the viewer's npm packages"
  (cd "$viewer" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  cp "$viewer/package-lock.json" "$viewer/node_modules/.ssmx-installed-lock"
else
  echo "ssmx setup: viewer npm packages already installed"
fi
