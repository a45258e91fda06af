"""Reference dump for the indexing ops (tests/autograd/index_test.cpp): one_hot, index_select,
scatter_add (repeated indices), segment_softmax / segment_sum over CSR segments with an empty one,
and a tiny GAT attention layer built from them. Forward outputs and gradients of sum(out * w).

Run: /usr/bin/python3 tools/dump_index.py  ->  tests/data/index.safetensors
"""
import numpy as np
import torch

import pgref

torch.manual_seed(0)


def leaf(*shape):
    """A float64 leaf holding float32 values: the C++ test sees exactly these inputs."""
    return torch.randn(*shape).double().requires_grad_(True)


def probe(out, w):
    """Backpropagates sum(out * w), the probe the C++ test uses too."""
    (out * w).sum().backward()


def segments(row_ptr):
    return [(int(row_ptr[v]), int(row_ptr[v + 1])) for v in range(len(row_ptr) - 1)]


def segment_softmax(x, row_ptr):
    """Softmax over each segment's entries, per column (torch has no CSR softmax: a loop)."""
    parts = [torch.softmax(x[b:e], dim=0) for b, e in segments(row_ptr) if e > b]
    return torch.cat(parts, dim=0)


def segment_sum(x, row_ptr):
    rows = [x[b:e].sum(dim=0) for b, e in segments(row_ptr)]
    return torch.stack(rows, dim=0)


out = {}

# one_hot: (2, 3, 4) labels in [0, 5) with some ignore (255) pixels; u8 and i32 give the same.
labels = torch.randint(0, 5, (2, 3, 4))
labels[0, 1, 2] = 255
labels[1, 0, 0] = 255
valid = labels != 255
oh = torch.nn.functional.one_hot(torch.where(valid, labels, torch.zeros_like(labels)), 5)
out["one_hot.labels"] = labels
out["one_hot.out"] = (oh * valid.unsqueeze(-1)).float()

# index_select: x (5, 3, 2) rows picked by a repeating index (7,); row 3 never picked.
x = leaf(5, 3, 2)
index = torch.tensor([4, 0, 2, 0, 1, 4, 4])
y = torch.index_select(x, 0, index)
w = torch.randn(y.shape).double()
probe(y, w)
out.update({"index_select.x": x, "index_select.index": index, "index_select.out": y,
            "index_select.w": w, "index_select.dx": x.grad})

# scatter_add: src (6, 4) into 5 rows, rows 1 and 3 hit twice, row 2 never.
src = leaf(6, 4)
index = torch.tensor([1, 3, 0, 1, 4, 3])
y = torch.zeros(5, 4, dtype=torch.float64).index_add(0, index, src)
w = torch.randn(y.shape).double()
probe(y, w)
out.update({"scatter_add.src": src, "scatter_add.index": index, "scatter_add.out": y,
            "scatter_add.w": w, "scatter_add.dsrc": src.grad})

# CSR segments: 5 segments of sizes 3, 0, 1, 4, 2 (E = 10), 3 columns; segment 1 is empty.
row_ptr = torch.tensor([0, 3, 3, 4, 8, 10])
x = leaf(10, 3)
y = segment_softmax(x, row_ptr)
w = torch.randn(y.shape).double()
probe(y, w)
out.update({"segment.row_ptr": row_ptr, "segment_softmax.x": x, "segment_softmax.out": y,
            "segment_softmax.w": w, "segment_softmax.dx": x.grad})
x = leaf(10, 2, 3)
y = segment_sum(x, row_ptr)
w = torch.randn(y.shape).double()
probe(y, w)
out.update({"segment_sum.x": x, "segment_sum.out": y, "segment_sum.w": w, "segment_sum.dx": x.grad})

# GAT attention (Velickovic et al.) on 5 nodes, heads K = 2 of F = 3 features, from projected
# features z (V, K, F): e_ij = LeakyReLU_0.2(a_dst . z_i + a_src . z_j) over the in-edges j -> i
# of i (self loops included), alpha = softmax over j, h'_i = sum_j alpha_ij z_j. Node 4 has only
# its self loop; edges are sorted by destination (CSR).
edges = [(0, 0), (1, 0), (3, 0), (1, 1), (2, 1), (2, 2), (0, 2), (1, 2), (3, 2), (3, 3), (4, 4)]
src_idx = torch.tensor([s for s, d in edges])
dst_idx = torch.tensor([d for s, d in edges])
gat_ptr = torch.tensor(np.searchsorted(dst_idx.numpy(), np.arange(6)))
z = leaf(5, 2, 3)
a_src, a_dst = leaf(2, 3), leaf(2, 3)
z_src, z_dst = z[src_idx], z[dst_idx]  # (E, K, F)
score = (z_src * a_src).sum(-1) + (z_dst * a_dst).sum(-1)  # (E, K)
alpha = segment_softmax(torch.nn.functional.leaky_relu(score, 0.2), gat_ptr)
h = segment_sum(z_src * alpha.unsqueeze(-1), gat_ptr)  # (V, K, F)
w = torch.randn(h.shape).double()
probe(h, w)
out.update({"gat.src": src_idx, "gat.dst": dst_idx, "gat.row_ptr": gat_ptr, "gat.z": z,
            "gat.a_src": a_src, "gat.a_dst": a_dst, "gat.alpha": alpha, "gat.out": h, "gat.w": w,
            "gat.dz": z.grad, "gat.da_src": a_src.grad, "gat.da_dst": a_dst.grad})

pgref.save("index.safetensors", out)
