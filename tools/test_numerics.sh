#!/usr/bin/env bash
# `make test-numerics`: the tests that assert a training outcome (loss falls, mIoU rises, U2PL's
# pseudo-label figures), run under several OpenBLAS kernel sets. A training trajectory depends on
# the BLAS kernels the CPU selects (their summation order), so these tests must hold whichever
# kernels any x86-64 machine picks; OPENBLAS_CORETYPE forces each set here.
#   tools/test_numerics.sh [CORETYPE ...]      default: Haswell Sandybridge Nehalem Prescott
#   SEEDS="0 1 2" tools/test_numerics.sh ...    also vary the seed (PG_TEST_SEED) of the supervised and U2PL tests
# Each run gets its own TEST_TMPDIR, so two can run side by side; one process per core.
set -euo pipefail
BUILD=${BUILD:-build}
FILTER=${FILTER:-'Train.SupervisedLossFallsAndMiouRises:U2plTrain.EntropySplit*:U2plTrain.ShortRun*:Ripu.RoundsLabelTheBudget*:DataParallel.TwoProcessesTrainAsOne*:DataParallel.Ripu*'}
CORETYPES=("$@")
[ ${#CORETYPES[@]} -gt 0 ] || CORETYPES=(Haswell Sandybridge Nehalem Prescott)
SEEDS=${SEEDS:-0}
JOBS=${JOBS:-$(nproc)}
LOGS=$(mktemp -d)
run_one() { # coretype seed
    local dir="$LOGS/$1-seed$2"
    mkdir -p "$dir/tmp"
    if TEST_TMPDIR="$dir/tmp/" OPENBLAS_CORETYPE="$1" PG_TEST_SEED="$2" OMP_NUM_THREADS=1 \
        OPENBLAS_NUM_THREADS=1 "$BUILD/pg_tests_seg" --gtest_filter="$FILTER" > "$dir/log" 2>&1; then
        echo "ok    $1 seed $2: $(grep -h -e "pseudo-label accuracy" -e "supervised: loss" "$dir/log" | tr "\n" " " || true)"
    else
        echo "FAIL  $1 seed $2 (log: $dir/log)"
        grep -h -A3 'Failure' "$dir/log" | head -20
        return 1
    fi
}
failed=0
pids=()
for ct in "${CORETYPES[@]}"; do
    for seed in $SEEDS; do
        run_one "$ct" "$seed" &
        pids+=($!)
        if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}"); fi
    done
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
runs=$(( ${#CORETYPES[@]} * $(echo $SEEDS | wc -w) ))
if [ $failed -ne 0 ]; then echo "test-numerics: FAILED (logs in $LOGS)"; exit 1; fi
echo "test-numerics: $runs runs passed (${CORETYPES[*]}; seeds $SEEDS)"
rm -rf "$LOGS"
