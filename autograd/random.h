// Dropout driven by the explicit generator: the keep-mask comes from Tensor::uniform, so it is the
// same on CPU and CUDA for the same generator state. Kept values are scaled by 1 / (1 - p).
#pragma once

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg {

// Zeroes each element with probability p (identity when !training or p == 0).
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen);
// Zeroes whole channels: x (N, H, W, C), one draw per (n, c) (PyTorch's Dropout2d).
Tensor dropout2d(const Tensor& x, float p, bool training, Generator& gen);

} // namespace pg
