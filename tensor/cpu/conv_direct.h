// The direct convolution's per-instruction-set kernels (tensor/cpu/simd/conv_direct_kernels.cpp,
// compiled once per SimdPath) and what the dispatcher (tensor/cpu/conv_direct.cpp) hands them:
// the weight already repacked with output channels innermost, buffers it owns.
#pragma once

#include <cstdint>

#include "tensor/backend.h"

namespace pg::cpu {

struct DirectConvKernels {
    int lanes; // floats per vector: output channels are padded to a multiple of it
    // y (N, P, Q, K) = sum over (r, s, c) of x (N, H, W, C) times wt (R, S, C, kpad), plus bias
    // (kpad,); wt and bias are zero beyond K. work: forward_work(g) floats, shared by the threads.
    void (*forward)(float* y, const float* x, const float* wt, const float* bias,
                    const ConvGeometry& g, float* work);
    int64_t (*forward_work)(const ConvGeometry& g);
    // dw (K, R, S, C) = sum over output pixels of dy (N, P, Q, K) times the input pixel each tap
    // reads (groups 1). work: backward_weight_work(g) floats per OpenMP thread.
    void (*backward_weight)(float* dw, const float* dy, const float* x, const ConvGeometry& g,
                            float* work);
    int64_t (*backward_weight_work)(const ConvGeometry& g);
};

extern const DirectConvKernels kDirectConvSse42, kDirectConvAvx2, kDirectConvAvx512;

} // namespace pg::cpu
