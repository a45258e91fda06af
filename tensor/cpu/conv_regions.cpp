// Output regions of a padded convolution (conv_regions.h): bands of output rows that share their
// live filter taps, the plan that runs each band as a convolution of its own, and the copies
// between a band's tensors and the layer's.
//
// Why: a 3x3 filter at dilation d reads padding at the d output rows next to each edge. On the
// 17x17 maps of a 129 crop, DeepLab's layer4 (rate 4) multiplies zeros in 29% of its im2col GEMM
// and layer3 (rate 2) in 15%; the rows alone carry about half of that (16% and 8%), with no copy of
// the weight: a band's live taps are whole filter rows, contiguous columns of the weight matrix
// (K, R*S*C), which the GEMM addresses in place. Splitting the columns too would copy them per
// region.
#include "tensor/cpu/conv_regions.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tensor/cpu/parallel.h"

namespace pg::cpu {

// On unless PG_CPU_CONV_REGIONS=0 (one region per layer, for A/B timings); tests switch it.
static std::atomic<bool>& regions_enabled() {
    static std::atomic<bool> enabled{[] {
        const char* v = std::getenv("PG_CPU_CONV_REGIONS");
        return !(v && std::string(v) == "0");
    }()};
    return enabled;
}
bool conv_regions_enabled() { return regions_enabled().load(); }
void set_conv_regions_enabled(bool on) { regions_enabled().store(on); }

// A band's cost beyond its multiply-adds, in multiply-adds: its own im2col and GEMM calls and the
// copy of its dy rows, about 20 us at the ~100 G multiply-adds/s of a 2-core GEMM. Tests set 0,
// which splits every layer whose rows differ in their live taps.
constexpr int64_t kBandFixedCost = int64_t(1) << 21;
static std::atomic<int64_t> band_fixed_cost{kBandFixedCost};
void set_band_fixed_cost(int64_t cost) { band_fixed_cost.store(cost < 0 ? kBandFixedCost : cost); }
// More row bands than this (a 7x7 filter at a large dilation): no split (a 2^(bands-1) search).
constexpr size_t kMaxBands = 9;

// Consecutive outputs along one axis with the same live taps (empty taps as [0, 0)): output o
// reads input o * stride - pad + t * dilation with tap t.
struct Band {
    Range out, taps;
};

static std::vector<Band> bands_of(int64_t taps, int64_t out, int64_t stride, int64_t pad,
                                  int64_t dilation, int64_t size) {
    std::vector<Band> bands;
    for (int64_t o = 0; o < out; o++) {
        Range t = inside(o * stride - pad, dilation, size, taps);
        if (t.lo == t.hi) t = {0, 0};
        if (!bands.empty() && bands.back().taps.lo == t.lo && bands.back().taps.hi == t.hi)
            bands.back().out.hi = o + 1;
        else
            bands.push_back({{o, o + 1}, t});
    }
    if (bands.empty()) bands.push_back({{0, 0}, {0, 0}}); // no outputs at all
    return bands;
}

// Bands [i, j) as one: their outputs, and the hull of their live taps.
static Band merged(const std::vector<Band>& bands, size_t i, size_t j) {
    Band m{{bands[i].out.lo, bands[j - 1].out.hi}, {0, 0}};
    for (size_t b = i; b < j; b++) {
        const Range t = bands[b].taps;
        if (t.lo == t.hi) continue;
        m.taps = m.taps.lo == m.taps.hi
                     ? t
                     : Range{std::min(m.taps.lo, t.lo), std::max(m.taps.hi, t.hi)};
    }
    return m;
}

static int64_t size_of(Range r) { return r.hi - r.lo; }

// The grouping of consecutive bands with the least cost: multiply-adds (per_row_tap for each
// output row times live tap row) plus the fixed cost per group. Cut set bit i: a new group
// starts after band i. Ties keep fewer groups (the cut sets come in increasing order and only a
// strictly cheaper one replaces the best).
static std::vector<Band> cheapest_grouping(const std::vector<Band>& bands, int64_t per_row_tap) {
    const size_t count = bands.size();
    const int64_t fixed_cost = band_fixed_cost.load();
    if (count > kMaxBands) return {merged(bands, 0, count)};
    std::vector<Band> best;
    int64_t best_cost = 0;
    for (uint32_t cuts = 0; cuts < (1u << (count - 1)); cuts++) {
        std::vector<Band> groups;
        int64_t cost = 0;
        for (size_t start = 0, i = 0; i < count; i++) {
            if (i + 1 < count && !(cuts >> i & 1)) continue;
            groups.push_back(merged(bands, start, i + 1));
            cost +=
                size_of(groups.back().out) * size_of(groups.back().taps) * per_row_tap + fixed_cost;
            start = i + 1;
        }
        if (best.empty() || cost < best_cost || (cost == best_cost && groups.size() < best.size()))
            best = groups, best_cost = cost;
    }
    return best;
}

// The convolution of rows band `rows` over its live taps, columns over the hull `cols`.
static ConvRegion region_of(const ConvGeometry& g, const Band& rows, const Band& cols) {
    ConvRegion region{rows.out, cols.out, rows.taps, cols.taps, g};
    region.g.P = size_of(rows.out), region.g.Q = size_of(cols.out);
    region.g.R = size_of(rows.taps), region.g.S = size_of(cols.taps);
    region.g.pad_h = g.pad_h - rows.out.lo * g.stride_h - rows.taps.lo * g.dilation_h;
    region.g.pad_w = g.pad_w - cols.out.lo * g.stride_w - cols.taps.lo * g.dilation_w;
    return region;
}

static std::vector<Band> row_bands_of(const ConvGeometry& g) {
    return bands_of(g.R, g.P, g.stride_h, g.pad_h, g.dilation_h, g.H);
}
static Band column_hull(const ConvGeometry& g) {
    const std::vector<Band> cols = bands_of(g.S, g.Q, g.stride_w, g.pad_w, g.dilation_w, g.W);
    return merged(cols, 0, cols.size());
}

ConvRegion live_region(const ConvGeometry& g) {
    const std::vector<Band> rows = row_bands_of(g);
    return region_of(g, merged(rows, 0, rows.size()), column_hull(g));
}

std::vector<ConvRegion> row_bands(const ConvGeometry& g) {
    if (!conv_regions_enabled()) return {live_region(g)};
    const Band cols = column_hull(g);
    // multiply-adds per output row and live tap row: N images x Q' columns x S' taps x Cg x K
    const int64_t per_row_tap =
        g.N * size_of(cols.out) * size_of(cols.taps) * (g.C / g.groups) * g.K;
    std::vector<ConvRegion> regions;
    for (const Band& band : cheapest_grouping(row_bands_of(g), per_row_tap))
        regions.push_back(region_of(g, band, cols));
    return regions;
}

// ---- copies between the layer and a region ----

void region_weight(float* wr, const float* w, const ConvRegion& region, const ConvGeometry& g) {
    const int64_t Cg = g.C / g.groups, run = region.g.S * Cg; // one live filter row (S', Cg)
    parallel_for(g.K * region.g.R, 64, [&](int64_t kr) {
        const int64_t k = kr / region.g.R, r = kr % region.g.R;
        const float* from = w + ((k * g.R + region.r.lo + r) * g.S + region.s.lo) * Cg;
        std::memcpy(wr + kr * run, from, size_t(run) * sizeof(float));
    });
}

void add_region_weight(float* dw, const float* dwr, const ConvRegion& region,
                       const ConvGeometry& g) {
    const int64_t Cg = g.C / g.groups, run = region.g.S * Cg;
    parallel_for(g.K * region.g.R, 64, [&](int64_t kr) {
        const int64_t k = kr / region.g.R, r = kr % region.g.R;
        float* to = dw + ((k * g.R + region.r.lo + r) * g.S + region.s.lo) * Cg;
        const float* from = dwr + kr * run;
        for (int64_t i = 0; i < run; i++) to[i] += from[i];
    });
}

// Row (n, p') of the region is the run of Q' pixels at (n, p.lo + p', q.lo) in the layer.
template <typename Copy>
static void for_each_region_row(const ConvRegion& region, const ConvGeometry& g, int64_t channels,
                                Copy copy) {
    const int64_t rows = region.g.P, run = region.g.Q * channels;
    parallel_for(g.N * rows, 16, [&](int64_t i) {
        const int64_t n = i / rows, p = region.p.lo + i % rows;
        copy(((n * g.P + p) * g.Q + region.q.lo) * channels, i * run, run);
    });
}

void region_gather(float* tr, const float* t, const ConvRegion& region, const ConvGeometry& g,
                   int64_t channels) {
    for_each_region_row(region, g, channels, [&](int64_t full, int64_t part, int64_t n) {
        std::memcpy(tr + part, t + full, size_t(n) * sizeof(float));
    });
}

} // namespace pg::cpu
