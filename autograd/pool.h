// Pooling over NHWC tensors, with PyTorch's output-size rule including ceil_mode:
// P = floor_or_ceil((H + 2 pad - kernel) / stride) + 1, and with ceil_mode the last window must
// start inside the (left-padded) input, else P is reduced by one. Like PyTorch, padding may be
// at most kernel / 2. Input (N, H, W, C) f32; square kernel, stride and padding.
#pragma once

#include "tensor/tensor.h"

namespace pg {

// Padding counts as -inf for max pooling. The gradient goes to the first maximum of each window.
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0,
                  bool ceil_mode = false);
// count_include_pad divides by the window clipped to the padded input (PyTorch's default);
// otherwise by the number of real input pixels in the window.
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true);
// (N, H, W, C) -> (N, 1, 1, C): the mean over H and W.
Tensor global_avg_pool(const Tensor& x);

} // namespace pg
