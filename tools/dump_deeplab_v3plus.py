"""Reference dump for U2PL's DeepLabV3+ head: tests/data/deeplab_v3plus.safetensors, read by
tests/nn/deeplab_v3plus_test.cpp.

Our own PyTorch definitions of U2PL's ASPP, dec_deeplabv3_plus and Aux_Module (u2pl/models/base.py,
decoder.py), with the 256-channel literals made into arguments so a tiny configuration runs in
milliseconds. They are wrapped like U2PL's ModelBuilder (children `decoder`, `auxor`; the encoder is
left out), so the keys are exactly U2PL's checkpoint keys without `encoder.*`.

Dumped: the weights ("w.<state_dict key>", PyTorch layouts), the features (NHWC), eval-mode outputs;
in train mode with dropout p = 0: the loss, every parameter's gradient ("g.<key>"), the buffers
after the forward ("b.<key>") and the parameters after one SGD step ("s.<key>"); the parameter
counts of the full-size head. Run: /usr/bin/python3 tools/dump_deeplab_v3plus.py
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from pgref import nhwc, save

# ---- the modules (U2PL names and order) ----


def conv_bn_relu(cin, cout, k, dilation=1):
    pad = dilation if k == 3 else 0
    return [nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ASPP(nn.Module):
    def __init__(self, in_planes, inner_planes, dilations):
        super().__init__()
        self.conv1 = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), *conv_bn_relu(in_planes, inner_planes, 1))
        self.conv2 = nn.Sequential(*conv_bn_relu(in_planes, inner_planes, 1))
        self.conv3 = nn.Sequential(*conv_bn_relu(in_planes, inner_planes, 3, dilations[0]))
        self.conv4 = nn.Sequential(*conv_bn_relu(in_planes, inner_planes, 3, dilations[1]))
        self.conv5 = nn.Sequential(*conv_bn_relu(in_planes, inner_planes, 3, dilations[2]))
        self.out_planes = 5 * inner_planes

    def forward(self, x):
        h, w = x.shape[-2:]
        feat1 = F.interpolate(self.conv1(x), size=(h, w), mode="bilinear", align_corners=True)
        return torch.cat((feat1, self.conv2(x), self.conv3(x), self.conv4(x), self.conv5(x)), 1)


def classifier_like(cin, hidden, cout, p):
    return nn.Sequential(
        nn.Conv2d(cin, hidden, 3, padding=1, bias=True), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
        nn.Dropout2d(p),
        nn.Conv2d(hidden, hidden, 3, padding=1, bias=True), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
        nn.Dropout2d(p),
        nn.Conv2d(hidden, cout, 1, bias=True))


class DecDeepLabV3Plus(nn.Module):
    # U2PL literals: low_in 256, low 256, head 256, rep 256.
    def __init__(self, in_planes, num_classes, low_in=256, low=256, inner=256, head=256, rep=256,
                 dilations=(12, 24, 36), rep_head=True, p=0.1):
        super().__init__()
        self.rep_head = rep_head
        self.low_conv = nn.Sequential(nn.Conv2d(low_in, low, 1), nn.BatchNorm2d(low), nn.ReLU(inplace=True))
        self.aspp = ASPP(in_planes, inner, dilations)
        self.head = nn.Sequential(*conv_bn_relu(self.aspp.out_planes, head, 3), nn.Dropout2d(p))
        self.classifier = classifier_like(low + head, head, num_classes, p)
        if rep_head:
            self.representation = classifier_like(low + head, head, rep, p)

    def forward(self, x1, x4):
        aspp_out = self.head(self.aspp(x4))
        low_feat = self.low_conv(x1)
        aspp_out = F.interpolate(aspp_out, size=low_feat.shape[-2:], mode="bilinear", align_corners=True)
        feat = torch.cat((low_feat, aspp_out), 1)
        res = {"pred": self.classifier(feat)}
        if self.rep_head:
            res["rep"] = self.representation(feat)
        return res


class AuxModule(nn.Module):
    def __init__(self, in_planes, num_classes, hidden=256, p=0.1):
        super().__init__()
        self.aux = nn.Sequential(
            nn.Conv2d(in_planes, hidden, 3, padding=1), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            nn.Dropout2d(p), nn.Conv2d(hidden, num_classes, 1, bias=True))

    def forward(self, x):
        return self.aux(x)


class Heads(nn.Module):
    """ModelBuilder without its encoder: decoder + auxor."""

    def __init__(self, dec, aux):
        super().__init__()
        self.decoder = dec
        self.auxor = aux


# ---- the tiny configuration (every width different, so a swapped concat or width shows) ----
CLASSES, IN, LOW_IN, LOW, INNER, HEAD, REP, AUX_IN, AUX_HIDDEN = 4, 12, 8, 6, 4, 8, 5, 10, 6
DILATIONS = (2, 3, 5)
N, LOW_HW, HIGH_HW, CROP = 2, 17, 9, 65


def tiny(p, dilations=DILATIONS):
    dec = DecDeepLabV3Plus(IN, CLASSES, LOW_IN, LOW, INNER, HEAD, REP, dilations, True, p)
    return Heads(dec, AuxModule(AUX_IN, CLASSES, AUX_HIDDEN, p))


def randomise(model, gen):
    """Default conv init is kept (PyTorch's); BN gets non-trivial affine and running stats."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
                m.running_mean.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(7)


def main():
    gen = torch.Generator().manual_seed(20240614)
    torch.manual_seed(4)
    model = tiny(p=0.0)
    randomise(model, gen)
    # PyTorch layouts: the test loads them with load_state_dict, which converts.
    out = {f"w.{k}": v.clone() for k, v in model.state_dict().items()}
    for k, _ in model.named_parameters():  # the order the test's kTorchParameterOrder lists
        print(f'    "{k}",')

    x1 = torch.randn(N, LOW_IN, LOW_HW, LOW_HW, generator=gen)
    x4 = torch.randn(N, IN, HIGH_HW, HIGH_HW, generator=gen)
    x3 = torch.randn(N, AUX_IN, HIGH_HW, HIGH_HW, generator=gen)
    labels = torch.randint(0, CLASSES, (N, CROP, CROP), generator=gen)
    labels[torch.rand(labels.shape, generator=gen) < 0.1] = 255
    out.update({"x1": nhwc(x1), "x4": nhwc(x4), "x3": nhwc(x3), "labels": labels.to(torch.uint8)})

    # eval: logits, rep, aux; and the same weights with U2PL's dilations (12, 24, 36)
    model.eval()
    with torch.no_grad():
        res = model.decoder(x1, x4)
        out["eval_logits"], out["eval_rep"] = nhwc(res["pred"]), nhwc(res["rep"])
        out["eval_aux"] = nhwc(model.auxor(x3))
        wide = tiny(p=0.0, dilations=(12, 24, 36))
        wide.load_state_dict(model.state_dict())
        wide.eval()
        out["eval_logits_d12"] = nhwc(wide.decoder(x1, x4)["pred"])

    # train (dropout p = 0): CE on the upsampled logits + 0.4 aux CE + a term on the representation
    model.train()
    res = model.decoder(x1, x4)
    aux = model.auxor(x3)
    up = lambda t: F.interpolate(t, size=(CROP, CROP), mode="bilinear", align_corners=True)
    loss = (F.cross_entropy(up(res["pred"]), labels, ignore_index=255)
            + 0.4 * F.cross_entropy(up(aux), labels, ignore_index=255)
            + 0.05 * (res["rep"] ** 2).mean())
    loss.backward()
    out["train_loss"] = loss.detach()
    out["train_logits"], out["train_rep"] = nhwc(res["pred"]), nhwc(res["rep"])
    for k, v in model.named_parameters():
        out[f"g.{k}"] = v.grad.clone()
    for k, v in model.named_buffers():
        out[f"b.{k}"] = v.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    opt.step()
    for k, v in model.named_parameters():
        out[f"s.{k}"] = v.detach().clone()

    # full size (U2PL VOC: 21 classes, rep head; Cityscapes aux on layer3's 1024 channels)
    full_dec = DecDeepLabV3Plus(2048, 21)
    full_aux = AuxModule(1024, 21)
    count = lambda m: sum(p.numel() for p in m.parameters())
    out["full_decoder_params"] = torch.tensor(count(full_dec), dtype=torch.int64)
    out["full_decoder_norep_params"] = torch.tensor(
        count(DecDeepLabV3Plus(2048, 21, rep_head=False)), dtype=torch.int64)
    out["full_aux_params"] = torch.tensor(count(full_aux), dtype=torch.int64)
    print("full decoder", count(full_dec), "aux", count(full_aux))
    save("deeplab_v3plus.safetensors", out)


if __name__ == "__main__":
    main()
