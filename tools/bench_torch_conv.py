"""Times PyTorch CPU convolutions at the shapes of bench/conv_bench.cpp, for side-by-side comparison.

Forward, backward-input and backward-weight are timed separately (aten::convolution_backward with
one output_mask entry set, the call autograd makes) on channels_last (NHWC) tensors, the layout
pixelgrad uses; 'backward' is both gradients in one call. Prints ms and GFLOP/s per pass
(2 N P Q K R S C/groups flops each), each the mean over --min-time seconds of calls.

With --pg-bench, pixelgrad's benchmark for the same shape runs right after PyTorch's, for --rounds
rounds, and the table adds pixelgrad's time and the ratio pixelgrad / PyTorch, each library's
fastest round. Interleaving and taking minima keeps the comparison fair on a shared, noisy machine.

  /usr/bin/python3 tools/bench_torch_conv.py 2 --pg-bench build/pg_bench
"""
import argparse
import json
import os
import subprocess
import time

import torch
import torch.nn.functional as F

# name: (N, H, W, C, K, R, stride, pad, dilation, groups), the same table as bench/conv_bench.cpp
SHAPES = {
    "stem_7x7s2_3to64_161": (1, 161, 161, 3, 64, 7, 2, 3, 1, 1),
    "layer3_1x1_1024to256_65": (1, 65, 65, 1024, 256, 1, 1, 0, 1, 1),
    "layer4_3x3d4_512_65": (1, 65, 65, 512, 512, 3, 1, 4, 4, 1),
    "aspp_3x3d12_2048to256_65": (1, 65, 65, 2048, 256, 3, 1, 12, 12, 1),
    "classifier_3x3d6_2048to21_65": (1, 65, 65, 2048, 21, 3, 1, 6, 6, 1),
    "decoder_3x3_512to256_129": (1, 129, 129, 512, 256, 3, 1, 1, 1, 1),
    "depthwise_3x3_256_129": (1, 129, 129, 256, 256, 3, 1, 1, 1, 256),
}
# bench/conv_bench.cpp's benchmark name prefix for each pass
PG_PASSES = {"forward": "ConvForward", "backward_input": "ConvBackwardInput",
             "backward_weight": "ConvBackwardWeight"}


def mean_ms(fn, min_time):
    """Mean time of fn() in ms over at least 2 calls and min_time seconds, after a warm-up call
    (allocations, mkldnn primitive creation); Google Benchmark measures pg_bench the same way."""
    fn()
    runs, start = 0, time.perf_counter()
    while runs < 2 or time.perf_counter() - start < min_time:
        fn()
        runs += 1
    return 1e3 * (time.perf_counter() - start) / runs


def bench_shape(shape, min_time):
    n, h, w, c, k, r, stride, pad, dil, groups = shape
    x = torch.rand(n, c, h, w).sub(0.5).to(memory_format=torch.channels_last)
    wt = torch.rand(k, c // groups, r, r).sub(0.5).mul(0.2).to(memory_format=torch.channels_last)
    conv = lambda: F.conv2d(x, wt, None, stride, pad, dil, groups)
    y = conv()
    dy = torch.rand_like(y)
    flops = 2.0 * n * y.shape[2] * y.shape[3] * k * r * r * (c // groups)

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            dy, x, wt, None, [stride] * 2, [pad] * 2, [dil] * 2, False, [0, 0], groups, mask)

    times = {
        "forward": mean_ms(conv, min_time),
        "backward_input": mean_ms(backward([True, False, False]), min_time),
        "backward_weight": mean_ms(backward([False, True, False]), min_time),
        "backward": mean_ms(backward([True, True, False]), min_time),
    }
    return times, flops


def run_pixelgrad(binary, name, threads, best):
    """Runs pg_bench's three passes for one shape and keeps the fastest real time (ms) per pass."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    result = subprocess.run([binary, f"--benchmark_filter=^Conv[A-Za-z]+/{name}/",
                             "--benchmark_format=json"], env=env, capture_output=True, text=True,
                            check=True)
    for run in json.loads(result.stdout)["benchmarks"]:
        assert run["time_unit"] == "ms", run["name"]
        pass_name = run["run_name"].split("/")[0]
        best[pass_name] = min(best.get(pass_name, float("inf")), run["real_time"])


def pixelgrad_ms(best, pass_name):
    if pass_name == "backward":  # the two gradient kernels, called one after the other
        return best[PG_PASSES["backward_input"]] + best[PG_PASSES["backward_weight"]]
    return best[PG_PASSES[pass_name]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("threads", nargs="?", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement")
    parser.add_argument("--pg-bench", metavar="PATH", help="pixelgrad's pg_bench, to compare")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds with --pg-bench")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"mkldnn {torch.backends.mkldnn.is_available()}, channels_last")
    header = f"{'shape':<26} {'pass':<16} {'torch ms':>9} {'GFLOP/s':>8}"
    print(header + (f" {'pg ms':>9} {'GFLOP/s':>8} {'pg/torch':>8}" if args.pg_bench else ""))
    for name, shape in SHAPES.items():
        times, pg_best = {}, {}
        for _ in range(args.rounds if args.pg_bench else 1):
            new_times, flops = bench_shape(shape, args.min_time)
            times = {k: min(v, times.get(k, float("inf"))) for k, v in new_times.items()}
            if args.pg_bench:
                run_pixelgrad(args.pg_bench, name, args.threads, pg_best)
        for pass_name, ms in times.items():
            pass_flops = flops * (2 if pass_name == "backward" else 1)
            line = f"{name:<26} {pass_name:<16} {ms:9.2f} {pass_flops / ms * 1e-6:8.1f}"
            if args.pg_bench:
                pg_ms = pixelgrad_ms(pg_best, pass_name)
                line += f" {pg_ms:9.2f} {pass_flops / pg_ms * 1e-6:8.1f} {pg_ms / ms:8.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
