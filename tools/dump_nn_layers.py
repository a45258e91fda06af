"""PyTorch reference for nn/module + nn/layers: writes tests/data/nn_layers.safetensors, read by
tests/nn/layers_test.cpp.

A small network touching every layer kind (conv with groups/dilation/stride, BN, activations,
pooling with ceil_mode, dropout at p=0, global pooling, linear) with random weights and running
statistics. Saved: "w.<key>" the state_dict (PyTorch layouts; the test loads it strictly, which
proves the names), "x" the NHWC input, eval outputs, and in train mode the CE loss, every
parameter's gradient ("grad.<key>", PyTorch layouts) and the running statistics after the step.
Run with Debian's torch: /usr/bin/python3 tools/dump_nn_layers.py
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import pgref


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
            nn.MaxPool2d(3, 2, 1, ceil_mode=True),
            nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), nn.LeakyReLU(0.2),
            nn.AvgPool2d(2, 2, ceil_mode=True), nn.Dropout2d(0.0), nn.ELU())
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        f = self.features(x)
        return self.fc(F.adaptive_avg_pool2d(f, 1).flatten(1)), f


def main():
    torch.manual_seed(0)
    net = Small()
    with torch.no_grad():
        bn = net.features[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.num_batches_tracked.fill_(7)
    out = {f"w.{k}": v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(2, 3, 13, 11)
    labels = torch.tensor([1, 4])
    out["x"] = pgref.nhwc(x)
    out["labels"] = labels
    net.eval()
    with torch.no_grad():
        logits, f = net(x)
    out["eval.logits"] = logits
    out["eval.features"] = pgref.nhwc(f)
    net.train()
    logits, f = net(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out["train.logits"] = logits
    out["train.loss"] = loss.reshape(())
    for k, p in net.named_parameters():
        out[f"grad.{k}"] = p.grad
    out["train.running_mean"] = net.features[1].running_mean
    out["train.running_var"] = net.features[1].running_var
    pgref.save("nn_layers.safetensors", out)


if __name__ == "__main__":
    main()
