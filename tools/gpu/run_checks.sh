#!/usr/bin/env bash
# Run ON THE GPU MACHINE from the repository root (the device tool runs commands there):
#   bash tools/gpu/run_checks.sh [tests|sanitize|bench|all]     (default all)
# 1. unpacks the carried Debian packages (.debs/, see fetch_debs.sh) into /tmp/pgdeps,
# 2. finds cuDNN and cuBLAS (toolkit, else PyTorch's nvidia-* wheels),
# 3. builds with CUDA for sm_90 in build-gpu/,
# 4. tests: the whole suite with PG_REQUIRE_GPU=1 (a skipped GPU test fails),
#    sanitize: compute-sanitizer memcheck + racecheck on the device tests with PG_CUDA_ALLOC=direct,
#    bench: the GPU kernel benchmarks and tools/bench_torch_gpu.py side by side, then the whole
#    training steps against PyTorch (tools/bench_torch_train_step.py --device cuda).
# Logs go to $OUT (or ./gpu-logs) so they come back with the device tool.
set -uo pipefail
what=${1:-all}
root=$(pwd)
logs=${OUT:-$root/gpu-logs}
mkdir -p "$logs"
prefix=/tmp/pgdeps
exec > >(tee -a "$logs/run_checks.log") 2>&1

echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
nvcc --version | tail -1; cmake --version | head -1

if [ ! -d "$prefix/usr" ]; then
  for f in .debs/*.deb; do dpkg -x "$f" "$prefix"; done
fi
arch_lib=$prefix/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$arch_lib:$arch_lib/openblas-openmp:${LD_LIBRARY_PATH:-}

py=$(command -v python3)
wheel_dir() { "$py" -c "import importlib, os; m = importlib.import_module('$1'); print(os.path.dirname(m.__path__[0] if hasattr(m, '__path__') else m.__file__))" 2>/dev/null; }
cudnn_root=$("$py" -c "import nvidia.cudnn as m, os; print(list(m.__path__)[0])" 2>/dev/null || true)
cmake_cudnn=()
if [ -f /usr/local/cuda/include/cudnn.h ]; then
  echo "cuDNN: CUDA toolkit"
elif [ -n "$cudnn_root" ]; then
  lib=$(ls "$cudnn_root"/lib/libcudnn.so* | head -1)
  echo "cuDNN: wheel at $cudnn_root ($lib)"
  cmake_cudnn=(-DCUDNN_INCLUDE_DIR="$cudnn_root/include" -DCUDNN_LIBRARY="$lib")
  export LD_LIBRARY_PATH=$cudnn_root/lib:$LD_LIBRARY_PATH
fi
cublas_root=$("$py" -c "import nvidia.cublas as m; print(list(m.__path__)[0])" 2>/dev/null || true)
[ -n "$cublas_root" ] && export LD_LIBRARY_PATH=$cublas_root/lib:$LD_LIBRARY_PATH

echo "== build"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DPG_WITH_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$prefix/usr" -DOPENBLAS_ROOT="$prefix/usr" "${cmake_cudnn[@]}" \
  > "$logs/configure.log" 2>&1 || { tail -30 "$logs/configure.log"; exit 1; }
cmake --build build-gpu -j "$(nproc)" > "$logs/build.log" 2>&1 || { grep -E "error" -A3 "$logs/build.log" | head -60; exit 1; }
./build-gpu/pixelgrad info

status=0
if [ "$what" = tests ] || [ "$what" = all ]; then
  echo "== tests with PG_REQUIRE_GPU=1"
  (cd build-gpu && PG_REQUIRE_GPU=1 ctest -j 8 --output-on-failure > "$logs/ctest.log" 2>&1) || status=1
  grep -E "tests passed|tests failed|Failed|\*\*\*" "$logs/ctest.log" | tail -40
fi
if [ "$what" = sanitize ] || [ "$what" = all ]; then
  for tool in memcheck racecheck; do
    for suite in autograd nn tensor cuda; do
      echo "== compute-sanitizer $tool pg_tests_$suite (CUDA cases, direct allocator)"
      PG_CUDA_ALLOC=direct PG_REQUIRE_GPU=1 compute-sanitizer --tool $tool --error-exitcode 9 \
        ./build-gpu/pg_tests_$suite --gtest_filter='*Device*/cuda0:Gpu*' \
        > "$logs/sanitizer_${tool}_$suite.log" 2>&1 || status=1
      grep -E "ERROR SUMMARY|PASSED|FAILED" "$logs/sanitizer_${tool}_$suite.log" | tail -3
    done
  done
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  echo "== GPU benchmarks (pixelgrad, then PyTorch)"
  ./build-gpu/pg_bench --benchmark_filter='^Gpu(Conv|BatchNorm|CrossEntropy|Softmax|Resize)' \
    --benchmark_counters_tabular=true > "$logs/bench_pixelgrad.txt" 2>&1 || status=1
  "$py" tools/bench_torch_gpu.py > "$logs/bench_torch.txt" 2>&1 || status=1
  tail -60 "$logs/bench_pixelgrad.txt"; tail -60 "$logs/bench_torch.txt"
  echo "== whole training steps (PyTorch, then pixelgrad, per network)"
  "$py" tools/bench_torch_train_step.py --device cuda --pg-bench build-gpu/pg_bench \
    > "$logs/bench_train_step.txt" 2>&1 || status=1
  cat "$logs/bench_train_step.txt"
fi
exit $status
