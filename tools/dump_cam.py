"""Reference dump for the CAM classifier head (tests/nn/cam_test.cpp): backbone features ->
global average pooling -> bias-free 1x1 conv `classifier` -> logits; multi-label BCE on tags and
its gradients (classifier weight and features); the class activation maps, ReLU(1x1 conv) resized
bilinearly (align_corners False and True), divided by their per-image, per-class max + 1e-5, and
zero for absent classes. Computed in float64 from float32 values; saved as float32, features NHWC.

Run: /usr/bin/python3 tools/dump_cam.py  ->  tests/data/cam.safetensors
"""
import torch
import torch.nn.functional as F

import pgref

torch.manual_seed(0)

N, H, W, CF, K = 2, 5, 4, 6, 4
OUT_H, OUT_W = 9, 7


class CamHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.classifier = torch.nn.Conv2d(CF, K, 1, bias=False)

    def forward(self, features):  # (N, C_f, H, W) -> (N, K)
        return self.classifier(F.adaptive_avg_pool2d(features, 1)).flatten(1)

    def cams(self, features, tags, size, align_corners):
        maps = F.relu(F.conv2d(features, self.classifier.weight))
        maps = F.interpolate(maps, size, mode="bilinear", align_corners=align_corners)
        maps = maps / (F.adaptive_max_pool2d(maps, 1) + 1e-5)
        return maps * tags[:, :, None, None]


head = CamHead()
features = torch.randn(N, CF, H, W)
tags = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]])
out = {"w.classifier.weight": head.state_dict()["classifier.weight"].clone(),
       "features": pgref.nhwc(features), "tags": tags}

head = head.double()
f64 = features.double().requires_grad_(True)
logits = head(f64)
loss = F.binary_cross_entropy_with_logits(logits, tags.double())
assert torch.allclose(loss, F.multilabel_soft_margin_loss(logits, tags.double()))
loss.backward()
out.update({"logits": logits, "loss": loss, "grad.classifier.weight": head.classifier.weight.grad,
            "grad.features": pgref.nhwc(f64.grad)})
with torch.no_grad():
    for name, align in (("cams", False), ("cams_align", True)):
        out[name] = pgref.nhwc(head.cams(f64, tags.double(), (OUT_H, OUT_W), align))

pgref.save("cam.safetensors", out)
