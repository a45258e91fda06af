"""PyTorch reference dump for batch normalisation and pooling (tests/autograd/{batch_norm,pool}_test.cpp).

Run: /usr/bin/python3 tools/dump_norm_pool.py  ->  tests/data/norm_pool.safetensors
Activations are stored NHWC. Batch norm: bn_<case>.{x, weight, bias, running_mean, running_var,
dy, y, dx, dweight, dbias, running_mean_after, running_var_after} and bn_<case>.config =
[training, momentum, eps]. Pooling: pool_<case>.{x, dy, y, dx} and pool_<case>.config =
[is_max, kernel, stride, padding, ceil_mode, count_include_pad].
"""
import numpy as np
import torch
import torch.nn.functional as F

from pgref import nchw, nhwc, save

torch.manual_seed(0)
out = {}


def bn_case(name, shape_nhwc, training, momentum=0.1, eps=1e-5):
    C = shape_nhwc[-1]
    # A mean far from 0 and channel-dependent spread exercise the variance computation.
    x = torch.randn(*shape_nhwc) * torch.linspace(0.5, 2.0, C) + torch.linspace(-3.0, 5.0, C)
    w = torch.rand(C) + 0.5
    b = torch.randn(C)
    rm = torch.randn(C) * 0.5
    rv = torch.rand(C) + 0.5
    dy = torch.randn(*shape_nhwc)
    xt, wt, bt = (t.clone().requires_grad_(True) for t in (x, w, b))
    rm_after, rv_after = rm.clone(), rv.clone()
    # PyTorch normalises over all dims but dim 1, so NHWC goes through NCHW (4-D) or stays (N, C).
    to_t = nchw if len(shape_nhwc) == 4 else (lambda t: t)
    from_t = nhwc if len(shape_nhwc) == 4 else (lambda t: t)
    y = F.batch_norm(to_t(xt), rm_after, rv_after, wt, bt, training=training, momentum=momentum,
                     eps=eps)
    y.backward(to_t(dy))
    p = "bn_" + name + "."
    out.update({p + "x": x, p + "weight": w, p + "bias": b, p + "running_mean": rm,
                p + "running_var": rv, p + "dy": dy, p + "y": from_t(y), p + "dx": xt.grad,
                p + "dweight": wt.grad, p + "dbias": bt.grad, p + "running_mean_after": rm_after,
                p + "running_var_after": rv_after,
                p + "config": np.array([float(training), momentum, eps], dtype=np.float32)})


def pool_case(name, shape_nhwc, is_max, kernel, stride, padding, ceil_mode, count_include_pad=True):
    # Distinct values (a random permutation) so max pooling has no ties.
    n = int(np.prod(shape_nhwc))
    x = (torch.randperm(n).float() / n * 4.0 - 2.0).reshape(shape_nhwc)
    xt = nchw(x).requires_grad_(True)
    if is_max:
        y = F.max_pool2d(xt, kernel, stride, padding, ceil_mode=ceil_mode)
    else:
        y = F.avg_pool2d(xt, kernel, stride, padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)
    dy = torch.randn(y.shape)
    y.backward(dy)
    p = "pool_" + name + "."
    out.update({p + "x": x, p + "dy": nhwc(dy), p + "y": nhwc(y), p + "dx": nhwc(xt.grad),
                p + "config": np.array([is_max, kernel, stride, padding, ceil_mode,
                                        count_include_pad], dtype=np.int32)})


bn_case("train", (2, 5, 4, 3), True)
bn_case("eval", (2, 5, 4, 3), False)
bn_case("train_nc", (6, 4), True, momentum=0.3, eps=1e-3)
bn_case("eval_nc", (5, 4), False)

# Max pool 3x3 s2 p1 (the ResNet stem); 8 is even, so ceil_mode adds a row and a column
# whose window runs past the padded input.
pool_case("max_k3s2p1_floor", (2, 8, 9, 3), True, 3, 2, 1, False)
pool_case("max_k3s2p1_ceil", (2, 8, 9, 3), True, 3, 2, 1, True)
pool_case("max_k3s2p1_ceil_odd", (1, 9, 10, 2), True, 3, 2, 1, True)
pool_case("max_k3s2p1_ceil_65", (1, 65, 65, 1), True, 3, 2, 1, True)
# ceil_mode's "last window starts in the padding" correction: H = 5 drops an output row.
pool_case("max_k3s3p1_ceil_fix", (1, 5, 7, 2), True, 3, 3, 1, True)
pool_case("max_k2s2p1_ceil_fix", (1, 5, 6, 2), True, 2, 2, 1, True)
# Average pooling, both count modes, with and without ceil_mode.
pool_case("avg_k3s2p1_floor_incl", (2, 8, 9, 3), False, 3, 2, 1, False, True)
pool_case("avg_k3s2p1_ceil_incl", (2, 8, 9, 3), False, 3, 2, 1, True, True)
pool_case("avg_k3s2p1_ceil_excl", (2, 8, 9, 3), False, 3, 2, 1, True, False)
pool_case("avg_k3s2p0_ceil_incl", (1, 6, 8, 2), False, 3, 2, 0, True, True)
pool_case("avg_k3s2p0_ceil_excl", (1, 6, 8, 2), False, 3, 2, 0, True, False)
pool_case("avg_k2s2p1_ceil_fix_incl", (1, 5, 6, 2), False, 2, 2, 1, True, True)
pool_case("avg_k2s2p1_ceil_fix_excl", (1, 5, 6, 2), False, 2, 2, 1, True, False)

save("norm_pool.safetensors", out)
