// Batch normalisation's loops per instruction set (tensor/cpu/simd/batch_norm_kernels.cpp, compiled
// once per SimdPath). tensor/cpu/batch_norm.cpp owns the math around them (statistics, the
// per-channel coefficients), cuts the rows into chunks fixed by the shape, and calls these on a
// chunk of rows [r0, r1) of x viewed as (rows, C), on one thread each.
#pragma once

#include <cstdint>

#include "tensor/cpu/simd_path.h"

namespace pg::cpu {

struct BatchNormKernels {
    // Per channel c, over rows [r0, r1): a[c] += sum of t_a, b[c] += sum of t_b, the terms summed in
    // float over 8 rows at a time (in row order), each 8-row sum then added to the double. fa, fb:
    // (C,) float scratch, zero on entry and on return.
    //   forward:  t_a = x - shift0[c],  t_b = (x - shift0[c])^2
    //   backward: t_a = g, t_b = g (x - mean[c]), g = dy, or dy where relu_y > 0 (else 0) if given
    void (*forward_sums)(double* a, double* b, float* fa, float* fb, const float* x,
                         const float* shift0, int64_t r0, int64_t r1, int64_t C);
    void (*backward_sums)(double* a, double* b, float* fa, float* fb, const float* dy,
                          const float* x, const float* mean, const float* relu_y, int64_t r0,
                          int64_t r1, int64_t C);
    // y = x scale[c] + shift[c], then max(y, 0) when relu (NaN stays NaN).
    void (*scale_shift)(float* y, const float* x, const float* scale, const float* shift,
                        int64_t r0, int64_t r1, int64_t C, bool relu);
    // dx = coef_dy[c] g + coef_x[c] (x - mean[c]) + offset[c], g as in backward_sums. dx may be dy
    // (each element is read before it is written).
    void (*input_gradient)(float* dx, const float* dy, const float* x, const float* relu_y,
                           const float* coef_dy, const float* coef_x, const float* mean,
                           const float* offset, int64_t r0, int64_t r1, int64_t C);
};

extern const BatchNormKernels kBatchNormSse42, kBatchNormAvx2, kBatchNormAvx512;

// The table of a path (tests run every path the CPU can; batch_norm.cpp takes simd_path()'s).
const BatchNormKernels& batch_norm_kernels(SimdPath path);

} // namespace pg::cpu
