// Matrix products through the backend GEMM (OpenBLAS on the CPU, cuBLAS on the GPU).
#pragma once

#include "tensor/tensor.h"

namespace pg {

// (M, K) x (K, N) -> (M, N); (B, M, K) x (B, K, N) -> (B, M, N); (B, M, K) x (K, N) -> (B, M, N).
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x W^T + b with PyTorch's layout: x (..., in), weight (out, in), bias (out,) or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

} // namespace pg
