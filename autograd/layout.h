// Layout ops: reshape (shares storage), permute, concat / split / narrow (copies), spatial crop,
// pad and horizontal flip of NHWC images (or (N, H, W) label maps), dtype casts and device moves.
// All are differentiable for f32 inputs; integer tensors (labels) pass through without history.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace pg {

// Same data, new shape with the same element count; one entry may be -1 (inferred).
Tensor reshape(const Tensor& x, const Shape& shape);
// out dim i = x dim dims[i] (a copy). permute(x, {0, 3, 1, 2}) turns NHWC into NCHW.
Tensor permute(const Tensor& x, const std::vector<int>& dims);
Tensor nchw_to_nhwc(const Tensor& x); // (N, C, H, W) -> (N, H, W, C)
Tensor nhwc_to_nchw(const Tensor& x); // (N, H, W, C) -> (N, C, H, W)

// Joins tensors that agree on every dimension but `axis` (same dtype and device).
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
// Cuts x along `axis` into pieces of the given sizes (they must add up to x.size(axis)).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis);
// The `length` entries of `axis` starting at `start` (a copy).
Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length);

// Spatial ops on (N, H, W, C) images or (N, H, W) label maps, any dtype.
// crop: rows [top, top + height), columns [left, left + width); must lie inside the image.
Tensor crop(const Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width);
// pad: adds rows / columns filled with `value` (e.g. 255 for labels, 0 for images); the value
// must be representable in x's dtype (an integer in 0..255 for u8), it is not wrapped.
Tensor pad(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right,
           double value = 0.0);
// Mirrors the W axis.
Tensor flip_horizontal(const Tensor& x);

// Converts the element type (float -> integer truncates toward zero). Differentiable
// between f32 and bf16 (the gradient is cast back).
Tensor cast(const Tensor& x, DType dtype);
// A copy on `device`; differentiable (the gradient moves back).
Tensor to(const Tensor& x, Device device);

} // namespace pg
