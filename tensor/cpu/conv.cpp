// CPU convolution over NHWC: im2col + GEMM (OpenBLAS, tensor/cpu/gemm.cpp), a plain GEMM for 1x1
// stride-1 convolutions (x already is the (N*H*W, C) matrix), a direct loop for depthwise, and a
// vectorised direct kernel for layers with few channels (conv_direct.cpp). Filter taps that read
// only padding are left out, per band of output rows where that pays (conv_regions.cpp).
// Shapes and the geometry struct are documented in tensor/backend.h; the ops that call these are in
// autograd/conv.cpp. The loops here sum in an order fixed by the shape, never by the thread count
// (OpenBLAS may round a GEMM differently when given a different number of threads).
#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/cpu/conv_regions.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"

namespace pg::cpu {

// The column matrix (N*P*Q, R*S*Cg) of a large layer does not fit in memory at once (the ASPP 3x3
// 2048 -> 256 at 65x65 would take 311 MB), so output pixels go through in blocks of rows whose
// column buffer holds about this many floats (16 MB). Blocks may span several images.
constexpr int64_t kColumnBudget = int64_t(1) << 22;
constexpr int64_t kChannelBlock = 16; // channels per task in the depthwise weight gradient

static bool is_pointwise(const ConvGeometry& g) {
    return g.R == 1 && g.S == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
           g.pad_w == 0;
}
static bool is_depthwise(const ConvGeometry& g) { return g.groups == g.C && g.K == g.C; }

// Rows of the column matrix per block: the budget's worth, at least 1.
static int64_t block_rows(const ConvGeometry& g) {
    int64_t patch = g.R * g.S * (g.C / g.groups);
    return std::max<int64_t>(1, kColumnBudget / std::max<int64_t>(1, patch));
}

// ---- im2col / col2im ----
// In OpenMP, on the same threads as the GEMMs that follow (OpenBLAS's OpenMP build; with its
// pthread build, OpenMP workers spinning after a region took cores from the GEMM and these loops
// were faster serial). im2col splits the rows of the column matrix; col2im adds overlapping
// receptive fields into dx, so it splits the channels instead: each thread owns a channel slice of
// every pixel, and each element's sum keeps its order (deterministic for any thread count).
// Decoder 3x3 512 -> 256 at 129x129 (bench ConvForward): 235 -> 205 ms with 2 threads.
constexpr int64_t kCol2imChannels = 32; // channels per col2im slice, at least

// col (rows, R, S, Cg): row i is the receptive field of output pixel m0 + i of the flattened
// (N, P, Q), channels [c0, c0 + Cg) of x (N, H, W, C), in (r, s, c) order to match the weight
// matrix (Kg, R*S*Cg). Taps that land in the padding are zero. Without groups or dilation the
// taps of one filter row are adjacent pixels, copied at once (the 3-channel stem would otherwise
// make a 12-byte memcpy per tap).
static void im2col(float* col, const float* x, const ConvGeometry& g, int64_t m0, int64_t rows,
                   int64_t c0) {
    const int64_t Cg = g.C / g.groups;
    const bool adjacent_taps = g.dilation_w == 1 && Cg == g.C;
    parallel_for(rows, 64, [&](int64_t i) {
        const int64_t m = m0 + i, n = m / (g.P * g.Q), p = (m / g.Q) % g.P, q = m % g.Q;
        const int64_t w0 = q * g.stride_w - g.pad_w; // input column of tap s = 0
        const Range taps = inside(w0, g.dilation_w, g.W, g.S);
        float* dst = col + i * g.R * g.S * Cg; // (R, S, Cg)
        for (int64_t r = 0; r < g.R; r++, dst += g.S * Cg) {
            const int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
            if (h < 0 || h >= g.H || taps.lo == taps.hi) {
                std::fill(dst, dst + g.S * Cg, 0.f);
                continue;
            }
            const float* row = x + (n * g.H + h) * g.W * g.C + c0; // (W, C) from channel c0
            auto tap = [&](int64_t s) { return row + (w0 + s * g.dilation_w) * g.C; };
            std::fill(dst, dst + taps.lo * Cg, 0.f);
            if (adjacent_taps)
                std::copy(tap(taps.lo), tap(taps.hi - 1) + g.C, dst + taps.lo * Cg);
            else
                for (int64_t s = taps.lo; s < taps.hi; s++)
                    std::copy(tap(s), tap(s) + Cg, dst + s * Cg);
            std::fill(dst + taps.hi * Cg, dst + g.S * Cg, 0.f);
        }
    });
}

// The adjoint of im2col: adds every dcol (rows, R, S, Cg) entry back onto the x element it was
// copied from, in dx[..., c0 : c0 + Cg]. Rows and taps go in a fixed order, so dx is deterministic.
static void col2im(float* dx, const float* dcol, const ConvGeometry& g, int64_t m0, int64_t rows,
                   int64_t c0) {
    const int64_t Cg = g.C / g.groups;
    const int64_t slices = std::max<int64_t>(1, Cg / kCol2imChannels);
    parallel_for(slices, 1, [&](int64_t slice) { // channels [lo, hi) of every pixel
        const int64_t lo = slice * Cg / slices, hi = (slice + 1) * Cg / slices;
        for (int64_t i = 0; i < rows; i++) {
            const int64_t m = m0 + i, n = m / (g.P * g.Q), p = (m / g.Q) % g.P, q = m % g.Q;
            const int64_t w0 = q * g.stride_w - g.pad_w; // input column of tap s = 0
            const Range taps = inside(w0, g.dilation_w, g.W, g.S);
            const float* src = dcol + i * g.R * g.S * Cg; // (R, S, Cg)
            for (int64_t r = 0; r < g.R; r++) {
                const int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
                if (h < 0 || h >= g.H) continue;
                float* row = dx + (n * g.H + h) * g.W * g.C + c0; // (W, C) from channel c0
                for (int64_t s = taps.lo; s < taps.hi; s++) {
                    float* out = row + (w0 + s * g.dilation_w) * g.C;
                    const float* in = src + (r * g.S + s) * Cg;
                    for (int64_t c = lo; c < hi; c++) out[c] += in[c];
                }
            }
        }
    });
}

// ---- depthwise (groups == C == K): direct loops, channels innermost ----
// im2col would feed GEMMs with an inner dimension of only R*S; instead each tap is a contiguous
// multiply-add over the C channels of one pixel. wt (R, S, C) is the filter with C innermost.

static std::vector<float> taps_by_channel(const float* w, const ConvGeometry& g) {
    std::vector<float> wt(size_t(g.R * g.S * g.C)); // (R, S, C) from w (C, R, S, 1)
    for (int64_t c = 0; c < g.C; c++)
        for (int64_t rs = 0; rs < g.R * g.S; rs++) wt[size_t(rs * g.C + c)] = w[c * g.R * g.S + rs];
    return wt;
}

static void depthwise_forward(float* y, const float* x, const float* w, const float* bias,
                              const ConvGeometry& g) {
    const std::vector<float> wt = taps_by_channel(w, g);
    const int64_t C = g.C;
    parallel_for(g.N * g.P, 1, [&](int64_t np) {
        const int64_t n = np / g.P, p = np % g.P;
        for (int64_t q = 0; q < g.Q; q++) {
            float* out = y + (np * g.Q + q) * C; // (C,)
            for (int64_t c = 0; c < C; c++) out[c] = bias ? bias[c] : 0.f;
            for (int64_t r = 0; r < g.R; r++) {
                const int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
                if (h < 0 || h >= g.H) continue;
                for (int64_t s = 0; s < g.S; s++) {
                    const int64_t w_ = q * g.stride_w - g.pad_w + s * g.dilation_w;
                    if (w_ < 0 || w_ >= g.W) continue;
                    const float* in = x + ((n * g.H + h) * g.W + w_) * C;
                    const float* f = wt.data() + (r * g.S + s) * C;
                    for (int64_t c = 0; c < C; c++) out[c] += in[c] * f[c];
                }
            }
        }
    });
}

// dx[n, h, w, c] = sum over the taps (r, s) whose output pixel (p, q) exists of dy[n, p, q, c] *
// w[c, r, s]: a gather per input row, so writes never collide.
static void depthwise_backward_input(float* dx, const float* dy, const float* w,
                                     const ConvGeometry& g) {
    const std::vector<float> wt = taps_by_channel(w, g);
    const int64_t C = g.C;
    parallel_for(g.N * g.H, 1, [&](int64_t nh) {
        const int64_t n = nh / g.H, h = nh % g.H;
        for (int64_t w_ = 0; w_ < g.W; w_++) {
            float* out = dx + (nh * g.W + w_) * C; // (C,)
            std::fill(out, out + C, 0.f);
            for (int64_t r = 0; r < g.R; r++) {
                const int64_t p_num = h + g.pad_h - r * g.dilation_h;
                if (p_num < 0 || p_num % g.stride_h != 0 || p_num / g.stride_h >= g.P) continue;
                for (int64_t s = 0; s < g.S; s++) {
                    const int64_t q_num = w_ + g.pad_w - s * g.dilation_w;
                    if (q_num < 0 || q_num % g.stride_w != 0 || q_num / g.stride_w >= g.Q) continue;
                    const float* d =
                        dy + ((n * g.P + p_num / g.stride_h) * g.Q + q_num / g.stride_w) * C;
                    const float* f = wt.data() + (r * g.S + s) * C;
                    for (int64_t c = 0; c < C; c++) out[c] += d[c] * f[c];
                }
            }
        }
    });
}

// part[c] += sum over i < count of d[i * d_step + c] * in[i * in_step + c], for c < width.
static inline void dot_columns(float* part, const float* d, const float* in, int64_t count,
                               int64_t d_step, int64_t in_step, int64_t width) {
    for (int64_t i = 0; i < count; i++, d += d_step, in += in_step)
        for (int64_t c = 0; c < width; c++) part[c] += d[c] * in[c];
}

// dw[c, r, s] = sum over (n, p, q) of dy[n, p, q, c] x[n, h, w, c]. A task owns a block of
// channels and walks the pixels in one fixed order: for each output row and tap, a float sum over
// the row's valid columns (kept in registers), added to a double total.
static void depthwise_backward_weight(float* dw, const float* dy, const float* x,
                                      const ConvGeometry& g) {
    const int64_t C = g.C, RS = g.R * g.S, blocks = (C + kChannelBlock - 1) / kChannelBlock;
    parallel_for(blocks, 0, [&](int64_t b) {
        const int64_t c0 = b * kChannelBlock, cw = std::min(kChannelBlock, C - c0);
        std::vector<double> acc(size_t(RS * cw), 0.0); // (R, S, cw)
        for (int64_t np = 0; np < g.N * g.P; np++) {
            const int64_t n = np / g.P, p = np % g.P;
            const float* d_row = dy + np * g.Q * C + c0; // (Q, C) from channel c0
            for (int64_t r = 0; r < g.R; r++) {
                const int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
                if (h < 0 || h >= g.H) continue;
                const float* x_row = x + (n * g.H + h) * g.W * C + c0; // (W, C) from channel c0
                for (int64_t s = 0; s < g.S; s++) {
                    const int64_t w0 = s * g.dilation_w - g.pad_w; // input column at q = 0
                    const Range qs = inside(w0, g.stride_w, g.W, g.Q);
                    float part[kChannelBlock] = {};
                    const float* d = d_row + qs.lo * C;
                    const float* in = x_row + (qs.lo * g.stride_w + w0) * C;
                    const int64_t count = qs.hi - qs.lo, in_step = g.stride_w * C;
                    if (cw == kChannelBlock) // a constant width keeps the sums in registers
                        dot_columns(part, d, in, count, C, in_step, kChannelBlock);
                    else
                        dot_columns(part, d, in, count, C, in_step, cw);
                    double* a = acc.data() + (r * g.S + s) * cw;
                    for (int64_t c = 0; c < cw; c++) a[c] += part[c];
                }
            }
        }
        for (int64_t c = 0; c < cw; c++)
            for (int64_t rs = 0; rs < RS; rs++)
                dw[(c0 + c) * RS + rs] = float(acc[size_t(rs * cw + c)]);
    });
}

// ---- few output channels (conv_few_outputs.cpp) ----
// The input-side GEMM's buffer holds M_in * R*S * K floats against im2col's M_out * R*S * C: it is
// taken when that is at most half (DeepLab-v2's classifier 2048 -> 21: 1/98; v3+'s ASPP 2048 ->
// 256: 1/8).
static bool few_outputs(const ConvGeometry& g) {
    const int64_t M_in = g.N * g.H * g.W, M_out = g.N * g.P * g.Q;
    return g.groups == 1 && g.R * g.S > 1 && M_out > 0 && 2 * M_in * g.K <= M_out * g.C;
}

// Output channels per block, so that Z or G (M_in, R*S, kb) stays within the column budget.
static int64_t few_outputs_block(const ConvGeometry& g) {
    const int64_t per_channel = std::max<int64_t>(1, g.N * g.H * g.W * g.R * g.S);
    return std::clamp<int64_t>(kColumnBudget / per_channel, 1, g.K);
}

// ---- im2col + GEMM ----
// Per group gi the weight is the matrix w_gi (Kg, R*S*Cg) at w + gi * Kg * R*S*Cg, its input the
// channels [gi * Cg, (gi + 1) * Cg) and its output the channels [gi * Kg, (gi + 1) * Kg): GEMMs
// address them through the leading dimensions C and K, never by copying. The weight gradient may
// write into a band's filter rows inside the layer's (conv_regions.h): weight rows lddw apart.

// y (M = N*P*Q, K) = col (M, RSCg) x w_gi^T (RSCg, Kg) per group, plus bias.
static void im2col_forward(float* y, const float* x, const float* w, const float* bias,
                           const ConvGeometry& g) {
    const int64_t M = g.N * g.P * g.Q, Cg = g.C / g.groups, Kg = g.K / g.groups;
    const int64_t RSC = g.R * g.S * Cg;
    // With a bias, y starts as the bias broadcast over the rows and the GEMMs add to it (beta 1).
    if (bias)
        for (int64_t m = 0; m < M; m++) std::copy(bias, bias + g.K, y + m * g.K);
    const float beta = bias ? 1.f : 0.f;
    const int64_t block = block_rows(g);
    float* col = scratch(Scratch::columns, std::min(block, M) * RSC); // (rows, R, S, Cg)
    for (int64_t m0 = 0; m0 < M; m0 += block) {
        const int64_t rows = std::min(block, M - m0);
        for (int64_t gi = 0; gi < g.groups; gi++) {
            im2col(col, x, g, m0, rows, gi * Cg);
            gemm(false, true, rows, Kg, RSC, 1.f, col, RSC, 0, w + gi * Kg * RSC, RSC, 0, beta,
                 y + m0 * g.K + gi * Kg, g.K, 0, 1);
        }
    }
}

// dcol (M, RSCg) = dy_gi (M, Kg) x w_gi (Kg, RSCg), then col2im adds it back into dx.
static void im2col_backward_input(float* dx, const float* dy, const float* w,
                                  const ConvGeometry& g) {
    const int64_t M = g.N * g.P * g.Q, Cg = g.C / g.groups, Kg = g.K / g.groups;
    const int64_t RSC = g.R * g.S * Cg;
    std::fill(dx, dx + g.N * g.H * g.W * g.C, 0.f);
    const int64_t block = block_rows(g);
    float* dcol = scratch(Scratch::columns, std::min(block, M) * RSC); // (rows, R, S, Cg)
    for (int64_t m0 = 0; m0 < M; m0 += block) {
        const int64_t rows = std::min(block, M - m0);
        for (int64_t gi = 0; gi < g.groups; gi++) {
            gemm(false, false, rows, RSC, Kg, 1.f, dy + m0 * g.K + gi * Kg, g.K, 0,
                 w + gi * Kg * RSC, RSC, 0, 0.f, dcol, RSC, 0, 1);
            col2im(dx, dcol, g, m0, rows, gi * Cg);
        }
    }
}

// dw_gi (Kg, RSCg) (+)= dy_gi^T (Kg, M) x col (M, RSCg), the blocks summed in order (beta 1 after
// the first, or throughout when accumulating) so the result is deterministic.
static void im2col_backward_weight(float* dw, int64_t lddw, const float* dy, const float* x,
                                   const ConvGeometry& g, bool accumulate) {
    const int64_t M = g.N * g.P * g.Q, Cg = g.C / g.groups, Kg = g.K / g.groups;
    const int64_t RSC = g.R * g.S * Cg;
    if (M == 0 && !accumulate) // an empty batch: no gradient
        for (int64_t k = 0; k < g.K; k++) std::fill(dw + k * lddw, dw + k * lddw + RSC, 0.f);
    const int64_t block = block_rows(g);
    float* col = scratch(Scratch::columns, std::min(block, M) * RSC); // (rows, R, S, Cg)
    for (int64_t m0 = 0; m0 < M; m0 += block) {
        const int64_t rows = std::min(block, M - m0);
        for (int64_t gi = 0; gi < g.groups; gi++) {
            im2col(col, x, g, m0, rows, gi * Cg);
            gemm(true, false, Kg, RSC, rows, 1.f, dy + m0 * g.K + gi * Kg, g.K, 0, col, RSC, 0,
                 m0 == 0 && !accumulate ? 0.f : 1.f, dw + gi * Kg * lddw, lddw, 0, 1);
        }
    }
}

// ---- which kernel takes a layer, per pass ----

enum class ConvPath { depthwise, direct, few_outputs, pointwise, im2col };

static ConvPath common_path(const ConvGeometry& g, bool direct) {
    if (is_depthwise(g)) return ConvPath::depthwise;
    if (direct) return ConvPath::direct;
    if (few_outputs(g)) return ConvPath::few_outputs;
    return is_pointwise(g) ? ConvPath::pointwise : ConvPath::im2col;
}
static ConvPath forward_path(const ConvGeometry& g) {
    return common_path(g, conv2d_direct_applies_forward(g));
}
static ConvPath backward_input_path(const ConvGeometry& g) {
    return common_path(g, conv2d_direct_applies_backward_input(g));
}
static ConvPath backward_weight_path(const ConvGeometry& g) {
    return common_path(g, conv2d_direct_applies_backward_weight(g));
}

// ---- the convolution over every tap of w ----

static void forward_all_taps(float* y, const float* x, const float* w, const float* bias,
                             const ConvGeometry& g) {
    const int64_t M = g.N * g.P * g.Q, Cg = g.C / g.groups, Kg = g.K / g.groups;
    switch (forward_path(g)) {
    case ConvPath::depthwise:
        return depthwise_forward(y, x, w, bias, g);
    case ConvPath::direct:
        return conv2d_direct_forward(y, x, w, bias, g, simd_path());
    case ConvPath::few_outputs:
        return conv2d_few_outputs_forward(y, x, w, bias, g, few_outputs_block(g));
    case ConvPath::pointwise: // x is already the column matrix (N*H*W, C)
        if (bias)
            for (int64_t m = 0; m < M; m++) std::copy(bias, bias + g.K, y + m * g.K);
        for (int64_t gi = 0; gi < g.groups; gi++)
            gemm(false, true, M, Kg, Cg, 1.f, x + gi * Cg, g.C, 0, w + gi * Kg * Cg, Cg, 0,
                 bias ? 1.f : 0.f, y + gi * Kg, g.K, 0, 1);
        return;
    case ConvPath::im2col:
        return im2col_forward(y, x, w, bias, g);
    }
}

static void backward_input_all_taps(float* dx, const float* dy, const float* w,
                                    const ConvGeometry& g) {
    const int64_t M = g.N * g.P * g.Q, Cg = g.C / g.groups, Kg = g.K / g.groups;
    switch (backward_input_path(g)) {
    case ConvPath::depthwise:
        return depthwise_backward_input(dx, dy, w, g);
    case ConvPath::direct:
        return conv2d_direct_backward_input(dx, dy, w, g, simd_path());
    case ConvPath::few_outputs:
        return conv2d_few_outputs_backward_input(dx, dy, w, g, few_outputs_block(g));
    case ConvPath::pointwise: // dx (N*H*W, C) is the column gradient itself
        for (int64_t gi = 0; gi < g.groups; gi++)
            gemm(false, false, M, Cg, Kg, 1.f, dy + gi * Kg, g.K, 0, w + gi * Kg * Cg, Cg, 0, 0.f,
                 dx + gi * Cg, g.C, 0, 1);
        return;
    case ConvPath::im2col:
        return im2col_backward_input(dx, dy, w, g);
    }
}

static void backward_weight_all_taps(float* dw, const float* dy, const float* x,
                                     const ConvGeometry& g) {
    const int64_t M = g.N * g.P * g.Q, Cg = g.C / g.groups, Kg = g.K / g.groups;
    switch (backward_weight_path(g)) {
    case ConvPath::depthwise:
        return depthwise_backward_weight(dw, dy, x, g);
    case ConvPath::direct:
        return conv2d_direct_backward_weight(dw, dy, x, g, simd_path());
    case ConvPath::few_outputs:
        return conv2d_few_outputs_backward_weight(dw, dy, x, g, few_outputs_block(g));
    case ConvPath::pointwise:
        for (int64_t gi = 0; gi < g.groups; gi++)
            gemm(true, false, Kg, Cg, M, 1.f, dy + gi * Kg, g.K, 0, x + gi * Cg, g.C, 0, 0.f,
                 dw + gi * Kg * Cg, Cg, 0, 1);
        return;
    case ConvPath::im2col:
        return im2col_backward_weight(dw, g.R * g.S * Cg, dy, x, g, false);
    }
}

// ---- the Backend entry points: the live taps only (conv_regions.h) ----
// Forward and input gradient run the whole output over the taps live anywhere, with any kernel;
// the weight gradient of an im2col layer also splits the output rows into bands (see
// conv_regions.h for why only it).

static bool has_taps(const ConvRegion& region) { return region.g.R > 0 && region.g.S > 0; }
static bool all_taps(const ConvRegion& region, const ConvGeometry& g) {
    return region.g.R == g.R && region.g.S == g.S;
}

// The region's taps of w as a compact weight (K, R', S', Cg), in a per-thread buffer.
static const float* live_weight(const float* w, const ConvRegion& region, const ConvGeometry& g) {
    float* wr = scratch(Scratch::live_weight, g.K * region.g.R * region.g.S * (g.C / g.groups));
    region_weight(wr, w, region, g);
    return wr;
}

void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const ConvGeometry& g) {
    const ConvRegion live = live_region(g);
    if (all_taps(live, g)) return forward_all_taps(y, x, w, bias, g);
    if (has_taps(live)) return forward_all_taps(y, x, live_weight(w, live, g), bias, live.g);
    for (int64_t m = 0; m < g.N * g.P * g.Q; m++) // every product reads padding: y is the bias
        for (int64_t k = 0; k < g.K; k++) y[m * g.K + k] = bias ? bias[k] : 0.f;
}

void conv2d_backward_input(float* dx, const float* dy, const float* w, const ConvGeometry& g) {
    const ConvRegion live = live_region(g);
    if (all_taps(live, g)) return backward_input_all_taps(dx, dy, w, g);
    if (has_taps(live)) return backward_input_all_taps(dx, dy, live_weight(w, live, g), live.g);
    std::fill(dx, dx + g.N * g.H * g.W * g.C, 0.f);
}

// dw over one band of output rows, added into dw at the band's taps (whole filter rows, which the
// GEMM adds into in place when the band has every filter column).
static void add_band_weight_gradient(float* dw, const float* dy, const float* x,
                                     const ConvRegion& band, const ConvGeometry& g) {
    const int64_t Cg = g.C / g.groups, RSC = g.R * g.S * Cg;
    float* dyr = scratch(Scratch::region, g.N * band.g.P * band.g.Q * g.K); // (N, P', Q', K)
    region_gather(dyr, dy, band, g, g.K);
    if (band.g.S == g.S)
        return im2col_backward_weight(dw + band.r.lo * g.S * Cg, RSC, dyr, x, band.g, true);
    float* dwr = scratch(Scratch::live_weight, g.K * band.g.R * band.g.S * Cg);
    im2col_backward_weight(dwr, band.g.R * band.g.S * Cg, dyr, x, band.g, false);
    add_region_weight(dw, dwr, band, g);
}

// A tap's gradient sums over the output rows where it reads real pixels; a tap that only ever
// multiplied padding gets 0.
void conv2d_backward_weight(float* dw, const float* dy, const float* x, const ConvGeometry& g) {
    const std::vector<ConvRegion> bands =
        backward_weight_path(g) == ConvPath::im2col ? row_bands(g) : std::vector<ConvRegion>{};
    const ConvRegion live = live_region(g);
    if (bands.size() <= 1 && all_taps(live, g)) return backward_weight_all_taps(dw, dy, x, g);
    const int64_t Cg = g.C / g.groups;
    std::fill(dw, dw + g.K * g.R * g.S * Cg, 0.f);
    if (bands.size() > 1) {
        for (const ConvRegion& band : bands)
            if (has_taps(band)) add_band_weight_gradient(dw, dy, x, band, g);
    } else if (has_taps(live)) { // the live taps alone, with any kernel
        float* dwr = scratch(Scratch::live_weight, g.K * live.g.R * live.g.S * Cg);
        backward_weight_all_taps(dwr, dy, x, live.g);
        add_region_weight(dw, dwr, live, g);
    }
}

} // namespace pg::cpu
