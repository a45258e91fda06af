// CPU max and average pooling over NHWC images (PyTorch semantics, geometry in PoolGeometry),
// and their backward. Window (p, q) covers input rows [p sh - ph, p sh - ph + kh) clipped to the
// image, likewise for columns. The backward kernels overwrite dx; they gather, for each input
// row, the gradients of the windows that cover it, so they are parallel and deterministic.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"

namespace pg::cpu {

// The output positions whose windows cover input position i: [first, last] (empty if last < first).
struct Cover {
    int64_t first, last;
};

static Cover covering(int64_t i, int64_t kernel, int64_t stride, int64_t pad, int64_t out) {
    // o covers i when o s - pad <= i < o s - pad + k, i.e. (i + pad - k + 1) / s <= o <= (i + pad) / s.
    int64_t lo = i + pad - kernel + 1;
    int64_t first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    int64_t last = std::min(out - 1, (i + pad) / stride);
    return {first, last};
}

constexpr int64_t kLanes = 64; // channels whose running max / sum stay in a local array

// ---- max pooling ----

// One output pixel of max pooling for channels [c0, c0 + cn): the window is rows [h0, h1) and
// columns [w0, w1) of image x (H, W, C). Local arrays (no aliasing with x) let the select vectorise.
static void max_window(float* yo, int32_t* io, const float* x, const PoolGeometry& g, int64_t h0,
                       int64_t h1, int64_t w0, int64_t w1, int64_t c0, int64_t cn) {
    float best[kLanes];
    int32_t arg[kLanes];
    // Padding is -inf; the first window pixel is the index of an all -inf window.
    for (int64_t c = 0; c < cn; c++) best[c] = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < cn; c++) arg[c] = int32_t(h0 * g.W + w0);
    for (int64_t h = h0; h < h1; h++) {
        for (int64_t w = w0; w < w1; w++) {
            const float* xi = x + (h * g.W + w) * g.C + c0; // (cn,)
            const int32_t index = int32_t(h * g.W + w);
            // Strictly greater keeps the first maximum; NaN (v != v) always wins, as in PyTorch.
            for (int64_t c = 0; c < cn; c++) {
                const float v = xi[c];
                const bool take = (v > best[c]) | (v != v);
                best[c] = take ? v : best[c];
                arg[c] = take ? index : arg[c];
            }
        }
    }
    for (int64_t c = 0; c < cn; c++) yo[c] = best[c], io[c] = arg[c];
}

void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const PoolGeometry& g) {
    parallel_for(g.N * g.P, 1, [&](int64_t np) {
        const int64_t n = np / g.P, p = np % g.P;
        const int64_t h0 = std::max<int64_t>(p * g.stride_h - g.pad_h, 0);
        const int64_t h1 = std::min(p * g.stride_h - g.pad_h + g.kernel_h, g.H);
        const float* image = x + n * g.H * g.W * g.C; // (H, W, C)
        for (int64_t q = 0; q < g.Q; q++) {
            const int64_t w0 = std::max<int64_t>(q * g.stride_w - g.pad_w, 0);
            const int64_t w1 = std::min(q * g.stride_w - g.pad_w + g.kernel_w, g.W);
            const int64_t o = (np * g.Q + q) * g.C;
            for (int64_t c0 = 0; c0 < g.C; c0 += kLanes)
                max_window(y + o + c0, argmax + o + c0, image, g, h0, h1, w0, w1, c0,
                           std::min(kLanes, g.C - c0));
        }
    });
}

void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, const PoolGeometry& g) {
    const int64_t C = g.C;
    parallel_for(g.N * g.H, 1, [&](int64_t nh) {
        const int64_t n = nh / g.H, h = nh % g.H;
        const Cover rows = covering(h, g.kernel_h, g.stride_h, g.pad_h, g.P);
        float* dxr = dx + nh * g.W * C; // (W, C)
        std::fill(dxr, dxr + g.W * C, 0.f);
        for (int64_t w = 0; w < g.W; w++) {
            const Cover cols = covering(w, g.kernel_w, g.stride_w, g.pad_w, g.Q);
            const int32_t index = int32_t(h * g.W + w);
            float* dxi = dxr + w * C; // (C,)
            for (int64_t p = rows.first; p <= rows.last; p++) {
                for (int64_t q = cols.first; q <= cols.last; q++) {
                    const int64_t o = ((n * g.P + p) * g.Q + q) * C;
                    const float* dyo = dy + o;      // (C,)
                    const int32_t* io = argmax + o; // (C,)
                    for (int64_t c = 0; c < C; c++) {
                        const float d = dyo[c];
                        dxi[c] += io[c] == index ? d : 0.f;
                    }
                }
            }
        }
    });
}

// ---- average pooling ----

// Divisors of the windows along one axis: with count_include_pad the window clipped to the padded
// input [-pad, in + pad) (a ceil_mode window can run past it), else the real pixels in it.
static std::vector<float> window_sizes(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                       int64_t pad, bool count_include_pad) {
    std::vector<float> sizes(size_t(out), 0.f);
    for (int64_t o = 0; o < out; o++) {
        int64_t start = o * stride - pad, end = std::min(start + kernel, in + pad);
        if (!count_include_pad) start = std::max<int64_t>(start, 0), end = std::min(end, in);
        sizes[size_t(o)] = float(end - start);
    }
    return sizes;
}

// One output pixel of average pooling for channels [c0, c0 + cn), like max_window: the window sum
// accumulates in a local array, then is divided by the window's divisor.
static void avg_window(float* yo, const float* x, const PoolGeometry& g, int64_t h0, int64_t h1,
                       int64_t w0, int64_t w1, int64_t c0, int64_t cn, float divisor) {
    float acc[kLanes];
    for (int64_t c = 0; c < cn; c++) acc[c] = 0.f;
    for (int64_t h = h0; h < h1; h++) {
        for (int64_t w = w0; w < w1; w++) {
            const float* xi = x + (h * g.W + w) * g.C + c0; // (cn,)
            for (int64_t c = 0; c < cn; c++) acc[c] += xi[c];
        }
    }
    for (int64_t c = 0; c < cn; c++) yo[c] = acc[c] / divisor;
}

void avg_pool2d_forward(float* y, const float* x, const PoolGeometry& g) {
    const std::vector<float> sh =
        window_sizes(g.H, g.P, g.kernel_h, g.stride_h, g.pad_h, g.count_include_pad);
    const std::vector<float> sw =
        window_sizes(g.W, g.Q, g.kernel_w, g.stride_w, g.pad_w, g.count_include_pad);
    parallel_for(g.N * g.P, 1, [&](int64_t np) {
        const int64_t n = np / g.P, p = np % g.P;
        const int64_t h0 = std::max<int64_t>(p * g.stride_h - g.pad_h, 0);
        const int64_t h1 = std::min(p * g.stride_h - g.pad_h + g.kernel_h, g.H);
        const float* image = x + n * g.H * g.W * g.C; // (H, W, C)
        for (int64_t q = 0; q < g.Q; q++) {
            const int64_t w0 = std::max<int64_t>(q * g.stride_w - g.pad_w, 0);
            const int64_t w1 = std::min(q * g.stride_w - g.pad_w + g.kernel_w, g.W);
            const int64_t o = (np * g.Q + q) * g.C;
            for (int64_t c0 = 0; c0 < g.C; c0 += kLanes)
                avg_window(y + o + c0, image, g, h0, h1, w0, w1, c0, std::min(kLanes, g.C - c0),
                           sh[size_t(p)] * sw[size_t(q)]);
        }
    });
}

void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g) {
    // Each input pixel receives dy / divisor from every window that covers it.
    const int64_t C = g.C;
    const std::vector<float> sh =
        window_sizes(g.H, g.P, g.kernel_h, g.stride_h, g.pad_h, g.count_include_pad);
    const std::vector<float> sw =
        window_sizes(g.W, g.Q, g.kernel_w, g.stride_w, g.pad_w, g.count_include_pad);
    parallel_for(g.N * g.H, 1, [&](int64_t nh) {
        const int64_t n = nh / g.H, h = nh % g.H;
        const Cover rows = covering(h, g.kernel_h, g.stride_h, g.pad_h, g.P);
        float* dxr = dx + nh * g.W * C; // (W, C)
        std::fill(dxr, dxr + g.W * C, 0.f);
        for (int64_t w = 0; w < g.W; w++) {
            const Cover cols = covering(w, g.kernel_w, g.stride_w, g.pad_w, g.Q);
            float* dxi = dxr + w * C; // (C,)
            for (int64_t p = rows.first; p <= rows.last; p++) {
                for (int64_t q = cols.first; q <= cols.last; q++) {
                    const float* dyo = dy + ((n * g.P + p) * g.Q + q) * C; // (C,)
                    const float divisor = sh[size_t(p)] * sw[size_t(q)];
                    for (int64_t c = 0; c < C; c++) dxi[c] += dyo[c] / divisor;
                }
            }
        }
    });
}

} // namespace pg::cpu
