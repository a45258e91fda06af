// CPU batch normalisation over x viewed as (rows = N*H*W, C): training forward (batch statistics,
// running-stat update), eval forward (running statistics) and the backward of both, each with an
// optional ReLU fused after BN (forward: in the output pass; backward: dy masked in both passes).
// Per-channel sums run in double (fed by float sums of 8 rows) over fixed row chunks that are
// combined in order, so results do not depend on the thread count. The per-element loops are
// compiled per instruction set (batch_norm_kernels.h). The op that calls these is
// autograd/batch_norm.cpp.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/batch_norm_kernels.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"

namespace pg::cpu {

// Rows per chunk of a per-channel reduction, fixed by the shape alone (not the threads): about
// 128K elements, fewer (down to 32K) where that makes at least 4 chunks, so that a narrow layer's
// tensor (the demo network's hold 64K-128K elements) still spreads over the threads while a large
// one keeps its partial sums few.
static int64_t rows_per_chunk(int64_t rows, int64_t C) {
    const int64_t elements = std::clamp<int64_t>(rows * C / 4, 32768, 131072);
    return std::max<int64_t>(16, elements / std::max<int64_t>(C, 1));
}

const BatchNormKernels& batch_norm_kernels(SimdPath path) {
    switch (path) {
    case SimdPath::avx512:
        return kBatchNormAvx512;
    case SimdPath::avx2:
        return kBatchNormAvx2;
    case SimdPath::sse42:
        break;
    }
    return kBatchNormSse42;
}

// The loops themselves are per instruction set: the process's path, narrowed for few channels.
// A vector wider than C leaves the loops to their scalar remainder: BM_BatchNormTrainKernels at
// 8 channels ran 0.26 ms with AVX-512, 0.11 with AVX2, 0.14 with SSE4.2.
static const BatchNormKernels& kernels(int64_t C) {
    SimdPath path = simd_path();
    if (path == SimdPath::avx512 && C < 16) path = SimdPath::avx2;
    if (path == SimdPath::avx2 && C < 8) path = SimdPath::sse42;
    return batch_norm_kernels(path);
}

// The kernels sum terms in float over 8 rows before they join the double sums: short enough that
// the float sum loses nothing that matters (8 terms: a relative 2^-21 at worst), long enough that
// the per-element work is float arithmetic vectorised across channels (4 to 16 per instruction,
// against 2 in double, and no conversions): BN was 2-3x slower with double terms.

// sum_a[c], sum_b[c]: the sums of the two terms over every row. sums(a, b, fa, fb, r0, r1) adds
// rows [r0, r1) into a, b (double, (C,)) with fa, fb as float scratch; each fixed chunk of rows
// gets its own partial sums, then the chunks are added in chunk order.
template <typename ChunkSums>
static void channel_sums(int64_t rows, int64_t C, double* sum_a, double* sum_b, ChunkSums sums) {
    const int64_t chunk = rows_per_chunk(rows, C);
    const int64_t chunks = std::max<int64_t>(1, (rows + chunk - 1) / chunk);
    std::vector<double> partial(size_t(chunks * 2 * C), 0.0); // (chunks, 2, C)
    parallel_for(chunks, 1, [&](int64_t k) {
        double* a = partial.data() + k * 2 * C; // (C,)
        thread_local std::vector<float> float_sums;
        float_sums.assign(size_t(2 * C), 0.f);
        sums(a, a + C, float_sums.data(), float_sums.data() + C, k * chunk,
             std::min(rows, (k + 1) * chunk));
    });
    for (int64_t c = 0; c < C; c++) sum_a[c] = sum_b[c] = 0.0;
    for (int64_t k = 0; k < chunks; k++) {
        const double* a = partial.data() + k * 2 * C;
        for (int64_t c = 0; c < C; c++) sum_a[c] += a[c], sum_b[c] += a[C + c];
    }
}

// Rows per task of a one-pass elementwise loop: about kChunk elements.
static int64_t rows_per_task(int64_t C) {
    return std::max<int64_t>(1, kChunk / std::max<int64_t>(C, 1));
}

// y[r, c] = x[r, c] * scale[c] + shift[c]: the normalisation and affine folded into one product and
// add; with relu, max(that, 0) as ReLU computes it (NaN stays NaN), in the same pass.
static void scale_shift(float* y, const float* x, const float* scale, const float* shift,
                        int64_t rows, int64_t C, bool relu) {
    const BatchNormKernels& k = kernels(C);
    parallel_chunks(rows, rows_per_task(C), [&](int64_t r0, int64_t r1) {
        k.scale_shift(y, x, scale, shift, r0, r1, C, relu);
    });
}

void batch_norm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                              float* running_var, const float* x, const float* weight,
                              const float* bias, int64_t rows, int64_t C, float momentum, float eps,
                              bool relu) {
    // Sums of d = x - x[0, c] (a shift by one sample of the channel): the variance
    // E[d^2] - E[d]^2 then does not lose digits when the mean is large against the spread.
    std::vector<float> shift0(size_t(C), 0.f);
    std::vector<double> s1(size_t(C), 0.0), s2(size_t(C), 0.0);
    if (rows > 0) std::copy(x, x + C, shift0.begin());
    const float* k0 = shift0.data();
    const BatchNormKernels& k = kernels(C);
    channel_sums(rows, C, s1.data(), s2.data(),
                 [&](double* a, double* b, float* fa, float* fb, int64_t r0, int64_t r1) {
                     k.forward_sums(a, b, fa, fb, x, k0, r0, r1, C);
                 });
    std::vector<float> scale(size_t(C), 0.f), shift(size_t(C), 0.f);
    for (int64_t c = 0; c < C; c++) {
        double md = rows > 0 ? s1[size_t(c)] / double(rows) : 0.0;
        double var = rows > 0 ? std::max(0.0, s2[size_t(c)] / double(rows) - md * md) : 0.0;
        double mean = double(k0[c]) + md, invstd = 1.0 / std::sqrt(var + double(eps));
        double w = weight ? weight[c] : 1.0, b = bias ? bias[c] : 0.0;
        save_mean[c] = float(mean);
        save_invstd[c] = float(invstd);
        scale[size_t(c)] = float(w * invstd);
        shift[size_t(c)] = float(b - mean * w * invstd);
        if (running_mean) {
            // PyTorch tracks the unbiased variance; the op rejects rows == 1 in training.
            double unbiased = rows > 1 ? var * double(rows) / double(rows - 1) : var;
            running_mean[c] = float((1.0 - momentum) * running_mean[c] + momentum * mean);
            running_var[c] = float((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
    }
    scale_shift(y, x, scale.data(), shift.data(), rows, C, relu);
}

void batch_norm_forward_eval(float* y, const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, int64_t rows,
                             int64_t C, float eps, bool relu) {
    // y = (x - rm) / sqrt(rv + eps) * w + b = x * scale + shift, like PyTorch's CPU kernel.
    std::vector<float> scale(size_t(C), 0.f), shift(size_t(C), 0.f);
    for (int64_t c = 0; c < C; c++) {
        double invstd = 1.0 / std::sqrt(double(running_var[c]) + double(eps));
        double w = weight ? weight[c] : 1.0, b = bias ? bias[c] : 0.0;
        scale[size_t(c)] = float(w * invstd);
        shift[size_t(c)] = float(b - double(running_mean[c]) * w * invstd);
    }
    scale_shift(y, x, scale.data(), shift.data(), rows, C, relu);
}

void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* invstd, int64_t rows,
                         int64_t C, bool training, const float* relu_y) {
    // With xhat = (x - mean) invstd and y = w xhat + b:
    //   dbias = sum dy, dweight = sum dy xhat (both over rows).
    // Training (mean, invstd depend on x): dx = w invstd (dy - mean(dy) - xhat mean(dy xhat)).
    // Eval (statistics are constants): dx = w invstd dy.
    const bool need_sums = dweight || dbias || (dx && training);
    std::vector<double> sum_dy(size_t(C), 0.0), sum_dy_xmu(size_t(C), 0.0);
    const BatchNormKernels& kern = kernels(C);
    if (need_sums)
        channel_sums(rows, C, sum_dy.data(), sum_dy_xmu.data(),
                     [&](double* a, double* b, float* fa, float* fb, int64_t r0, int64_t r1) {
                         kern.backward_sums(a, b, fa, fb, dy, x, mean, relu_y, r0, r1, C);
                     });
    for (int64_t c = 0; c < C; c++) {
        if (dbias) dbias[c] = float(sum_dy[size_t(c)]);
        if (dweight) dweight[c] = float(sum_dy_xmu[size_t(c)] * invstd[c]);
    }
    if (!dx) return;
    // dx = a[c] dy + k[c] (x - mean) + d[c]: per-channel coefficients, then one elementwise pass.
    // (x - mean) is formed per element rather than folded into d: no cancellation for large means.
    std::vector<float> coef_dy(size_t(C), 0.f), coef_x(size_t(C), 0.f), offset(size_t(C), 0.f);
    for (int64_t c = 0; c < C; c++) {
        double w = weight ? weight[c] : 1.0, is = invstd[c];
        coef_dy[size_t(c)] = float(w * is);
        if (training && rows > 0) {
            double mean_dy = sum_dy[size_t(c)] / double(rows);
            double mean_dy_xmu = sum_dy_xmu[size_t(c)] / double(rows);
            // xhat mean(dy xhat) = (x - mean) is^2 mean(dy (x - mean))
            coef_x[size_t(c)] = float(-w * is * is * is * mean_dy_xmu);
            offset[size_t(c)] = float(-w * is * mean_dy);
        } else {
            coef_x[size_t(c)] = 0.f;
            offset[size_t(c)] = 0.f;
        }
    }
    parallel_chunks(rows, rows_per_task(C), [&](int64_t r0, int64_t r1) {
        kern.input_gradient(dx, dy, x, relu_y, coef_dy.data(), coef_x.data(), mean, offset.data(),
                            r0, r1, C);
    });
}

} // namespace pg::cpu
