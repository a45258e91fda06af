#!/usr/bin/env bash
# `make demo`: the synthetic world -> a small DeepLabV3+ trained on the CPU with 64 labelled images
# (supervised, then U2PL and AdvSemiSeg with the other 448 unlabeled) and with all 512 (the upper
# bound, same step budget) -> the supervised 64 run's best checkpoint evaluated with flips -> a
# table and the reports. About 15 minutes on 2 cores (U2PL and AdvSemiSeg are most of it). Runs
# land in runs/demo/ (replaced each time: the demo's folder).
# The exact digits depend on the BLAS kernels this CPU selects; what the demo expects is the order
# supervised 64 < U2PL 64 < supervised 512, and it says whether that held for this seed (it did
# for every seed and kernel set measured: README, "U2PL").
set -euo pipefail
. "$(dirname "$0")/demo_common.sh"
BUILD=${BUILD:-build}
PG="$BUILD/pixelgrad"
WORLD=data/synth
RUNS=runs/demo
RUNS_TO_TRAIN=(supervised_64 u2pl_64 adversarial_64 supervised_all)

echo "== 1/3 the synthetic world: $WORLD (VOC layout, background/disc/ring, 512 train + 128 val)"
"$PG" synth --out "$WORLD" --classes 3 --object-size 0.15,0.35 --max-objects 4 --force

if [ -d "$RUNS" ]; then echo "   (replacing the previous demo runs in $RUNS)"; rm -rf "$RUNS"; fi
for run in "${RUNS_TO_TRAIN[@]}"; do
    echo "== 2/3 training $run  (configs/synth/$run.yaml)"
    "$PG" train --config "configs/synth/$run.yaml" --run-dir "$RUNS/$run"
done

echo "== 3/3 evaluation of the best 64-label checkpoint (whole images, with flip)"
"$PG" eval --config "$RUNS/supervised_64/config.yaml" --flip \
    --weights "$RUNS/supervised_64/checkpoints/best.safetensors" --out "$RUNS/supervised_64/eval_flip.json"

echo
echo "method        labels  val mIoU (%)  report"
for run in "${RUNS_TO_TRAIN[@]}"; do
    m=$(miou "$RUNS/$run/eval.json")
    labels=${run##*_}; [ "$labels" = all ] && labels=512
    printf "%-13s %6s  %12.2f  %s\n" "${run%_*}" "$labels" "$(percent "$m")" \
        "$RUNS/$run/report.html"
done
printf "supervised 64, best checkpoint, with flip: %.2f  (%s)\n" \
    "$(percent "$(miou "$RUNS/supervised_64/eval_flip.json")")" "$RUNS/supervised_64/eval_flip.json"

# What is expected on any CPU (the digits are not: README, "U2PL"): U2PL above its supervised
# baseline on the same 64 labels, and below supervised training on all 512.
sup=$(miou "$RUNS/supervised_64/eval.json"); u2pl=$(miou "$RUNS/u2pl_64/eval.json")
all=$(miou "$RUNS/supervised_all/eval.json")
echo
if awk -v s="$sup" -v u="$u2pl" -v a="$all" 'BEGIN{exit !(s < u && u < a)}'; then
    echo "as expected: supervised 64 < U2PL 64 < supervised 512"
else
    echo "not as expected for this seed: supervised 64 < U2PL 64 < supervised 512 did not hold"
    echo "(U2PL's gain is a mean over seeds, one seed can fall below: README, \"U2PL\")"
fi
adv=$(miou "$RUNS/adversarial_64/eval.json")
above=not; awk -v s="$sup" -v v="$adv" 'BEGIN{exit !(s < v)}' && above=""
echo "AdvSemiSeg 64 ${above:+not }above supervised 64 for this seed (on this world only its L_adv"
echo "helps, +1.2 over 3 seeds; with L_semi the mean gain is +0.1: README, \"AdvSemiSeg\")"
