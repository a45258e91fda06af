// Batch normalisation's per-element loops (tensor/cpu/batch_norm_kernels.h), compiled once per
// instruction set like conv_direct_kernels.cpp, whose rules hold here too: nothing from a shared
// header's inline functions or templates, helpers in the anonymous namespace, the table alone
// exported. The loops run across channels innermost, which the compiler vectorises at the build's
// width; per element the operations and their order are the scalar ones, so the SSE4.2 build (no
// FMA) gives the bits of plain float code, and the AVX2 and AVX-512 builds (FMA contracted the same
// way by -ffp-contract=fast) give each other's.
#include <cstdint>

#include "tensor/cpu/batch_norm_kernels.h"

namespace pg::cpu {
namespace {

// Rows whose terms are summed in float before they join the double sums (batch_norm.cpp says why).
constexpr int64_t kFloatRows = 8;

// The gradient reaching BN when ReLU is fused after it: dy where the output is positive, else 0.
float through_relu(float dy, float relu_y) { return relu_y > 0.f ? dy : 0.f; }

void flush(double* a, double* b, float* fa, float* fb, int64_t C) {
    for (int64_t c = 0; c < C; c++) {
        a[c] += fa[c], b[c] += fb[c];
        fa[c] = fb[c] = 0.f;
    }
}

void forward_sums(double* a, double* b, float* fa, float* fb, const float* x, const float* shift0,
                  int64_t r0, int64_t r1, int64_t C) {
    for (int64_t start = r0; start < r1; start += kFloatRows) {
        const int64_t end = start + kFloatRows < r1 ? start + kFloatRows : r1;
        for (int64_t r = start; r < end; r++) {
            const float* xr = x + r * C; // (C,)
            for (int64_t c = 0; c < C; c++) {
                const float d = xr[c] - shift0[c];
                fa[c] += d;
                fb[c] += d * d;
            }
        }
        flush(a, b, fa, fb, C);
    }
}

void backward_sums(double* a, double* b, float* fa, float* fb, const float* dy, const float* x,
                   const float* mean, const float* relu_y, int64_t r0, int64_t r1, int64_t C) {
    for (int64_t start = r0; start < r1; start += kFloatRows) {
        const int64_t end = start + kFloatRows < r1 ? start + kFloatRows : r1;
        for (int64_t r = start; r < end; r++) {
            const float* dyr = dy + r * C; // (C,)
            const float* xr = x + r * C;   // (C,)
            if (relu_y) {
                const float* yr = relu_y + r * C; // (C,)
                for (int64_t c = 0; c < C; c++) {
                    const float g = through_relu(dyr[c], yr[c]);
                    fa[c] += g;
                    fb[c] += g * (xr[c] - mean[c]);
                }
            } else {
                for (int64_t c = 0; c < C; c++) {
                    fa[c] += dyr[c];
                    fb[c] += dyr[c] * (xr[c] - mean[c]);
                }
            }
        }
        flush(a, b, fa, fb, C);
    }
}

void scale_shift(float* y, const float* x, const float* scale, const float* shift, int64_t r0,
                 int64_t r1, int64_t C, bool relu) {
    for (int64_t r = r0; r < r1; r++) {
        const float* xr = x + r * C; // (C,)
        float* yr = y + r * C;       // (C,)
        if (relu) {
            for (int64_t c = 0; c < C; c++) {
                const float v = xr[c] * scale[c] + shift[c];
                yr[c] = v < 0.f ? 0.f : v;
            }
        } else {
            for (int64_t c = 0; c < C; c++) yr[c] = xr[c] * scale[c] + shift[c];
        }
    }
}

void input_gradient(float* dx, const float* dy, const float* x, const float* relu_y,
                    const float* coef_dy, const float* coef_x, const float* mean,
                    const float* offset, int64_t r0, int64_t r1, int64_t C) {
    for (int64_t r = r0; r < r1; r++) {
        const float* xr = x + r * C;   // (C,)
        const float* dyr = dy + r * C; // (C,)
        float* dxr = dx + r * C;       // (C,)
        // dx may be dy: each element is read before it is written, which ivdep tells the
        // vectoriser (ReLU's backward, without it, vectorised the dx == dy case all the same).
        if (relu_y) {
            const float* yr = relu_y + r * C; // (C,)
#pragma GCC ivdep
            for (int64_t c = 0; c < C; c++)
                dxr[c] = coef_dy[c] * through_relu(dyr[c], yr[c]) + coef_x[c] * (xr[c] - mean[c]) +
                         offset[c];
        } else {
#pragma GCC ivdep
            for (int64_t c = 0; c < C; c++)
                dxr[c] = coef_dy[c] * dyr[c] + coef_x[c] * (xr[c] - mean[c]) + offset[c];
        }
    }
}

} // namespace

#define PG_SIMD_PASTE(a, b) a##b
#define PG_SIMD_NAME(a, b) PG_SIMD_PASTE(a, b)
extern const BatchNormKernels PG_SIMD_NAME(kBatchNorm, PG_SIMD_SUFFIX);
const BatchNormKernels PG_SIMD_NAME(kBatchNorm, PG_SIMD_SUFFIX) = {forward_sums, backward_sums,
                                                                   scale_shift, input_gradient};

} // namespace pg::cpu
