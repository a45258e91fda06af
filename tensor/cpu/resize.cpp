// CPU resize kernels on NHWC images: bilinear forward and its adjoint with PyTorch's
// F.interpolate(mode='bilinear') semantics for both align_corners modes, and 'nearest' for any
// element type (label maps). Source coordinates and weights are computed once per axis, in the
// same arithmetic as PyTorch's CPU kernel (ATen's UpSample.h and cpu/UpSampleKernel.cpp); every
// output pixel then blends (or copies) its C contiguous channels. The ops are autograd/resize.cpp.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/words.h"

namespace pg::cpu {

namespace {

// One output coordinate along an axis reads input positions i0 and i1 with weights l0 = 1 - l1
// and l1. At the last input position i1 == i0.
struct Tap {
    int64_t i0, i1;
    float l0, l1;
};

// PyTorch's CPU bilinear kernel (compute_indices_weights with accscalar_t = double on the CPU):
// the scale is computed in double and stored as float, then the source index is formed in double
// from that float scale, and only the weights are rounded to float:
//   align_corners: scale = (in - 1) / (out - 1) (0 when out == 1), src = scale * dst;
//   otherwise:     scale = in / out, src = max(scale * (dst + 0.5) - 0.5, 0).
// Then i0 = floor(src) (src >= 0: a truncation), l1 = src - i0 clamped into [0, 1], l0 = 1 - l1.
// This gives torch 1.13's weights bit for bit (checked tap by tap for the reference sizes and
// 65 -> 513, 65 -> 129, 41 -> 321). A float source index would move a weight by up to an ulp of
// the index (2e-6 near 32), visible in the outputs.
std::vector<Tap> linear_taps(int64_t in, int64_t out, bool align_corners) {
    float scale = align_corners ? (out > 1 ? float(double(in - 1) / double(out - 1)) : 0.f)
                                : float(double(in) / double(out));
    std::vector<Tap> taps(static_cast<size_t>(out));
    for (int64_t d = 0; d < out; d++) {
        double src = align_corners ? double(scale) * double(d)
                                   : std::max(double(scale) * (double(d) + 0.5) - 0.5, 0.0);
        int64_t i0 = std::min(int64_t(src), in - 1);
        float l1 = float(std::min(std::max(src - double(i0), 0.0), 1.0));
        taps[size_t(d)] = Tap{i0, i0 < in - 1 ? i0 + 1 : i0, 1.f - l1, l1};
    }
    return taps;
}

// parallel_for's grain for a loop over rows: how many rows are worth a thread (~kChunk elements).
int64_t rows_grain(int64_t row_elems) {
    return std::max<int64_t>(1, kChunk / std::max<int64_t>(1, row_elems));
}

} // namespace

// y[n, i, j, :] = l0(i) (l0(j) x[h0, w0] + l1(j) x[h0, w1])
//               + l1(i) (l0(j) x[h1, w0] + l1(j) x[h1, w1]),
// with h0, h1, l0(i), l1(i) the taps of row i and w0, w1, l0(j), l1(j) those of column j (the
// order of PyTorch's products: width first, then height).
void resize_bilinear_forward(float* y, const float* x, const ResizeGeometry& g) {
    std::vector<Tap> th = linear_taps(g.H, g.out_h, g.align_corners);
    std::vector<Tap> tw = linear_taps(g.W, g.out_w, g.align_corners);
    const int64_t C = g.C;
    parallel_for(g.N * g.out_h, rows_grain(g.out_w * C), [&](int64_t row) {
        int64_t n = row / g.out_h;
        const Tap& h = th[size_t(row % g.out_h)];
        const float* top = x + (n * g.H + h.i0) * g.W * C;    // (W, C)
        const float* bottom = x + (n * g.H + h.i1) * g.W * C; // (W, C)
        float* out = y + row * g.out_w * C;                   // (out_w, C)
        for (int64_t j = 0; j < g.out_w; j++) {
            const Tap& w = tw[size_t(j)];
            const float* a = top + w.i0 * C;
            const float* b = top + w.i1 * C;
            const float* c = bottom + w.i0 * C;
            const float* d = bottom + w.i1 * C;
            float* o = out + j * C;
            for (int64_t k = 0; k < C; k++)
                o[k] = h.l0 * (w.l0 * a[k] + w.l1 * b[k]) + h.l1 * (w.l0 * c[k] + w.l1 * d[k]);
        }
    });
}

// The adjoint: every output gradient goes back to its 4 sources with the forward's weights, and dx
// is overwritten. The blend is separable, so is its transpose: for input row h, first sum the
// output rows that read it, col = sum_i lh(i) dy[i] (contiguous axpys over out_w * C), then send
// col[j] to columns w0(j), w1(j) with lw(j). Each task owns one input row (n, h) and visits its
// readers in output order: no two tasks write the same memory and the summation order is fixed by
// the shape, so the result is the same for any thread count (no atomics).
void resize_bilinear_backward(float* dx, const float* dy, const ResizeGeometry& g) {
    std::vector<Tap> th = linear_taps(g.H, g.out_h, g.align_corners);
    std::vector<Tap> tw = linear_taps(g.W, g.out_w, g.align_corners);
    const int64_t C = g.C, row_out = g.out_w * C;
    // readers[h]: the (output row, vertical weight) pairs that read input row h, ascending.
    std::vector<std::vector<std::pair<int64_t, float>>> readers(size_t(g.H));
    for (int64_t i = 0; i < g.out_h; i++) {
        const Tap& h = th[size_t(i)];
        readers[size_t(h.i0)].emplace_back(i, h.l0);
        readers[size_t(h.i1)].emplace_back(i, h.l1);
    }
    parallel_for(g.N * g.H, 1, [&](int64_t row) {
        int64_t n = row / g.H;
        float* dxr = dx + row * g.W * C; // (W, C)
        std::fill(dxr, dxr + g.W * C, 0.f);
        const auto& rows = readers[size_t(row % g.H)];
        if (rows.empty()) return;                     // strong downsampling skips some input rows
        std::vector<float> col(size_t(row_out), 0.f); // (out_w, C)
        for (const auto& [i, lh] : rows) {
            const float* dyr = dy + (n * g.out_h + i) * row_out; // (out_w, C)
            for (int64_t k = 0; k < row_out; k++) col[size_t(k)] += lh * dyr[k];
        }
        for (int64_t j = 0; j < g.out_w; j++) {
            const Tap& w = tw[size_t(j)];
            const float* c = col.data() + j * C;
            float* d0 = dxr + w.i0 * C;
            float* d1 = dxr + w.i1 * C;
            for (int64_t k = 0; k < C; k++) d0[k] += w.l0 * c[k];
            for (int64_t k = 0; k < C; k++) d1[k] += w.l1 * c[k];
        }
    });
}

// PyTorch's 'nearest' (not 'nearest-exact'): src = min(floor(dst * (float)in / out), in - 1), with
// the product in float like its nearest_neighbor_compute_source_index.
static std::vector<int64_t> nearest_index(int64_t in, int64_t out) {
    float scale = float(in) / float(out);
    std::vector<int64_t> index(static_cast<size_t>(out));
    for (int64_t d = 0; d < out; d++)
        index[size_t(d)] = std::min(int64_t(std::floor(float(d) * scale)), in - 1);
    return index;
}

// Copies whole pixels (C elements of elem_size bytes) as machine words: any dtype, bit-exact.
void resize_nearest(void* y, const void* x, size_t elem_size, const ResizeGeometry& g) {
    std::vector<int64_t> ih = nearest_index(g.H, g.out_h), iw = nearest_index(g.W, g.out_w);
    const int64_t pixel_bytes = g.C * int64_t(elem_size);
    with_word(pixel_bytes, x, y, [&](auto word) {
        using Word = decltype(word);
        const int64_t P = pixel_bytes / int64_t(sizeof(Word)); // words per pixel
        const Word* in = static_cast<const Word*>(x);          // (N, H, W, P)
        Word* out = static_cast<Word*>(y);                     // (N, out_h, out_w, P)
        parallel_for(g.N * g.out_h, rows_grain(g.out_w * P), [&](int64_t row) {
            int64_t n = row / g.out_h;
            const Word* src = in + (n * g.H + ih[size_t(row % g.out_h)]) * g.W * P; // (W, P)
            Word* dst = out + row * g.out_w * P;                                    // (out_w, P)
            for (int64_t j = 0; j < g.out_w; j++) {
                const Word* p = src + iw[size_t(j)] * P;
                for (int64_t k = 0; k < P; k++) dst[j * P + k] = p[k];
            }
        });
    });
}

} // namespace pg::cpu
