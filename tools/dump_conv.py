"""PyTorch reference for conv2d, matmul and linear: writes tests/data/conv.safetensors, read by
tests/autograd/conv_test.cpp and tests/autograd/linear_test.cpp.

For each conv config below: x (NHWC), w (KRSC), b (if any), y = conv2d(x, w, b) (NHWC), and for a
fixed random dy: dx, dw, db. Keys are "<config>.<tensor>"; the C++ test repeats the config table.
Run with Debian's torch: /usr/bin/python3 tools/dump_conv.py
"""
import torch
import torch.nn.functional as F

import pgref

# name: (N, C, H, W, K, R, S, stride, padding, dilation, groups, bias)
CONFIGS = {
    "basic": (2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1, True),
    "stride2_odd": (2, 3, 7, 9, 5, 3, 3, 2, 1, 1, 1, False),
    "dilation2": (1, 2, 8, 7, 3, 3, 3, 1, 2, 2, 1, True),
    "dilation12": (1, 2, 15, 15, 3, 3, 3, 1, 12, 12, 1, True),
    "groups2": (2, 4, 6, 5, 6, 3, 3, 1, 1, 1, 2, True),
    "depthwise": (2, 5, 9, 8, 5, 3, 3, 2, 1, 1, 5, True),
    "pointwise": (2, 6, 4, 5, 3, 1, 1, 1, 0, 1, 1, True),
    "pointwise_stride2": (1, 6, 7, 7, 4, 1, 1, 2, 0, 1, 1, False),
    "stem7x7": (1, 3, 11, 13, 4, 7, 7, 2, 3, 1, 1, False),
    "disc4x4": (2, 3, 6, 6, 4, 4, 4, 2, 1, 1, 1, True),
    "rect2x3": (1, 3, 5, 6, 2, 2, 3, 1, 0, 1, 1, True),
}


def main():
    torch.manual_seed(0)
    out = {}
    for name, (n, c, h, w, k, r, s, stride, padding, dilation, groups, bias) in CONFIGS.items():
        x = torch.randn(n, c, h, w, requires_grad=True)
        wt = (torch.randn(k, c // groups, r, s) * 0.5).requires_grad_()
        b = torch.randn(k, requires_grad=True) if bias else None
        y = F.conv2d(x, wt, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        dy = torch.randn_like(y)
        y.backward(dy)
        out[f"{name}.x"] = pgref.nhwc(x)
        out[f"{name}.w"] = pgref.krsc(wt)
        out[f"{name}.y"] = pgref.nhwc(y)
        out[f"{name}.dy"] = pgref.nhwc(dy)
        out[f"{name}.dx"] = pgref.nhwc(x.grad)
        out[f"{name}.dw"] = pgref.krsc(wt.grad)
        if bias:
            out[f"{name}.b"] = b
            out[f"{name}.db"] = b.grad
    dump_matmul_linear(out)
    pgref.save("conv.safetensors", out)


def dump_matmul_linear(out):
    """matmul in its three forms and linear on a 3-D input: inputs, output, dy and the gradients."""
    cases = {
        "mm": ((3, 4), (4, 5)),
        "bmm": ((2, 3, 4), (2, 4, 5)),
        "bmm_shared": ((2, 3, 4), (4, 5)),
    }
    for name, (sa, sb) in cases.items():
        a = torch.randn(*sa, requires_grad=True)
        b = torch.randn(*sb, requires_grad=True)
        c = torch.matmul(a, b)
        dc = torch.randn_like(c)
        c.backward(dc)
        out.update({f"{name}.a": a, f"{name}.b": b, f"{name}.c": c, f"{name}.dc": dc,
                    f"{name}.da": a.grad, f"{name}.db": b.grad})
    x = torch.randn(2, 3, 5, requires_grad=True)
    w = torch.randn(4, 5, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    y = F.linear(x, w, b)
    dy = torch.randn_like(y)
    y.backward(dy)
    out.update({"linear.x": x, "linear.w": w, "linear.b": b, "linear.y": y, "linear.dy": dy,
                "linear.dx": x.grad, "linear.dw": w.grad, "linear.db": b.grad})


if __name__ == "__main__":
    main()
