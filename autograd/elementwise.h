// Elementwise ops: arithmetic with NumPy broadcasting, scalar arithmetic, math functions,
// activations (differentiable, f32), comparisons and logic (u8 masks, not differentiable),
// where / masked_fill, and broadcast_to / sum_to_shape (each other's adjoint).
#pragma once

#include "tensor/tensor.h"

namespace pg {

// ---- arithmetic, broadcasting (a (2, 3, 4) with b (4,), (3, 1) or () ...) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b); // ties send the gradient to a
Tensor minimum(const Tensor& a, const Tensor& b);

// ---- with a scalar ----
Tensor add(const Tensor& a, float b);
Tensor sub(const Tensor& a, float b);
Tensor mul(const Tensor& a, float b);
Tensor div(const Tensor& a, float b);
Tensor rsub(float a, const Tensor& b);                    // a - b
Tensor rdiv(float a, const Tensor& b);                    // a / b
Tensor affine(const Tensor& x, float scale, float shift); // scale * x + shift

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, float b);
Tensor operator-(const Tensor& a, float b);
Tensor operator*(const Tensor& a, float b);
Tensor operator/(const Tensor& a, float b);
Tensor operator+(float a, const Tensor& b);
Tensor operator-(float a, const Tensor& b);
Tensor operator*(float a, const Tensor& b);
Tensor operator/(float a, const Tensor& b);
Tensor operator-(const Tensor& a);

// ---- math ----
Tensor neg(const Tensor& x);
Tensor pow(const Tensor& x, float exponent);
Tensor sqrt(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor abs(const Tensor& x);                          // gradient 0 at x == 0
Tensor clamp(const Tensor& x, float low, float high); // gradient 1 inside [low, high], else 0

// ---- activations ----
Tensor relu(const Tensor& x); // gradient 0 at x == 0 (PyTorch's choice)
// relu(a + b) in one op: the ReLU after a residual add is applied in the add's output pass (one
// pass over memory less; bit-identical values and gradients). Broadcasting as add.
Tensor add_relu(const Tensor& a, const Tensor& b);
Tensor leaky_relu(const Tensor& x, float negative_slope = 0.01f);
Tensor elu(const Tensor& x, float alpha = 1.0f);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);

// ---- comparisons: u8 masks (1 where true), broadcasting for two tensors ----
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, float b);
Tensor ne(const Tensor& a, float b);
Tensor lt(const Tensor& a, float b);
Tensor le(const Tensor& a, float b);
Tensor gt(const Tensor& a, float b);
Tensor ge(const Tensor& a, float b);

// ---- logic on u8 masks of the same shape (any non-zero byte is true) ----
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);

// ---- selection: mask (u8) and the values have the same shape ----
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b); // mask ? a : b
Tensor where(const Tensor& mask, float a, const Tensor& b);
Tensor where(const Tensor& mask, const Tensor& a, float b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, float value); // mask ? value : x

// ---- broadcasting as ops ----
Tensor broadcast_to(const Tensor& x, const Shape& shape); // backward: sum_to_shape
Tensor sum_to_shape(const Tensor& x,
                    const Shape& shape); // sums broadcast dims; backward: broadcast_to

} // namespace pg
