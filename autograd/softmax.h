// Softmax, log-softmax and entropy along the last axis (the class axis of NHWC logits).
#pragma once

#include "tensor/tensor.h"

namespace pg {

Tensor softmax(const Tensor& x);     // (..., C) -> (..., C)
Tensor log_softmax(const Tensor& x); // stable: x - max - log(sum(exp(x - max)))
// Entropy of probability vectors along the last axis: -sum_c p_c log(p_c + eps), (..., C) -> (...).
// eps = 1e-10 matches U2PL's code (and keeps 0 log 0 at 0).
Tensor entropy(const Tensor& p, float eps = 1e-10f);

} // namespace pg
