"""PyTorch references for the full segmentation networks of nn/segmenter.h: U2PL's ModelBuilder
(ResNet-101 variant C + DeepLabV3+ decoder with representation head + aux head) at FULL size, and
a reduced DeepLab-v2 made through build_segmenter. tests/nn/segmenter_test.cpp reads
tests/data/segmenter.safetensors; tools/check_forward.py imports ModelBuilder.

Run: /usr/bin/python3 tools/dump_segmenter.py [--compare-f32]   (a few minutes: the full-size FLOP
counts run real 513 x 513 forwards; --compare-f32 prints PyTorch's own f32 error)

The modules are those of tools/dump_resnet.py (ResNet, DeepLabV2) and tools/dump_deeplab_v3plus.py
(DecDeepLabV3Plus, AuxModule), put together as U2PL's ModelBuilder (encoder / decoder / auxor).
The full network's 67M weights cannot be stored, so both sides compute them from fill_state()
below (tests/nn/segmenter_test.cpp has the C++ twin), in the PyTorch layout, from the key list
stored here: the C++ test builds its state_dict from that list and loads it strictly, which proves
every key and shape of U2PL's checkpoints. The reference forward/backward runs in float64, so the
tolerances measure pixelgrad's f32 error alone.

File contents ("v3." full DeepLabV3+, "v2." reduced DeepLab-v2):
  v3.keys / v2.keys    "key:d0,d1,..." per state_dict entry, PyTorch order and shapes (u8 text)
  v3.eval.logits (N, 9, 9, 21), v3.eval.aux (N, 5, 5, 21), v3.eval.rep_c32 (rep[..., :32]),
  v3.eval.rep_norm (N, 9, 9): per-pixel L2 norm of all 256 rep channels (NHWC; the full rep would
  be 166 KB)
  v3.train.*           train mode (dropout p = 0, BN on batch statistics), loss = CE(up(logits))
                       + 0.4 CE(up(aux)) + 0.1 mean(rep^2): label (u8), logits, loss,
                       grad_norms (L2 norm of every parameter's gradient, named_parameters order
                       = the keys that are not buffers), buffer_norms (named_buffers order)
  v3.g.<key>           full gradients of a few parameters (PyTorch layout)
  v2.eval.logits       reduced DeepLab-v2 eval logits
  flops.*, count.*     torch-side counts: 2 x MACs of every conv (forward hook), parameters;
                       each as .hi = value // 10^6 and .lo = value % 10^6 (the files hold int32)
Inputs are pattern() of tools/dump_resnet.py (NHWC, not stored; see image()).
"""
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import pgref
from dump_deeplab_v3plus import AuxModule, DecDeepLabV3Plus
from dump_resnet import Bottleneck, DeepLabV2, ResNet, pattern_nchw, text
from pgref import nhwc

# ---------------------------------------------------------------- the network


def stage_channels(resnet):
    """Output channels of layer1..layer4."""
    out = []
    for i in range(1, 5):
        last = getattr(resnet, f"layer{i}")[-1]
        out.append((last.conv3 if isinstance(last, Bottleneck) else last.conv2).out_channels)
    return out


class ModelBuilder(nn.Module):
    """U2PL's ModelBuilder with fpn=True: the decoder sees layer1 and layer4, the aux head layer3.
    Decoder widths are U2PL's 256 literals; inner_planes, rep_planes, dilations are its kwargs."""

    def __init__(self, num_classes=21, variant="C", block="bottleneck", blocks=(3, 4, 23, 3),
                 width=1.0, mode="trainable", inner_planes=256, dilations=(12, 24, 36),
                 rep_head=True, rep_planes=256, aux=True, dropout=0.1):
        super().__init__()
        self.encoder = ResNet(variant, block, blocks, width, mode)
        c1, _, c3, c4 = stage_channels(self.encoder)
        self.decoder = DecDeepLabV3Plus(c4, num_classes, low_in=c1, inner=inner_planes,
                                        rep=rep_planes, dilations=dilations, rep_head=rep_head,
                                        p=dropout)
        if aux:
            self.auxor = AuxModule(c3, num_classes, p=dropout)

    def forward(self, x):
        f = self.encoder(x)
        out = self.decoder(f[0], f[3])  # {"pred", "rep"}
        if hasattr(self, "auxor"):
            out["aux"] = self.auxor(f[2])
        return out


# ---------------------------------------------------------------- the deterministic weights


def lowbias32(x):
    """Chris Wellons' 32-bit integer hash (uint32 arithmetic wraps, as in C++)."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def fnv1a(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def unit(key, n):
    """u_i in [-1, 1), i = 0..n-1: lowbias32(lowbias32(i) ^ fnv1a(key)) >> 8, scaled by 2^-23,
    minus 1 (float64; exact in float32 too)."""
    h = lowbias32(lowbias32(np.arange(n, dtype=np.uint32)) ^ np.uint32(fnv1a(key)))
    return (h >> np.uint32(8)).astype(np.float64) / 2.0**23 - 1.0


def fill_value(key, shape, is_bn):
    """The value of state_dict entry `key` (PyTorch shape), element i in row-major order:
    conv weight (4-d) u sqrt(3 / fan_in) (keeps the second moment of activations); BN weight
    1 + 0.1 u, bias 0.1 u, running_mean 0.1 u, running_var 1 + 0.25 u; num_batches_tracked 3;
    any other tensor (conv biases) 0.1 u. Computed in float64, rounded once to float32.
    The last BN of each residual branch (bn3) has weight 0.1 + 0.01 u, small like a trained
    ResNet's (U2PL starts them at 0). With ~1 there, the train-mode backward through 33 blocks on
    2 x 5 x 5 BN batches is ill-conditioned: perturbing the weights by 1e-7 (relative, float64)
    moves the stem's gradient by ~1e-3 of its largest element and PyTorch's f32 run lands 7e-3
    away; at 0.1 the perturbation moves it by ~3e-5. (What remains is image()'s problem.)"""
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return torch.tensor(3, dtype=torch.int64)
    u = unit(key, int(np.prod(shape, dtype=np.int64))).reshape(shape)
    if len(shape) == 4:
        v = u * np.sqrt(3.0 / (shape[1] * shape[2] * shape[3]))
    elif is_bn and key.endswith(".bn3.weight"):
        v = 0.1 + 0.01 * u  # the last BN of a residual branch, see the docstring
    elif is_bn:
        v = {"weight": 1 + 0.1 * u, "bias": 0.1 * u, "running_mean": 0.1 * u,
             "running_var": 1 + 0.25 * u}[leaf]
    else:
        v = 0.1 * u
    return torch.from_numpy(v.astype(np.float32))


def fill_state(model):
    """fill_value for every state_dict entry; BN = a module that has a running_mean."""
    keys = model.state_dict()
    out = {}
    for k, v in keys.items():
        bn = k.rsplit(".", 1)[0] + ".running_mean" in keys
        out[k] = fill_value(k, tuple(v.shape), bn)
    return out


def key_lines(model):
    return text([f"{k}:{','.join(str(d) for d in v.shape)}" for k, v in model.state_dict().items()])


# ---------------------------------------------------------------- counting


def conv_flops(model, h, w):
    """2 x MACs of every Conv2d in one eval forward of a (1, 3, h, w) input (nn/flops.h's rule)."""
    total = [0]

    def hook(m, inputs, out):
        kh, kw = m.kernel_size
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, h, w))
    for handle in handles:
        handle.remove()
    return total[0]


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- dumps

X = (2, 33, 33, 3)  # NHWC; layer1 9 x 9, layers 2-4 5 x 5 (ceil-mode pool)
CLASSES = 21
SOME_GRADIENTS = ["encoder.conv1.0.weight", "encoder.layer3.11.bn2.weight",
                  "encoder.layer3.11.bn2.bias", "decoder.classifier.8.weight",
                  "decoder.classifier.8.bias", "auxor.aux.4.weight",
                  "decoder.representation.8.bias"]
REP_WEIGHT = 0.1  # a term on the representation, so the representation head gets gradients too


def image():
    """The input: pattern(X, 21) with the second image at half contrast and brighter. Two images
    of the same statistics give nearly equal global-pooled features, and the ASPP image-pool
    branch's train-mode BN (over N = 2 values per channel) would divide by their tiny spread.
    Some of its 256 channels still have a small spread (|a - b| ~ 1e-3 < 2 sqrt(eps)): their
    gradients are ~1/sqrt(eps) sensitive, so f32 runs land 2e-5 to 2e-2 from the float64
    gradients of the encoder depending on summation order (tests/nn/segmenter_test.cpp)."""
    x = pattern_nchw(X, 21)
    x[1] = x[1] * 0.5 + 0.4
    return x


def up(t, size):
    return F.interpolate(t, size=size, mode="bilinear", align_corners=True)


def train_step(model, x, label):
    """Train-mode forward and backward; returns (outputs, loss)."""
    model.train()
    res = model(x)
    size = (X[1], X[2])
    loss = (F.cross_entropy(up(res["pred"], size), label, ignore_index=255)
            + 0.4 * F.cross_entropy(up(res["aux"], size), label, ignore_index=255)
            + REP_WEIGHT * (res["rep"] ** 2).mean())
    loss.backward()
    return res, loss


def dump_full_v3plus(out, compare_f32):
    """Eval outputs on image(); one train-mode backward of
    CE(up(logits)) + 0.4 CE(up(aux)) + REP_WEIGHT mean(rep^2), in float64. With compare_f32,
    prints how far PyTorch's own float32 run lands from it (the scale of the tolerances)."""
    model = ModelBuilder(CLASSES, dropout=0.0)
    out["v3.keys"] = key_lines(model)
    state = fill_state(model)
    model.load_state_dict(state, strict=True)
    model.double()
    x = image().double()
    model.eval()
    with torch.no_grad():
        res = model(x)
    out["v3.eval.logits"] = nhwc(res["pred"])
    out["v3.eval.aux"] = nhwc(res["aux"])
    out["v3.eval.rep_c32"] = nhwc(res["rep"][:, :32])
    out["v3.eval.rep_norm"] = res["rep"].norm(dim=1)

    gen = torch.Generator().manual_seed(4)
    label = torch.randint(0, CLASSES, (X[0], X[1], X[2]), generator=gen)
    label[torch.rand(label.shape, generator=gen) < 0.1] = 255
    out["v3.train.label"] = label.to(torch.uint8)
    res, loss = train_step(model, x, label)
    out["v3.train.logits"] = nhwc(res["pred"].detach())
    out["v3.train.loss"] = loss.detach()
    params = dict(model.named_parameters())
    norms = torch.stack([p.grad.norm() for p in params.values()])
    out["v3.train.grad_norms"] = norms
    out["v3.train.buffer_norms"] = torch.stack(
        [b.double().norm() for _, b in model.named_buffers()])
    for k in SOME_GRADIENTS:
        out["v3.g." + k] = params[k].grad
    print(f"train loss {loss.item():.6f}; {len(params)} parameters; largest gradient norm "
          f"{norms.max().item():.3f}")
    if compare_f32:
        m32 = ModelBuilder(CLASSES, dropout=0.0)
        m32.load_state_dict(state, strict=True)
        r32, l32 = train_step(m32, x.float(), label)
        worst = max((abs(p.grad.norm().item() - n.item()) / (n.item() + 1e-5 * norms.max().item()),
                     name) for (name, p), n in zip(m32.named_parameters(), norms))
        err = (r32["pred"].double() - res["pred"]).abs().max() / res["pred"].abs().max()
        print(f"PyTorch f32 vs f64: train logits {err.item():.2e} of the largest, loss "
              f"{abs(l32.item() - loss.item()):.2e}, gradient norms {worst[0]:.2e} relative "
              f"({worst[1]})")


def dump_reduced_v2(out):
    """build_segmenter's DeepLab-v2 (variant A, blocks 1 1 2 1, width 1/16, 5 classes) on
    pattern(X, 22), eval mode."""
    model = DeepLabV2(5, blocks=(1, 1, 2, 1), width=1 / 16, mode="frozen")
    out["v2.keys"] = key_lines(model)
    model.load_state_dict(fill_state(model), strict=True)
    model.double().eval()
    with torch.no_grad():
        out["v2.eval.logits"] = nhwc(model(pattern_nchw(X, 22).double()))


def put_count(out, key, value):
    """Stores an int64 as two int32s (the files hold int32): key.hi = value // 10^6, key.lo."""
    out[key + ".hi"] = np.array(value // 1_000_000, dtype=np.int64)
    out[key + ".lo"] = np.array(value % 1_000_000, dtype=np.int64)


def dump_counts(out):
    """FLOPs of reduced networks at 65 x 49 (checked in the test), and parameters and FLOPs of the
    full ones at 513 and 321 (the README's figures; a disabled test checks the FLOPs)."""
    reduced = {
        "v3_reduced": ModelBuilder(CLASSES, blocks=(1, 1, 2, 2), width=1 / 16, inner_planes=16,
                                   rep_planes=32),
        "v2_reduced": DeepLabV2(5, blocks=(1, 1, 2, 1), width=1 / 16),
    }
    for name, m in reduced.items():
        put_count(out, f"flops.{name}_65x49", conv_flops(m, 65, 49))
    full = {"v3plus_r101": ModelBuilder(CLASSES), "v2_r101": DeepLabV2(CLASSES)}
    for name, m in full.items():
        put_count(out, f"count.{name}", parameter_count(m))
        for s in (513, 321):
            f = conv_flops(m, s, s)
            put_count(out, f"flops.{name}_{s}", f)
            print(f"{name} {s}x{s}: {parameter_count(m)} parameters, {f} FLOPs ({f / 1e9:.1f} G)")


def main():
    torch.manual_seed(0)
    out = {}
    dump_full_v3plus(out, "--compare-f32" in sys.argv)
    dump_reduced_v2(out)
    dump_counts(out)
    pgref.save("segmenter.safetensors", out)


if __name__ == "__main__":
    main()
