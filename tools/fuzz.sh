#!/usr/bin/env bash
# Coverage-guided fuzzing of pixelgrad's file readers (`make fuzz`; `make fuzz-smoke`, a fixed number
# of inputs each, is CI's). Usage: tools/fuzz.sh [SECONDS] [TARGET...]   (default 600 s each; targets: safetensors
# image config train_state). Builds build-fuzz/ (tests/fuzz/CMakeLists.txt, clang + libFuzzer +
# ASan/UBSan) when needed, then runs each harness, one at a time and single-threaded, on a copy of
# its seeds (tests/fuzz/corpus/<target>; what it discovers goes to build-fuzz/corpus/<target>, never
# into the repo). A crash, leak, timeout or out-of-memory keeps its input under build-fuzz/crashes/
# and makes the script exit non-zero. Environment: FUZZ_BUILD (build folder), JOBS (build jobs),
# FUZZ_SEED and FUZZ_RUNS (below).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors image config train_state)
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-$(nproc)}
case $seconds in
  '' | *[!0-9]* | 0) echo "fuzz.sh: SECONDS must be a whole number > 0, got '$seconds'" >&2; exit 2 ;;
esac

# Per target: the longest input worth trying (a few times the largest seed; longer inputs only
# slow each run down) and the dictionary of the format's words.
declare -A max_len=([safetensors]=4096 [train_state]=4096 [image]=16384 [config]=4096)
declare -A dict=([safetensors]=safetensors [train_state]=safetensors [image]=image [config]=config)
# FUZZ_RUNS=smoke (make fuzz-smoke): a fixed number of inputs per target (30-40 s each here), grown
# from the seeds alone, so CI starts where a smoke here starts and tries as many inputs however fast
# it is; SECONDS is then only a cap. (Not exactly the same inputs: with one seed, two runs here still
# reach coverage within ~2% of each other, not equal.)
declare -A smoke_runs=([safetensors]=600000 [train_state]=600000 [image]=300000 [config]=20000)
case ${FUZZ_RUNS:-} in
  '' | smoke) ;;
  *) echo "fuzz.sh: FUZZ_RUNS is 'smoke' or unset, got '$FUZZ_RUNS'" >&2; exit 2 ;;
esac
for t in "${targets[@]}"; do
  if [ -z "${max_len[$t]:-}" ]; then
    echo "fuzz.sh: unknown target '$t' (safetensors image config train_state)" >&2
    exit 2
  fi
done

start=$(date +%s)
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (Debian: apt-get install clang libclang-rt-dev)" >&2
  exit 2
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S tests/fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang >/dev/null
fi
mkdir -p "$build/crashes" "$build/logs"
if ! cmake --build "$build" -j "$jobs" >"$build/logs/build.log" 2>&1; then
  tail -30 "$build/logs/build.log" >&2
  echo "fuzz.sh: the build failed (log $build/logs/build.log)" >&2
  exit 2
fi
built=$(date +%s)

# Leaks are findings; UB stops the run with a stack (objects are built with -fno-sanitize-recover).
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:${ASAN_OPTIONS:-}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# The harnesses write every input to a file under TMPDIR (the readers take paths) and re-save it
# through the project's writers (write to .tmp, rename over). On a disk file system each rename over
# a file forces a write-out (ext4: 20x slower), so a tmpfs is used when there is one.
if [ -z "${FUZZ_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then FUZZ_TMPDIR=/dev/shm; fi
export TMPDIR=${FUZZ_TMPDIR:-${TMPDIR:-/tmp}}

failed=0
summary=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  runs=()
  if [ "${FUZZ_RUNS:-}" = smoke ]; then
    corpus="$build/smoke/$t"
    rm -rf "$corpus"
    runs=(-runs="${smoke_runs[$t]}")
  fi
  log="$build/logs/$t.log"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ # seeds join what earlier runs found
  echo "== fuzz_$t: ${seconds} s, $(ls "$corpus" | wc -l) corpus files, log $log"
  rc=0
  # FUZZ_SEED fixes libFuzzer's random seed (make fuzz-smoke: 1); unset: a new seed per run.
  "$build/fuzz_$t" "$corpus" ${FUZZ_SEED:+-seed=$FUZZ_SEED} -max_total_time="$seconds" "${runs[@]}" \
    -max_len="${max_len[$t]}" -timeout=10 -reload=0 \
    -rss_limit_mb=2048 -detect_leaks=1 -dict="tests/fuzz/${dict[$t]}.dict" \
    -artifact_prefix="$build/crashes/$t-" -print_final_stats=1 >"$log" 2>&1 &
  pid=$!
  wait $pid || rc=$?
  rm -rf "$TMPDIR"/pg_fuzz_"${t}"_"$pid"* # what a crashed harness left (a clean exit removes it)

  # Figures: the last status line (#N ... cov: C ft: F ...) and the final stats.
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
  execs=$(sed -nE 's/^stat::number_of_executed_units:[[:space:]]*([0-9]+)/\1/p' "$log" | tail -1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec:[[:space:]]*([0-9]+)/\1/p' "$log" | tail -1)
  new=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log")
  if [ "$rc" -eq 0 ] && [ -z "$new" ]; then
    verdict="ok"
  else
    failed=1
    verdict="FAILED (exit $rc)"
    grep -m4 -E "what\(\)|runtime error|ERROR: |SUMMARY|fuzz_$t: " "$log" | sed 's/^/   /' ||
      tail -3 "$log"
    for f in $new; do echo "   input kept: $f  (reproduce: $build/fuzz_$t $f)"; done
  fi
  line=$(printf '%-12s %8s execs %7s exec/s  cov %6s  ft %7s  %s' "$t" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "$verdict")
  echo "   $line"
  summary+=("$line")
done

now=$(date +%s)
echo "== fuzz.sh: ${seconds} s per target; build $((built - start)) s, total $((now - start)) s"
printf '   %s\n' "${summary[@]}"
exit $failed
