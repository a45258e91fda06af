"""Reference dump for the optimizers (tests/nn/optim_test.cpp): five steps of torch.optim.SGD
(plain, momentum, weight decay, nesterov), Adam and AdamW on a small quadratic problem with two
parameter groups (the second at lr x10), a poly learning rate set before every step, and a
parameter that never gets a gradient. Parameters after every step and the final optimizer state.

Problem: loss = sum_i sum(p_i * c_i) + 0.5 * sum(p_i * p_i * d_i) for p0 (3, 4) and p1 (5,), so
grad p_i = c_i + d_i * p_i; p2 (2,) is not in the loss (its .grad stays None: skipped).
Groups: [p0, p2] at the base lr, [p1] at 10x the base lr (and weight decay 0 where "wd1" is set).

Run: /usr/bin/python3 tools/dump_optim.py  ->  tests/data/optim.safetensors
"""
import torch

import pgref

torch.manual_seed(0)

INIT = {"p0": torch.rand(3, 4) * 2 - 1, "p1": torch.rand(5) * 2 - 1, "p2": torch.rand(2) * 2 - 1}
C = {"p0": torch.rand(3, 4) * 2 - 1, "p1": torch.rand(5) * 2 - 1}
D = {"p0": torch.rand(3, 4) + 0.5, "p1": torch.rand(5) + 0.5}
STEPS, MAX_ITER, POWER, LR_MULT = 5, 10, 0.9, 10.0

# name -> (optimizer class, base lr, keyword arguments, weight decay of group 1 or None for default)
CASES = {
    "sgd_plain": (torch.optim.SGD, 0.05, {}, None),
    "sgd_momentum": (torch.optim.SGD, 0.05, {"momentum": 0.9}, None),
    "sgd_wd": (torch.optim.SGD, 0.05, {"momentum": 0.9, "weight_decay": 0.05}, 0.0),
    "sgd_nesterov": (torch.optim.SGD, 0.05,
                     {"momentum": 0.9, "weight_decay": 0.05, "nesterov": True}, None),
    "adam": (torch.optim.Adam, 0.01, {"betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.01}, None),
    "adamw": (torch.optim.AdamW, 0.01, {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1}, 0.0),
}


def poly(base_lr, it):
    """U2PL / AdvSemiSeg / RIPU: base_lr * (1 - iter / max_iter) ** power."""
    return base_lr * (1 - it / MAX_ITER) ** POWER


def loss_of(p):
    return sum((p[k] * C[k]).sum() + 0.5 * (p[k] * p[k] * D[k]).sum() for k in ("p0", "p1"))


def run_case(name, cls, base_lr, kwargs, wd1, out):
    p = {k: v.clone().requires_grad_(True) for k, v in INIT.items()}
    group1 = {"params": [p["p1"]], "lr": base_lr * LR_MULT}
    if wd1 is not None:
        group1["weight_decay"] = wd1
    opt = cls([{"params": [p["p0"], p["p2"]]}, group1], lr=base_lr, foreach=False, **kwargs)
    for step in range(STEPS):
        lr = poly(base_lr, step)
        opt.param_groups[0]["lr"] = lr
        opt.param_groups[1]["lr"] = lr * LR_MULT
        opt.zero_grad(set_to_none=True)
        loss_of(p).backward()
        opt.step()
        for k in ("p0", "p1", "p2"):
            out[f"{name}.step{step + 1}.{k}"] = p[k].detach().clone()
    assert p["p2"].grad is None and len(opt.state[p["p2"]]) == 0
    for key, value in opt.state[p["p0"]].items():
        if key != "step" and value is not None:
            out[f"{name}.final.p0.{key}"] = value.clone()


out = {f"init.{k}": v for k, v in INIT.items()}
out.update({f"c.{k}": v for k, v in C.items()})
out.update({f"d.{k}": v for k, v in D.items()})
for name, (cls, base_lr, kwargs, wd1) in CASES.items():
    run_case(name, cls, base_lr, kwargs, wd1, out)
# Poly schedule values: base 0.01 over 7 iterations, iterations 0..7, power 0.9.
out["poly.values"] = torch.tensor([0.01 * (1 - it / 7) ** 0.9 for it in range(8)], dtype=torch.float64)
pgref.save("optim.safetensors", out)
