#!/usr/bin/env bash
# Installs the Debian 12 packages Vanelia needs to build, test and run.
# Idempotent and quiet when everything is already there; uses sudo when not
# root. Usage: bash native/scripts/install_deps.sh
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libeigen3-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev ffmpeg
  libopencv-dev libceres-dev
  libtorch-dev
  python3 python3-dev pybind11-dev python3-numpy python3-pytest python3-jsonschema
  blender xvfb xauth
  clang-format clang-tidy black flake8
  slurm-wlm munge nodejs
  debootstrap patchelf
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install_deps: installing ${#missing[@]} package(s): ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install_deps: done" >&2
