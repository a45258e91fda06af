// CUDA max and average pooling over NHWC images, forward and backward: the GPU twins of
// tensor/cpu/pool.cpp (read it first; the window arithmetic, tie-breaking, NaN rule and the order
// of every float add are the same). The backward kernels gather (each input pixel sums the windows
// that cover it, in p-then-q order), so they need no atomics and are deterministic.
#include <cmath>

#include "cuda/context.h"
#include "cuda/kernels.h"

namespace pg::cuda {
namespace {

// Output positions whose windows cover input position i: [first, last] (empty if last < first).
// o covers i when o s - pad <= i < o s - pad + k, i.e. (i + pad - k + 1) / s <= o <= (i + pad) / s.
struct Cover {
    int64_t first, last;
};

__device__ __forceinline__ Cover covering(int64_t i, int64_t kernel, int64_t stride, int64_t pad,
                                          int64_t out) {
    const int64_t lo = i + pad - kernel + 1;
    const int64_t first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    const int64_t last = min(out - 1, (i + pad) / stride);
    return {first, last};
}

// The average-pooling divisor of output o along one axis (the CPU's window_sizes): with
// count_include_pad the window clipped to the padded input [-pad, in + pad) (a ceil_mode window can
// run past it), else the real pixels in it.
__device__ __forceinline__ float window_size(int64_t o, int64_t in, int64_t kernel, int64_t stride,
                                             int64_t pad, bool count_include_pad) {
    int64_t start = o * stride - pad, end = min(start + kernel, in + pad);
    if (!count_include_pad) start = max(start, int64_t(0)), end = min(end, in);
    return float(end - start);
}

// y, argmax (N, P, Q, C) from x (N, H, W, C). One thread per output element, grid-stride,
// blockDim 256 (consecutive threads take consecutive channels, so loads coalesce).
__global__ void max_pool2d_forward_kernel(float* y, int32_t* argmax, const float* x,
                                          PoolGeometry g) {
    const int64_t total = g.N * g.P * g.Q * g.C;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t c = i % g.C, q = (i / g.C) % g.Q, p = (i / (g.C * g.Q)) % g.P;
        const int64_t n = i / (g.C * g.Q * g.P);
        const int64_t h0 = max(p * g.stride_h - g.pad_h, int64_t(0));
        const int64_t h1 = min(p * g.stride_h - g.pad_h + g.kernel_h, g.H);
        const int64_t w0 = max(q * g.stride_w - g.pad_w, int64_t(0));
        const int64_t w1 = min(q * g.stride_w - g.pad_w + g.kernel_w, g.W);
        const float* image = x + n * g.H * g.W * g.C + c; // (H, W, C) at channel c
        // Padding is -inf; the first window pixel is the index of an all -inf window.
        float best = -INFINITY;
        int32_t arg = int32_t(h0 * g.W + w0);
        for (int64_t h = h0; h < h1; h++) {
            for (int64_t w = w0; w < w1; w++) {
                const float v = image[(h * g.W + w) * g.C];
                // Strictly greater keeps the first maximum; NaN (v != v) always wins, as in PyTorch.
                if ((v > best) | (v != v)) best = v, arg = int32_t(h * g.W + w);
            }
        }
        y[i] = best;
        argmax[i] = arg;
    }
}

// dx (N, H, W, C) = sum over the windows (p, q) covering (h, w) of dy[p, q] where argmax[p, q]
// is h * W + w. One thread per input element, grid-stride, blockDim 256; overwrites dx.
__global__ void max_pool2d_backward_kernel(float* dx, const float* dy, const int32_t* argmax,
                                           PoolGeometry g) {
    const int64_t total = g.N * g.H * g.W * g.C;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t c = i % g.C, w = (i / g.C) % g.W, h = (i / (g.C * g.W)) % g.H;
        const int64_t n = i / (g.C * g.W * g.H);
        const Cover rows = covering(h, g.kernel_h, g.stride_h, g.pad_h, g.P);
        const Cover cols = covering(w, g.kernel_w, g.stride_w, g.pad_w, g.Q);
        const int32_t index = int32_t(h * g.W + w);
        float acc = 0.f;
        for (int64_t p = rows.first; p <= rows.last; p++) {
            for (int64_t q = cols.first; q <= cols.last; q++) {
                const int64_t o = ((n * g.P + p) * g.Q + q) * g.C + c;
                acc += argmax[o] == index ? dy[o] : 0.f; // the CPU adds the 0 too
            }
        }
        dx[i] = acc;
    }
}

// y (N, P, Q, C) = window sum of x (N, H, W, C) / divisor. One thread per output element,
// grid-stride, blockDim 256; the sum runs h-then-w in float like the CPU's.
__global__ void avg_pool2d_forward_kernel(float* y, const float* x, PoolGeometry g) {
    const int64_t total = g.N * g.P * g.Q * g.C;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t c = i % g.C, q = (i / g.C) % g.Q, p = (i / (g.C * g.Q)) % g.P;
        const int64_t n = i / (g.C * g.Q * g.P);
        const int64_t h0 = max(p * g.stride_h - g.pad_h, int64_t(0));
        const int64_t h1 = min(p * g.stride_h - g.pad_h + g.kernel_h, g.H);
        const int64_t w0 = max(q * g.stride_w - g.pad_w, int64_t(0));
        const int64_t w1 = min(q * g.stride_w - g.pad_w + g.kernel_w, g.W);
        const float* image = x + n * g.H * g.W * g.C + c; // (H, W, C) at channel c
        float acc = 0.f;
        for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) acc += image[(h * g.W + w) * g.C];
        const float divisor =
            window_size(p, g.H, g.kernel_h, g.stride_h, g.pad_h, g.count_include_pad) *
            window_size(q, g.W, g.kernel_w, g.stride_w, g.pad_w, g.count_include_pad);
        y[i] = acc / divisor;
    }
}

// dx (N, H, W, C) = sum over the windows (p, q) covering (h, w) of dy[p, q] / divisor(p, q).
// One thread per input element, grid-stride, blockDim 256; overwrites dx.
__global__ void avg_pool2d_backward_kernel(float* dx, const float* dy, PoolGeometry g) {
    const int64_t total = g.N * g.H * g.W * g.C;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t c = i % g.C, w = (i / g.C) % g.W, h = (i / (g.C * g.W)) % g.H;
        const int64_t n = i / (g.C * g.W * g.H);
        const Cover rows = covering(h, g.kernel_h, g.stride_h, g.pad_h, g.P);
        const Cover cols = covering(w, g.kernel_w, g.stride_w, g.pad_w, g.Q);
        float acc = 0.f;
        for (int64_t p = rows.first; p <= rows.last; p++) {
            const float sh =
                window_size(p, g.H, g.kernel_h, g.stride_h, g.pad_h, g.count_include_pad);
            for (int64_t q = cols.first; q <= cols.last; q++) {
                const float divisor =
                    sh * window_size(q, g.W, g.kernel_w, g.stride_w, g.pad_w, g.count_include_pad);
                acc += dy[((n * g.P + p) * g.Q + q) * g.C + c] / divisor;
            }
        }
        dx[i] = acc;
    }
}

} // namespace

void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const PoolGeometry& g) {
    const int64_t total = g.N * g.P * g.Q * g.C;
    if (total == 0) return;
    max_pool2d_forward_kernel<<<grid_for(total), 256, 0, stream()>>>(y, argmax, x, g);
    CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, const PoolGeometry& g) {
    const int64_t total = g.N * g.H * g.W * g.C;
    if (total == 0) return;
    max_pool2d_backward_kernel<<<grid_for(total), 256, 0, stream()>>>(dx, dy, argmax, g);
    CUDA_CHECK_LAUNCH();
}

void avg_pool2d_forward(float* y, const float* x, const PoolGeometry& g) {
    const int64_t total = g.N * g.P * g.Q * g.C;
    if (total == 0) return;
    avg_pool2d_forward_kernel<<<grid_for(total), 256, 0, stream()>>>(y, x, g);
    CUDA_CHECK_LAUNCH();
}

void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g) {
    const int64_t total = g.N * g.H * g.W * g.C;
    if (total == 0) return;
    avg_pool2d_backward_kernel<<<grid_for(total), 256, 0, stream()>>>(dx, dy, g);
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
