// The exps of softmax, log-softmax and cross-entropy per instruction set
// (tensor/cpu/simd/softmax_kernels.cpp, compiled once per SimdPath): exp_math.h's
// exp_shifted_rows at the path's vector width. softmax.cpp and loss.cpp own the rest of the math.
#pragma once

#include <cstdint>

#include "tensor/cpu/simd_path.h"

namespace pg::cpu {

struct SoftmaxKernels {
    // maxes[r] = the max of row r of x (rows, cols); out = exp(x - maxes[r]), each <= 1.
    void (*exp_shifted_rows)(float* out, float* maxes, const float* x, int64_t rows, int64_t cols);
};

extern const SoftmaxKernels kSoftmaxSse42, kSoftmaxAvx2, kSoftmaxAvx512;

// The table of a path (tests run every path the CPU can); softmax_kernels() is simd_path()'s.
const SoftmaxKernels& softmax_kernels(SimdPath path);
const SoftmaxKernels& softmax_kernels();

} // namespace pg::cpu
