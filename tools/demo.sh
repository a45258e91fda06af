#!/usr/bin/env bash
# `make demo`: the synthetic world -> a small DeepLabV3+ trained on the CPU with 64 labelled images
# and with all 512 (the upper bound, same step budget) -> evaluation of the best checkpoint ->
# a table and the reports. About four minutes on 2 cores. Runs land in runs/demo/ (replaced each
# time: that folder belongs to the demo).
set -euo pipefail
BUILD=${BUILD:-build}
PG="$BUILD/pixelgrad"
WORLD=data/synth
RUNS=runs/demo
SPLITS=(64 all)

echo "== 1/3 the synthetic world: $WORLD (VOC layout, 5 classes, 512 train + 128 val images)"
"$PG" synth --out "$WORLD" --classes 5 --object-size 0.15,0.35 --max-objects 4 --force

if [ -d "$RUNS" ]; then echo "   (replacing the previous demo runs in $RUNS)"; rm -rf "$RUNS"; fi
for split in "${SPLITS[@]}"; do
    echo "== 2/3 supervised training, labels: $split  (configs/synth/supervised_$split.yaml)"
    "$PG" train --config "configs/synth/supervised_$split.yaml" --run-dir "$RUNS/supervised_$split"
done

echo "== 3/3 evaluation of the best 64-label checkpoint (whole images, with flip)"
"$PG" eval --config "$RUNS/supervised_64/config.yaml" --flip \
    --weights "$RUNS/supervised_64/checkpoints/best.safetensors" --out "$RUNS/supervised_64/eval_flip.json"

miou() { sed -n 's/^ *"miou": *\([0-9.eE+-]*\),*$/\1/p' "$1" | head -n 1; }
echo
echo "method       labels  val mIoU (%)  report"
for split in "${SPLITS[@]}"; do
    m=$(miou "$RUNS/supervised_$split/eval.json")
    labels=$split; [ "$split" = all ] && labels=512
    printf "%-12s %6s  %12.2f  %s\n" supervised "$labels" "$(awk -v m="$m" 'BEGIN{print 100*m}')" \
        "$RUNS/supervised_$split/report.html"
done
