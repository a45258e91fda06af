"""Times one whole training step in PyTorch at the configurations of bench/train_step_bench.cpp (CPU)
and bench/gpu_train_step_bench.cpp (CUDA), for side-by-side ratios with pixelgrad.

The step is the one of bench/train_step.h: zero_grad, forward, bilinear (align_corners) upsampling
of the logits to the crop, cross-entropy with ignore_index 255, backward, SGD (momentum 0.9,
weight decay 1e-4, backbone lr x1, heads lr x10). The networks are the PyTorch definitions of
tools/dump_resnet.py (ResNet variants, DeepLab-v2) and tools/dump_deeplab_v3plus.py (U2PL's
decoder), imported, not copied: DeepLabV3+ = variant C encoder (trainable BN) + decoder without the
representation head, no aux head; DeepLab-v2 = variant A with frozen BN, ASPP-sum of 4 branches.

demo/8x64x64 is `make demo`'s network and batch (configs/synth/supervised_base.yaml, 3 classes).

adv_v2_r101 is AdvSemiSeg's whole iteration instead (bench/adversarial_bench.cpp, the original's
train.py loop): the DeepLab-v2 above as G (SGD lr 2.5e-4, wd 5e-4) and FCDiscriminator(21, 64) as
D (Adam 1e-4, betas (0.9, 0.99)); 2 labeled + 2 unlabeled + 2 ground-truth maps; the unlabeled
pass (BCE(D(softmax), 1) x 0.001 + CE on the D-trusted argmax x 0.1, T_semi 0 so every pixel is
kept), the labeled pass (CE + 0.01 BCE(D, 1)), the D pass (fakes [labeled; unlabeled] x 1/2, one-hot
truth x 1/2), then both steps. GFLOP/step = 3 x (G forward x 2 batches + D forward x 5 batches).

Each configuration runs in its own process (this script with --worker), so its peak RSS
(ru_maxrss, which for PyTorch includes ~the library's own footprint, printed as "base") belongs to
it alone; with --pg-bench, pixelgrad's benchmark for the same configuration runs right after, also
in its own process, and the table adds its time, the ratio pixelgrad / PyTorch and its peak RSS
(CUDA: the allocators' peak bytes instead). Times are the mean of --steps steps after three warm-up
steps (pixelgrad: 3 steps on the CPU, 10 on CUDA), the minimum over --rounds interleaved rounds.
Three, because the heap reaches its size only then: v2 R50 w0.5 took 11K and 5.5K page faults in
pixelgrad's 2nd and 3rd steps and 7.8K in PyTorch's 2nd, none after.
GFLOP/step = 3 x the forward conv FLOPs (2 x MACs), counted here with hooks, and by pixelgrad.
--isa native | avx2 holds both sides to one instruction set (OPENBLAS_CORETYPE for OpenBLAS and
pixelgrad's kernels, ONEDNN_MAX_CPU_ISA for PyTorch's oneDNN); the default leaves the environment.
On the CPU with --pg-bench the run first measures the machine's limit, OpenBLAS sgemm on 2048^3
with the same threads (pg_bench's Gemm/sgemm_peak, best of --rounds), and prints each GFLOP/s as
a percentage of it ("%lim").

  /usr/bin/python3 tools/bench_torch_train_step.py 2 --pg-bench build/pg_bench
  /usr/bin/python3 tools/bench_torch_train_step.py --device cuda --pg-bench build/pg_bench
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from dump_deeplab_v3plus import DecDeepLabV3Plus
from dump_resnet import DeepLabV2, FCDiscriminator, ResNet, scaled

# name: (arch, depth, width, batch, crop), the tables of the two C++ benchmark files
CPU_CONFIGS = {
    "v3plus_r101/2x129x129": ("v3plus", 101, 1.0, 2, 129),
    "v2_r101/2x129x129": ("v2", 101, 1.0, 2, 129),
    "v3plus_r50_w0.5/2x129x129": ("v3plus", 50, 0.5, 2, 129),
    "v2_r50_w0.5/2x129x129": ("v2", 50, 0.5, 2, 129),
    "adv_v2_r101/2x129x129": ("adv", 101, 1.0, 2, 129),
    "demo/8x64x64": ("demo", 50, 0.125, 8, 64),
}
CUDA_CONFIGS = {
    "v3plus_r101/8x513x513": ("v3plus", 101, 1.0, 8, 513),
    "v2_r101/10x321x321": ("v2", 101, 1.0, 10, 321),
}
PG_PREFIX = {"cpu": "TrainStep", "cuda": "GpuTrainStep"}
BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
CLASSES, IGNORE, LR, MOMENTUM, WD = 21, 255, 1e-3, 0.9, 1e-4
DEMO_CLASSES = 3


class DeepLabV3Plus(nn.Module):
    """U2PL's ModelBuilder without aux: `encoder` (ResNet C) and `decoder` on layer1 + layer4."""

    def __init__(self, depth, width):
        super().__init__()
        self.encoder = ResNet("C", "bottleneck", BLOCKS[depth], width, "trainable")
        low_in = self.encoder.layer1[-1].conv3.out_channels
        in_planes = self.encoder.layer4[-1].conv3.out_channels
        w = scaled(256, width)  # U2PL's 256-channel literals, scaled like nn/resnet.h's widths
        self.decoder = DecDeepLabV3Plus(in_planes, CLASSES, low_in, w, w, w, w, rep_head=False)

    def forward(self, x):
        f = self.encoder(x)
        return self.decoder(f[0], f[3])["pred"]


class SynthDemo(nn.Module):
    """`make demo`'s network, configs/synth/supervised_base.yaml (tools/synth_hardness.py's
    SynthDeepLab without its upsampling): ResNet C, blocks 1,1,2,1 at 1/8 width, decoder 48 / 32 /
    64 with dilations 2,4,6, 3 classes."""

    def __init__(self):
        super().__init__()
        self.encoder = ResNet("C", "bottleneck", (1, 1, 2, 1), 0.125, "trainable")
        self.decoder = DecDeepLabV3Plus(256, DEMO_CLASSES, 32, low=48, inner=32, head=64,
                                        dilations=(2, 4, 6), rep_head=False)

    def forward(self, x):
        f = self.encoder(x)
        return self.decoder(f[0], f[3])["pred"]


def build(arch, depth, width):
    """The model and its two parameter groups: backbone (lr x1) and heads (lr x10), trainable
    parameters only (DeepLab-v2's frozen BN affines are left out, as in pixelgrad)."""
    if arch == "demo":
        model, head = SynthDemo(), "decoder."
    elif arch == "v3plus":
        model, head = DeepLabV3Plus(depth, width), "decoder."
    else:
        model, head = DeepLabV2(CLASSES, blocks=BLOCKS[depth], width=width, mode="frozen"), "layer5."
    backbone, heads = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (heads if name.startswith(head) else backbone).append(p)
    return model, [{"params": backbone, "lr": LR}, {"params": heads, "lr": LR * 10}]


def forward_flops(model, crop, device, channels=3):
    """2 x MACs of every conv of one eval forward of a (1, 3, crop, crop) image (nn/flops.h's
    convention), counted with forward hooks."""
    total = [0]

    def hook(m, inputs, out):
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, channels, crop, crop, device=device))
    model.train()
    for h in hooks:
        h.remove()
    return total[0]


def adversarial_step(depth, width, batch, crop, device):
    """AdvSemiSeg's iteration (see the module doc) on fixed random batches; returns (step, flops)."""
    g, groups = build("v2", depth, width)
    d = FCDiscriminator(CLASSES, 64)
    g.to(device), d.to(device)
    for group in groups:
        group["lr"] = group["lr"] / LR * 2.5e-4
    g_opt = torch.optim.SGD(groups, lr=2.5e-4, momentum=MOMENTUM, weight_decay=5e-4)
    d_opt = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.9, 0.99))
    x_l, x_u = (torch.rand(batch, 3, crop, crop, device=device).mul(2).sub(1) for _ in range(2))

    def labels():
        y = torch.randint(0, CLASSES, (batch, crop, crop), device=device)
        y[torch.rand(y.shape, device=device) < 0.05] = IGNORE
        return y

    y_l, y_gt = labels(), labels()
    bce = nn.BCEWithLogitsLoss()
    up = lambda t: F.interpolate(t, size=(crop, crop), mode="bilinear", align_corners=True)

    def masked_bce(logits, target, valid):  # BCE over the pixels whose label is not 255
        v = valid.unsqueeze(1)
        return F.binary_cross_entropy_with_logits(logits[v], torch.full_like(logits[v], target))

    def step():
        g_opt.zero_grad(set_to_none=True)
        d_opt.zero_grad(set_to_none=True)
        for p in d.parameters():
            p.requires_grad = False
        p_u = up(g(x_u))
        d_u = up(d(F.softmax(p_u, dim=1)))
        semi_target = p_u.detach().argmax(1)
        semi_target[torch.sigmoid(d_u).squeeze(1) < 0.0] = IGNORE
        loss = 0.001 * bce(d_u, torch.ones_like(d_u)) + 0.1 * F.cross_entropy(
            p_u, semi_target, ignore_index=IGNORE)
        loss.backward()
        p_l = up(g(x_l))
        d_l = up(d(F.softmax(p_l, dim=1)))
        loss = F.cross_entropy(p_l, y_l, ignore_index=IGNORE) + 0.01 * masked_bce(
            d_l, 1.0, y_l != IGNORE)
        loss.backward()
        for p in d.parameters():
            p.requires_grad = True
        fake = torch.cat([p_l.detach(), p_u.detach()])
        valid = torch.cat([y_l != IGNORE, torch.ones_like(y_l, dtype=torch.bool)])
        (0.5 * masked_bce(up(d(F.softmax(fake, dim=1))), 0.0, valid)).backward()
        one_hot = F.one_hot(y_gt.clamp(max=CLASSES - 1), CLASSES).permute(0, 3, 1, 2).float()
        one_hot *= (y_gt != IGNORE).unsqueeze(1)
        (0.5 * masked_bce(up(d(one_hot)), 1.0, y_gt != IGNORE)).backward()
        g_opt.step()
        d_opt.step()

    flops = 3 * batch * (2 * forward_flops(g, crop, device) + 5 * forward_flops(d, crop, device,
                                                                                  CLASSES))
    return step, flops


def worker(args):
    """Times one configuration in this process and prints one JSON line."""
    torch.set_num_threads(args.threads)
    cuda = args.device == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = not args.no_tf32
        torch.backends.cudnn.allow_tf32 = not args.no_tf32
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    arch, depth, width, batch, crop = (CUDA_CONFIGS if cuda else CPU_CONFIGS)[args.worker]
    torch.manual_seed(0)
    if arch == "adv":
        step, flops = adversarial_step(depth, width, batch, crop, args.device)
        return time_steps(args, step, flops, base_rss, cuda)
    model, groups = build(arch, depth, width)
    model.to(args.device)
    channels_last = cuda or args.channels_last
    if channels_last:
        model.to(memory_format=torch.channels_last)
    flops = 3 * forward_flops(model, crop, args.device) * batch
    opt = torch.optim.SGD(groups, lr=LR, momentum=MOMENTUM, weight_decay=WD)
    x = torch.rand(batch, 3, crop, crop, device=args.device).mul(2).sub(1)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    classes = DEMO_CLASSES if arch == "demo" else CLASSES
    y = torch.randint(0, classes, (batch, crop, crop), device=args.device)
    y[torch.rand(y.shape, device=args.device) < 0.05] = IGNORE

    def step():
        opt.zero_grad(set_to_none=True)
        up = F.interpolate(model(x), size=(crop, crop), mode="bilinear", align_corners=True)
        F.cross_entropy(up, y, ignore_index=IGNORE).backward()
        opt.step()

    return time_steps(args, step, flops, base_rss, cuda)


def time_steps(args, step, flops, base_rss, cuda):
    """Runs three warm-up steps, then times args.steps steps; prints one JSON line."""
    for _ in range(3):
        step()  # warm-up: allocations (the heap's size), mkldnn / cuDNN choices, momentum buffers
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if cuda:
        stop.record()
        stop.synchronize()
        seconds = start.elapsed_time(stop) * 1e-3
    else:
        seconds = time.perf_counter() - t0
    result = {"ms": 1e3 * seconds / args.steps, "gflop_step": flops * 1e-9,
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "base_rss_mib": base_rss / 1024}
    if cuda:
        result["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    print(json.dumps(result), flush=True)


def run_child(cmd, env):
    """Runs cmd; returns (stdout, its peak RSS in MiB) from the child's own rusage."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with {proc.returncode}")
    return out, usage.ru_maxrss / 1024


def run_torch(args, name, env):
    cmd = [sys.executable, os.path.abspath(__file__), str(args.threads), "--worker", name,
           "--device", args.device, "--steps", str(args.steps)]
    cmd += [f for f, on in (("--no-tf32", args.no_tf32), ("--cudnn-benchmark", args.cudnn_benchmark),
                            ("--channels-last", args.channels_last)) if on]
    out, _ = run_child(cmd, env)
    return json.loads(out.strip().splitlines()[-1])


def run_pixelgrad(args, name, env):
    """pg_bench's benchmark for one configuration: mean ms per step, GFLOP/step, peak memory."""
    flt = f"--benchmark_filter=^{PG_PREFIX[args.device]}/{re.escape(name)}/"
    out, rss = run_child([args.pg_bench, flt, "--benchmark_format=json"], env)
    runs = [r for r in json.loads(out)["benchmarks"] if r.get("run_type") != "aggregate"]
    assert len(runs) == 1 and runs[0]["time_unit"] == "ms", runs
    if "error_message" in runs[0]:
        raise RuntimeError(f"pg_bench {name}: {runs[0]['error_message']}")
    r = runs[0]
    return {"ms": r["real_time"], "gflop_step": r["GFLOP/step"], "peak_rss_mib": rss,
            "peak_gib": r.get("peak_GiB")}


def sgemm_limit(args, env):
    """GFLOP/s of OpenBLAS sgemm on a 2048^3 product with the run's threads: the CPU's own limit."""
    out, _ = run_child([args.pg_bench, "--benchmark_filter=^Gemm/sgemm_peak/",
                        "--benchmark_format=json"], env)
    return [r for r in json.loads(out)["benchmarks"] if r.get("run_type") != "aggregate"][0]["GFLOP/s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("threads", nargs="?", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--pg-bench", metavar="PATH", help="pixelgrad's pg_bench, to compare")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (3 CPU, 10 CUDA)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds, minimum kept")
    parser.add_argument("--filter", default="", help="only configurations containing this text")
    parser.add_argument("--channels-last", action="store_true", help="CPU: channels_last too "
                        "(CUDA always uses it)")
    parser.add_argument("--no-tf32", action="store_true", help="CUDA: TF32 off (PG_BENCH_TF32=0)")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="CUDA: cudnn.benchmark")
    parser.add_argument("--isa", choices=("env", "native", "avx2"), default="env",
                        help="CPU instruction set of both sides: env leaves OPENBLAS_CORETYPE / "
                        "ONEDNN_MAX_CPU_ISA as they are; native unsets both; avx2 holds OpenBLAS "
                        "and pixelgrad to Haswell's kernels and PyTorch's oneDNN to AVX2, as on "
                        "an AVX2 machine")
    parser.add_argument("--worker", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps is None:
        args.steps = 10 if args.device == "cuda" else 3
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: PyTorch sees no CUDA device")
    if args.worker:
        return worker(args)

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))
    if args.isa == "native":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("ONEDNN_MAX_CPU_ISA", None)
    elif args.isa == "avx2":
        env.update(OPENBLAS_CORETYPE="Haswell", ONEDNN_MAX_CPU_ISA="AVX2")
    elif "OPENBLAS_CORETYPE" in env and "ONEDNN_MAX_CPU_ISA" not in env and args.device == "cpu":
        print(f"note: OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} holds OpenBLAS and pixelgrad's "
              "kernels to that core's instruction set and PyTorch's oneDNN ignores it; --isa "
              "native or --isa avx2 hold both sides to one set")
    if args.device == "cuda":
        env["PG_BENCH_TF32"] = "0" if args.no_tf32 else "1"
    configs = CUDA_CONFIGS if args.device == "cuda" else CPU_CONFIGS
    isa = f"OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '-')}, ONEDNN_MAX_CPU_ISA=" \
          f"{env.get('ONEDNN_MAX_CPU_ISA', '-')}, "
    print(f"torch {torch.__version__}, {args.device}, {args.threads} threads, {isa}"
          f"{'channels_last' if args.device == 'cuda' or args.channels_last else 'NCHW'}, "
          f"{args.steps} steps after 3 warm-ups, min of {args.rounds} round(s)")
    cuda = args.device == "cuda"
    limit = None
    if args.pg_bench and not cuda:
        limit = max(sgemm_limit(args, env) for _ in range(args.rounds))
        print(f"machine limit: OpenBLAS sgemm 2048^3, {args.threads} threads: {limit:.1f} GFLOP/s")
    mem = "peak GiB" if cuda else "peak RSS MiB (torch base)"
    header = f"{'config':<28} {'GFLOP/step':>10} {'torch ms':>9} {'img/s':>6} {'GFLOP/s':>7}"
    header += f" {'%lim':>5}" if limit else ""
    if args.pg_bench:
        header += f" {'pg ms':>9} {'img/s':>6} {'GFLOP/s':>7}"
        header += f" {'%lim':>5}" if limit else ""
        header += f" {'pg/torch':>8}"
    print(header + f"  {mem}")
    for name, (_, _, _, batch, _) in configs.items():
        if args.filter not in name:
            continue
        torch_best, pg_best = None, None
        for _ in range(args.rounds):
            t = run_torch(args, name, env)
            torch_best = t if torch_best is None or t["ms"] < torch_best["ms"] else torch_best
            if args.pg_bench:
                p = run_pixelgrad(args, name, env)
                pg_best = p if pg_best is None or p["ms"] < pg_best["ms"] else pg_best
        t = torch_best
        rate = lambda r: (batch * 1e3 / r["ms"], r["gflop_step"] * 1e3 / r["ms"])
        share = lambda r: f" {100 * rate(r)[1] / limit:5.1f}" if limit else ""
        line = f"{name:<28} {t['gflop_step']:10.1f} {t['ms']:9.1f} {rate(t)[0]:6.2f} {rate(t)[1]:7.1f}"
        line += share(t)
        if cuda:
            memory = f"torch {t['peak_gib']:.2f}"
        else:
            memory = f"torch {t['peak_rss_mib']:.0f} ({t['base_rss_mib']:.0f})"
        if pg_best:
            p = pg_best
            line += f" {p['ms']:9.1f} {rate(p)[0]:6.2f} {rate(p)[1]:7.1f}{share(p)} {p['ms'] / t['ms']:8.2f}"
            memory += f", pg {p['peak_gib']:.2f}" if cuda else f", pg {p['peak_rss_mib']:.0f}"
            if abs(p["gflop_step"] - t["gflop_step"]) > 1e-3 * t["gflop_step"]:
                memory += f"  (pg counts {p['gflop_step']:.1f} GFLOP/step)"
        print(f"{line}  {memory}", flush=True)


if __name__ == "__main__":
    main()
