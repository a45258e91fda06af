// Resizing NHWC images: bilinear with PyTorch's align_corners semantics (both modes,
// differentiable), nearest for label maps of any dtype (PyTorch's 'nearest': src = floor(dst * in / out)).
#pragma once

#include "tensor/tensor.h"

namespace pg {

// x (N, H, W, C) f32 -> (N, out_h, out_w, C).
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);
// x (N, H, W, C) or (N, H, W), any dtype -> same layout at out_h x out_w. Differentiable for f32.
Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w);

} // namespace pg
