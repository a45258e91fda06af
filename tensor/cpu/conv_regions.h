// Output regions of a padded convolution (tensor/cpu/conv_regions.cpp): rectangles of the output,
// each computed over only the filter taps that read real pixels in it, so that a dilated filter
// does not multiply its padding. conv.cpp runs each region as a convolution of its own;
// tests/autograd/conv_regions_test.cpp checks the plans.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/backend.h"

namespace pg::cpu {

// [lo, hi), maybe empty: which taps of a filter row read real pixels, which output columns of a tap
// do, which outputs form a band.
struct Range {
    int64_t lo, hi;
};

// The indices i in [0, count) with i * step + offset inside [0, size), as [lo, hi) (maybe empty):
// with offset = the input index of tap 0 and step = the dilation, the taps that read real pixels.
inline Range inside(int64_t offset, int64_t step, int64_t size, int64_t count) {
    const int64_t lo = offset >= 0 ? 0 : std::min(count, (-offset + step - 1) / step);
    const int64_t hi = offset > size - 1 ? 0 : std::min(count, (size - 1 - offset) / step + 1);
    return {lo, std::max(lo, hi)}; // 0 <= lo <= hi <= count
}

// Output rows [p.lo, p.hi) x columns [q.lo, q.hi) of every image, over the filter taps
// [r.lo, r.hi) x [s.lo, s.hi), which include every tap that reads a real pixel for some output
// of the rectangle. g is that rectangle's convolution over those taps alone: the layer's input,
// P and Q the rectangle's size, R and S the taps' counts, and the padding moved so that output
// (p, q) of g is output (p.lo + p, q.lo + q) of the layer (the padding may be negative). No tap
// reads a real pixel when g.R or g.S is 0: the region's outputs are the bias alone.
struct ConvRegion {
    Range p, q, r, s;
    ConvGeometry g;
};

// The whole output over the taps that read a real pixel for some output (a 3x3 at rate 24 on a
// 17x17 map keeps its centre tap alone).
ConvRegion live_region(const ConvGeometry& g);

// The output rows cut into bands that share their live taps, neighbours merged where a band of its
// own would not pay (each costs its multiply-adds plus a fixed cost), columns whole: the regions
// in which the weight gradient of an im2col layer runs (conv.cpp). One band when nothing pays or
// PG_CPU_CONV_REGIONS=0 (set_conv_regions_enabled(false)).
//
// Only the weight gradient splits. Its GEMM sums over pixels, so a band is a shorter sum and its
// packing shrinks with it; forward and input gradient would repack the whole weight per band, and
// OpenBLAS runs a band's few rows slower (sgemm 136 x 256 x 1536 at 198 GFLOP/s against 264 for
// 578 rows): on DeepLab's 17x17 layers at batch 2 they came out 0-12% slower, the weight gradient
// 7-16% faster (pg_bench --benchmark_filter='Conv.*/g_(128|256|64to64_9d4)').
std::vector<ConvRegion> row_bands(const ConvGeometry& g);
bool conv_regions_enabled();
void set_conv_regions_enabled(bool on);
void set_band_fixed_cost(int64_t cost); // tests: 0 splits wherever taps differ; < 0 the default

// wr (K, R', S', Cg) = the region's taps of w (K, R, S, Cg); dw += the region's gradient dwr
// (K, R', S', Cg) at its taps.
void region_weight(float* wr, const float* w, const ConvRegion& region, const ConvGeometry& g);
void add_region_weight(float* dw, const float* dwr, const ConvRegion& region,
                       const ConvGeometry& g);

// tr (N, P', Q', ch) = the region's rectangle of t (N, P, Q, ch).
void region_gather(float* tr, const float* t, const ConvRegion& region, const ConvGeometry& g,
                   int64_t channels);

} // namespace pg::cpu
