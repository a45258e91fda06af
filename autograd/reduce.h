// Reductions (sum, mean, max, min over all elements or one axis; argmax / argmin), top-k and sort
// along the last axis (class ranks), and order statistics of a whole tensor (kthvalue, percentile
// with NumPy's linear interpolation, used for U2PL's entropy threshold).
#pragma once

#include "tensor/tensor.h"

namespace pg {

Tensor sum(const Tensor& x); // all elements -> shape ()
Tensor sum(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t axis, bool keepdim = false);
// max / min: the gradient goes to the first position holding the extreme value.
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false); // i32, first max on ties
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim = false);

struct TopK {
    Tensor values;  // f32 (..., k), sorted (descending for largest, ascending otherwise)
    Tensor indices; // i32 (..., k), positions along the last axis
};
// The k largest (or smallest) entries along the last axis, k in [1, C]; values are differentiable.
// Equal values are ordered by lower index first; NaN counts as larger than any number.
TopK topk(const Tensor& x, int64_t k, bool largest = true);
// The whole last axis sorted (ascending unless descending); ties keep their original order.
TopK sort(const Tensor& x, bool descending = false);

// The k-th smallest element (1-based, k in [1, numel]) of all elements, like torch.kthvalue on the
// flattened tensor. Not differentiable; returns a host float (synchronises).
float kthvalue(const Tensor& x, int64_t k);
// numpy.percentile(x, q) over all elements, q in [0, 100], linear interpolation between ranks.
// Not differentiable; returns a host float. Errors on an empty tensor.
float percentile(const Tensor& x, double q);

} // namespace pg
