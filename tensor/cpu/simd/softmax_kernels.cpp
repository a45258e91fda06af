// exp_math.h's exp_shifted_rows compiled once per instruction set (tensor/cpu/softmax_kernels.h),
// under the rules of conv_direct_kernels.cpp: exp_math.h's functions are static, so the copies here
// are this file's own, and only the table is exported. Built without FMA (SSE4.2) the exps have the
// bits of the plain build; the AVX2 and AVX-512 builds contract the polynomial into FMAs alike and
// give each other's bits (below 2 ulp from std::exp either way).
#include <cstdint>

#include "tensor/cpu/exp_math.h"
#include "tensor/cpu/softmax_kernels.h"

namespace pg::cpu {

#define PG_SIMD_PASTE(a, b) a##b
#define PG_SIMD_NAME(a, b) PG_SIMD_PASTE(a, b)
extern const SoftmaxKernels PG_SIMD_NAME(kSoftmax, PG_SIMD_SUFFIX);
const SoftmaxKernels PG_SIMD_NAME(kSoftmax, PG_SIMD_SUFFIX) = {exp_shifted_rows};

} // namespace pg::cpu
