"""Reference dump for the resize ops: tests/data/resize.safetensors, read by resize_test.cpp.

Bilinear (F.interpolate(mode='bilinear'), both align_corners modes): forward output and input
gradient for a fixed output gradient dy; up- and down-sampling, sizes of 1, the DeepLab 33 -> 129
ratio. Nearest (mode='nearest') on an integer label map (computed on its float version) and on f32
features. All tensors NHWC. Run: /usr/bin/python3 tools/dump_resize.py
"""
import torch
import torch.nn.functional as F

from pgref import nchw, nhwc, save

# name: (input NHWC shape, output (h, w)). Keep them small: the file stays well under 200 KB.
BILINEAR_CASES = {
    "up": ((2, 5, 7, 3), (17, 13)),          # odd sizes, non-integer ratios
    "deeplab": ((1, 33, 5, 2), (129, 9)),    # 33 -> 129 along H (DeepLab logits to the crop)
    "from1": ((1, 1, 1, 3), (4, 4)),         # a single pixel broadcast
    "from1x3": ((2, 1, 3, 2), (4, 5)),       # height 1 up, width 3 up
    "down": ((2, 13, 11, 3), (4, 6)),        # downsampling
    "to1": ((1, 13, 11, 2), (1, 1)),         # down to a single pixel
    "same": ((1, 5, 7, 2), (5, 7)),          # identity size
    "mixed": ((1, 6, 4, 2), (3, 9)),         # down in H, up in W
}


def bilinear_case(name, shape, size, align_corners, gen, out):
    x = torch.rand(shape, generator=gen) * 2 - 1                 # NHWC
    x_nchw = nchw(x).requires_grad_(True)
    y = F.interpolate(x_nchw, size=size, mode="bilinear", align_corners=align_corners)
    dy = torch.rand(y.shape, generator=gen) * 2 - 1              # NCHW
    (dx,) = torch.autograd.grad(y, x_nchw, dy)
    key = f"bilinear_{name}_{'ac' if align_corners else 'hp'}"
    out[key + "_x"] = x
    out[key + "_y"] = nhwc(y)
    out[key + "_dy"] = nhwc(dy)
    out[key + "_dx"] = nhwc(dx)


def nearest_cases(gen, out):
    # Label map (N, H, W) with classes 0..20 and the ignore label 255.
    labels = torch.randint(0, 21, (2, 11, 13), generator=gen)
    labels[torch.rand(labels.shape, generator=gen) < 0.1] = 255
    out["nearest_labels"] = labels.to(torch.int32)
    for name, size in {"up": (29, 31), "down": (4, 5), "odd": (7, 20)}.items():
        y = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0]
        out[f"nearest_labels_{name}"] = y.round().to(torch.int32)
    # f32 features with channels, NHWC.
    x = torch.rand((1, 5, 6, 3), generator=gen)
    out["nearest_feat_x"] = x
    out["nearest_feat_y"] = nhwc(F.interpolate(nchw(x), size=(7, 4), mode="nearest"))


def main():
    gen = torch.Generator().manual_seed(20240611)
    out = {}
    for name, (shape, size) in BILINEAR_CASES.items():
        for align_corners in (True, False):
            bilinear_case(name, shape, size, align_corners, gen, out)
    nearest_cases(gen, out)
    save("resize.safetensors", out)


if __name__ == "__main__":
    main()
