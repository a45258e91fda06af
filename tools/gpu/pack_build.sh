#!/usr/bin/env bash
# Run HERE after `make build` (Release, CUDA for sm_90): packs the built binaries (stripped), the
# ctest files and the non-system shared libraries they load into .gpucarry/ (git-ignored), so the
# GPU machine runs this build instead of spending its minutes compiling. run_checks.sh unpacks it
# there, links /work/main to its checkout (the binaries hold absolute paths) and falls back to
# building from source when the packed binaries do not start.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/build" "$stage/lib" .gpucarry
bins="pixelgrad pg_bench pg_tests_tensor pg_tests_autograd pg_tests_nn pg_tests_seg pg_tests_cuda"
for b in $bins; do strip -o "$stage/build/$b" "build/$b"; done
cp build/CTestTestfile.cmake build/*_include.cmake build/*_tests.cmake "$stage/build/"
# Everything but the C runtime, libstdc++, zlib and udev (the GPU machine has newer ones, and
# python3 there must keep them) and CUDA's own libraries
# (the GPU machine has its toolkit's and its Python wheels').
system='/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libz|libudev)\.so|/cuda/|libcu|libnv'
for b in $bins; do ldd "build/$b"; done | awk '/=>/ {print $3}' | sort -u | grep -v -E "$system" |
  while read -r lib; do cp -L "$lib" "$stage/lib/"; done
git rev-parse HEAD > "$stage/build/COMMIT"
tar -C "$stage" -cJf .gpucarry/build.tar.xz build lib
echo "packed $(git rev-parse --short HEAD): $(du -h .gpucarry/build.tar.xz | cut -f1)"
