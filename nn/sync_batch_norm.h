// SyncBatchNorm (torch.nn.SyncBatchNorm): in training, the batch mean and variance are those of
// the whole data-parallel batch, every process's rows together, not of this process's share. So N
// processes with batch b normalise as one process with batch N*b would. Built on batch_norm's
// kernels with one collective each way (an all-gather of the processes' statistics forward, an
// all-reduce of the gradient sums backward). `net.sync_bn: true` turns it on (U2PL's configs).
#pragma once

#include <vector>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace pg::nn {

// x (N, H, W, C) -> y (N, H, W, C), with M = the rows of all processes (sum of N*H*W), mean and
// var (biased) those of all M rows (each process's own, combined by Chan's formula: no
// E[x^2] - mean^2 cancellation), y = (x - mean) / sqrt(var + eps) * weight + bias, relu:
// y = max(y, 0). running_mean / running_var move by `momentum` towards mean and the unbiased
// var * M / (M - 1), in place. With one process: batch_norm's numbers, up to rounding.
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, float momentum,
                       float eps, bool relu);

// sync_batch_norm's backward: dy (N, H, W, C) -> {dx, dweight, dbias} (those `needs` asks for),
// given the saved input, weight, the whole batch's mean and invstd (C,), the output when ReLU was
// fused (else undefined) and M (shape (), on dy's device). dweight / dbias are this process's sums;
// dx uses every process's.
std::vector<Tensor> sync_batch_norm_backward(const Tensor& dy, const Tensor& x,
                                             const Tensor& weight, const Tensor& mean,
                                             const Tensor& invstd, const Tensor& relu_y,
                                             const Tensor& rows_everywhere,
                                             const std::vector<bool>& needs);

// Every BatchNorm2d in `module` (recursively) uses sync_batch_norm in training when the run has
// several processes (on: true), or plain batch_norm (false). Every process must then take the
// backward through every SyncBN layer it ran forward (a loss that would skip a head must be
// 0 * something of it, not a constant): the backward's all-reduces wait for all processes.
void convert_sync_batch_norm(Module& module, bool on = true);

} // namespace pg::nn
