// CPU fused losses: cross-entropy over logits (rows, classes) with integer targets, class weights
// and ignore_index (log-softmax computed per row, never stored), and BCE with logits with a valid
// mask. Rows / elements are independent tasks in fixed chunks: thread-count independent results.
// Ops: autograd/loss.cpp.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/exp_math.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/softmax_kernels.h"

namespace pg::cpu {

static inline int64_t label_at(const void* target, DType dtype, int64_t r) {
    return dtype == DType::u8 ? int64_t(static_cast<const uint8_t*>(target)[r])
                              : int64_t(static_cast<const int32_t*>(target)[r]);
}

static int64_t ce_rows_per_chunk(int64_t classes) {
    return std::max<int64_t>(1, kChunk / std::max<int64_t>(classes, 1));
}

int64_t cross_entropy_forward(float* loss, float* weight_used, const float* logits,
                              const void* target, DType target_dtype, const float* class_weight,
                              int64_t rows, int64_t classes, int64_t ignore_index) {
    // loss_r = w[y] (logsumexp(x_r) - x_r[y]) = w[y] * -log softmax(x_r)[y].
    // Each chunk notes the row of its first bad label; the first chunk that has one wins.
    int64_t chunk = ce_rows_per_chunk(classes);
    int64_t chunks = (rows + chunk - 1) / chunk;
    std::vector<int64_t> first_bad(static_cast<size_t>(chunks), -1);
    parallel_chunks(rows, chunk, [&](int64_t begin, int64_t end) {
        int64_t& bad = first_bad[size_t(begin / chunk)];
        // log(sum_c exp(x_c)) of each row, stable: m + log(sum_c exp(x_c - m)), m the row max.
        thread_local std::vector<float> exps, maxes;
        exps.resize(size_t((end - begin) * classes)); // (rows of the chunk, classes)
        maxes.resize(size_t(end - begin));
        softmax_kernels().exp_shifted_rows(exps.data(), maxes.data(), logits + begin * classes,
                                           end - begin, classes);
        for (int64_t r = begin; r < end; r++) {
            int64_t y = label_at(target, target_dtype, r);
            if (y == ignore_index || y < 0 || y >= classes) {
                if (y != ignore_index && bad < 0) bad = r;
                loss[r] = 0.f, weight_used[r] = 0.f;
                continue;
            }
            const float* xr = logits + r * classes; // (classes,)
            const int64_t i = r - begin;
            const double lse = double(maxes[size_t(i)]) +
                               std::log(sum_in_double(exps.data() + i * classes, classes));
            float w = class_weight ? class_weight[y] : 1.f;
            loss[r] = float(w * (lse - double(xr[y])));
            weight_used[r] = w;
        }
    });
    for (int64_t bad : first_bad)
        if (bad >= 0) return bad;
    return -1;
}

void cross_entropy_backward(float* dlogits, const float* dloss, const float* logits,
                            const void* target, DType target_dtype, const float* class_weight,
                            int64_t rows, int64_t classes, int64_t ignore_index) {
    // d loss_r / d x_rc = w[y] (softmax(x_r)_c - [c == y]); the softmax is recomputed from the
    // logits here rather than saved by the forward (one (rows, classes) buffer less).
    parallel_chunks(rows, ce_rows_per_chunk(classes), [&](int64_t begin, int64_t end) {
        // softmax = exp(x - m) / s: every exp of the chunk first, kept in dlogits until s is known.
        thread_local std::vector<float> maxes;
        maxes.resize(size_t(end - begin));
        softmax_kernels().exp_shifted_rows(dlogits + begin * classes, maxes.data(),
                                           logits + begin * classes, end - begin, classes);
        for (int64_t r = begin; r < end; r++) {
            float* dxr = dlogits + r * classes; // (classes,)
            int64_t y = label_at(target, target_dtype, r);
            if (y == ignore_index || y < 0 || y >= classes) {
                for (int64_t c = 0; c < classes; c++) dxr[c] = 0.f;
                continue;
            }
            float g = dloss[r] * (class_weight ? class_weight[y] : 1.f);
            double s = sum_in_double(dxr, classes);
            float scale = float(g / s);
            for (int64_t c = 0; c < classes; c++) dxr[c] *= scale;
            dxr[y] -= g;
        }
    });
}

void bce_with_logits_forward(float* loss, const float* x, const float* target, const uint8_t* valid,
                             int64_t n) {
    // -t log s(x) - (1 - t) log(1 - s(x)) = max(x, 0) - x t + log(1 + exp(-|x|)): exp never overflows.
    parallel_chunks(n, kChunk, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; i++) {
            if (valid && !valid[i]) {
                loss[i] = 0.f;
                continue;
            }
            float xi = x[i];
            loss[i] = std::max(xi, 0.f) - xi * target[i] + std::log1p(std::exp(-std::fabs(xi)));
        }
    });
}

void bce_with_logits_backward(float* dx, const float* dloss, const float* x, const float* target,
                              const uint8_t* valid, int64_t n) {
    // d loss / dx = sigmoid(x) - t, with sigmoid evaluated on the side where exp() cannot overflow.
    parallel_chunks(n, kChunk, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; i++) {
            if (valid && !valid[i]) {
                dx[i] = 0.f;
                continue;
            }
            float e = std::exp(-std::fabs(x[i])); // in (0, 1]
            float s = x[i] >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
            dx[i] = dloss[i] * (s - target[i]);
        }
    });
}

} // namespace pg::cpu
