// CPU convolution with few output channels (K well below C, a filter larger than 1x1): DeepLab-v2's
// classifier (2048 -> 21 classes, 3x3 taps), DeepLabV3+'s ASPP (2048 -> 256). conv.cpp sends them
// here; the geometry is the NHWC one of tensor/backend.h, groups 1.
//
// im2col would build the column matrix (M_out, R*S*C) (21 MB for the classifier at a 129 crop) and
// feed a GEMM whose output has K = 21 columns, which OpenBLAS runs far below its peak. Here the
// GEMM runs on the input side instead, against every tap's weights at once:
//   Z (M_in, R*S*kb) = x (M_in, C) wt^T,  wt (R, S, kb, C) the taps of output channels [k0, k0+kb)
//   y[n, p, q, k0 + j] = bias + sum of Z[(n, h, w), (r, s, j)] over the taps (r, s) whose pixel
//                        (n, h, w) is a real one, not padding
// The backward passes gather dy the same way, G (M_in, R*S*kb) with G[(n,h,w), (r,s,j)] = dy of the
// output pixel that reads (n, h, w) through tap (r, s) (0 if none), then
//   dx (M_in, C) = sum over blocks of G wt,   dwt (R*S*kb, C) = G^T x.
// Z and G hold M_in * R*S * kb floats: output channels go through in blocks of kb.
#include <algorithm>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"

namespace pg::cpu {

// Calls f(m_out, m_in, rs) for every output pixel and tap that reads a real pixel, in a fixed
// order (output pixels, then taps): m_out indexes (N, P, Q), m_in indexes (N, H, W).
template <typename F>
static void for_each_read(const ConvGeometry& g, F f) {
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t p = 0; p < g.P; p++)
            for (int64_t q = 0; q < g.Q; q++) {
                const int64_t m_out = (n * g.P + p) * g.Q + q;
                for (int64_t r = 0; r < g.R; r++) {
                    const int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
                    if (h < 0 || h >= g.H) continue;
                    for (int64_t s = 0; s < g.S; s++) {
                        const int64_t w = q * g.stride_w - g.pad_w + s * g.dilation_w;
                        if (w >= 0 && w < g.W) f(m_out, (n * g.H + h) * g.W + w, r * g.S + s);
                    }
                }
            }
}

// Calls copy(w_row, wt_row) with the offsets of the C floats of output channel k0 + j, tap rs in
// w (K, R*S, C) and in the packed taps wt (R*S, kb, C).
template <typename Copy>
static void for_each_tap_row(const ConvGeometry& g, int64_t k0, int64_t kb, Copy copy) {
    const int64_t RS = g.R * g.S;
    for (int64_t rs = 0; rs < RS; rs++)
        for (int64_t j = 0; j < kb; j++) copy(((k0 + j) * RS + rs) * g.C, (rs * kb + j) * g.C);
}

static void pack_taps(float* wt, const float* w, const ConvGeometry& g, int64_t k0, int64_t kb) {
    for_each_tap_row(g, k0, kb, [&](int64_t w_row, int64_t wt_row) {
        std::copy(w + w_row, w + w_row + g.C, wt + wt_row);
    });
}

// G (M_in, R*S, kb): dy's channels [k0, k0 + kb) at the output pixel each (input pixel, tap) feeds.
// An (input pixel, tap) pair feeds at most one output pixel, so each entry is written once.
static void gather_dy(float* G, const float* dy, const ConvGeometry& g, int64_t k0, int64_t kb) {
    const int64_t RS = g.R * g.S;
    std::fill(G, G + g.N * g.H * g.W * RS * kb, 0.f);
    for_each_read(g, [&](int64_t m_out, int64_t m_in, int64_t rs) {
        const float* from = dy + m_out * g.K + k0;
        std::copy(from, from + kb, G + (m_in * RS + rs) * kb);
    });
}

// The packed taps (R*S*kb, C) and Z or G (M_in, R*S*kb), in per-thread scratch (im2col's column
// slot is free here: this path replaces it).
struct Buffers {
    float *wt, *zg;
    Buffers(const ConvGeometry& g, int64_t kb)
        : wt(scratch(Scratch::packed_taps, g.R * g.S * kb * g.C)),
          zg(scratch(Scratch::columns, g.N * g.H * g.W * g.R * g.S * kb)) {}
};

void conv2d_few_outputs_forward(float* y, const float* x, const float* w, const float* bias,
                                const ConvGeometry& g, int64_t kb) {
    const int64_t M_in = g.N * g.H * g.W, M_out = g.N * g.P * g.Q, RS = g.R * g.S;
    for (int64_t m = 0; m < M_out; m++)
        for (int64_t k = 0; k < g.K; k++) y[m * g.K + k] = bias ? bias[k] : 0.f;
    Buffers buf(g, kb);
    for (int64_t k0 = 0; k0 < g.K; k0 += kb) {
        const int64_t width = std::min(kb, g.K - k0);
        pack_taps(buf.wt, w, g, k0, width);
        float* Z = buf.zg; // (M_in, R*S, width)
        gemm(false, true, M_in, RS * width, g.C, 1.f, x, g.C, 0, buf.wt, g.C, 0, 0.f, Z, RS * width,
             0, 1);
        for_each_read(g, [&](int64_t m_out, int64_t m_in, int64_t rs) {
            float* out = y + m_out * g.K + k0;
            const float* in = Z + (m_in * RS + rs) * width;
            for (int64_t j = 0; j < width; j++) out[j] += in[j];
        });
    }
}

void conv2d_few_outputs_backward_input(float* dx, const float* dy, const float* w,
                                       const ConvGeometry& g, int64_t kb) {
    const int64_t M_in = g.N * g.H * g.W, RS = g.R * g.S;
    Buffers buf(g, kb);
    for (int64_t k0 = 0; k0 < g.K; k0 += kb) {
        const int64_t width = std::min(kb, g.K - k0);
        pack_taps(buf.wt, w, g, k0, width);
        gather_dy(buf.zg, dy, g, k0, width);
        gemm(false, false, M_in, g.C, RS * width, 1.f, buf.zg, RS * width, 0, buf.wt, g.C, 0,
             k0 == 0 ? 0.f : 1.f, dx, g.C, 0, 1);
    }
}

void conv2d_few_outputs_backward_weight(float* dw, const float* dy, const float* x,
                                        const ConvGeometry& g, int64_t kb) {
    const int64_t M_in = g.N * g.H * g.W, RS = g.R * g.S;
    Buffers buf(g, kb);
    for (int64_t k0 = 0; k0 < g.K; k0 += kb) {
        const int64_t width = std::min(kb, g.K - k0);
        gather_dy(buf.zg, dy, g, k0, width);
        gemm(true, false, RS * width, g.C, M_in, 1.f, buf.zg, RS * width, 0, x, g.C, 0, 0.f, buf.wt,
             g.C, 0, 1);
        for_each_tap_row(g, k0, width, [&](int64_t w_row, int64_t wt_row) {
            std::copy(buf.wt + wt_row, buf.wt + wt_row + g.C, dw + w_row);
        });
    }
}

} // namespace pg::cpu
