#!/usr/bin/env bash
# Installs the Debian packages pixelgrad's build needs, when they are missing (`make deps`).
# Idempotent and silent when everything is present. CUDA comes preinstalled under /usr/local/cuda.
set -euo pipefail

packages="build-essential cmake libopenblas-dev libopenblas-openmp-dev libstb-dev libyaml-cpp-dev nlohmann-json3-dev
libcli11-dev googletest libgtest-dev libbenchmark-dev clang-format clang libclang-rt-14-dev
libopenmpi-dev openmpi-bin"

missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "make deps: installing$missing"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "make deps: done"
