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
  python3-nbclient plastimatch
)
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
