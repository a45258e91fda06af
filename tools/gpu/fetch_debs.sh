#!/usr/bin/env bash
# Run HERE (a Debian machine with apt): downloads the Debian packages the GPU build needs into
# .debs/ (git-ignored), so they can travel to a GPU machine that has no package registry
# (the device tool's `carry: [".debs"]`). tools/gpu/run_checks.sh unpacks them there.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .debs
cd .debs
packages="libgtest-dev libgmock-dev googletest libbenchmark-dev libbenchmark1debian libopenblas-dev
libopenblas-openmp-dev libopenblas0-openmp libopenblas0 libgfortran5 libblas-dev liblapack-dev
nlohmann-json3-dev libcli11-dev libstb-dev libstb0 libyaml-cpp-dev libyaml-cpp0.7"
for p in $packages; do
  ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download -q "$p" >/dev/null 2>&1
done
ls -1 *.deb | wc -l | xargs echo "debs in .debs/:"
