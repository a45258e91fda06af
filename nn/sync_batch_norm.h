// SyncBatchNorm (torch.nn.SyncBatchNorm): in training, the batch mean and variance are those of
// the whole data-parallel batch, every process's rows together, not of this process's share. So N
// processes with batch b normalise as one process with batch N*b would. Written with the engine's
// differentiable ops and all_reduce_sum (autograd/collective.h), whose backward all-reduces the
// gradient terms as SyncBatchNorm's backward does. `net.sync_bn: true` turns it on (U2PL's configs).
#pragma once

#include "nn/module.h"
#include "tensor/tensor.h"

namespace pg::nn {

// x (N, H, W, C) -> y (N, H, W, C), with M = the rows of all processes (sum of N*H*W):
//   mean = all_reduce(sum x) / M,  var = all_reduce(sum (x - mean)^2) / M   (two passes: exact
//   enough where E[x^2] - mean^2 would cancel),  y = (x - mean) / sqrt(var + eps) * weight + bias,
//   relu: y = max(y, 0). running_mean / running_var move by `momentum` towards mean and the
//   unbiased var * M / (M - 1), in place. With one process: batch_norm's numbers, up to rounding.
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, float momentum,
                       float eps, bool relu);

// Every BatchNorm2d in `module` (recursively) uses sync_batch_norm in training when the run has
// several processes (on: true), or plain batch_norm (false). Every process must then take the
// backward through every SyncBN layer it ran forward (a loss that would skip a head must be
// 0 * something of it, not a constant): the backward's all-reduces wait for all processes.
void convert_sync_batch_norm(Module& module, bool on = true);

} // namespace pg::nn
