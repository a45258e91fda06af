#!/usr/bin/env bash
# Run ON THE GPU MACHINE from the repository root (the device tool runs commands there), with
# carry [".gpucarry", ".debs"] (tools/gpu/pack_build.sh and fetch_debs.sh fill them here):
#   bash tools/gpu/run_checks.sh [tests] [sanitize] [train] [bench] [tools]  (default: first four)
#   (CTEST_FILTER=regex runs only those tests; PROFILE_CONFIG=v3plus_r101 profiles that step;
#   NO_SOURCE_BUILD=1 stops instead of compiling when the packed build does not start.)
# Uses the build packed here when it starts there (no compile minutes), else builds for sm_90
# from source against the carried Debian packages. Then, each step capped in time and logged:
# tests = the whole suite with PG_REQUIRE_GPU=1 (a skipped CUDA case fails); sanitize =
# compute-sanitizer memcheck of every CUDA case with PG_CUDA_ALLOC=direct; train = the synthetic
# supervised and U2PL configs on cuda:0 and on the CPU, same seed, curves side by side, and the
# supervised one through NCCL (PG_FORCE_DATA_PARALLEL=1) beside the plain cuda:0 run; bench = the
# whole training steps against PyTorch on the same GPU (TF32) and the per-kernel table; tools =
# the PyTorch converter's self-tests with this machine's python3 (ctest's are tied to /usr/bin's).
# Logs: /tmp/pglogs, packed into $OUT/logs.tar.gz after every step (they come back with the tool).
set -uo pipefail
steps=${*:-tests sanitize train bench}
root=$(pwd)
out=${OUT:-$root/gpu-logs}
logs=/tmp/pglogs
mkdir -p "$logs" "$out"
exec > >(tee -a "$logs/run_checks.log") 2>&1
pack_logs() {
  tar -C /tmp --exclude='*.safetensors' --exclude='*.state' -czf "$out/logs.tar.gz" pglogs runs \
    2>/dev/null
}
want() { [[ " $steps " == *" $1 "* ]]; }
t0=$SECONDS
stamp() { echo "== [$((SECONDS - t0)) s] $*"; }

stamp "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
nproc; nvcc --version | tail -1
command -v compute-sanitizer > /dev/null || export PATH=$PATH:/usr/local/cuda/bin

# CUDA's libraries: the toolkit's, then those inside the Python wheels (cuDNN lives only there).
site=$(python3 -c "import site; print(site.getsitepackages()[0])")
cuda_dirs=$(find /usr/local/cuda/lib64 /usr/local/cuda/lib "$site/nvidia" -maxdepth 3 \
  \( -name 'libcudnn.so.9' -o -name 'libcublas.so.1*' -o -name 'libcudart.so.1*' \
  -o -name 'libnvrtc.so.1*' -o -name 'libnvJitLink.so.1*' -o -name 'libnccl.so.2' \) \
  -printf '%h\n' 2>/dev/null |
  awk '!seen[$0]++' | tr '\n' ':')
echo "CUDA library folders: $cuda_dirs"
python3 -c "import torch; print('torch', torch.__version__, 'cudnn', torch.backends.cudnn.version())"

# The packed build: its binaries name /work/main (the checkout where they were built).
build=""
if [ -f .gpucarry/build.tar.xz ]; then
  mkdir -p /tmp/pgpack && tar -C /tmp/pgpack -xJf .gpucarry/build.tar.xz
  rm -rf build && mv /tmp/pgpack/build build
  if [ ! -e /work/main ]; then
    mkdir -p /work && ln -s "$root" /work/main
  elif [ "$(readlink -f /work/main)" != "$(readlink -f "$root")" ]; then
    echo "warning: /work/main is another checkout: the packed build reads its tests/data"
  fi
  export LD_LIBRARY_PATH=/tmp/pgpack/lib:$cuda_dirs${LD_LIBRARY_PATH:-}
  echo "packed build of $(cat build/COMMIT), checkout $(git rev-parse HEAD 2>/dev/null)"
  if build/pixelgrad info && build/pg_tests_cuda --gtest_list_tests > /dev/null; then
    build=build
  else
    echo "the packed build does not start here: building from source"
  fi
fi
if [ -z "$build" ] && [ -n "${NO_SOURCE_BUILD:-}" ]; then
  echo "NO_SOURCE_BUILD is set: stopping"; pack_logs; exit 1
fi
if [ -z "$build" ]; then
  stamp "build from source (sm_90)"
  prefix=/tmp/pgdeps
  for f in .debs/*.deb; do dpkg -x "$f" "$prefix"; done
  arch_lib=$prefix/usr/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH=$arch_lib:$arch_lib/openblas-openmp:$cuda_dirs${LD_LIBRARY_PATH:-}
  cudnn_lib=$(find "$site/nvidia" -name 'libcudnn.so.9' | head -1)
  cudnn_inc=$(find "$site/nvidia" -name 'cudnn.h' -printf '%h\n' | head -1)
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DPG_WITH_CUDA=ON \
    -DCMAKE_PREFIX_PATH="$prefix/usr" -DOPENBLAS_ROOT="$prefix/usr" \
    -DCUDNN_INCLUDE_DIR="$cudnn_inc" -DCUDNN_LIBRARY="$cudnn_lib" > "$logs/configure.log" 2>&1 ||
    { tail -30 "$logs/configure.log"; pack_logs; exit 1; }
  cmake --build build-gpu -j "$(nproc)" > "$logs/build.log" 2>&1 ||
    { grep -E "error" -A3 "$logs/build.log" | head -60; pack_logs; exit 1; }
  build=build-gpu
  $build/pixelgrad info
fi
status=0
jobs_running=()

if want tests; then
  stamp "tests: ctest with PG_REQUIRE_GPU=1"
  (cd $build && PG_REQUIRE_GPU=1 OMP_NUM_THREADS=2 timeout 170 ctest -j 8 --timeout 160 \
    ${CTEST_FILTER:+-R "$CTEST_FILTER"} \
    --output-on-failure > "$logs/ctest.log" 2>&1) || status=1
  grep -E "tests passed|tests failed|\((Failed|Timeout|SEGFAULT|Subprocess|Not Run)" \
    "$logs/ctest.log" | tail -40
  pack_logs
fi

# The sanitizer and the training runs go side by side: neither is timed.
if want sanitize; then
  stamp "sanitize: compute-sanitizer memcheck, PG_CUDA_ALLOC=direct (in the background)"
  for suite in tensor autograd nn seg cuda; do
    filter='*cuda0*:*Gpu*:*Cuda*'
    [ $suite = cuda ] && filter='*'
    PG_CUDA_ALLOC=direct PG_REQUIRE_GPU=1 OMP_NUM_THREADS=1 timeout 170 compute-sanitizer \
      --tool memcheck --error-exitcode 9 $build/pg_tests_$suite --gtest_filter="$filter" \
      > "$logs/memcheck_$suite.log" 2>&1 &
    jobs_running+=($!)
  done
fi
if want train; then
  stamp "train: synthetic supervised and U2PL, 400 steps, cuda:0 and cpu, seed 0"
  $build/pixelgrad synth --out data/synth --classes 3 --object-size 0.15,0.35 --max-objects 4 \
    --force > "$logs/synth.log" 2>&1 || status=1
  for config in supervised_64 u2pl_64; do
    for device in cpu cuda:0; do
      OMP_NUM_THREADS=3 timeout 170 $build/pixelgrad train --config configs/synth/$config.yaml \
        --device $device --run-dir /tmp/runs/${config}_${device%%:*} -q \
        --set trainer.iterations=400 > "$logs/train_${config}_${device%%:*}.log" 2>&1 &
      jobs_running+=($!)
    done
  done
  # One GPU through NCCL (a communicator of one, SyncBN's collectives, buckets on the side
  # stream): the data-parallel path, which must train as the plain cuda:0 run above.
  PG_FORCE_DATA_PARALLEL=1 OMP_NUM_THREADS=3 timeout 170 $build/pixelgrad train \
    --config configs/synth/supervised_64.yaml --device cuda:0 --run-dir /tmp/runs/supervised_64_nccl \
    -q --set trainer.iterations=400 --set net.sync_bn=true > "$logs/train_supervised_64_nccl.log" 2>&1 &
  jobs_running+=($!)
fi
# (a plain `wait` would also wait for the tee above, which ends only with this script)
[ ${#jobs_running[@]} -gt 0 ] && wait "${jobs_running[@]}"
if want sanitize; then
  for suite in tensor autograd nn seg cuda; do
    echo "memcheck pg_tests_$suite: $(grep -E 'ERROR SUMMARY' "$logs/memcheck_$suite.log" | tail -1)" \
      "$(grep -E '^\[  (PASSED|FAILED)  \]' "$logs/memcheck_$suite.log" | tr '\n' ' ')"
    grep -q "ERROR SUMMARY: 0 errors" "$logs/memcheck_$suite.log" || status=1
  done
fi
if want train; then
  for config in supervised_64 u2pl_64; do
    tail -n 2 "$logs/train_${config}_cpu.log" "$logs/train_${config}_cuda.log"
    python3 tools/gpu/compare_runs.py /tmp/runs/${config}_cpu /tmp/runs/${config}_cuda ||
      status=1
  done
  tail -n 2 "$logs/train_supervised_64_nccl.log"
  python3 tools/gpu/compare_runs.py /tmp/runs/supervised_64_cuda /tmp/runs/supervised_64_nccl ||
    status=1
fi
pack_logs

if want bench; then
  stamp "bench: whole training steps, PyTorch then pixelgrad (TF32)"
  # cudnn.benchmark on: PyTorch picks its convolution algorithms by timing them, as pixelgrad does.
  PYTHONUNBUFFERED=1 timeout 200 python3 tools/bench_torch_train_step.py --device cuda \
    --cudnn-benchmark --pg-bench $build/pg_bench > "$logs/bench_train_step.txt" 2>&1 || status=1
  cat "$logs/bench_train_step.txt"
  pack_logs
  profile=${PROFILE_CONFIG:-v2_r101}
  stamp "bench: per-kernel table of the $profile step"
  PG_PROFILE=1 timeout 60 $build/pg_bench --benchmark_filter="^GpuTrainStep/$profile" \
    > "$logs/profile_$profile.txt" 2>&1 || status=1
  grep -A 45 "profiled steps" "$logs/profile_$profile.txt"
fi
if want tools; then
  stamp "tools: convert_pth.py and check_forward.py self-tests"
  timeout 60 python3 tools/convert_pth.py --self-test > "$logs/tools.log" 2>&1 || status=1
  timeout 60 python3 tools/check_forward.py --self-test --pixelgrad $build/pixelgrad \
    >> "$logs/tools.log" 2>&1 || status=1
  tail -n 8 "$logs/tools.log"
fi
stamp "done, status $status"
pack_logs
exit $status
