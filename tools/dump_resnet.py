"""PyTorch references for the ResNet backbones (variants A, B, C), DeepLab-v2 and AdvSemiSeg's
FCDiscriminator: tests/nn/{resnet,deeplab_v2,discriminator}_test.cpp read what this writes.

Run: /usr/bin/python3 tools/dump_resnet.py  ->  tests/data/resnet_{a,b,c,misc}.safetensors,
tests/data/deeplab_v2.safetensors, tests/data/discriminator.safetensors.

The modules below are our own PyTorch definitions written from shared/specs/networks.md and the
original code (AdvSemiSeg model/deeplab.py + model/discriminator.py, RIPU core/models/resnet.py,
U2PL u2pl/models/resnet.py), with the originals' parameter names. The block plan is re-derived the
way the originals build it (torchvision's replace_stride_with_dilation bookkeeping, U2PL's
multi-grid, AdvSemiSeg's fixed dilations), independently of the C++ table.

Conventions in the files: "w.<key>" the state_dict (PyTorch layouts, loaded strictly by the
tests); inputs are not stored but rebuilt by the tests from pattern() below; "eval.*" / "train.*"
activations NHWC, "train.loss"; "g.<key>" the gradient of a parameter (PyTorch layout);
"after.<key>" a parameter after one SGD step (lr 0.01, momentum 0.9, weight decay 1e-4: the first
step is p - lr (g + wd p)); "buf.<key>" buffers after the train-mode forward; "names.*" and
"keys.*" key lists as text (u8, one per line; "keys.*" as "key:d0,d1,..." with PyTorch shapes);
"count.*" parameter counts of full-size networks. Dropout: none of these networks has any.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import pgref
from pgref import nhwc

LR, MOMENTUM, WD = 0.01, 0.9, 1e-4


def scaled(c, width):
    return max(1, int(c * width + 0.5))


# ---------------------------------------------------------------- modules


class BN(nn.BatchNorm2d):
    """BatchNorm2d with pixelgrad's modes: trainable; frozen_affine (batch statistics in train
    mode, affine without grad: AdvSemiSeg's original); frozen (running statistics always, affine
    without grad: RIPU's FrozenBatchNorm2d, with eps 1e-5 and num_batches_tracked kept)."""

    def __init__(self, c, mode):
        super().__init__(c)
        self.mode = mode
        if mode != "trainable":
            self.weight.requires_grad_(False)
            self.bias.requires_grad_(False)

    def forward(self, x):
        if self.mode == "frozen":
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        return super().forward(x)


def conv(cin, cout, k, stride=1, dilation=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=dilation if k == 3 else 0,
                     dilation=dilation, bias=False)


def plan(variant, block, blocks, width):
    """[(in, planes, out, stride, dilation, downsample)] per stage, as the originals build it."""
    exp = 4 if block == "bottleneck" else 1
    inplanes = scaled(128 if variant == "C" else 64, width)
    stages = []
    if variant == "A":  # AdvSemiSeg: _make_layer(64), (128, stride 2), (256, dil 2), (512, dil 4)
        for (p, stride, dil), n in zip([(64, 1, 1), (128, 2, 1), (256, 1, 2), (512, 1, 4)], blocks):
            planes = scaled(p, width)
            ds = stride != 1 or inplanes != planes * exp or dil in (2, 4)
            stage = [(inplanes, planes, planes * exp, stride, dil, ds)]
            inplanes = planes * exp
            stage += [(inplanes, planes, planes * exp, 1, dil, False) for _ in range(1, n)]
            stages.append(stage)
        return stages
    dilation = 1  # torchvision / U2PL with replace_stride_with_dilation = [False, True, True]
    for i, (p, n) in enumerate(zip((64, 128, 256, 512), blocks)):
        stride = 1 if i == 0 else 2
        previous = dilation
        if i >= 2:
            dilation *= stride
            stride = 1
        planes = scaled(p, width)
        ds = stride != 1 or inplanes != planes * exp
        grids = [2, 2, 4] if (variant == "C" and i == 3) else [1] * n  # U2PL multi_grid
        stage = [(inplanes, planes, planes * exp, stride, previous * grids[0], ds)]
        inplanes = planes * exp
        stage += [(inplanes, planes, planes * exp, 1, dilation * grids[j], False) for j in range(1, n)]
        stages.append(stage)
    return stages


class Bottleneck(nn.Module):
    def __init__(self, p, variant, mode):
        super().__init__()
        cin, planes, cout, stride, dil, ds = p
        s1, s2 = (stride, 1) if variant == "A" else (1, stride)
        self.conv1 = conv(cin, planes, 1, s1)
        self.bn1 = BN(planes, mode)
        self.conv2 = conv(planes, planes, 3, s2, dil)
        self.bn2 = BN(planes, mode)
        self.conv3 = conv(planes, cout, 1)
        self.bn3 = BN(cout, mode)
        self.relu = nn.ReLU()
        self.downsample = nn.Sequential(conv(cin, cout, 1, stride), BN(cout, mode)) if ds else None

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


class BasicBlock(nn.Module):
    """Both 3x3 convs dilated (pixelgrad's choice; torchvision refuses dilated BasicBlocks)."""

    def __init__(self, p, variant, mode):
        super().__init__()
        cin, planes, cout, stride, dil, ds = p
        self.conv1 = conv(cin, planes, 3, stride, dil)
        self.bn1 = BN(planes, mode)
        self.relu = nn.ReLU()
        self.conv2 = conv(planes, cout, 3, 1, dil)
        self.bn2 = BN(cout, mode)
        self.downsample = nn.Sequential(conv(cin, cout, 1, stride), BN(cout, mode)) if ds else None

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, variant, block="bottleneck", blocks=(3, 4, 23, 3), width=1.0,
                 mode="trainable"):
        super().__init__()
        c64 = scaled(64, width)
        if variant == "C":  # U2PL's deep stem
            c128 = scaled(128, width)
            self.conv1 = nn.Sequential(conv(3, c64, 3, 2), BN(c64, mode), nn.ReLU(),
                                       conv(c64, c64, 3), BN(c64, mode), nn.ReLU(),
                                       conv(c64, c128, 3))
            self.bn1 = BN(c128, mode)
        else:
            self.conv1 = nn.Conv2d(3, c64, 7, stride=2, padding=3, bias=False)
            self.bn1 = BN(c64, mode)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1, ceil_mode=(variant != "B"))
        Block = Bottleneck if block == "bottleneck" else BasicBlock
        for i, stage in enumerate(plan(variant, block, blocks, width)):
            setattr(self, f"layer{i + 1}", nn.Sequential(*[Block(p, variant, mode) for p in stage]))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        l1 = self.layer1(x)
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        return [l1, l2, l3, self.layer4(l3)]


class ClassifierModule(nn.Module):
    """AdvSemiSeg's Classifier_Module; legacy=True keeps its early return (branches 0 + 1)."""

    def __init__(self, cin, num_classes, rates=(6, 12, 18, 24), legacy=False):
        super().__init__()
        self.legacy = legacy
        self.conv2d_list = nn.ModuleList(
            [nn.Conv2d(cin, num_classes, 3, padding=r, dilation=r, bias=True) for r in rates])

    def forward(self, x):
        out = self.conv2d_list[0](x)
        for i in range(1, len(self.conv2d_list)):
            out = out + self.conv2d_list[i](x)
            if self.legacy:
                return out
        return out


class DeepLabV2(ResNet):
    """AdvSemiSeg's ResNet (variant A) + layer5; other variants and rates for build_segmenter."""

    def __init__(self, num_classes, legacy=False, variant="A", rates=(6, 12, 18, 24), **kwargs):
        super().__init__(variant, **kwargs)
        last = self.layer4[-1]
        cin = (last.conv3 if isinstance(last, Bottleneck) else last.conv2).out_channels
        self.layer5 = ClassifierModule(cin, num_classes, rates, legacy=legacy)

    def forward(self, x):
        return self.layer5(super().forward(x)[3])


class FCDiscriminator(nn.Module):
    """AdvSemiSeg's D; stride < 32 (pixelgrad's net.stride) makes the last convs stride 1."""
    def __init__(self, num_classes, ndf=64, stride=32):
        super().__init__()
        k = {2: 1, 4: 2, 8: 3, 16: 4, 32: 5}[stride]
        s = [2 if i < k else 1 for i in range(5)]
        self.conv1 = nn.Conv2d(num_classes, ndf, 4, s[0], 1)
        self.conv2 = nn.Conv2d(ndf, ndf * 2, 4, s[1], 1)
        self.conv3 = nn.Conv2d(ndf * 2, ndf * 4, 4, s[2], 1)
        self.conv4 = nn.Conv2d(ndf * 4, ndf * 8, 4, s[3], 1)
        self.classifier = nn.Conv2d(ndf * 8, 1, 4, s[4], 1)
        self.leaky_relu = nn.LeakyReLU(0.2)

    def forward(self, x):
        for c in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.leaky_relu(c(x))
        return self.classifier(x)


# ---------------------------------------------------------------- helpers


def pattern(shape, seed):
    """Deterministic inputs in [-1, 1) that the C++ tests rebuild instead of loading (keeps the
    files small): element i of the row-major (NHWC) tensor is 2 frac(sin(12.9898 i + 78.233 seed)
    43758.5453) - 1, computed in double precision (tests/nn/net_test_util.h has the twin)."""
    i = np.arange(int(np.prod(shape)), dtype=np.float64)
    v = np.sin(i * 12.9898 + seed * 78.233) * 43758.5453
    return torch.from_numpy(((v - np.floor(v)) * 2 - 1).astype(np.float32).reshape(shape))


def pattern_nchw(shape_nhwc, seed):
    return pattern(shape_nhwc, seed).permute(0, 3, 1, 2).contiguous()


def text(lines):
    return np.frombuffer("\n".join(lines).encode(), dtype=np.uint8).copy()


def key_shapes(model):
    return text([f"{k}:{','.join(str(d) for d in v.shape)}" for k, v in model.state_dict().items()])


def randomise(model, calib_x):
    """Weights with O(1) activations and non-trivial BN running statistics: conv weights
    N(0, 2 / fan_in), biases and BN affine random, running stats = the batch statistics of a
    calibration input (momentum 1), then perturbed; num_batches_tracked = 3."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.normal_(0, (2.0 / m.weight[0].numel()) ** 0.5)
                if m.bias is not None:
                    m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, BN):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
        bns = [m for m in model.modules() if isinstance(m, BN)]
        modes = [m.mode for m in bns]
        for m in bns:
            m.mode, m.momentum = "trainable", 1.0
        model.train()
        model(calib_x)
        for m, mode in zip(bns, modes):
            m.mode, m.momentum = mode, 0.1
            m.running_mean.add_(torch.empty_like(m.running_mean).uniform_(-0.1, 0.1))
            m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
            m.num_batches_tracked.fill_(3)


def dump_state(out, model):
    for k, v in model.state_dict().items():
        out["w." + k] = v.clone()
    out["names.params"] = text([n for n, _ in model.named_parameters()])
    out["names.buffers"] = text([n for n, _ in model.named_buffers()])


def dump_step(out, model, loss, after_keys):
    """Gradients of the parameters that require grad, buffers after the forward, and the
    parameters in after_keys after one SGD step (the other updates follow from g and w)."""
    out["train.loss"] = loss.detach()
    loss.backward()
    for n, p in model.named_parameters():
        if p.grad is not None:
            out["g." + n] = p.grad.clone()
    for n, b in model.named_buffers():
        out["buf." + n] = b.clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=LR,
                          momentum=MOMENTUM, weight_decay=WD)
    opt.step()
    params = dict(model.named_parameters())
    for k in after_keys:
        out["after." + k] = params[k].detach().clone()


# ---------------------------------------------------------------- dumps

TINY_X = (2, 55, 41, 3)  # NHWC; odd sizes where ceil_mode and the stride placement change shapes
TINY = {  # file: (variant, blocks, train-mode BN)
    "resnet_a": ("A", (1, 1, 1, 2), "frozen_affine"),
    "resnet_b": ("B", (1, 1, 2, 2), "frozen"),
    "resnet_c": ("C", (1, 1, 2, 3), "trainable"),
}
WIDTH = 1.0 / 32


def dump_tiny_resnet(name, variant, blocks, mode):
    """Input x = pattern(TINY_X, 1) (not stored). Eval outputs of layer1 and layer4, then a
    train-mode step on L = sum_i mean(layer_i * r_i), r_i = pattern(shape of layer i, 10 + i)."""
    model = ResNet(variant, "bottleneck", blocks, WIDTH, mode)
    x = pattern_nchw(TINY_X, 1)
    randomise(model, torch.randn(TINY_X[0], 3, TINY_X[1], TINY_X[2]) * 1.5 + 0.2)
    out = {}
    dump_state(out, model)
    model.eval()
    with torch.no_grad():
        feats = model(x)
        out["eval.layer1"] = nhwc(feats[0])
        out["eval.layer4"] = nhwc(feats[3])
    model.train()
    loss = 0
    for i, f in enumerate(model(x)):
        r = pattern_nchw(tuple(nhwc(f).shape), 11 + i)
        loss = loss + (f * r).mean()
    first = "conv1.0.weight" if variant == "C" else "conv1.weight"
    dump_step(out, model, loss, [first, "layer4.1.conv2.weight", "layer1.0.downsample.0.weight"])
    pgref.save(name + ".safetensors", out)


def dump_misc():
    """A dilated BasicBlock network (eval only, input pattern(TINY_X, 2)), and the full-size
    networks' parameter counts and state_dict keys with shapes (their weights are far too big)."""
    torch.manual_seed(1)
    out = {}
    model = ResNet("B", "basic", (1, 1, 2, 2), WIDTH, "trainable")
    x = pattern_nchw(TINY_X, 2)
    randomise(model, torch.randn_like(x))
    for k, v in model.state_dict().items():
        out["basic.w." + k] = v.clone()
    model.eval()
    with torch.no_grad():
        feats = model(x)
        out["basic.eval.layer1"] = nhwc(feats[0])
        out["basic.eval.layer4"] = nhwc(feats[3])
    full = {
        "resnet101_a": ResNet("A"), "resnet101_b": ResNet("B"), "resnet101_c": ResNet("C"),
        "resnet18_b": ResNet("B", "basic", (2, 2, 2, 2)),
        "deeplab_v2_21": DeepLabV2(21),
    }
    for name, m in full.items():
        n = sum(p.numel() for p in m.parameters())
        out[f"count.{name}"] = np.array(n, dtype=np.int64)
        print(f"{name}: {n} parameters")
    for name in ("resnet101_c", "deeplab_v2_21"):
        out[f"keys.{name}"] = key_shapes(full[name])
    pgref.save("resnet_misc.safetensors", out)


def dump_deeplab_v2():
    """Tiny DeepLab-v2 (A, width 1/32, blocks 1,1,2,1, 5 classes), input pattern(TINY_X, 3):
    eval logits with and without the legacy early return, then AdvSemiSeg's own training setting
    (frozen_affine BN, legacy head): CE of the logits upsampled (align_corners) to the input
    against a u8 label map with about 20% 255s."""
    torch.manual_seed(2)
    model = DeepLabV2(5, legacy=True, blocks=(1, 1, 2, 1), width=WIDTH, mode="frozen_affine")
    x = pattern_nchw(TINY_X, 3)
    randomise(model, torch.randn_like(x))
    out = {}
    dump_state(out, model)
    model.eval()
    with torch.no_grad():
        out["eval.logits_legacy"] = nhwc(model(x))
        model.layer5.legacy = False
        out["eval.logits"] = nhwc(model(x))
        model.layer5.legacy = True
    model.train()
    logits = model(x)
    up = F.interpolate(logits, size=x.shape[2:], mode="bilinear", align_corners=True)
    label = torch.randint(0, 5, (x.shape[0], x.shape[2], x.shape[3]))
    label[torch.rand(label.shape) < 0.2] = 255
    out["train.label"] = label.to(torch.uint8)
    out["train.logits"] = nhwc(logits.detach())
    loss = F.cross_entropy(up, label, ignore_index=255)
    dump_step(out, model, loss, ["conv1.weight", "layer5.conv2d_list.1.weight",
                                 "layer5.conv2d_list.0.bias"])
    pgref.save("deeplab_v2.safetensors", out)


D_X = (2, 37, 33, 5)  # NHWC


def dump_discriminator():
    """FCDiscriminator (5 classes, ndf 4), PyTorch's default init, on x = softmax over channels
    of 2 pattern(D_X, 4). Train: BCE with logits of D's output upsampled (align_corners) to the
    input against a random 0/1 map; also the gradient w.r.t. x (what reaches the generator)."""
    torch.manual_seed(3)
    model = FCDiscriminator(5, ndf=4)
    x = torch.softmax(pattern_nchw(D_X, 4) * 2, dim=1).requires_grad_()
    out = {}
    dump_state(out, model)
    y = model(x)
    out["eval.y"] = nhwc(y.detach())
    up = F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=True)
    target = (torch.rand(up.shape) < 0.5).float()
    out["train.target"] = nhwc(target)
    loss = F.binary_cross_entropy_with_logits(up, target)
    dump_step(out, model, loss, ["conv1.weight", "classifier.bias"])
    out["g.x"] = nhwc(x.grad)
    full = FCDiscriminator(21)
    out["count.full_21"] = np.array(sum(p.numel() for p in full.parameters()), dtype=np.int64)
    pgref.save("discriminator.safetensors", out)


def main():
    torch.manual_seed(0)
    for name, (variant, blocks, mode) in TINY.items():
        dump_tiny_resnet(name, variant, blocks, mode)
    dump_misc()
    dump_deeplab_v2()
    dump_discriminator()


if __name__ == "__main__":
    main()
