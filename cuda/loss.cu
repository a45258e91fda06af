// CUDA fused losses: cross-entropy over logits (rows, classes) with u8 / i32 targets, class weights
// and ignore_index (the log-softmax of a row is computed in registers, never stored), and BCE with
// logits with a valid mask. CPU twin: tensor/cpu/loss.cpp (same formulas, row sums in double).
// Cross-entropy rows use the row groups of cuda/reduce_util.cuh (a warp per row for the class axis).
#include <cmath>

#include "cuda/context.h"
#include "cuda/kernels.h"
#include "cuda/reduce_util.cuh"

namespace pg::cuda {
namespace {

__device__ __forceinline__ int64_t label_at(const void* target, bool u8, int64_t r) {
    return u8 ? int64_t(static_cast<const uint8_t*>(target)[r])
              : int64_t(static_cast<const int32_t*>(target)[r]);
}

// loss_r = w[y] (logsumexp(x_r) - x_r[y]) = w[y] * -log softmax(x_r)[y]; weight_used_r = w[y].
// Rows whose label is ignore_index or out of range get 0; an out-of-range one also lowers *bad to
// its row (atomicMin: the smallest row, the CPU's "first bad", whatever the schedule).
template <int kThreads>
__global__ void cross_entropy_forward_kernel(float* loss, float* weight_used, const float* logits,
                                             const void* target, bool u8, const float* class_weight,
                                             int64_t rows, int64_t classes, int64_t ignore_index,
                                             unsigned long long* bad) {
    __shared__ float smax[kThreads / 32];
    __shared__ double ssum[kThreads / 32];
    for (int64_t r = first_row(); r < rows; r += row_stride()) {
        const int64_t y = label_at(target, u8, r);
        if (y == ignore_index || y < 0 || y >= classes) { // uniform across the row's group
            if (threadIdx.x == 0) {
                if (y != ignore_index) atomicMin(bad, (unsigned long long)r);
                loss[r] = 0.f, weight_used[r] = 0.f;
            }
            continue;
        }
        const float* xr = logits + r * classes; // (classes,)
        const float w = class_weight ? class_weight[y] : 1.f;
        const float m = row_max<kThreads>(xr, classes, smax);
        const double s = row_sum<kThreads>(
            classes, [&](int64_t c) { return double(expf(xr[c] - m)); }, ssum);
        if (threadIdx.x == 0) {
            const double logsumexp = double(m) + log(s);
            loss[r] = float(double(w) * (logsumexp - double(xr[y])));
            weight_used[r] = w;
        }
    }
}

// d loss_r / d x_rc = dloss_r w[y] (softmax(x_r)_c - [c == y]), 0 for ignored / bad rows; the
// softmax is recomputed from the logits (the forward saves none).
template <int kThreads>
__global__ void cross_entropy_backward_kernel(float* dlogits, const float* dloss,
                                              const float* logits, const void* target, bool u8,
                                              const float* class_weight, int64_t rows,
                                              int64_t classes, int64_t ignore_index) {
    __shared__ float smax[kThreads / 32];
    __shared__ double ssum[kThreads / 32];
    for (int64_t r = first_row(); r < rows; r += row_stride()) {
        const float* xr = logits + r * classes; // (classes,)
        float* dxr = dlogits + r * classes;     // (classes,)
        const int64_t y = label_at(target, u8, r);
        if (y == ignore_index || y < 0 || y >= classes) { // uniform across the row's group
            for (int64_t c = threadIdx.x; c < classes; c += kThreads) dxr[c] = 0.f;
            continue;
        }
        const float g = dloss[r] * (class_weight ? class_weight[y] : 1.f);
        const float m = row_max<kThreads>(xr, classes, smax);
        const double s = row_sum<kThreads>(
            classes, [&](int64_t c) { return double(expf(xr[c] - m)); }, ssum);
        const float scale = float(double(g) / s);
        for (int64_t c = threadIdx.x; c < classes; c += kThreads) {
            float d = expf(xr[c] - m) * scale;
            if (c == y) d -= g;
            dxr[c] = d;
        }
    }
}

// loss (n,) = max(x, 0) - x t + log(1 + exp(-|x|)): exp never overflows; 0 where valid is 0.
// One thread per element, grid-stride.
__global__ void bce_with_logits_forward_kernel(float* loss, const float* x, const float* target,
                                               const uint8_t* valid, int64_t n) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        if (valid && !valid[i]) {
            loss[i] = 0.f;
            continue;
        }
        const float xi = x[i];
        const float relu = xi < 0.f ? 0.f : xi; // std::max(xi, 0.f), NaN kept
        loss[i] = relu - xi * target[i] + log1pf(expf(-fabsf(xi)));
    }
}

// dx (n,) = dloss (sigmoid(x) - t), the sigmoid taken on the side where exp() cannot overflow;
// 0 where valid is 0. One thread per element, grid-stride.
__global__ void bce_with_logits_backward_kernel(float* dx, const float* dloss, const float* x,
                                                const float* target, const uint8_t* valid,
                                                int64_t n) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        if (valid && !valid[i]) {
            dx[i] = 0.f;
            continue;
        }
        const float e = expf(-fabsf(x[i])); // in (0, 1]
        const float s = x[i] >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
        dx[i] = dloss[i] * (s - target[i]);
    }
}

} // namespace

int64_t cross_entropy_forward(float* loss, float* weight_used, const float* logits,
                              const void* target, DType target_dtype, const float* class_weight,
                              int64_t rows, int64_t classes, int64_t ignore_index) {
    if (rows <= 0) return -1;
    // The first bad row: all bits set means none (no row reaches 2^64 - 1).
    Workspace bad(sizeof(unsigned long long));
    CUDA_CHECK(cudaMemsetAsync(bad.data(), 0xFF, sizeof(unsigned long long), stream()));
    const bool u8 = target_dtype == DType::u8;
    launch_rows(rows, classes, cross_entropy_forward_kernel<32>, cross_entropy_forward_kernel<256>,
                loss, weight_used, logits, target, u8, class_weight, rows, classes, ignore_index,
                bad.as<unsigned long long>());
    unsigned long long first_bad = 0;
    CUDA_CHECK(cudaMemcpyAsync(&first_bad, bad.data(), sizeof first_bad, cudaMemcpyDeviceToHost,
                               stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    return first_bad == ~0ull ? -1 : int64_t(first_bad);
}

void cross_entropy_backward(float* dlogits, const float* dloss, const float* logits,
                            const void* target, DType target_dtype, const float* class_weight,
                            int64_t rows, int64_t classes, int64_t ignore_index) {
    const bool u8 = target_dtype == DType::u8;
    launch_rows(rows, classes, cross_entropy_backward_kernel<32>,
                cross_entropy_backward_kernel<256>, dlogits, dloss, logits, target, u8,
                class_weight, rows, classes, ignore_index);
}

void bce_with_logits_forward(float* loss, const float* x, const float* target, const uint8_t* valid,
                             int64_t n) {
    if (n <= 0) return;
    bce_with_logits_forward_kernel<<<grid_for(n), 256, 0, stream()>>>(loss, x, target, valid, n);
    CUDA_CHECK_LAUNCH();
}

void bce_with_logits_backward(float* dx, const float* dloss, const float* x, const float* target,
                              const uint8_t* valid, int64_t n) {
    if (n <= 0) return;
    bce_with_logits_backward_kernel<<<grid_for(n), 256, 0, stream()>>>(dx, dloss, x, target, valid,
                                                                       n);
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
