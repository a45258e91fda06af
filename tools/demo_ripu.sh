#!/usr/bin/env bash
# `make demo-ripu`: RIPU on the synthetic worlds. A source-style world (flat, sharp; labelled) and
# a target-style world (textured, shifted, noisy; its labels only answer the acquisition) ->
# a small DeepLabV3+ trained on the CPU: source only, random 3x3 regions at RIPU's 2.2% budget,
# and RIPU's region acquisition (RA) -> a table and the reports (each RIPU report shows the five
# rounds' picks). About 10 minutes on 2 cores. Runs land in runs/demo_ripu/ (replaced each time).
# The digits depend on the CPU's BLAS kernels; the README's table ("RIPU") is over 3 seeds.
set -euo pipefail
. "$(dirname "$0")/demo_common.sh"
BUILD=${BUILD:-build}
PG="$BUILD/pixelgrad"
RUNS=runs/demo_ripu
ROWS=(ripu_source_only ripu_random ripu_ra)
SHAPES=(--classes 5 --object-size 0.15,0.35 --max-objects 4 --size 64x128)

echo "== 1/2 the worlds: data/ripu/source (source style, 512 images), data/ripu/target (target style)"
"$PG" synth --out data/ripu/source --style source --val 0 --seed 1 "${SHAPES[@]}" --force
"$PG" synth --out data/ripu/target --style target --seed 2 "${SHAPES[@]}" --force

if [ -d "$RUNS" ]; then echo "   (replacing the previous runs in $RUNS)"; rm -rf "$RUNS"; fi
for row in "${ROWS[@]}"; do
    echo "== 2/2 training $row  (configs/synth/$row.yaml)"
    "$PG" train --config "configs/synth/$row.yaml" --run-dir "$RUNS/$row"
done

echo
echo "row                 target val mIoU (%)  report"
for row in "${ROWS[@]}"; do
    printf "%-19s %20.2f  %s\n" "${row#ripu_}" \
        "$(percent "$(miou "$RUNS/$row/eval.json")")" "$RUNS/$row/report.html"
done
so=$(miou "$RUNS/ripu_source_only/eval.json"); rnd=$(miou "$RUNS/ripu_random/eval.json")
ra=$(miou "$RUNS/ripu_ra/eval.json")
echo
if awk -v s="$so" -v r="$rnd" -v a="$ra" 'BEGIN{exit !(s < r && r < a)}'; then
    echo "as expected: source only < random regions < RA at the same 2.2% budget"
else
    echo "not as expected for this seed: source only < random < RA did not hold (README, \"RIPU\")"
fi
