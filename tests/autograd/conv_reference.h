// A naive convolution in double for the CPU kernel tests (tests/autograd/conv_test.cpp,
// conv_direct_test.cpp): the geometry helper, the reference loops, and a random case with its
// forward, input-gradient and weight-gradient references.
#pragma once

#include <vector>

#include "tensor/backend.h"
#include "tensor/tensor.h"
#include "tests/common/test_util.h"

namespace pg::test {

// Direct definition in double: y[n,p,q,k] = b[k] + sum_{r,s,c} x[n, p sh - ph + r dh,
// q sw - pw + s dw, gi Cg + c] w[k, r, s, c], gi = k / Kg. The gradients follow by linearity.
struct NaiveConv {
    ConvGeometry g;
    template <typename F>
    void for_each_tap(F f) const { // f(y index, x index, w index)
        const int64_t Cg = g.C / g.groups, Kg = g.K / g.groups;
        for (int64_t n = 0; n < g.N; n++)
            for (int64_t p = 0; p < g.P; p++)
                for (int64_t q = 0; q < g.Q; q++)
                    for (int64_t k = 0; k < g.K; k++)
                        for (int64_t r = 0; r < g.R; r++)
                            for (int64_t s = 0; s < g.S; s++) {
                                int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
                                int64_t w = q * g.stride_w - g.pad_w + s * g.dilation_w;
                                if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
                                for (int64_t c = 0; c < Cg; c++)
                                    f(((n * g.P + p) * g.Q + q) * g.K + k,
                                      ((n * g.H + h) * g.W + w) * g.C + (k / Kg) * Cg + c,
                                      ((k * g.R + r) * g.S + s) * Cg + c);
                            }
    }
};

inline ConvGeometry geometry(int64_t N, int64_t H, int64_t W, int64_t C, int64_t K, int64_t R,
                             int64_t S, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                             int64_t dw, int64_t groups) {
    ConvGeometry g{N, H, W, C, K, R, S, 0, 0, sh, sw, ph, pw, dh, dw, groups};
    g.P = (H + 2 * ph - dh * (R - 1) - 1) / sh + 1;
    g.Q = (W + 2 * pw - dw * (S - 1) - 1) / sw + 1;
    return g;
}

// Random x, w, b, dy for the geometry and the naive results y (with b when with_bias), dx, dw.
struct ConvCase {
    Tensor x, w, b, dy;
    Tensor y, dx, dw; // references, rounded to float
};

inline ConvCase conv_case(const ConvGeometry& g, bool with_bias, uint64_t seed = 17) {
    Generator gen(seed);
    ConvCase c;
    c.x = random_tensor({g.N, g.H, g.W, g.C}, gen);
    c.w = random_tensor({g.K, g.R, g.S, g.C / g.groups}, gen);
    c.b = random_tensor({g.K}, gen);
    c.dy = random_tensor({g.N, g.P, g.Q, g.K}, gen);
    std::vector<float> xs = c.x.to_f32_vector(), ws = c.w.to_f32_vector(), bs = c.b.to_f32_vector(),
                       dys = c.dy.to_f32_vector();
    std::vector<double> y(size_t(c.dy.numel()), 0.0), dx(xs.size(), 0.0), dw(ws.size(), 0.0);
    NaiveConv{g}.for_each_tap([&](int64_t iy, int64_t ix, int64_t iw) {
        y[size_t(iy)] += double(xs[size_t(ix)]) * ws[size_t(iw)];
        dx[size_t(ix)] += double(dys[size_t(iy)]) * ws[size_t(iw)];
        dw[size_t(iw)] += double(dys[size_t(iy)]) * xs[size_t(ix)];
    });
    if (with_bias)
        for (size_t i = 0; i < y.size(); i++) y[i] += bs[i % size_t(g.K)];
    auto as_tensor = [](const std::vector<double>& v, const Shape& shape) {
        return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), shape);
    };
    c.y = as_tensor(y, c.dy.shape());
    c.dx = as_tensor(dx, c.x.shape());
    c.dw = as_tensor(dw, c.w.shape());
    return c;
}

} // namespace pg::test
