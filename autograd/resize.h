// Resizing NHWC images: bilinear with PyTorch's align_corners semantics (both modes,
// differentiable), nearest for label maps of any dtype (PyTorch's 'nearest',
// src = floor(dst * in / out); not differentiable). The CPU kernels are tensor/cpu/resize.cpp.
#pragma once

#include "tensor/tensor.h"

namespace pg {

// x (N, H, W, C) f32 -> (N, out_h, out_w, C), exactly F.interpolate(mode='bilinear'):
// align_corners: src = dst * (in - 1) / (out - 1);
// otherwise:     src = max((dst + 0.5) * in / out - 0.5, 0).
// H, W, out_h, out_w >= 1 (up- and down-sampling, 1 included).
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);
// x (N, H, W, C) or (N, H, W), any dtype -> same layout at out_h x out_w; values are copied
// bit-exactly (src = min(floor(dst * in / out), in - 1)). Not differentiable: an input that
// requires grad (while grad mode is on) is an error that points to resize_bilinear; detach() label
// maps or resize them under NoGradGuard.
Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w);

} // namespace pg
