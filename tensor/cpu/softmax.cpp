// CPU softmax, log-softmax and entropy along the last axis of x viewed as (rows, cols): the
// per-pixel class axis of NHWC logits. One row is one independent task, so results do not depend
// on the thread count; row sums accumulate in double. Ops: autograd/softmax.cpp.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/exp_math.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/softmax_kernels.h"

namespace pg::cpu {

const SoftmaxKernels& softmax_kernels(SimdPath path) {
    switch (path) {
    case SimdPath::avx512:
        return kSoftmaxAvx512;
    case SimdPath::avx2:
        return kSoftmaxAvx2;
    case SimdPath::sse42:
        break;
    }
    return kSoftmaxSse42;
}

const SoftmaxKernels& softmax_kernels() { return softmax_kernels(simd_path()); }

// Rows per parallel chunk: about kChunk elements, at least one row.
static int64_t rows_per_chunk(int64_t cols) {
    return std::max<int64_t>(1, kChunk / std::max<int64_t>(cols, 1));
}

// Calls body(r) for every row, in fixed chunks of rows.
template <typename Body>
static void for_each_row(int64_t rows, int64_t cols, Body body) {
    parallel_chunks(rows, rows_per_chunk(cols), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; r++) body(r);
    });
}

// Calls body(begin, end, maxes) per fixed chunk of rows once out holds the chunk's exps,
// exp(x - row max) (exp_shifted_rows: one flat loop, vectorised at the instruction set's width
// however short the rows), and
// maxes[r - begin] each row's max.
template <typename Body>
static void for_each_chunk_of_exps(float* out, const float* x, int64_t rows, int64_t cols,
                                   Body body) {
    parallel_chunks(rows, rows_per_chunk(cols), [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> maxes;
        maxes.resize(size_t(end - begin));
        softmax_kernels().exp_shifted_rows(out + begin * cols, maxes.data(), x + begin * cols,
                                           end - begin, cols);
        body(begin, end, maxes.data());
    });
}

void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
    // y_c = exp(x_c - m) / sum_j exp(x_j - m): subtracting the row max m keeps exp() <= 1.
    for_each_chunk_of_exps(y, x, rows, cols, [&](int64_t begin, int64_t end, const float*) {
        for (int64_t r = begin; r < end; r++) {
            float* yr = y + r * cols; // (cols,)
            float inv = float(1.0 / sum_in_double(yr, cols));
            for (int64_t c = 0; c < cols; c++) yr[c] *= inv;
        }
    });
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    // dy_j/dx_c = y_j ([j == c] - y_c)  =>  dx_c = y_c (dy_c - sum_j dy_j y_j).
    for_each_row(rows, cols, [&](int64_t r) {
        const float* dyr = dy + r * cols; // (cols,)
        const float* yr = y + r * cols;   // (cols,)
        double dot = 0.0;
        for (int64_t c = 0; c < cols; c++) dot += double(dyr[c]) * yr[c];
        float d = float(dot);
        for (int64_t c = 0; c < cols; c++) dx[r * cols + c] = yr[c] * (dyr[c] - d);
    });
}

void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
    // y_c = x_c - m - log(sum_j exp(x_j - m)); the log of a sum >= 1 never overflows.
    for_each_chunk_of_exps(y, x, rows, cols, [&](int64_t begin, int64_t end, const float* maxes) {
        for (int64_t r = begin; r < end; r++) { // y holds the exps until it is overwritten here
            const float* xr = x + r * cols;     // (cols,)
            float* yr = y + r * cols;           // (cols,)
            const float m = maxes[r - begin];
            // (x_c - m) first: m + log(s) rounded to f32 would lose the digits of log(s) when |m|
            // is big.
            float log_s = float(std::log(sum_in_double(yr, cols)));
            for (int64_t c = 0; c < cols; c++) yr[c] = (xr[c] - m) - log_s;
        }
    });
}

void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    // dy_j/dx_c = [j == c] - softmax_c = [j == c] - exp(y_c)  =>  dx_c = dy_c - exp(y_c) sum_j dy_j.
    for_each_row(rows, cols, [&](int64_t r) {
        const float* dyr = dy + r * cols; // (cols,)
        const float* yr = y + r * cols;   // (cols,)
        double s = 0.0;
        for (int64_t c = 0; c < cols; c++) s += dyr[c];
        float total = float(s);
        for (int64_t c = 0; c < cols; c++)
            dx[r * cols + c] = dyr[c] - exp_nonpositive(yr[c]) * total; // y <= 0: log-probs
    });
}

void entropy_forward(float* out, const float* p, int64_t rows, int64_t cols, float eps) {
    // H = -sum_c p_c log(p_c + eps); eps keeps 0 log 0 at 0 (U2PL uses 1e-10).
    for_each_row(rows, cols, [&](int64_t r) {
        const float* pr = p + r * cols; // (cols,)
        double h = 0.0;
        for (int64_t c = 0; c < cols; c++) h -= double(pr[c]) * std::log(pr[c] + eps);
        out[r] = float(h);
    });
}

void entropy_backward(float* dp, const float* dout, const float* p, int64_t rows, int64_t cols,
                      float eps) {
    // dH/dp_c = -(log(p_c + eps) + p_c / (p_c + eps)); each row scales it by its dout.
    for_each_row(rows, cols, [&](int64_t r) {
        const float* pr = p + r * cols; // (cols,)
        float g = dout[r];
        for (int64_t c = 0; c < cols; c++) {
            float q = pr[c] + eps;
            dp[r * cols + c] = -g * (std::log(q) + pr[c] / q);
        }
    });
}

} // namespace pg::cpu
