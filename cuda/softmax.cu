// CUDA softmax, log-softmax and entropy along the last axis of (rows, cols), forward and backward.
// CPU twin: tensor/cpu/softmax.cpp (same formulas; row sums in double, the max as std::max). One
// warp per row for the class axis (cols <= 1024), one 256-thread block per row beyond; the row
// reductions are fixed trees (cuda/reduce_util.cuh), so results are deterministic.
#include <cmath>

#include "cuda/context.h"
#include "cuda/kernels.h"
#include "cuda/reduce_util.cuh"

namespace pg::cuda {
namespace {

// y_c = exp(x_c - m) / sum_j exp(x_j - m): subtracting the row max m keeps exp() <= 1.
template <int kThreads>
__global__ void softmax_forward_kernel(float* y, const float* x, int64_t rows, int64_t cols) {
    __shared__ float smax[kThreads / 32];
    __shared__ double ssum[kThreads / 32];
    for (int64_t r = first_row(); r < rows; r += row_stride()) {
        const float* xr = x + r * cols; // (cols,)
        float* yr = y + r * cols;       // (cols,)
        const float m = row_max<kThreads>(xr, cols, smax);
        const double s = row_sum<kThreads>(
            cols, [&](int64_t c) { return double(expf(xr[c] - m)); }, ssum);
        const float inv = float(1.0 / s);
        for (int64_t c = threadIdx.x; c < cols; c += kThreads) yr[c] = expf(xr[c] - m) * inv;
    }
}

// dy_j/dx_c = y_j ([j == c] - y_c)  =>  dx_c = y_c (dy_c - sum_j dy_j y_j).
template <int kThreads>
__global__ void softmax_backward_kernel(float* dx, const float* dy, const float* y, int64_t rows,
                                        int64_t cols) {
    __shared__ double ssum[kThreads / 32];
    for (int64_t r = first_row(); r < rows; r += row_stride()) {
        const float* dyr = dy + r * cols; // (cols,)
        const float* yr = y + r * cols;   // (cols,)
        const float d = float(row_sum<kThreads>(
            cols, [&](int64_t c) { return double(dyr[c]) * double(yr[c]); }, ssum));
        for (int64_t c = threadIdx.x; c < cols; c += kThreads)
            dx[r * cols + c] = yr[c] * (dyr[c] - d);
    }
}

// y_c = (x_c - m) - log(sum_j exp(x_j - m)); (x_c - m) first, as on the CPU.
template <int kThreads>
__global__ void log_softmax_forward_kernel(float* y, const float* x, int64_t rows, int64_t cols) {
    __shared__ float smax[kThreads / 32];
    __shared__ double ssum[kThreads / 32];
    for (int64_t r = first_row(); r < rows; r += row_stride()) {
        const float* xr = x + r * cols; // (cols,)
        float* yr = y + r * cols;       // (cols,)
        const float m = row_max<kThreads>(xr, cols, smax);
        const double s = row_sum<kThreads>(
            cols, [&](int64_t c) { return double(expf(xr[c] - m)); }, ssum);
        const float log_s = float(log(s));
        for (int64_t c = threadIdx.x; c < cols; c += kThreads) yr[c] = (xr[c] - m) - log_s;
    }
}

// dy_j/dx_c = [j == c] - exp(y_c)  =>  dx_c = dy_c - exp(y_c) sum_j dy_j.
template <int kThreads>
__global__ void log_softmax_backward_kernel(float* dx, const float* dy, const float* y,
                                            int64_t rows, int64_t cols) {
    __shared__ double ssum[kThreads / 32];
    for (int64_t r = first_row(); r < rows; r += row_stride()) {
        const float* dyr = dy + r * cols; // (cols,)
        const float* yr = y + r * cols;   // (cols,)
        const float total = float(row_sum<kThreads>(
            cols, [&](int64_t c) { return double(dyr[c]); }, ssum));
        for (int64_t c = threadIdx.x; c < cols; c += kThreads)
            dx[r * cols + c] = dyr[c] - expf(yr[c]) * total;
    }
}

// out (rows,): H = -sum_c p_c log(p_c + eps); eps keeps 0 log 0 at 0.
template <int kThreads>
__global__ void entropy_forward_kernel(float* out, const float* p, int64_t rows, int64_t cols,
                                       float eps) {
    __shared__ double ssum[kThreads / 32];
    for (int64_t r = first_row(); r < rows; r += row_stride()) {
        const float* pr = p + r * cols; // (cols,)
        const double h = row_sum<kThreads>(
            cols, [&](int64_t c) { return -(double(pr[c]) * double(logf(pr[c] + eps))); }, ssum);
        if (threadIdx.x == 0) out[r] = float(h);
    }
}

// dH/dp_c = -(log(p_c + eps) + p_c / (p_c + eps)), scaled by the row's dout.
template <int kThreads>
__global__ void entropy_backward_kernel(float* dp, const float* dout, const float* p, int64_t rows,
                                        int64_t cols, float eps) {
    for (int64_t r = first_row(); r < rows; r += row_stride()) {
        const float* pr = p + r * cols; // (cols,)
        const float g = dout[r];
        for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
            const float q = pr[c] + eps;
            dp[r * cols + c] = -g * (logf(q) + pr[c] / q);
        }
    }
}

} // namespace

void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
    launch_rows(rows, cols, softmax_forward_kernel<32>, softmax_forward_kernel<256>, y, x, rows,
                cols);
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    launch_rows(rows, cols, softmax_backward_kernel<32>, softmax_backward_kernel<256>, dx, dy, y,
                rows, cols);
}

void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
    launch_rows(rows, cols, log_softmax_forward_kernel<32>, log_softmax_forward_kernel<256>, y, x,
                rows, cols);
}

void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    launch_rows(rows, cols, log_softmax_backward_kernel<32>, log_softmax_backward_kernel<256>, dx,
                dy, y, rows, cols);
}

void entropy_forward(float* out, const float* p, int64_t rows, int64_t cols, float eps) {
    launch_rows(rows, cols, entropy_forward_kernel<32>, entropy_forward_kernel<256>, out, p, rows,
                cols, eps);
}

void entropy_backward(float* dp, const float* dout, const float* p, int64_t rows, int64_t cols,
                      float eps) {
    launch_rows(rows, cols, entropy_backward_kernel<32>, entropy_backward_kernel<256>, dp, dout, p,
                rows, cols, eps);
}

} // namespace pg::cuda
