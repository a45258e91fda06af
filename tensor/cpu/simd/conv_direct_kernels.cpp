// Direct NHWC convolution kernels for layers with few or middling channels, where im2col +
// OpenBLAS runs below the machine's peak or pays for copies and padding (the demo network, ResNet
// stems, 3x3 layers up to 256 channels on small maps, 1x1 layers with a small weight). One source,
// compiled once per instruction set (tools/cmake/simd_kernels.cmake sets -march, PG_SIMD_LANES,
// PG_SIMD_REGISTERS, PG_SIMD_SUFFIX); tensor/cpu/conv_direct.cpp repacks the weights and picks the
// table at start-up.
//
// Nothing here may call an inline function or template of a header other files share (the
// standard library's included): the linker keeps one copy of each, which could be this file's
// AVX-512 one, then run on a CPU without AVX-512. Helpers live in the anonymous namespace, buffers
// come from the caller, vectors are GCC vector extensions. The FMA builds give the same bits only
// because -ffp-contract=fast turns every acc += w * x into one FMA (checked on AVX-512 hosts by
// ConvDirect.Avx2AndAvx512GiveTheSameBits).
#include <omp.h>

#include <cstdint>

#include "tensor/cpu/conv_direct.h"

namespace pg::cpu {
namespace {

constexpr int kLanes = PG_SIMD_LANES;         // floats per vector
constexpr int kRegisters = PG_SIMD_REGISTERS; // vector registers
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

Vec load(const float* p) {
    Vec v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }
int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// Stores the first min(n, kLanes) lanes of v at p: the last output channels.
void store_lanes(float* p, Vec v, int64_t n) {
    if (n >= kLanes) return store(p, v);
    float lanes[kLanes];
    store(lanes, v);
    for (int64_t i = 0; i < n; i++) p[i] = lanes[i];
}

// The first n floats of p in a vector, zeros after them (n < kLanes: the last output channels).
Vec load_part(const float* p, int64_t n) {
    float lanes[kLanes] = {};
    for (int64_t i = 0; i < n; i++) lanes[i] = p[i];
    return load(lanes);
}

// ---- the forward: tiles of T output pixels x NV vectors of output channels, x read in place ----
// Accumulators acc[T][NV] fill the registers. Each pixel of the tile reads x through its own
// pointer (a row of zeros in the padding), so nothing is copied: a packed copy of the tile cost
// 12% of the products at 64 output channels. One vector of output channels (NV = 1): a block of
// CB input channels keeps its CB weight vectors in registers while it goes over the tile's pixels,
// acc[t] += w[c] * x_t[c]. Two (NV = 2): per input value, two weight vectors and one broadcast
// feed two FMAs. Per element the sum runs over (r, s, c) in order, one FMA each, so every FMA path
// (AVX2, AVX-512) gives the same bits.
constexpr int64_t kFewChannels = 16; // input channels up to which tiles stay within a row
constexpr int few_channel_tile(int nv) { return kRegisters == 32 ? (nv == 1 ? 16 : 12) : 6; }

// Inlined by force: the accumulators must stay in registers across calls.
#define PG_INLINE __attribute__((always_inline)) inline

template <int CB, int T>
PG_INLINE void accumulate_channels(Vec (*acc)[1], const float* const* pixel, int64_t c0,
                                   const float* w, int64_t kpad) {
    Vec wv[CB];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) wv[c] = load(w + c * kpad);
#pragma GCC unroll 16
    for (int t = 0; t < T; t++) {
        const float* in = pixel[t] + c0;
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) acc[t][0] += wv[c] * in[c];
    }
}

// acc[t] += the `width` input values at pixel[t] times the weight rows w (width, kpad), in blocks of
// 8, 4, 2, 1 values.
template <int T>
PG_INLINE void accumulate_run(Vec (*acc)[1], const float* const* pixel, int64_t width,
                              const float* w, int64_t kpad) {
    int64_t c0 = 0;
    for (; c0 + 8 <= width; c0 += 8) accumulate_channels<8, T>(acc, pixel, c0, w + c0 * kpad, kpad);
    if (width - c0 >= 4) {
        accumulate_channels<4, T>(acc, pixel, c0, w + c0 * kpad, kpad);
        c0 += 4;
    }
    if (width - c0 >= 2) {
        accumulate_channels<2, T>(acc, pixel, c0, w + c0 * kpad, kpad);
        c0 += 2;
    }
    if (width - c0 >= 1) accumulate_channels<1, T>(acc, pixel, c0, w + c0 * kpad, kpad);
}

// The same with two vectors of output channels, one input value at a time.
template <int T>
PG_INLINE void accumulate_run(Vec (*acc)[2], const float* const* pixel, int64_t width,
                              const float* w, int64_t kpad) {
    for (int64_t c = 0; c < width; c++, w += kpad) {
        const Vec w0 = load(w), w1 = load(w + kLanes);
#pragma GCC unroll 16
        for (int t = 0; t < T; t++) {
            const float a = pixel[t][c];
            acc[t][0] += w0 * a;
            acc[t][1] += w1 * a;
        }
    }
}

// Output pixels (n, p, q0 .. q0 + count), channels [k0, k0 + NV kLanes) clipped to K. A filter
// row that reads padding only adds zeros and is skipped. Without dilation along w, the S taps of a
// filter row read S*C adjacent floats, which is one run per pixel when no tap of the tile's pixels
// falls in the padding (pixels past count repeat pixel 0: valid memory, results dropped).
template <int NV>
void few_channels_tile(float* y, const float* x, const float* wt, const float* bias,
                       const ConvGeometry& g, const float* zeros, int64_t np, int64_t q0,
                       int64_t count, int64_t k0) {
    constexpr int T = few_channel_tile(NV);
    const int64_t n = np / g.P, p = np % g.P, C = g.C, kpad = round_up(g.K, kLanes);
    const int64_t w_first = q0 * g.stride_w - g.pad_w;
    const int64_t w_last = (q0 + count - 1) * g.stride_w - g.pad_w + (g.S - 1) * g.dilation_w;
    const bool whole_rows = g.dilation_w == 1 && w_first >= 0 && w_last < g.W;
    Vec acc[T][NV];
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) acc[t][v] = Vec{};
    const float* pixel[T]; // (C,) or (S, C) each: what output pixel t reads
    for (int64_t r = 0; r < g.R; r++) {
        const int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
        if (h < 0 || h >= g.H) continue;
        const float* row = x + (n * g.H + h) * g.W * C;    // (W, C)
        const float* w_row = wt + r * g.S * C * kpad + k0; // (S, C, kpad) from channel k0
        if (whole_rows) {
            for (int64_t t = 0; t < T; t++)
                pixel[t] = row + (w_first + (t < count ? t * g.stride_w : 0)) * C;
            accumulate_run<T>(acc, pixel, g.S * C, w_row, kpad);
            continue;
        }
        for (int64_t s = 0; s < g.S; s++) {
            for (int64_t t = 0; t < T; t++) {
                const int64_t w = w_first + t * g.stride_w + s * g.dilation_w;
                pixel[t] = t < count && w >= 0 && w < g.W ? row + w * C : zeros;
            }
            accumulate_run<T>(acc, pixel, C, w_row + s * C * kpad, kpad);
        }
    }
    for (int64_t t = 0; t < count; t++)
        for (int v = 0; v < NV; v++) {
            const int64_t k = k0 + v * kLanes;
            if (k < g.K)
                store_lanes(y + (np * g.Q + q0 + t) * g.K + k, acc[t][v] + load(bias + k), g.K - k);
        }
}

template <int NV>
void forward_few_channels(float* y, const float* x, const float* wt, const float* bias,
                          const ConvGeometry& g, float* zeros) {
    constexpr int T = few_channel_tile(NV), width = NV * kLanes;
    const int64_t tiles = (g.Q + T - 1) / T, k_blocks = (g.K + width - 1) / width;
    const int64_t tasks = g.N * g.P * tiles * k_blocks;
#pragma omp parallel for schedule(static) if (tasks > 1)
    for (int64_t task = 0; task < tasks; task++) {
        const int64_t k0 = task % k_blocks * width, tile = task / k_blocks;
        const int64_t np = tile / tiles, q0 = tile % tiles * T;
        few_channels_tile<NV>(y, x, wt, bias, g, zeros, np, q0, min64(T, g.Q - q0), k0);
    }
}

// ---- more input channels: tiles over the whole batch, each tap's pointers found once ----
// Tiles of T output pixels run over the whole batch, so only the last one is partial (tiles within
// an output row left 7 of 24 slots empty at Q = 17), and a tile's pointers serve every block of
// output channels. The pixels go in an order that groups those reading the same taps: each image's
// output falls into rectangles of rows and columns whose filter rows and columns read real pixels
// alike (the middle, the borders, the corners), taken one after another. A tap that reads only
// padding for every pixel of a tile is left out, which in that order is nearly every tap that
// reads padding: a 3x3 filter at rate 4 on 17x17 otherwise multiplied 29% zeros.
constexpr int64_t kMaxTaps = 49;
constexpr int kTile = few_channel_tile(2);

// The starts of the runs of output rows (or columns) whose filter taps land inside alike, and
// `size` at the end: bounds[0] = 0 < ... < bounds[n] = size. Returns n.
int64_t alike_runs(int64_t* bounds, int64_t size, int64_t taps, int64_t stride, int64_t pad,
                   int64_t dilation, int64_t extent) {
    auto inside = [&](int64_t i, int64_t r) {
        const int64_t at = i * stride - pad + r * dilation;
        return at >= 0 && at < extent;
    };
    int64_t n = 0;
    bounds[0] = 0;
    for (int64_t i = 1; i < size; i++) {
        bool same = true;
        for (int64_t r = 0; r < taps && same; r++) same = inside(i, r) == inside(i - 1, r);
        if (!same) bounds[++n] = i;
    }
    bounds[++n] = size;
    return n;
}

// order (N*P*Q,): the output pixels (n P + p) Q + q image by image, each image's rectangles of
// alike rows x alike columns in turn, row-major within. work: P + Q + 2 int64s.
void pixel_order(int64_t* order, const ConvGeometry& g, int64_t* work) {
    int64_t* rows = work;              // (P + 1,)
    int64_t* columns = work + g.P + 1; // (Q + 1,)
    const int64_t n_rows = alike_runs(rows, g.P, g.R, g.stride_h, g.pad_h, g.dilation_h, g.H);
    const int64_t n_cols = alike_runs(columns, g.Q, g.S, g.stride_w, g.pad_w, g.dilation_w, g.W);
    int64_t k = 0;
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t i = 0; i < n_rows; i++)
            for (int64_t j = 0; j < n_cols; j++)
                for (int64_t p = rows[i]; p < rows[i + 1]; p++)
                    for (int64_t q = columns[j]; q < columns[j + 1]; q++)
                        order[k++] = (n * g.P + p) * g.Q + q;
}

// The taps in [tap0, tap1) live for some pixel of the tile, in order, and where each pixel reads
// through them: pixels[i T + t] is pixel m[t]'s (C,) input through tap taps[i], or zeros in the
// padding and for t >= count. Returns how many.
int64_t live_taps(const float** pixels, int64_t* taps, const float* x, const float* zeros,
                  const ConvGeometry& g, const int64_t* m, int64_t count, int64_t tap0,
                  int64_t tap1) {
    const float* image[kTile];    // (H, W, C): pixel t's input image
    int64_t h0[kTile], w0[kTile]; // where its filter's tap (0, 0) lands
    for (int64_t t = 0; t < kTile; t++) {
        const int64_t mt = m[t < count ? t : 0], q = mt % g.Q, np = mt / g.Q;
        image[t] = x + np / g.P * g.H * g.W * g.C;
        h0[t] = np % g.P * g.stride_h - g.pad_h, w0[t] = q * g.stride_w - g.pad_w;
    }
    int64_t n_taps = 0;
    for (int64_t tap = tap0; tap < tap1; tap++) {
        const int64_t r = tap / g.S, s = tap % g.S;
        const float** src = pixels + n_taps * kTile;
        bool live = false;
        for (int64_t t = 0; t < kTile; t++) {
            const int64_t h = h0[t] + r * g.dilation_h, w = w0[t] + s * g.dilation_w;
            const bool inside = t < count && h >= 0 && h < g.H && w >= 0 && w < g.W;
            src[t] = inside ? image[t] + (h * g.W + w) * g.C : zeros;
            live = live || inside;
        }
        if (live) taps[n_taps++] = tap;
    }
    return n_taps;
}

// y's rows m[0 .. count), channels [k0, k0 + NV * kLanes) clipped to K: the tile's live taps times
// wt (rows kpad apart), added to what y holds unless `first`, plus the bias if `last`. A float
// stored and loaded again is the same float, so a sum cut into blocks of taps has the bits of the
// whole.
template <int NV>
void multiply_tile(float* y, const int64_t* m, const float* const* pixels, const int64_t* taps,
                   int64_t n_taps, const float* wt, const float* bias, const ConvGeometry& g,
                   int64_t k0, int64_t count, bool first, bool last) {
    const int64_t K = g.K, kpad = round_up(K, kLanes);
    Vec acc[kTile][NV];
#pragma GCC unroll 16
    for (int t = 0; t < kTile; t++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            const int64_t k = k0 + v * kLanes;
            acc[t][v] = first || t >= count || k >= K ? Vec{}
                        : K - k >= kLanes             ? load(y + m[t] * K + k)
                                                      : load_part(y + m[t] * K + k, K - k);
        }
    for (int64_t i = 0; i < n_taps; i++)
        accumulate_run<kTile>(acc, pixels + i * kTile, g.C, wt + taps[i] * g.C * kpad + k0, kpad);
    for (int64_t t = 0; t < count; t++)
        for (int v = 0; v < NV; v++) {
            const int64_t k = k0 + v * kLanes;
            if (k < K)
                store_lanes(y + m[t] * K + k, last ? acc[t][v] + load(bias + k) : acc[t][v], K - k);
        }
}

// A filter larger than L2 goes through in blocks of taps of about kBlockWeightFloats each, every
// block over all tiles: the block's weight then stays in L2 while the tiles stream past it (a
// GEMM's blocking of the reduction). Output channels go two vectors at a time, the last one alone.
constexpr int64_t kBlockWeightFloats = 128 * 1024; // 512 KB

void forward_tiles(float* y, const float* x, const float* wt, const float* bias,
                   const ConvGeometry& g, const float* zeros, int64_t* order) {
    const int64_t kpad = round_up(g.K, kLanes), taps = g.R * g.S;
    const int64_t M = g.N * g.P * g.Q, tasks = (M + kTile - 1) / kTile;
    const int64_t block_taps = min64(kMaxTaps, max64(1, kBlockWeightFloats / (g.C * kpad)));
    pixel_order(order, g, order + M);
    for (int64_t tap0 = 0; tap0 < taps; tap0 += block_taps) {
        const int64_t tap1 = min64(taps, tap0 + block_taps);
        const bool first = tap0 == 0, last = tap1 == taps;
#pragma omp parallel for schedule(static) if (tasks > 1)
        for (int64_t task = 0; task < tasks; task++) {
            const float* pixels[kMaxTaps * kTile];
            int64_t live[kMaxTaps];
            const int64_t* m = order + task * kTile;
            const int64_t count = min64(kTile, M - task * kTile);
            const int64_t n_taps = live_taps(pixels, live, x, zeros, g, m, count, tap0, tap1);
            for (int64_t k0 = 0; k0 < kpad; k0 += 2 * kLanes) {
                if (kpad - k0 == kLanes)
                    multiply_tile<1>(y, m, pixels, live, n_taps, wt, bias, g, k0, count, first,
                                     last);
                else
                    multiply_tile<2>(y, m, pixels, live, n_taps, wt, bias, g, k0, count, first,
                                     last);
            }
        }
    }
}

// Few input channels: tiles within a row, whose S taps may read one run of S*C floats; more:
// tiles over the batch. work: forward_work(g) floats, C zeros then the pixel order.
int64_t forward_work(const ConvGeometry& g) {
    return round_up(g.C, 16) + 2 * (g.N * g.P * g.Q + g.P + g.Q + 2);
}

void forward(float* y, const float* x, const float* wt, const float* bias, const ConvGeometry& g,
             float* work) {
    for (int64_t c = 0; c < g.C; c++) work[c] = 0.f;
    if (g.C > kFewChannels)
        return forward_tiles(y, x, wt, bias, g, work, (int64_t*)(work + round_up(g.C, 16)));
    if (round_up(g.K, kLanes) / kLanes % 2 == 0)
        return forward_few_channels<2>(y, x, wt, bias, g, work);
    forward_few_channels<1>(y, x, wt, bias, g, work);
}

// ---- weight gradient: one tap, CB input channels x one vector of output channels per task ----
// acc[c] (kLanes output channels) += dy[m, k0 ..] * x[pixel m reads through the tap, c0 + c] over
// the output pixels m in order; every kFlushPixels pixels (at row ends, so the same points on every
// path) the float sums go into double totals, which keeps the error of a long sum small.
constexpr int kChannelBlock = kRegisters == 32 ? 16 : 8;
constexpr int64_t kFlushPixels = 256;

template <int CB>
void flush(double (*total)[kLanes], Vec* acc) {
    for (int c = 0; c < CB; c++) {
        float lanes[kLanes];
        store(lanes, acc[c]);
        for (int i = 0; i < kLanes; i++) total[c][i] += lanes[i];
        acc[c] = Vec{};
    }
}

// The output columns [lo, hi) whose filter column s reads a real input column, input column
// q stride + w0: 0 <= q stride - pad + s dil < W (conv.cpp's inside(), written again: this file
// shares no inline code).
struct LiveColumns {
    int64_t w0, lo, hi;
};
LiveColumns live_columns(const ConvGeometry& g, int64_t s) {
    const int64_t w0 = s * g.dilation_w - g.pad_w;
    const int64_t lo = w0 >= 0 ? 0 : min64(g.Q, (-w0 + g.stride_w - 1) / g.stride_w);
    const int64_t hi = max64(lo, w0 > g.W - 1 ? 0 : min64(g.Q, (g.W - 1 - w0) / g.stride_w + 1));
    return {w0, lo, hi};
}

template <int CB>
void weight_task(float* dw, const float* dy, const float* x, const ConvGeometry& g, int64_t rs,
                 int64_t c0, int64_t k0) {
    const int64_t r = rs / g.S, s = rs % g.S, C = g.C, K = g.K;
    const int64_t cw = min64(CB, C - c0), kw = min64(kLanes, K - k0);
    const auto [w0, q_lo, q_hi] = live_columns(g, s);
    double total[CB][kLanes] = {};
    Vec acc[CB];
    for (int c = 0; c < CB; c++) acc[c] = Vec{};
    int64_t pending = 0;
    for (int64_t np = 0; np < g.N * g.P; np++) {
        const int64_t n = np / g.P, p = np % g.P;
        const int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
        if (h < 0 || h >= g.H) continue;
        const float* x_row = x + (n * g.H + h) * g.W * C + c0; // (W, C) from channel c0
        const float* dy_row = dy + np * g.Q * K + k0;          // (Q, K) from channel k0
        for (int64_t q = q_lo; q < q_hi; q++) {
            const float* xs = x_row + (q * g.stride_w + w0) * C;
            const Vec d = kw == kLanes ? load(dy_row + q * K) : load_part(dy_row + q * K, kw);
            if (cw == CB) {
#pragma GCC unroll 16
                for (int c = 0; c < CB; c++) acc[c] += d * xs[c];
            } else {
                for (int c = 0; c < cw; c++) acc[c] += d * xs[c];
            }
        }
        pending += q_hi - q_lo;
        if (pending >= kFlushPixels) {
            flush<CB>(total, acc);
            pending = 0;
        }
    }
    flush<CB>(total, acc);
    const int64_t rsc = g.R * g.S * C;
    for (int64_t i = 0; i < kw; i++)
        for (int64_t c = 0; c < cw; c++) dw[(k0 + i) * rsc + rs * C + c0 + c] = float(total[c][i]);
}

template <int CB>
void weight_tasks(float* dw, const float* dy, const float* x, const ConvGeometry& g) {
    const int64_t c_blocks = (g.C + CB - 1) / CB, k_blocks = (g.K + kLanes - 1) / kLanes;
    const int64_t tasks = g.R * g.S * c_blocks * k_blocks;
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1)
    for (int64_t task = 0; task < tasks; task++) {
        const int64_t rs = task / (c_blocks * k_blocks), rest = task % (c_blocks * k_blocks);
        weight_task<CB>(dw, dy, x, g, rs, rest / k_blocks * CB, rest % k_blocks * kLanes);
    }
}

// ---- weight gradient for middling channels: C a multiple of 4, at least 32 channels each way ----
// dw[k, tap, c] = sum over output pixels m of dy[m, k] x[the pixel m reads through the tap, c].
// A task owns one tap, one block of W = NV kLanes output channels and a block of input channels
// [c0, c1), and goes over the output rows: for each 4 input channels it loads acc (c1 - c0, W)
// rows into registers, adds every pixel's products (NV loads of dy and 4 broadcasts of x, read in
// place, feed 4 NV FMAs) and stores them back. acc, the row's dy and x stay in L1 between the
// channel groups. Every kFlushPixels pixels (at
// row ends, so the same points on every path) acc goes into double totals; per element the sum
// runs over the pixels in order, whatever the path and the thread count.

// acc (c1 - c0, W) += sum over the rows i < n_rows and q in [q_lo, q_hi) of x_at(i, q)^T
// (c1 - c0,) dy_rows[i][q] (W,), x_at(i, q) = x_rows[i] + (q stride + w0) C + c0, dy pixels ldd
// apart.
constexpr int64_t kGroup = 4; // input channels per load and store of acc rows
constexpr int kRowBatch = 4;  // rows per load and store of acc: 17-pixel rows alone cost 20%

template <int NV>
void add_row_products(float* acc, const float* const* x_rows, const float* const* dy_rows,
                      int64_t n_rows, int64_t ldd, const ConvGeometry& g, int64_t w0, int64_t q_lo,
                      int64_t q_hi, int64_t c0, int64_t c1) {
    constexpr int64_t W = NV * kLanes;
    const int64_t C = g.C;
    for (int64_t c = c0; c < c1; c += kGroup) {
        float* acc_c = acc + (c - c0) * W; // (kGroup, W)
        Vec a[kGroup][NV];
#pragma GCC unroll 4
        for (int u = 0; u < kGroup; u++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) a[u][v] = load(acc_c + u * W + v * kLanes);
        for (int64_t i = 0; i < n_rows; i++)
            for (int64_t q = q_lo; q < q_hi; q++) {
                const float* xq = x_rows[i] + (q * g.stride_w + w0) * C + c;
                Vec d[NV];
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) d[v] = load(dy_rows[i] + q * ldd + v * kLanes);
#pragma GCC unroll 4
                for (int u = 0; u < kGroup; u++)
#pragma GCC unroll 4
                    for (int v = 0; v < NV; v++) a[u][v] += d[v] * xq[u];
            }
#pragma GCC unroll 4
        for (int u = 0; u < kGroup; u++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) store(acc_c + u * W + v * kLanes, a[u][v]);
    }
}

void flush_block(double* total, float* acc, int64_t n) {
    for (int64_t i = 0; i < n; i++) total[i] += acc[i], acc[i] = 0.f;
}

// Floats of work per thread, for the widest W: acc (C, W), total (C, W) doubles, kRowBatch rows
// of dy (Q, W) for the last, partial block of channels.
int64_t weight_rows_work(const ConvGeometry& g) {
    const int64_t W = 4 * kLanes;
    return 3 * g.C * W + kRowBatch * g.Q * W;
}

template <int NV>
void weight_rows_task(float* dw, const float* dy, const float* x, const ConvGeometry& g,
                      int64_t tap, int64_t k0, int64_t c0, int64_t c1, float* work) {
    constexpr int64_t W = NV * kLanes;
    const int64_t C = g.C, K = g.K, kw = min64(W, K - k0), r = tap / g.S, s = tap % g.S;
    const int64_t cw = c1 - c0;
    float* acc = work;                         // (cw, W)
    double* total = (double*)(acc + cw * W);   // (cw, W)
    float* dy_part = (float*)(total + cw * W); // (kRowBatch, Q, W)
    for (int64_t i = 0; i < cw * W; i++) acc[i] = 0.f, total[i] = 0.0;
    const auto [w0, q_lo, q_hi] = live_columns(g, s);
    const float* x_rows[kRowBatch];  // (W, C) each
    const float* dy_rows[kRowBatch]; // (Q, K) from channel k0, or (Q, W) in dy_part
    int64_t n_rows = 0, pending = 0;
    for (int64_t np = 0; np < g.N * g.P && q_lo < q_hi; np++) {
        const int64_t n = np / g.P, p = np % g.P;
        const int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h;
        if (h >= 0 && h < g.H) {
            x_rows[n_rows] = x + (n * g.H + h) * g.W * C;
            dy_rows[n_rows] = dy + np * g.Q * K + k0;
            if (kw < W) { // the last channels, zeros after them
                float* part = dy_part + n_rows * g.Q * W;
                for (int64_t q = q_lo; q < q_hi; q++)
                    for (int64_t i = 0; i < W; i++)
                        part[q * W + i] = i < kw ? dy_rows[n_rows][q * K + i] : 0.f;
                dy_rows[n_rows] = part;
            }
            n_rows++;
        }
        if (n_rows == kRowBatch || (n_rows > 0 && np + 1 == g.N * g.P)) {
            add_row_products<NV>(acc, x_rows, dy_rows, n_rows, kw < W ? W : K, g, w0, q_lo, q_hi,
                                 c0, c1);
            pending += n_rows * (q_hi - q_lo);
            n_rows = 0;
            if (pending >= kFlushPixels) {
                flush_block(total, acc, cw * W);
                pending = 0;
            }
        }
    }
    flush_block(total, acc, cw * W);
    const int64_t rsc = g.R * g.S * C;
    for (int64_t i = 0; i < kw; i++)
        for (int64_t c = c0; c < c1; c++)
            dw[(k0 + i) * rsc + tap * C + c] = float(total[(c - c0) * W + i]);
}

// Tasks own (tap, block of W output channels, block of input channels). The channel blocks are
// there for the 1x1 layers, whose taps and output blocks alone left one task for two threads:
// each thread gets about kTasksPerThread, with 16 channels or more a block. Every element sums
// over the same pixels in the same order whichever block holds it, so the split cannot show.
constexpr int64_t kTasksPerThread = 4;
constexpr int64_t kAccFloats = 160 * 64; // acc (c_block, W) of 40 KB at most: it stays in L1

template <int NV>
void weight_rows(float* dw, const float* dy, const float* x, const ConvGeometry& g, float* work) {
    const int64_t W = NV * kLanes, k_blocks = (g.K + W - 1) / W, tap_tasks = g.R * g.S * k_blocks;
    const int64_t wanted = kTasksPerThread * omp_get_max_threads();
    const int64_t splits = max64(1, min64(g.C / 16, (wanted + tap_tasks - 1) / tap_tasks));
    const int64_t c_block =
        min64(round_up((g.C + splits - 1) / splits, kGroup), kAccFloats / W / kGroup * kGroup);
    const int64_t c_blocks = (g.C + c_block - 1) / c_block, tasks = tap_tasks * c_blocks;
    const int64_t per_thread = weight_rows_work(g);
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1)
    for (int64_t task = 0; task < tasks; task++) {
        const int64_t tap_task = task / c_blocks, c0 = task % c_blocks * c_block;
        weight_rows_task<NV>(dw, dy, x, g, tap_task / k_blocks, tap_task % k_blocks * W, c0,
                             min64(g.C, c0 + c_block), work + omp_get_thread_num() * per_thread);
    }
}

bool weight_by_rows(const ConvGeometry& g) { return g.C % kGroup == 0 && g.C >= 32 && g.K >= 32; }

// By rows for middling channels: four vectors of output channels per task when that leaves 16
// tasks or more on AVX-512, else two (four would spill AVX2's 16 registers). Else channel blocks no
// wider than C needs (a partial block takes a slower loop).
void backward_weight(float* dw, const float* dy, const float* x, const ConvGeometry& g,
                     float* work) {
    if (weight_by_rows(g)) {
        if (kRegisters == 32 && g.R * g.S * ((g.K + 4 * kLanes - 1) / (4 * kLanes)) >= 16)
            return weight_rows<4>(dw, dy, x, g, work);
        return weight_rows<2>(dw, dy, x, g, work);
    }
    if (g.C == 1) return weight_tasks<1>(dw, dy, x, g);
    if (g.C == 2) return weight_tasks<2>(dw, dy, x, g);
    if (g.C == 3) return weight_tasks<3>(dw, dy, x, g);
    if (g.C <= 4) return weight_tasks<4>(dw, dy, x, g);
    if (g.C <= 8 || kChannelBlock == 8) return weight_tasks<8>(dw, dy, x, g);
    weight_tasks<kChannelBlock>(dw, dy, x, g);
}

int64_t backward_weight_work(const ConvGeometry& g) {
    return weight_by_rows(g) ? weight_rows_work(g) : 0;
}

} // namespace

#define PG_SIMD_PASTE(a, b) a##b
#define PG_SIMD_NAME(a, b) PG_SIMD_PASTE(a, b)
extern const DirectConvKernels PG_SIMD_NAME(kDirectConv, PG_SIMD_SUFFIX);
const DirectConvKernels PG_SIMD_NAME(kDirectConv, PG_SIMD_SUFFIX) = {
    kLanes, forward, forward_work, backward_weight, backward_weight_work};

} // namespace pg::cpu
