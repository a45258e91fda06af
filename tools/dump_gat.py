"""Reference dump for the 2-layer GAT (tests/nn/gat_test.cpp), written densely in plain PyTorch:
attention scores for every (i, j) pair, masked to the graph's edges (self-loops included), softmax
over j. Parameter names and shapes are PyTorch Geometric's GATConv (att_src, att_dst, bias,
lin.weight), so the C++ net loads the state_dict strictly. Dropout is 0 (masks cannot match across
frameworks). Two configurations: "a" (output layer one head) and "b" (two output heads averaged).
Computed in float64 from float32 values; saved as float32.

Run: /usr/bin/python3 tools/dump_gat.py  ->  tests/data/gat.safetensors
"""
import torch
import torch.nn.functional as F

import pgref

torch.manual_seed(0)

V, IN, HIDDEN, HEADS, CLASSES = 9, 5, 4, 2, 3
# Undirected edges (each used in both directions); node 8 has none: after self-loops it attends
# only to itself. Node 0 has many neighbours.
EDGES = [(0, 1), (0, 2), (0, 3), (0, 5), (1, 2), (2, 4), (3, 4), (4, 5), (5, 6), (6, 7), (7, 0),
         (3, 6)]
# Nodes with a label (CE), the others are 255 (ignored).
LABELS = [2, 255, 0, 255, 1, 1, 255, 0, 2]


class DenseGATConv(torch.nn.Module):
    """One GAT layer on a dense adjacency mask adj[i, j] = 1 for an edge j -> i."""

    def __init__(self, in_channels, out_channels, heads, concat):
        super().__init__()
        self.heads, self.out_channels, self.concat = heads, out_channels, concat
        self.att_src = torch.nn.Parameter(torch.randn(1, heads, out_channels) * 0.7)
        self.att_dst = torch.nn.Parameter(torch.randn(1, heads, out_channels) * 0.7)
        self.bias = torch.nn.Parameter(torch.randn(heads * out_channels if concat else out_channels)
                                       * 0.3)
        self.lin = torch.nn.Linear(in_channels, heads * out_channels, bias=False)
        torch.nn.init.uniform_(self.lin.weight, -0.7, 0.7)

    def forward(self, x, adj):
        H, C = self.heads, self.out_channels
        z = self.lin(x).view(-1, H, C)                        # (V, H, C)
        s_src = (z * self.att_src).sum(-1)                     # (V, H)
        s_dst = (z * self.att_dst).sum(-1)
        e = s_dst.t().unsqueeze(2) + s_src.t().unsqueeze(1)    # (H, i, j): a_dst.z_i + a_src.z_j
        e = F.leaky_relu(e, 0.2).masked_fill(adj.unsqueeze(0) == 0, float("-inf"))
        alpha = torch.softmax(e, dim=2)                        # over the in-edges j of i
        out = torch.einsum("hij,jhc->ihc", alpha, z)           # (V, H, C)
        out = out.reshape(-1, H * C) if self.concat else out.mean(1)
        return out + self.bias


class DenseGAT(torch.nn.Module):
    def __init__(self, output_heads):
        super().__init__()
        self.conv1 = DenseGATConv(IN, HIDDEN, HEADS, concat=True)
        self.conv2 = DenseGATConv(HEADS * HIDDEN, CLASSES, output_heads, concat=False)

    def forward(self, x, adj):
        return self.conv2(F.elu(self.conv1(x, adj)), adj)


adj = torch.eye(V)
for a, b in EDGES:
    adj[a, b] = adj[b, a] = 1
x = torch.randn(V, IN)
labels = torch.tensor(LABELS)

out = {"edges.src": torch.tensor([a for a, b in EDGES]),
       "edges.dst": torch.tensor([b for a, b in EDGES]), "x": x, "labels": labels}
for name, output_heads in (("a", 1), ("b", 2)):
    net = DenseGAT(output_heads)
    for key, value in net.state_dict().items():
        out[f"{name}.w.{key}"] = value.clone()
    net = net.double()
    logits = net(x.double(), adj.double())
    loss = F.cross_entropy(logits, labels, ignore_index=255)
    loss.backward()
    out[f"{name}.logits"] = logits
    out[f"{name}.loss"] = loss
    for key, p in net.named_parameters():
        out[f"{name}.grad.{key}"] = p.grad

pgref.save("gat.safetensors", out)
