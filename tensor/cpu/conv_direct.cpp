// The direct convolution for layers with few or middling channels: weight repacking and the
// choice of the instruction-set kernels (tensor/cpu/simd/conv_direct_kernels.cpp). conv.cpp sends
// a layer here when its conv2d_direct_applies_* rules say so, and keeps im2col + GEMM as the
// reference the tests hold these kernels to (tests/autograd/conv_direct_test.cpp).
//
// The backward pass to the input of a stride-1 convolution is itself a forward convolution:
//   dx[h, w, c] = sum over (r, s, k) of dy[h + pad - r dil, w + pad - s dil, k] w[k, r, s, c]
// which is the correlation of dy (input channels K) with the filter flipped in r and s and
// transposed in (k, c), padding (R - 1) dil - pad, output size H (with stride 1 always exactly).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "tensor/cpu/conv_direct.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/error.h"

namespace pg::cpu {

// With at most 8 output channels AVX-512 would fill half of each vector: the AVX2 kernels do the
// same work with the same bits (both sum with one FMA per product, in the same order).
static const DirectConvKernels& kernels_for(SimdPath path, int64_t out_channels) {
    switch (path) {
    case SimdPath::avx512:
        return out_channels <= 8 ? kDirectConvAvx2 : kDirectConvAvx512;
    case SimdPath::avx2:
        return kDirectConvAvx2;
    case SimdPath::sse42:
        break;
    }
    return kDirectConvSse42;
}

// On unless PG_CPU_DIRECT_CONV=0 (then every layer takes im2col + GEMM: the reference, for A/B
// timings); tests switch it per case.
static std::atomic<bool>& direct_enabled() {
    static std::atomic<bool> enabled{[] {
        const char* v = std::getenv("PG_CPU_DIRECT_CONV");
        return !(v && std::string(v) == "0");
    }()};
    return enabled;
}
bool direct_conv_enabled() { return direct_enabled().load(); }
void set_direct_conv_enabled(bool on) { direct_enabled().store(on); }

// Which layers: groups 1, and few or middling channels, where OpenBLAS's blocking does not pay or
// im2col's copies cost more than the products. Crossovers measured with `PG_CPU_DIRECT_CONV=0|1
// pg_bench --benchmark_filter='Conv.*/(demo_|g_)'` (README, Benchmarks), 2 threads, as the time
// of the direct kernel over that of im2col + GEMM (or the few-outputs path):
//  - Few input channels (C <= 16) win 2-4x up to 16 -> 32 channels and tie at 16 -> 64.
//  - Tiles over the batch (C >= 32, x read in place) win while the repacked filter fits in L2:
//    forward 112 -> 64 at 17x17 0.6x, 160 -> 64 at 9x9 0.6x, 128 -> 128 0.8x.
//  - A larger filter goes through in blocks of taps, each over every tile, which pays while the
//    output stays in L2 too: 256 -> 256 at 17x17, batch 2 (2.3 MB of weights, 0.6 MB out) 0.9x;
//    512 -> 512 there lost (1.17x with the packed tiles this kernel replaced).
//  - Fewer than 32 outputs go to the few-outputs path. The tiles leave out taps that read only
//    padding: 256 -> 32 at 9x9 rate 6 0.5x the time of the few-outputs path, rate 2 0.6x.
//  - 1x1 layers are plain GEMMs already (or im2col at stride 2), which the tiles beat while the
//    weight is small: 32 -> 48 at 17x17 0.4x forward, 0.5x input gradient, 0.4x weight
//    gradient; 256 -> 64 at 33x33 0.75x, 0.9x, 1.0x; 128 -> 256 at 9x9 0.9x, 0.85x, 0.8x. 512 ->
//    128 ties, and 256 -> 512 at stride 2 lost (1.2x forward). Their gradients lose below 32
//    channels (16 -> 8 2.5x).
constexpr int64_t kDirectWeightFloats = 160 * 1024;   // 640 KB
constexpr int64_t kDirectOutputFloats = 320 * 1024;   // 1.25 MB, for filters up to 4x the above
constexpr int64_t kPointwiseWeightFloats = 32 * 1024; // 128 KB
static bool direct_candidate(const ConvGeometry& g) {
    return direct_conv_enabled() && g.groups == 1 && g.N * g.P * g.Q > 0;
}
static bool small_1x1(const ConvGeometry& g) { return g.C * g.K <= kPointwiseWeightFloats; }
static bool tiles_pay(int64_t in_channels, int64_t out_channels, int64_t out_pixels,
                      const ConvGeometry& g) {
    const int64_t weight = g.R * g.S * g.C * g.K;
    const bool fits =
        weight <= kDirectWeightFloats ||
        (weight <= 4 * kDirectWeightFloats && out_pixels * out_channels <= kDirectOutputFloats);
    return in_channels >= 32 && out_channels >= 32 && fits;
}
bool conv2d_direct_applies_forward(const ConvGeometry& g) {
    if (!direct_candidate(g)) return false;
    if (g.R * g.S == 1) return small_1x1(g);
    return g.C <= 16 ? g.K <= 32 : tiles_pay(g.C, g.K, g.N * g.P * g.Q, g);
}
// The input gradient runs the forward kernel with K input channels: in place for K <= 16, else
// tiles under the forward's rules (input gradient 112 -> 64 at 17x17 0.45x the time of im2col +
// col2im, 64 -> 64 0.45x, 128 -> 128 0.75x, 256 -> 256 at 17x17 in blocks of taps 0.9x).
bool conv2d_direct_applies_backward_input(const ConvGeometry& g) {
    if (!direct_candidate(g) || g.stride_h != 1 || g.stride_w != 1) return false;
    if (g.R * g.S == 1) return small_1x1(g) && g.C >= 32 && g.K >= 32;
    return g.K <= 16 ? g.C <= 32 : tiles_pay(g.K, g.C, g.N * g.H * g.W, g);
}
// The weight gradient by channel blocks up to 32 -> 32; by rows for more, with C a multiple of 4.
// Against im2col + GEMM (or the few-outputs path), 2 threads: 112 -> 64 at 17x17 0.7x the time,
// 64 -> 64 0.6x, 160 -> 64 at 9x9 0.6x, 128 -> 128 0.75x, 256 -> 32 at 9x9 rate 2 0.7x, rate 6
// 0.4x (the rows skip all padding). Past C x min(K, 64) = 160 x 64 it stops paying: 256 -> 256
// ties, 512 -> 512 at 17x17 1.17x, at 65x65 1.3x (each pixel's products load 6-8 floats per 8-16
// FMAs, where a GEMM's kernel loads one per 2-3). 1x1 layers by rows within the forward's limit:
// 32 -> 48 at 17x17 0.4x, 128 -> 256 at 9x9 0.8x, 256 -> 64 at 33x33 0.9x.
constexpr int64_t kWeightRowsFloats = 160 * 64;
bool conv2d_direct_applies_backward_weight(const ConvGeometry& g) {
    if (!direct_candidate(g)) return false;
    const bool by_rows = g.C % 4 == 0 && g.C >= 32 && g.K >= 32;
    if (g.R * g.S == 1) return small_1x1(g) && by_rows;
    if (g.C <= 32 && g.K <= 32) return true;
    return by_rows && g.C * std::min<int64_t>(g.K, 64) <= kWeightRowsFloats;
}

// wt (R*S*Cin, kpad) from w:
// wt[(r, s, cin), k] = w[k, r, s, cin]
// (forward), or for the backward-input correlation (flipped = true, Cin = K, k ranging over C):
// wt[(r, s, kin), c] = w[kin, R-1-r, S-1-s, c]. Zeros past the output channels; bias_out (kpad,)
// after it.
static void repack(float* wt, float* bias_out, const float* w, const float* bias,
                   const ConvGeometry& g, int64_t kpad, bool flipped) {
    const int64_t cin = flipped ? g.K : g.C, cout = flipped ? g.C : g.K, rsc = g.R * g.S * g.C;
    if (cout < kpad) std::fill(wt, wt + g.R * g.S * cin * kpad, 0.f);
    if (flipped) { // runs of C: contiguous on both sides
#pragma omp parallel for schedule(static) if (rsc * g.K > (1 << 16))
        for (int64_t k = 0; k < g.K; k++)
            for (int64_t rs = 0; rs < g.R * g.S; rs++) {
                const int64_t flipped_rs = g.R * g.S - 1 - rs; // (R-1-r, S-1-s)
                std::copy(w + (k * g.R * g.S + rs) * g.C, w + (k * g.R * g.S + rs + 1) * g.C,
                          wt + (flipped_rs * cin + k) * kpad);
            }
    } else { // a transpose (K, rsc) -> (rsc, kpad), 16 output channels at a time: 16 read streams
#pragma omp parallel for schedule(static) if (rsc * g.K > (1 << 16))
        for (int64_t k0 = 0; k0 < g.K; k0 += 16)
            for (int64_t j = 0; j < rsc; j++)
                for (int64_t k = k0; k < std::min(g.K, k0 + 16); k++)
                    wt[j * kpad + k] = w[k * rsc + j];
    }
    std::fill(bias_out, bias_out + kpad, 0.f);
    if (bias) std::copy(bias, bias + cout, bias_out);
}

static void forward_with(const DirectConvKernels& kernels, float* y, const float* x, const float* w,
                         const float* bias, const ConvGeometry& g, const ConvGeometry& run,
                         bool flipped) {
    const int64_t kpad = (run.K + kernels.lanes - 1) / kernels.lanes * kernels.lanes;
    const int64_t rows = run.R * run.S * run.C;
    float* wt = scratch(Scratch::direct_weight, rows * kpad + kpad);
    repack(wt, wt + rows * kpad, w, bias, g, kpad, flipped);
    kernels.forward(y, x, wt, wt + rows * kpad, run,
                    scratch(Scratch::columns, kernels.forward_work(run)));
}

void conv2d_direct_forward(float* y, const float* x, const float* w, const float* bias,
                           const ConvGeometry& g, SimdPath path) {
    forward_with(kernels_for(path, g.K), y, x, w, bias, g, g, false);
}

void conv2d_direct_backward_input(float* dx, const float* dy, const float* w, const ConvGeometry& g,
                                  SimdPath path) {
    PG_CHECK(g.stride_h == 1 && g.stride_w == 1 && g.groups == 1,
             "conv2d_direct_backward_input: stride 1 and groups 1 only, got stride (", g.stride_h,
             ", ", g.stride_w, "), groups ", g.groups);
    ConvGeometry adjoint = g; // input dy (N, P, Q, K), output dx (N, H, W, C), stride 1
    adjoint.H = g.P, adjoint.W = g.Q, adjoint.C = g.K;
    adjoint.P = g.H, adjoint.Q = g.W, adjoint.K = g.C;
    adjoint.pad_h = (g.R - 1) * g.dilation_h - g.pad_h;
    adjoint.pad_w = (g.S - 1) * g.dilation_w - g.pad_w;
    forward_with(kernels_for(path, g.C), dx, dy, w, nullptr, g, adjoint, true);
}

void conv2d_direct_backward_weight(float* dw, const float* dy, const float* x,
                                   const ConvGeometry& g, SimdPath path) {
    PG_CHECK(g.groups == 1, "conv2d_direct_backward_weight: groups 1 only, got ", g.groups);
    const DirectConvKernels& kernels = kernels_for(path, g.K);
    float* work =
        scratch(Scratch::columns, omp_get_max_threads() * kernels.backward_weight_work(g));
    kernels.backward_weight(dw, dy, x, g, work);
}

} // namespace pg::cpu
