// In-place writes (not differentiable): for optimizers, running statistics and initialisation.
// Each bumps the tensor's version counter. Writing in place to a tensor that requires grad while
// grad mode is on is an error (wrap optimizer steps in NoGradGuard).
#pragma once

#include "tensor/tensor.h"

namespace pg {

struct SgdStep; // tensor/backend.h

void add_(const Tensor& t, const Tensor& other,
          float alpha = 1.f);                    // t += alpha * other (broadcast)
void mul_(const Tensor& t, float value);         // t *= value
void mul_(const Tensor& t, const Tensor& other); // t *= other (broadcast)
void fill_(const Tensor& t, double value);
void zero_(const Tensor& t);
void copy_(const Tensor& dst, const Tensor& src); // same shape and dtype, any devices
// One fused SGD step of param (Backend::sgd_update): momentum_buffer undefined when momentum is 0.
void sgd_update_(const Tensor& param, const Tensor& momentum_buffer, const Tensor& grad,
                 const SgdStep& step);

} // namespace pg
