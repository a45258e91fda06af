"""Times PyTorch GPU ops at the shapes of bench/gpu_bench.cpp, for side-by-side ratios with pixelgrad.

Convolutions (forward, backward-data, backward-filter, each alone through
aten::convolution_backward with one output_mask entry, the call autograd makes), batch norm
training forward + backward, cross-entropy forward + backward and softmax on the (8, 513, 513, 21)
logits, and the bilinear resize of the logits 129 -> 513 (align_corners=True), all on
channels_last (NHWC) tensors, the layout pixelgrad uses. Times are CUDA-event device times; the
table gives ms, TFLOP/s (convolutions: 2 N P Q K R S C/groups per pass) and GB/s (compulsory
traffic, counted exactly as bench/gpu_bench.cpp counts it).
TF32 is on by default like pixelgrad's cuda::settings(); --no-tf32 matches PG_BENCH_TF32=0.
cudnn.benchmark is off by default (heuristic algorithm choice, like pixelgrad's default);
--cudnn-benchmark matches PG_BENCH_EXHAUSTIVE=1.
Usage: /usr/bin/python3 tools/bench_torch_gpu.py [--no-tf32] [--cudnn-benchmark] [--filter TEXT]
Compare with: build/pg_bench --benchmark_filter=Gpu
"""
import argparse

import torch
import torch.nn.functional as F

# name: (N, H, W, C, K, R, stride, pad, dilation, groups), the same table as bench/gpu_bench.cpp
CONV_SHAPES = {
    "v3p_stem_3x3s2_3to64_513": (8, 513, 513, 3, 64, 3, 2, 1, 1, 1),
    "v3p_stem_3x3_64to128_257": (8, 257, 257, 64, 128, 3, 1, 1, 1, 1),
    "v3p_layer1_1x1_256to64_129": (8, 129, 129, 256, 64, 1, 1, 0, 1, 1),
    "v3p_layer1_3x3_64_129": (8, 129, 129, 64, 64, 3, 1, 1, 1, 1),
    "v3p_layer1_1x1_64to256_129": (8, 129, 129, 64, 256, 1, 1, 0, 1, 1),
    "v3p_layer2_3x3s2_128_129": (8, 129, 129, 128, 128, 3, 2, 1, 1, 1),
    "v3p_layer3_1x1_1024to256_65": (8, 65, 65, 1024, 256, 1, 1, 0, 1, 1),
    "v3p_layer3_3x3d2_256_65": (8, 65, 65, 256, 256, 3, 1, 2, 2, 1),
    "v3p_layer3_1x1_256to1024_65": (8, 65, 65, 256, 1024, 1, 1, 0, 1, 1),
    "v3p_layer4_3x3d4_512_65": (8, 65, 65, 512, 512, 3, 1, 4, 4, 1),
    "v3p_layer4_1x1_2048to512_65": (8, 65, 65, 2048, 512, 1, 1, 0, 1, 1),
    "v3p_aspp_3x3d12_2048to256_65": (8, 65, 65, 2048, 256, 3, 1, 12, 12, 1),
    "v3p_aspp_3x3d36_2048to256_65": (8, 65, 65, 2048, 256, 3, 1, 36, 36, 1),
    "v3p_head_3x3_1280to256_65": (8, 65, 65, 1280, 256, 3, 1, 1, 1, 1),
    "v3p_classifier_3x3_304to256_129": (8, 129, 129, 304, 256, 3, 1, 1, 1, 1),
    "v3p_logits_1x1_256to21_129": (8, 129, 129, 256, 21, 1, 1, 0, 1, 1),
    "v2_stem_7x7s2_3to64_321": (10, 321, 321, 3, 64, 7, 2, 3, 1, 1),
    "v2_layer3_3x3d2_256_41": (10, 41, 41, 256, 256, 3, 1, 2, 2, 1),
    "v2_layer4_3x3d4_512_41": (10, 41, 41, 512, 512, 3, 1, 4, 4, 1),
    "v2_aspp_3x3d24_2048to21_41": (10, 41, 41, 2048, 21, 3, 1, 24, 24, 1),
}

# name: (N, H, W, C), the same table as bench/gpu_bench.cpp
BN_SHAPES = {
    "v3p_layer1_129x129x256": (8, 129, 129, 256),
    "v3p_layer3_65x65x1024": (8, 65, 65, 1024),
    "v3p_layer4_65x65x2048": (8, 65, 65, 2048),
    "v2_layer3_41x41x1024": (10, 41, 41, 1024),
}
BN_PASSES = 8  # forward: read x twice, write y; backward: read x, dy twice, write dx

CLASSES, IGNORE = 21, 255
LOGITS = (8, 513, 513)  # N, H, W of the full-resolution logits


def time_ms(fn, min_time, min_runs=5):
    """Mean device time of fn() in ms (CUDA events), after two untimed warm-up calls."""
    fn()
    fn()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    total, runs = 0.0, 0
    while runs < min_runs or total < min_time * 1e3:
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        total += start.elapsed_time(stop)
        runs += 1
    return total / runs


def nhwc(n, h, w, c, low=-1.0, high=1.0):
    """An (n, c, h, w) tensor stored channels_last, uniform in [low, high)."""
    t = torch.empty(n, c, h, w, device="cuda").uniform_(low, high)
    return t.contiguous(memory_format=torch.channels_last)


def bench_conv(shape, min_time):
    n, h, w, c, k, r, stride, pad, dil, groups = shape
    x = nhwc(n, h, w, c)
    wt = torch.empty(k, c // groups, r, r, device="cuda").uniform_(-0.1, 0.1)
    wt = wt.contiguous(memory_format=torch.channels_last)
    y = F.conv2d(x, wt, None, stride, pad, dil, groups)
    dy = torch.empty_like(y).uniform_(-1, 1)
    p, q = y.shape[2], y.shape[3]
    flops = 2.0 * n * p * q * k * r * r * (c // groups)
    nbytes = 4.0 * (x.numel() + wt.numel() + y.numel())

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            dy, x, wt, None, [stride] * 2, [pad] * 2, [dil] * 2, False, [0, 0], groups, mask)

    passes = {
        "forward": lambda: F.conv2d(x, wt, None, stride, pad, dil, groups),
        "backward_data": backward([True, False, False]),
        "backward_filter": backward([False, True, False]),
    }
    return {name: (time_ms(fn, min_time), flops, nbytes) for name, fn in passes.items()}


def bench_batch_norm(shape, min_time):
    n, h, w, c = shape
    x = nhwc(n, h, w, c, -1.0, 3.0).requires_grad_(True)
    dy = nhwc(n, h, w, c)
    weight = torch.ones(c, device="cuda", requires_grad=True)
    bias = torch.zeros(c, device="cuda", requires_grad=True)
    rm, rv = torch.zeros(c, device="cuda"), torch.ones(c, device="cuda")

    def step():
        y = F.batch_norm(x, rm, rv, weight, bias, training=True, momentum=0.1, eps=1e-5)
        torch.autograd.grad(y, (x, weight, bias), dy)

    return {"train_fwd_bwd": (time_ms(step, min_time), 0.0, 4.0 * x.numel() * BN_PASSES)}


def bench_cross_entropy(min_time):
    """Per-pixel losses over the logits viewed as (rows, 21), the (rows, classes) form of
    pixelgrad's kernels (a view of the channels_last storage, no copy)."""
    n, h, w = LOGITS
    rows = n * h * w
    logits = nhwc(n, h, w, CLASSES, -4.0, 4.0).permute(0, 2, 3, 1).reshape(rows, CLASSES)
    logits.requires_grad_(True)
    u = torch.rand(rows, device="cuda")
    target = torch.clamp(((u - 0.05) / 0.95 * CLASSES).long(), max=CLASSES - 1)
    target[u < 0.05] = IGNORE
    dloss = torch.ones(rows, device="cuda")

    def step():
        loss = F.cross_entropy(logits, target, ignore_index=IGNORE, reduction="none")
        torch.autograd.grad(loss, logits, dloss)

    # Counted as bench/gpu_bench.cpp counts its fused kernels (int32 targets there).
    row_bytes = 4.0 * (CLASSES + 1 + 2) + 4.0 * (2 * CLASSES + 2)
    x = logits.detach()
    return {
        "cross_entropy_fwd_bwd": (time_ms(step, min_time), 0.0, row_bytes * rows),
        "softmax_forward": (time_ms(lambda: torch.softmax(x, dim=-1), min_time), 0.0,
                            8.0 * x.numel()),
    }


def bench_resize(min_time):
    n, size_in, size_out = 8, 129, 513
    small = nhwc(n, size_in, size_in, CLASSES).requires_grad_(True)
    large = nhwc(n, size_out, size_out, CLASSES)
    nbytes = 4.0 * (small.numel() + large.numel())
    up = lambda: F.interpolate(small, size=(size_out, size_out), mode="bilinear", align_corners=True)
    out = up()
    return {
        "forward_129to513": (time_ms(up, min_time), 0.0, nbytes),
        "backward_129to513": (time_ms(lambda: torch.autograd.grad(out, small, large,
                                                                  retain_graph=True), min_time),
                              0.0, nbytes),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tf32", action="store_true", help="exact f32 convolutions and GEMMs")
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="let cuDNN time every algorithm once per shape")
    parser.add_argument("--filter", default="", help="only rows whose name contains this")
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds per measurement")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.backends.cudnn.allow_tf32 = not args.no_tf32
    torch.backends.cuda.matmul.allow_tf32 = not args.no_tf32
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"{torch.cuda.get_device_name()}, tf32 {not args.no_tf32}, "
          f"cudnn.benchmark {args.cudnn_benchmark}, channels_last")
    print(f"{'benchmark':<56} {'ms':>9} {'TFLOP/s':>9} {'GB/s':>9}")

    def report(group, results):
        for name, (ms, flops, nbytes) in results.items():
            row = f"{group}/{name}"
            tflops = f"{flops / ms * 1e-9:9.1f}" if flops else f"{'':>9}"
            gbs = f"{nbytes / ms * 1e-6:9.1f}" if nbytes else f"{'':>9}"
            print(f"{row:<56} {ms:9.3f} {tflops} {gbs}", flush=True)

    wanted = lambda row: args.filter in row
    prefixes = {"forward": "GpuConvForward", "backward_data": "GpuConvBackwardData",
                "backward_filter": "GpuConvBackwardFilter"}
    for name, shape in CONV_SHAPES.items():
        if not any(wanted(f"{prefix}/{name}") for prefix in prefixes.values()):
            continue
        for pass_name, result in bench_conv(shape, args.min_time).items():
            if wanted(f"{prefixes[pass_name]}/{name}"):
                report(prefixes[pass_name], {name: result})
        torch.cuda.empty_cache()
    for name, shape in BN_SHAPES.items():
        if wanted(f"GpuBatchNormTrain/{name}"):
            report("GpuBatchNormTrain", {name: bench_batch_norm(shape, args.min_time)["train_fwd_bwd"]})
    logits_name = "8x513x513x21"
    if wanted(f"GpuCrossEntropy/{logits_name}") or wanted(f"GpuSoftmaxForward/{logits_name}"):
        ce = bench_cross_entropy(args.min_time)
        report("GpuCrossEntropy", {logits_name: ce["cross_entropy_fwd_bwd"]})
        report("GpuSoftmaxForward", {logits_name: ce["softmax_forward"]})
    if wanted("GpuResizeBilinear/"):
        report("GpuResizeBilinear", bench_resize(args.min_time))

if __name__ == "__main__":
    main()
