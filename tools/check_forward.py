#!/usr/bin/env python3
"""Checks a checkpoint's round trip between PyTorch and pixelgrad through the real tools.

    check_forward.py --model configs/nets/deeplabv3plus_tiny.yaml --pixelgrad build/pixelgrad
    check_forward.py --model configs/nets/fc_discriminator.yaml --size 2x321x321   (AdvSemiSeg's D)
    check_forward.py --self-test --pixelgrad build/pixelgrad      (the tiny configs; a ctest)

For the network of a config's `net` section (seg/model_config.h) it
  1. builds the PyTorch model (the definitions of tools/dump_segmenter.py, dump_resnet.py and
     dump_deeplab_v3plus.py, with the originals' names) with random weights and BN statistics;
  2. saves it as the original repositories do: U2PL {'model_state': {'module.' + key: ...}, ...}
     for DeepLabV3+, AdvSemiSeg's bare state_dict for DeepLab-v2 and its FCDiscriminator
     (--wrap overrides);
  3. converts it with tools/convert_pth.py;
  4. runs `pixelgrad forward --model <yaml> --weights <converted> --input x --output y
     --save-weights w2` on a random NCHW batch (images; softmax maps for the discriminator);
  5. compares pixelgrad's logits (and rep, aux) with PyTorch's eval outputs: max abs error and
     that error relative to the largest |value|, which must stay under --tol;
  6. the reverse: w2 (written by pixelgrad) -> convert_pth.py --reverse -> torch.load ->
     load_state_dict(strict=True) into a fresh model, whose tensors must equal the originals.
Needs torch (Debian: /usr/bin/python3 with python3-torch) and PyYAML.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import yaml

import convert_pth
from dump_resnet import DeepLabV2, FCDiscriminator
from dump_segmenter import ModelBuilder

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
          50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3)),
          152: ("bottleneck", (3, 8, 36, 3))}


# ---------------------------------------------------------------- the model of a config


def torch_model(net):
    """The PyTorch twin of seg/model_config.cpp's segmenter_options + build_segmenter. BN modes
    do not matter here (eval mode only)."""
    arch = net.get("arch", "deeplabv3plus")
    backbone = net.get("backbone", {})
    block, blocks = DEPTHS[backbone.get("depth", 101)]
    blocks = tuple(backbone.get("blocks", blocks))
    width = float(backbone.get("width", 1.0))
    if arch == "deeplabv3plus":
        dec = net.get("decoder", {})
        return ModelBuilder(net["num_classes"], backbone.get("variant", "C").upper(), block, blocks,
                            width, inner_planes=dec.get("inner_planes", 256),
                            dilations=tuple(dec.get("dilations", (12, 24, 36))),
                            rep_head=dec.get("use_rep", True),
                            rep_planes=dec.get("rep_planes", 256),
                            aux="aux_loss" in net, dropout=dec.get("dropout", 0.1))
    if arch == "deeplabv2":
        return DeepLabV2(net["num_classes"], legacy=net.get("legacy_two_branch", False),
                         variant=backbone.get("variant", "A").upper(),
                         rates=tuple(net.get("aspp_rates", (6, 12, 18, 24))), block=block,
                         blocks=blocks, width=width)
    if arch == "fc_discriminator":
        return FCDiscriminator(net["num_classes"], net.get("ndf", 64), net.get("stride", 32))
    raise SystemExit(f"error: net.arch is '{arch}', expected deeplabv3plus, deeplabv2 or "
                     "fc_discriminator")


def randomise(model, seed):
    """Conv weights N(0, 2 / fan_in) (He), biases and BN affine random, BN running statistics
    random and positive variances, counters 5: every tensor of the checkpoint is non-trivial."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen)
                               * (2.0 / m.weight[0].numel()) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.2 - 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) * 0.5 + 0.5)
                m.bias.copy_(torch.rand(c, generator=gen) * 0.2 - 0.1)
                m.running_mean.copy_(torch.rand(c, generator=gen) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
                m.num_batches_tracked.fill_(5)


def outputs(model, x):
    """Eval-mode outputs named as `pixelgrad forward` names them (NCHW)."""
    model.eval()
    with torch.no_grad():
        y = model(x)
    if isinstance(y, dict):
        return {"logits": y["pred"], **{k: y[k] for k in ("rep", "aux") if k in y}}
    return {"logits": y}


def save_checkpoint(model, path, wrap):
    """U2PL: {'epoch', 'model_state': {'module.' + k}, 'optimizer_state'}; RIPU-like:
    {'state_dict': ...}; AdvSemiSeg: the bare state_dict."""
    state = model.state_dict()
    if wrap == "model_state":
        obj = {"epoch": 7, "model_state": {"module." + k: v for k, v in state.items()},
               "optimizer_state": {"state": {}, "param_groups": []}, "best_miou": 0.5}
    elif wrap == "state_dict":
        obj = {"iteration": 100, "state_dict": state}
    else:
        obj = state
    torch.save(obj, path)


# ---------------------------------------------------------------- the check


def run(cmd):
    print("$", " ".join(cmd))
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(done.stdout, end="")
    if done.returncode != 0:
        raise SystemExit(f"error: {cmd[0]} exited with {done.returncode}")


def check(model_yaml, pixelgrad, size, tol, wrap, seed, workdir):
    with open(model_yaml) as f:
        net = yaml.safe_load(f)["net"]
    arch = net.get("arch", "deeplabv3plus")
    wrap = wrap or ("model_state" if arch == "deeplabv3plus" else "none")
    model = torch_model(net)
    randomise(model, seed)
    n, h, w = size
    gen = torch.Generator().manual_seed(seed + 1)
    if arch == "fc_discriminator":  # D reads class-probability maps
        x = torch.softmax(torch.randn(n, net["num_classes"], h, w, generator=gen) * 3, dim=1)
    else:
        x = torch.randn(n, 3, h, w, generator=gen)
    expected = outputs(model, x)

    p = {k: os.path.join(workdir, k) for k in
         ("model.pth", "weights.safetensors", "x.safetensors", "y.safetensors",
          "resaved.safetensors", "back.pth")}
    save_checkpoint(model, p["model.pth"], wrap)
    run([sys.executable, os.path.join(TOOLS, "convert_pth.py"), p["model.pth"],
         p["weights.safetensors"]])
    convert_pth.write_safetensors(p["x.safetensors"], {"input": x}, {"format": "pt"})
    run([pixelgrad, "forward", "--model", model_yaml, "--weights", p["weights.safetensors"],
         "--input", p["x.safetensors"], "--output", p["y.safetensors"],
         "--save-weights", p["resaved.safetensors"]])

    got = convert_pth.read_safetensors(p["y.safetensors"])
    ok = sorted(got) == sorted(expected)
    if not ok:
        print(f"FAIL: pixelgrad wrote {sorted(got)}, PyTorch has {sorted(expected)}")
    for k, ref in expected.items():
        if k not in got:
            continue
        if got[k].shape != ref.shape:
            print(f"FAIL {k}: shape {tuple(got[k].shape)} vs PyTorch {tuple(ref.shape)}")
            ok = False
            continue
        err = (got[k] - ref).abs().max().item()
        rel = err / max(ref.abs().max().item(), 1e-30)
        good = rel <= tol
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {k} {tuple(ref.shape)}: max abs error {err:.3e}, "
              f"{rel:.3e} of the largest |value| (tolerance {tol:g})")

    # reverse: the file pixelgrad wrote -> .pth -> strict load into a fresh PyTorch model
    run([sys.executable, os.path.join(TOOLS, "convert_pth.py"), "--reverse",
         p["resaved.safetensors"], p["back.pth"], "--wrap", "state_dict"])
    fresh = torch_model(net)
    fresh.load_state_dict(torch.load(p["back.pth"])["state_dict"], strict=True)
    original = model.state_dict()
    differ = [k for k, v in fresh.state_dict().items() if not torch.equal(v, original[k])]
    if differ:
        print(f"FAIL reverse: {len(differ)} tensors differ after the round trip, e.g. {differ[:3]}")
        ok = False
    else:
        print(f"ok   reverse: pixelgrad's file loads strictly into PyTorch, all {len(original)} "
              "tensors equal")
    return ok


def parse_size(text):
    n, h, w = (int(v) for v in text.lower().split("x"))
    return n, h, w


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="YAML config with a `net` section")
    p.add_argument("--pixelgrad", default=os.path.join(ROOT, "build", "pixelgrad"))
    p.add_argument("--size", default="2x65x49", help="input N x H x W (default 2x65x49)")
    p.add_argument("--tol", type=float, default=1e-4,
                   help="max |error| / max |value| per output (default 1e-4)")
    p.add_argument("--wrap", choices=("model_state", "state_dict", "none"),
                   help="checkpoint layout (default: U2PL's for v3+, AdvSemiSeg's for v2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", help="keep the files in this folder")
    p.add_argument("--self-test", action="store_true", help="the tiny configs in configs/nets")
    args = p.parse_args()
    if args.self_test:
        runs = [(os.path.join(ROOT, "configs", "nets", name), None)
                for name in ("deeplabv3plus_tiny.yaml", "deeplabv2_tiny.yaml",
                             "fc_discriminator_tiny.yaml")]
    elif args.model:
        runs = [(args.model, args.wrap)]
    else:
        p.error("--model or --self-test is required")
    ok = True
    for model_yaml, wrap in runs:
        print(f"== {os.path.relpath(model_yaml)} ==")
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            ok &= check(model_yaml, args.pixelgrad, parse_size(args.size), args.tol, wrap,
                        args.seed, args.keep)
        else:
            with tempfile.TemporaryDirectory() as d:
                ok &= check(model_yaml, args.pixelgrad, parse_size(args.size), args.tol, wrap,
                            args.seed, d)
    print("check_forward: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
