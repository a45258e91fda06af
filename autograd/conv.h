// 2-D convolution on NHWC tensors. The weight is stored (K, R, S, C / groups) (cuDNN's NHWC filter
// layout; PyTorch's (O, I, kH, kW) is permuted on load). Output size per axis:
// P = (H + 2 pad - dilation (R - 1) - 1) / stride + 1.
#pragma once

#include "tensor/tensor.h"

namespace pg {

// x (N, H, W, C), weight (K, R, S, C / groups), bias (K,) or undefined -> (N, P, Q, K).
// groups == C == K is a depthwise convolution.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);

} // namespace pg
