#!/usr/bin/python3
"""Hardness check of the synthetic world with PyTorch: is a small segmenter trained on a few labels
clearly worse than the same one trained on all of them? (If not, semi-supervision has nothing to win.)

Trains a small DeepLabV3+-shaped CNN (0.28M parameters, stride 8, decoder at stride 4; Adam 2e-3
with poly decay, batch 8, random flips) on splits/<n>/labeled.txt and on all of
ImageSets/Segmentation/train.txt of a VOC-layout world, for the same number of iterations, and
prints the val mIoU and the objectness IoU (any object vs background) of each. Run with Debian's
PyTorch:

    build/pixelgrad synth --out /tmp/world && /usr/bin/python3 tools/synth_hardness.py /tmp/world 32 128 --iters 2000

Measured on the default world (seed 0, 64x64, 9 classes, 512 train / 128 val), 2000 iterations:
32 labels 14.7 mIoU, 128 labels 20.9, all 512 37.1 (objectness 49.0 / 55.9 / 64.1).
This checks the data, independently of pixelgrad's trainer; pixelgrad's own few-vs-all numbers come
from `pixelgrad train` on the same world.

`--net deeplab` trains configs/synth/supervised_base.yaml's network instead (ResNet variant C,
1/8 width, blocks 1,1,2,1, U2PL's decoder at widths 48 / 64, ASPP dilations 2,4,6; the PyTorch
definitions of tools/dump_resnet.py and tools/dump_deeplab_v3plus.py) with the config's optimiser
(SGD 0.01, momentum 0.9, weight decay 1e-4, heads x10, poly; flips but no rescaling): a PyTorch
twin of `pixelgrad train` that tells a slow-learning network from an engine bug. On the demo world
(the demo's former settings: --classes 5), 64 labels, 1000 iterations, seed 0, one thread: 34.8 mIoU
(disc 27.0, ring 21.2, square 21.0, frame 17.2; 168 s on a busy 2-core machine).
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


def load(root, ids):
    images = np.stack([np.array(Image.open(f"{root}/JPEGImages/{i}.jpg").convert("RGB")) for i in ids])
    labels = np.stack([np.array(Image.open(f"{root}/SegmentationClassAug/{i}.png")) for i in ids])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return (x - 0.5) / 0.25, torch.from_numpy(labels).long()


def block(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                         nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class SmallSeg(nn.Module):
    """A DeepLabV3+-shaped toy: encoder to stride 8, dilated context, decoder at stride 4."""

    def __init__(self, classes, width=24):
        super().__init__()
        self.s2, self.s4, self.s8 = block(3, width, 2), block(width, 2 * width, 2), block(2 * width, 4 * width, 2)
        self.context = nn.Sequential(nn.Conv2d(4 * width, 4 * width, 3, 1, 2, dilation=2, bias=False),
                                     nn.BatchNorm2d(4 * width), nn.ReLU(True),
                                     nn.Conv2d(4 * width, 2 * width, 1, bias=False), nn.BatchNorm2d(2 * width),
                                     nn.ReLU(True))
        self.low = nn.Sequential(nn.Conv2d(2 * width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True))
        self.head = nn.Sequential(nn.Conv2d(3 * width, 2 * width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(2 * width), nn.ReLU(True), nn.Conv2d(2 * width, classes, 1))

    def forward(self, x):
        low = self.s4(self.s2(x))
        deep = self.context(self.s8(low))
        deep = F.interpolate(deep, size=low.shape[2:], mode="bilinear", align_corners=False)
        out = self.head(torch.cat([deep, self.low(low)], 1))
        return F.interpolate(out, size=x.shape[2:], mode="bilinear", align_corners=False)


def miou(model, x, y, classes):
    model.eval()
    conf = torch.zeros(classes, classes, dtype=torch.long)
    with torch.no_grad():
        for k in range(0, len(x), 64):
            pred = model(x[k:k + 64]).argmax(1)
            t = y[k:k + 64]
            valid = t != 255
            conf += torch.bincount(t[valid] * classes + pred[valid], minlength=classes * classes).view(classes, classes)
    iou = conf.diag().float() / (conf.sum(0) + conf.sum(1) - conf.diag()).float().clamp(min=1)
    # Objectness: IoU of "any object" (truth != 0 vs prediction != 0), whatever the class.
    both = conf[1:, 1:].sum().float()
    objectness = both / (conf[1:, :].sum() + conf[:, 1:].sum() - both).float().clamp(min=1)
    return iou.mean().item(), iou, objectness.item()


class SynthDeepLab(nn.Module):
    """configs/synth/supervised_base.yaml's DeepLabV3+ (no representation head)."""

    def __init__(self, classes):
        super().__init__()
        from dump_deeplab_v3plus import DecDeepLabV3Plus
        from dump_resnet import ResNet
        self.encoder = ResNet("C", "bottleneck", (1, 1, 2, 1), 0.125, "trainable")
        for m in self.encoder.modules():  # pixelgrad's (and U2PL's) ResNet initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        self.decoder = DecDeepLabV3Plus(256, classes, 32, low=48, inner=32, head=64, dilations=(2, 4, 6),
                                        rep_head=False)

    def forward(self, x):
        f = self.encoder(x)
        out = self.decoder(f[0], f[3])["pred"]
        return F.interpolate(out, size=x.shape[2:], mode="bilinear", align_corners=True)


def make_optimizer(net, model, lr):
    """Toy: Adam lr on everything. DeepLab: the config's SGD, decoder at 10 x lr."""
    if net == "toy":
        return torch.optim.Adam(model.parameters(), lr=lr), [lr]
    backbone = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    heads = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    groups = [{"params": backbone, "lr": lr}, {"params": heads, "lr": 10 * lr}]
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=1e-4), [lr, 10 * lr]


def train(x, y, classes, iters, batch, seed, net="toy", lr=2e-3):
    torch.manual_seed(seed)
    model = SmallSeg(classes) if net == "toy" else SynthDeepLab(classes)
    opt, base_lrs = make_optimizer(net, model, lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for it in range(iters):
        for group, base in zip(opt.param_groups, base_lrs):
            group["lr"] = base * (1 - it / iters) ** 0.9
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        xb, yb = x[idx], y[idx]
        if torch.rand(1, generator=gen).item() < 0.5:
            xb, yb = xb.flip(3), yb.flip(2)
        loss = F.cross_entropy(model(xb), yb, ignore_index=255)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root")
    p.add_argument("labeled", type=int, nargs="+", help="labeled-subset sizes (splits/<n>)")
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--net", choices=["toy", "deeplab"], default="toy",
                   help="toy: the small CNN above (Adam 2e-3); deeplab: the synthetic configs' network (SGD 0.01)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    world = json.load(open(f"{a.root}/world.json"))
    classes = world["num_classes"]
    names = [c["name"] for c in world["classes"]]
    read = lambda path: [line.split()[0] for line in open(path) if line.strip()]
    val_x, val_y = load(a.root, read(f"{a.root}/ImageSets/Segmentation/val.txt"))
    runs = [(f"{n} labels", f"{a.root}/splits/{n}/labeled.txt") for n in a.labeled]
    runs.append(("all labels", f"{a.root}/ImageSets/Segmentation/train.txt"))
    for name, path in runs:
        ids = read(path)
        x, y = load(a.root, ids)
        start = time.time()
        model = train(x, y, classes, a.iters, a.batch, a.seed, a.net, 2e-3 if a.net == "toy" else 1e-2)
        m, iou, objectness = miou(model, val_x, val_y, classes)
        per_class = " ".join(f"{names[c]} {100 * iou[c]:.1f}" for c in range(classes))
        print(f"{name:>11} ({len(ids)} images, {a.iters} iters, {time.time() - start:.0f} s): "
              f"val mIoU {100 * m:.1f}, objectness IoU {100 * objectness:.1f}  [{per_class}]", flush=True)


if __name__ == "__main__":
    main()
