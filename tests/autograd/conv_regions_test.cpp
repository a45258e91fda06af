// The output regions of a padded convolution (tensor/cpu/conv_regions.h): the live taps of the
// whole output, the bands of output rows the weight gradient splits into and when it does, the
// geometry of each band, and a DeepLab-sized weight gradient by bands against the naive reference
// and the single band, run twice for the same bits. Small layers with every kind of band are in conv_test.cpp.
#include "tensor/backend.h"
#include "tensor/cpu/conv_regions.h"
#include "tests/autograd/conv_reference.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;
using test::all_equal;
using test::geometry;

struct Expected {
    int64_t p_lo, p_hi, r_lo, r_hi, pad_h;
};

void expect_bands(const std::vector<cpu::ConvRegion>& bands, const std::vector<Expected>& want,
                  const ConvGeometry& g) {
    ASSERT_EQ(bands.size(), want.size());
    for (size_t i = 0; i < want.size(); i++) {
        SCOPED_TRACE("band " + std::to_string(i));
        const cpu::ConvRegion& b = bands[i];
        EXPECT_EQ(b.p.lo, want[i].p_lo);
        EXPECT_EQ(b.p.hi, want[i].p_hi);
        EXPECT_EQ(b.r.lo, want[i].r_lo);
        EXPECT_EQ(b.r.hi, want[i].r_hi);
        EXPECT_EQ(b.g.pad_h, want[i].pad_h);
        EXPECT_EQ(b.g.P, want[i].p_hi - want[i].p_lo);
        EXPECT_EQ(b.g.R, want[i].r_hi - want[i].r_lo);
        // Columns stay whole: every output column, the filter columns live anywhere.
        EXPECT_EQ(b.q.lo, 0);
        EXPECT_EQ(b.q.hi, g.Q);
        EXPECT_EQ(b.g.Q, g.Q);
        // Output row p' of the band reads the input row that output row p.lo + p' of the layer
        // reads with the same tap.
        for (int64_t p = 0; p < b.g.P; p++)
            for (int64_t r = 0; r < b.g.R; r++)
                EXPECT_EQ(p * b.g.stride_h - b.g.pad_h + r * b.g.dilation_h,
                          (b.p.lo + p) * g.stride_h - g.pad_h + (b.r.lo + r) * g.dilation_h);
    }
}

TEST(ConvRegions, RateFourOnSeventeenSplitsIntoThreeBands) {
    // DeepLab-v2 layer4 at a 129 crop: taps at rows -4, 0, +4. The top 4 output rows lose the top
    // filter row, the bottom 4 the bottom one: 43 of 51 row-taps are real.
    const ConvGeometry g = geometry(2, 17, 17, 256, 256, 3, 3, 1, 1, 4, 4, 4, 4, 1);
    expect_bands(cpu::row_bands(g), {{0, 4, 1, 3, 0}, {4, 13, 0, 3, 0}, {13, 17, 0, 2, -9}}, g);
    // Switched off (PG_CPU_CONV_REGIONS=0): one band, every tap.
    cpu::set_conv_regions_enabled(false);
    expect_bands(cpu::row_bands(g), {{0, 17, 0, 3, 4}}, g);
    cpu::set_conv_regions_enabled(true);
}

TEST(ConvRegions, SplitsOnlyWhereItPays) {
    // Rate 2 at 128 channels saves 4 row-taps of 1.7 M multiply-adds each, more than two more
    // bands cost; at 64 channels (0.4 M each) it does not, nor does a plain 3x3 (2 row-taps).
    const ConvGeometry wide = geometry(2, 17, 17, 128, 128, 3, 3, 1, 1, 2, 2, 2, 2, 1);
    EXPECT_EQ(cpu::row_bands(wide).size(), 3u);
    const ConvGeometry narrow = geometry(2, 17, 17, 64, 64, 3, 3, 1, 1, 2, 2, 2, 2, 1);
    expect_bands(cpu::row_bands(narrow), {{0, 17, 0, 3, 2}}, narrow);
    const ConvGeometry plain = geometry(8, 17, 17, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    EXPECT_EQ(cpu::row_bands(plain).size(), 1u);
    // With no fixed cost every change of live taps starts a band; stride 2 with padding 1 loses
    // the top filter row at output row 0 only.
    cpu::set_band_fixed_cost(0);
    expect_bands(cpu::row_bands(narrow), {{0, 2, 1, 3, 0}, {2, 15, 0, 3, 0}, {15, 17, 0, 2, -13}},
                 narrow);
    const ConvGeometry strided = geometry(1, 8, 8, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1);
    expect_bands(cpu::row_bands(strided), {{0, 1, 1, 3, 0}, {1, 4, 0, 3, -1}}, strided);
    cpu::set_band_fixed_cost(-1);
}

TEST(ConvRegions, BandsWithoutLiveTaps) {
    // Padding 5 on a 4-row map: output rows 0-2 and 9-11 read only padding (no tap: R' = 0), rows
    // 3-8 read the image through a shrinking, then growing, set of filter rows.
    const ConvGeometry g = geometry(1, 4, 4, 2, 2, 3, 3, 1, 1, 5, 5, 1, 1, 1);
    cpu::set_band_fixed_cost(0);
    const std::vector<cpu::ConvRegion> bands = cpu::row_bands(g);
    cpu::set_band_fixed_cost(-1);
    ASSERT_GE(bands.size(), 3u);
    EXPECT_EQ(bands.front().g.R, 0);
    EXPECT_EQ(bands.front().p.hi, 3);
    EXPECT_EQ(bands.back().g.R, 0);
    EXPECT_EQ(bands.back().p.lo, 9);
    int64_t rows = 0;
    for (const cpu::ConvRegion& b : bands) rows += b.g.P;
    EXPECT_EQ(rows, g.P); // the bands cover the output once
}

TEST(ConvRegions, LiveRegionKeepsTheTapsThatReadPixels) {
    // ASPP's rate 24 on a 17x17 map: only the centre tap reads the image, with no padding left.
    const ConvGeometry g = geometry(2, 17, 17, 8, 4, 3, 3, 1, 1, 24, 24, 24, 24, 1);
    const cpu::ConvRegion live = cpu::live_region(g);
    EXPECT_EQ(live.r.lo, 1);
    EXPECT_EQ(live.g.R, 1);
    EXPECT_EQ(live.s.lo, 1);
    EXPECT_EQ(live.g.S, 1);
    EXPECT_EQ(live.g.pad_h, 0);
    EXPECT_EQ(live.g.pad_w, 0);
    EXPECT_EQ(live.g.P, 17);
    // Every tap live: the layer itself.
    const ConvGeometry plain = geometry(1, 5, 5, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    EXPECT_EQ(cpu::live_region(plain).g.R, 3);
    EXPECT_EQ(cpu::live_region(plain).g.pad_h, 1);
}

TEST(ConvRegions, WeightGradientByBandsAtDeepLabSize) {
    // 128 -> 256 at rate 2 on 9x9 (v3+'s layer4 map at a 129 crop, fewer channels; K > C / 2 keeps
    // it on im2col): three bands at the default cost. The naive double reference, the single-band result, and the same bits
    // again (the thread count is left alone: OpenBLAS may round this GEMM shape differently with
    // another, conv_test.cpp's ConvDeterminism).
    const ConvGeometry g = geometry(2, 9, 9, 128, 256, 3, 3, 1, 1, 2, 2, 2, 2, 1);
    ASSERT_EQ(cpu::row_bands(g).size(), 3u);
    const test::ConvCase c = test::conv_case(g, false);
    Backend& be = backend_for(Device::cpu());
    auto weight_gradient = [&] {
        Tensor dw = Tensor::empty(c.w.shape());
        be.conv2d_backward_weight(dw.f32(), c.dy.f32(), c.x.f32(), g);
        return dw;
    };
    const Tensor banded = weight_gradient();
    EXPECT_TRUE(all_close(banded, c.dw, 1e-4f, 1e-4f));
    cpu::set_conv_regions_enabled(false);
    const Tensor whole = weight_gradient();
    cpu::set_conv_regions_enabled(true);
    EXPECT_TRUE(all_close(banded, whole, 1e-4f, 1e-4f));
    EXPECT_TRUE(all_equal(weight_gradient(), banded)); // the bands add in a fixed order
}

} // namespace
} // namespace pg
