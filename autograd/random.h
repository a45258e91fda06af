// Dropout driven by the explicit generator: the keep-mask comes from Tensor::uniform, so it is the
// same on CPU and CUDA for the same generator state. Kept values are scaled by 1 / (1 - p).
//
// Relation to the generator stream: when training with p > 0, an op makes exactly one
// Tensor::uniform(mask_shape, gen) call (ceil(numel(mask_shape) / 4) Philox counters, see
// tensor/generator.h) and element i of the mask is kept iff philox_uniform(seed, offset, i) >= p.
// dropout's mask has x's shape; dropout2d's is (N, 1, 1, C), element n * C + c for channel (n, c)
// (the order of PyTorch's (N, C, 1, 1) Dropout2d mask). Not training, or p == 0: the identity
// (x itself is returned) and no draws. p == 1 draws like any p and returns x * 0.
// The same generator state therefore gives the same mask, whatever the device or thread count;
// a gradient check must hand each evaluation a fresh Generator with the same seed.
#pragma once

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg {

// Zeroes each element with probability p (identity when !training or p == 0). p in [0, 1].
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen);
// Zeroes whole channels: x (N, H, W, C), one draw per (n, c) (PyTorch's Dropout2d).
Tensor dropout2d(const Tensor& x, float p, bool training, Generator& gen);

} // namespace pg
