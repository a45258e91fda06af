#!/usr/bin/env python3
"""Side by side: the training curves of runs of one config on two devices (metrics.jsonl).

    python3 tools/gpu/compare_runs.py RUN_DIR_A RUN_DIR_B [...]

Prints, per logged step, each run's training loss, then each evaluation's mIoU, then the best and
the last mIoU and whether any loss was not finite. Standard library only.
"""
import json
import math
import sys


def read_rows(run_dir):
    rows = {"train": {}, "eval": {}}
    with open(f"{run_dir}/metrics.jsonl") as f:
        for line in f:
            row = json.loads(line)
            kind = "eval" if row.get("type") == "eval" else "train"
            value = row.get("miou") if kind == "eval" else row.get("loss")
            if value is not None:
                rows[kind][row["step"]] = value
    return rows


def main():
    runs = sys.argv[1:]
    if len(runs) < 2:
        sys.exit(__doc__)
    data = [read_rows(r) for r in runs]
    names = [r.rstrip("/").split("/")[-1] for r in runs]
    for kind, label in (("train", "loss"), ("eval", "mIoU")):
        steps = sorted(set().union(*(d[kind].keys() for d in data)))
        print(f"{label:>6} {'step':>6} " + " ".join(f"{n:>22}" for n in names))
        for s in steps:
            vals = [d[kind].get(s) for d in data]
            print(f"{'':>6} {s:>6} " + " ".join(
                f"{v:>22.4f}" if v is not None else f"{'-':>22}" for v in vals))
    for name, d in zip(names, data):
        losses = list(d["train"].values())
        evals = d["eval"]
        bad = sum(1 for v in losses if not math.isfinite(v))
        best = max(evals.values()) if evals else float("nan")
        last = evals[max(evals)] if evals else float("nan")
        print(f"{name}: best mIoU {best:.4f}, last {last:.4f}, non-finite losses {bad}")


if __name__ == "__main__":
    main()
