"""Reference values for the softmax / sort / loss family (tests/data/softmax_loss.safetensors).

Run: /usr/bin/python3 tools/dump_softmax_loss.py
Covers softmax / log_softmax / entropy (values and grads), cross-entropy (class weights,
ignore_index 255, reductions mean / sum / none, logits grads), BCE with logits (large |x|, a valid
mask with the masked mean done by hand, logits and target grads), topk / sort (torch.topk) and
kthvalue / percentile (torch.kthvalue, numpy.percentile). Class axes are last (NHWC), as in pixelgrad.
"""
import numpy as np
import torch
import torch.nn.functional as F

from pgref import save

torch.manual_seed(0)
rng = np.random.default_rng(0)
out = {}


def leaf(t):
    return t.clone().float().requires_grad_(True)


# ---- softmax / log_softmax: (3, 2, 7) with one row of huge logits (stability) ----
x = torch.randn(3, 2, 7) * 3
x[1, 0] = torch.tensor([1000.0, 1001.0, 999.0, 1000.5, -1000.0, 1001.0, 0.0])
dy = torch.randn(3, 2, 7)
for name, fn in (("softmax", lambda t: F.softmax(t, -1)), ("log_softmax", lambda t: F.log_softmax(t, -1))):
    xl = leaf(x)
    y = fn(xl)
    (y * dy).sum().backward()
    out[f"{name}_y"], out[f"{name}_dx"] = y, xl.grad
out["softmax_x"], out["softmax_dy"] = x, dy

# ---- entropy: probabilities (4, 3, 21), one pixel one-hot (0 log 0), one uniform ----
p = F.softmax(torch.randn(4, 3, 21) * 2, -1)
p[0, 0] = F.one_hot(torch.tensor(4), 21).float()
p[2, 1] = 1.0 / 21
dh = torch.randn(4, 3)
pl = leaf(p)
h = -(pl * torch.log(pl + 1e-10)).sum(-1)
(h * dh).sum().backward()
out.update(entropy_p=p, entropy_dh=dh, entropy_h=h, entropy_dp=pl.grad)

# ---- cross-entropy: NHWC logits (2, 3, 4, 5), targets with ignore 255, class weights ----
logits = torch.randn(2, 3, 4, 5) * 2
target = torch.randint(0, 5, (2, 3, 4))
target[0, 1, 2] = 255
target[1, 0, :2] = 255
weight = torch.tensor([0.5, 1.0, 2.0, 0.25, 1.5])
dloss = torch.randn(2, 3, 4)
out.update(ce_logits=logits, ce_target=target.int(), ce_weight=weight, ce_dloss=dloss)
for weighted in (False, True):
    for reduction in ("mean", "sum", "none"):
        xl = leaf(logits)
        loss = F.cross_entropy(xl.reshape(-1, 5), target.reshape(-1), ignore_index=255,
                               weight=weight if weighted else None, reduction=reduction)
        loss = loss.reshape(2, 3, 4) if reduction == "none" else loss
        (loss * dloss).sum().backward() if reduction == "none" else loss.backward()
        key = f"ce_{'w_' if weighted else ''}{reduction}"
        out[key], out[key + "_dx"] = loss, xl.grad

# VOC-sized class axis: (1, 5, 6, 21) with larger logits, u8 targets, mean.
logits21 = torch.randn(1, 5, 6, 21) * 6
target21 = torch.randint(0, 21, (1, 5, 6))
target21[0, 0, :3] = 255
xl = leaf(logits21)
loss = F.cross_entropy(xl.reshape(-1, 21), target21.reshape(-1), ignore_index=255)
loss.backward()
out.update(ce21_logits=logits21, ce21_target=target21.to(torch.uint8), ce21_mean=loss,
           ce21_dx=xl.grad)

# ---- BCE with logits: (3, 4, 5) including |x| up to 100, soft targets, a valid mask ----
bx = torch.randn(3, 4, 5) * 4
bx[0, 0, :4] = torch.tensor([100.0, -100.0, 30.0, -30.0])
bt = torch.rand(3, 4, 5)
bt[1] = (bt[1] > 0.5).float()  # some hard 0/1 targets
valid = (torch.rand(3, 4, 5) > 0.3).to(torch.uint8)
bdl = torch.randn(3, 4, 5)
out.update(bce_x=bx, bce_t=bt, bce_valid=valid, bce_dloss=bdl)
for masked in (False, True):
    for reduction in ("mean", "sum", "none"):
        xl, tl = leaf(bx), leaf(bt)
        elem = F.binary_cross_entropy_with_logits(xl, tl, reduction="none")
        m = valid.float() if masked else torch.ones_like(bx)
        elem = elem * m
        if reduction == "mean":
            loss = elem.sum() / m.sum()  # the masked mean, by hand
        elif reduction == "sum":
            loss = elem.sum()
        else:
            loss = elem
        (loss * bdl).sum().backward() if reduction == "none" else loss.backward()
        key = f"bce_{'m_' if masked else ''}{reduction}"
        out[key], out[key + "_dx"], out[key + "_dt"] = loss, xl.grad, tl.grad

# ---- topk / sort over a class axis (6, 21), distinct values (indices comparable) ----
tx = torch.randperm(6 * 21).float().reshape(6, 21) / 7.0 - 9.0
tx = tx[:, torch.randperm(21)]
tdv = torch.randn(6, 5)
out["topk_x"], out["topk_dv"] = tx, tdv
for largest in (True, False):
    xl = leaf(tx)
    v, i = torch.topk(xl, 5, dim=-1, largest=largest, sorted=True)
    (v * tdv).sum().backward()
    key = "topk_largest" if largest else "topk_smallest"
    out[key + "_values"], out[key + "_indices"], out[key + "_dx"] = v, i, xl.grad
sv, si = torch.sort(tx, dim=-1)
out["sort_values"], out["sort_indices"] = sv, si

# ---- order statistics: kthvalue and percentile (odd / even sizes, duplicates) ----
qs = np.array([0.0, 1.0, 10.0, 25.0, 33.3, 50.0, 80.0, 99.9, 100.0])
out["pct_q"] = qs.astype(np.float32)
sizes = {"n1": 1, "n2": 2, "n7": 7, "n10": 10, "n1000": 1000}
for key, n in sizes.items():
    v = rng.standard_normal(n).astype(np.float32)
    if n == 1000:
        v = np.round(v * 4) / 4  # many duplicates
    out[f"pct_{key}_x"] = v
    # NumPy's linear method on the exact float32 values (computed in float64).
    out[f"pct_{key}_out"] = np.percentile(v.astype(np.float64), qs)
kx = torch.randn(3, 5, 7)
ks = torch.tensor([1, 2, 50, 104, 105])
out["kth_x"], out["kth_k"] = kx, ks.int()
out["kth_out"] = torch.stack([torch.kthvalue(kx.flatten(), int(k)).values for k in ks])

save("softmax_loss.safetensors", out)
