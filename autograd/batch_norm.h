// Batch normalisation over the channel (last) axis of (N, H, W, C) or (N, C) inputs, with
// PyTorch's semantics: training normalises with the batch mean and biased variance and updates
// running = (1 - momentum) running + momentum batch (unbiased variance for running_var);
// eval normalises with the running statistics. Frozen affine = weight / bias that do not require grad.
#pragma once

#include "tensor/tensor.h"

namespace pg {

// weight, bias (C,) or undefined (= 1, 0); running_mean, running_var (C,) or undefined
// (training only: then nothing is tracked). Running stats are updated in place (their version
// counter moves) and must not require grad. Training needs more than one value per channel.
// Gradients flow to x, weight and bias (those that require grad).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum = 0.1f, float eps = 1e-5f);

// relu(batch_norm(...)) in one op: the ReLU is applied in BN's output pass and its backward folded
// into BN's (bit-identical to the two ops), which saves the intermediate activation and two passes
// over memory each way. Same arguments and gradients.
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       float momentum = 0.1f, float eps = 1e-5f);

} // namespace pg
