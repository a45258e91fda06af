// The direct CPU convolution (tensor/cpu/conv_direct.cpp) on every instruction-set path this CPU
// runs: forward, input gradient and weight gradient against the naive reference over channel counts
// that exercise each block size and tail, strides, dilations, padding and tile edges; AVX2 and
// AVX-512 agree bit for bit; results do not depend on the thread count; which layers it takes.
#include <omp.h>

#include <string>

#include "tensor/cpu/kernels.h"
#include "tests/autograd/conv_reference.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;
using test::all_equal;
using test::geometry;

struct DirectResult {
    Tensor y, dx, dw; // dx undefined when the stride is not 1
};

DirectResult run_direct(const test::ConvCase& c, const ConvGeometry& g, cpu::SimdPath path,
                        bool with_bias) {
    DirectResult r{Tensor::empty(c.dy.shape()), Tensor(), Tensor::empty(c.w.shape())};
    cpu::conv2d_direct_forward(r.y.f32(), c.x.f32(), c.w.f32(), with_bias ? c.b.f32() : nullptr, g,
                               path);
    if (g.stride_h == 1 && g.stride_w == 1) {
        r.dx = Tensor::empty(c.x.shape());
        cpu::conv2d_direct_backward_input(r.dx.f32(), c.dy.f32(), c.w.f32(), g, path);
    }
    cpu::conv2d_direct_backward_weight(r.dw.f32(), c.dy.f32(), c.x.f32(), g, path);
    return r;
}

// (N, H, W, C, K, R, S, stride h / w, pad h / w, dilation h / w): input channels 1-16 (read in
// place, blocks of 8 / 4 / 2 / 1) and 17-64 (tiles that run across rows and images); output
// channels below, at and past one, two or three vectors of 4 / 8 / 16 lanes; rows of 1-23 output
// pixels (partial tiles of 6 / 12 / 16); taps in the padding at either side, dilated rows that
// skip across it, rectangular filters, 1x1 filters.
const ConvGeometry kCases[] = {
    geometry(2, 9, 11, 3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // the demo's stem at stride 1
    geometry(2, 16, 16, 3, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1),  // ... and at stride 2
    geometry(1, 13, 12, 3, 32, 7, 7, 2, 2, 3, 3, 1, 1, 1), // a ResNet stem, 7x7
    geometry(2, 8, 23, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // 8 -> 8, rows of 23
    geometry(1, 7, 9, 5, 17, 3, 3, 1, 1, 2, 2, 2, 2, 1),   // dilated, K past two 8-lane vectors
    geometry(2, 6, 7, 13, 9, 2, 3, 1, 1, 0, 1, 1, 2, 1),   // rectangular, pad_h != pad_w
    geometry(1, 5, 5, 16, 33, 3, 3, 1, 1, 3, 3, 3, 3, 1),  // taps mostly in the padding
    geometry(2, 5, 6, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1),    // one channel in, one out
    geometry(1, 4, 6, 2, 3, 1, 3, 1, 1, 0, 1, 1, 1, 1),    // a 1x3 filter
    geometry(2, 6, 5, 24, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),  // tiles, two vectors
    geometry(1, 9, 8, 40, 24, 3, 3, 1, 1, 2, 2, 2, 2, 1),  // tiles, dilated, three vectors
    geometry(1, 7, 10, 17, 5, 3, 3, 2, 1, 1, 1, 1, 1, 1),  // tiles, stride 2 along h only
    geometry(2, 1, 1, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // a 1x1 image: only the centre tap
    geometry(1, 3, 30, 12, 16, 3, 3, 1, 2, 1, 1, 1, 1, 1), // stride 2 along w, long rows
    geometry(1, 5, 40, 6, 12, 3, 3, 1, 1, 1, 2, 1, 2, 1),  // dilated along w: never one run
    geometry(1, 4, 42, 3, 16, 3, 3, 1, 1, 1, 0, 1, 1, 1),  // whole-row runs in full 16-pixel tiles
    geometry(1, 3, 50, 20, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1), // tiles: several full tiles a row
    geometry(2, 12, 20, 6, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1), // weight-gradient flushes, 9-16 lanes
    geometry(2, 9, 9, 64, 64, 3, 3, 1, 1, 4, 4, 4, 4, 1),  // tiles: taps dead for whole tiles
    geometry(1, 9, 11, 32, 32, 7, 8, 1, 1, 3, 3, 1, 1, 1), // tiles, 56 taps: blocks of 49 and 7
    geometry(1, 9, 9, 64, 64, 7, 7, 1, 1, 3, 3, 1, 1, 1),  // tiles, 7x7: two blocks of taps
    geometry(2, 7, 9, 36, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1),  // weight by rows: stride 2, K partial
    geometry(3, 8, 14, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), // weight by rows: a flush, then more
    geometry(2, 5, 7, 72, 48, 1, 1, 1, 1, 0, 0, 1, 1, 1),  // 1x1: weight by rows in channel blocks
    geometry(2, 9, 8, 36, 20, 1, 1, 2, 2, 0, 0, 1, 1, 1),  // 1x1 at stride 2
    geometry(1, 6, 9, 64, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1),   // 1x1, a classifier's 3 outputs
};

TEST(ConvDirect, EveryPathMatchesNaive) {
    for (cpu::SimdPath path : cpu::kSimdPaths) {
        if (!cpu::simd_path_runs_here(path)) continue;
        SCOPED_TRACE(cpu::simd_path_name(path));
        for (size_t i = 0; i < std::size(kCases); i++) {
            SCOPED_TRACE("case " + std::to_string(i));
            const ConvGeometry& g = kCases[i];
            const bool with_bias = i % 2 == 0;
            const test::ConvCase c = test::conv_case(g, with_bias);
            const DirectResult r = run_direct(c, g, path, with_bias);
            EXPECT_TRUE(all_close(r.y, c.y, 1e-4f, 1e-4f)) << "forward";
            if (r.dx.defined()) {
                EXPECT_TRUE(all_close(r.dx, c.dx, 1e-4f, 1e-4f)) << "input grad";
            }
            EXPECT_TRUE(all_close(r.dw, c.dw, 1e-4f, 1e-4f)) << "weight grad";
        }
    }
}

TEST(ConvDirect, Avx2AndAvx512GiveTheSameBits) {
    // Both sum each element in the same order with one FMA per product; only the vector width
    // differs (and with at most 8 output channels AVX-512 runs the AVX2 kernels).
    if (!cpu::simd_path_runs_here(cpu::SimdPath::avx512))
        GTEST_SKIP()
            << "this CPU has no AVX-512; the AVX2 path is checked in EveryPathMatchesNaive";
    for (size_t i = 0; i < std::size(kCases); i++) {
        SCOPED_TRACE("case " + std::to_string(i));
        const test::ConvCase c = test::conv_case(kCases[i], true);
        const DirectResult a = run_direct(c, kCases[i], cpu::SimdPath::avx2, true);
        const DirectResult b = run_direct(c, kCases[i], cpu::SimdPath::avx512, true);
        EXPECT_TRUE(all_equal(a.y, b.y));
        if (a.dx.defined()) { EXPECT_TRUE(all_equal(a.dx, b.dx)); }
        EXPECT_TRUE(all_equal(a.dw, b.dw));
    }
}

TEST(ConvDirect, SameBitsForAnyThreadCount) {
    // Tasks own whole outputs and sum in a fixed order, so the split over threads cannot show.
    const int threads = omp_get_max_threads();
    for (const ConvGeometry& g : {kCases[1], kCases[3], kCases[10], kCases[23]}) {
        const test::ConvCase c = test::conv_case(g, true);
        const DirectResult first = run_direct(c, g, cpu::simd_path(), true);
        for (int t : {1, 3}) {
            omp_set_num_threads(t);
            const DirectResult other = run_direct(c, g, cpu::simd_path(), true);
            omp_set_num_threads(threads);
            EXPECT_TRUE(all_equal(other.y, first.y)) << t << " threads";
            if (first.dx.defined()) {
                EXPECT_TRUE(all_equal(other.dx, first.dx)) << t << " threads";
            }
            EXPECT_TRUE(all_equal(other.dw, first.dw)) << t << " threads";
        }
    }
}

// Which passes the direct kernels take for g, as forward / input gradient / weight gradient, each
// '+' (direct) or '-' (im2col, GEMM or the few-outputs path).
std::string direct_passes(const ConvGeometry& g) {
    std::string passes;
    for (bool direct :
         {cpu::conv2d_direct_applies_forward(g), cpu::conv2d_direct_applies_backward_input(g),
          cpu::conv2d_direct_applies_backward_weight(g)})
        passes += direct ? '+' : '-';
    return passes;
}

TEST(ConvDirect, TakesTheLayersWithFewChannels) {
    const ConvGeometry stem = geometry(8, 64, 64, 3, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1);
    const ConvGeometry narrow = geometry(8, 32, 32, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    const ConvGeometry wide = geometry(2, 17, 17, 512, 512, 3, 3, 1, 1, 4, 4, 4, 4, 1);
    const ConvGeometry grouped = geometry(2, 9, 9, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2);
    EXPECT_EQ(direct_passes(stem), "+-+"); // stride 2: the input gradient by im2col
    EXPECT_EQ(direct_passes(narrow), "+++");
    // Middling channels: forward and input gradient by tiles while the filter fits in L2
    // (fewer than 32 outputs go to the few-outputs path), the weight gradient by rows while its
    // accumulators fit in L1.
    const ConvGeometry decoder = geometry(8, 17, 17, 112, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    const ConvGeometry wider = geometry(2, 17, 17, 128, 128, 3, 3, 1, 1, 2, 2, 2, 2, 1);
    const ConvGeometry aspp = geometry(8, 9, 9, 256, 32, 3, 3, 1, 1, 2, 2, 2, 2, 1);
    const ConvGeometry classifier = geometry(8, 9, 9, 256, 21, 3, 3, 1, 1, 2, 2, 2, 2, 1);
    EXPECT_EQ(direct_passes(decoder), "+++");
    EXPECT_EQ(direct_passes(wider), "+++");
    EXPECT_EQ(direct_passes(aspp), "+++");
    EXPECT_FALSE(cpu::conv2d_direct_applies_forward(classifier));
    EXPECT_FALSE(cpu::conv2d_direct_applies_backward_weight(classifier));
    // A filter past L2 in blocks of taps, while the output fits there; the weight gradient of
    // 256 -> 256 ties with OpenBLAS and stays there.
    const ConvGeometry layer3 = geometry(2, 17, 17, 256, 256, 3, 3, 1, 1, 2, 2, 2, 2, 1);
    const ConvGeometry decoder129 = geometry(1, 129, 129, 512, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    EXPECT_EQ(direct_passes(layer3), "++-");
    EXPECT_FALSE(cpu::conv2d_direct_applies_forward(decoder129));
    EXPECT_FALSE(cpu::conv2d_direct_applies_backward_input(decoder129));
    EXPECT_EQ(direct_passes(wide), "---");
    EXPECT_EQ(direct_passes(grouped), "---");
    // 1x1 layers while the weight is small; their gradients from 32 channels each way.
    const ConvGeometry projection = geometry(8, 17, 17, 32, 48, 1, 1, 1, 1, 0, 0, 1, 1, 1);
    const ConvGeometry downsample = geometry(8, 17, 17, 32, 64, 1, 1, 2, 2, 0, 0, 1, 1, 1);
    const ConvGeometry reduce = geometry(8, 17, 17, 16, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1);
    const ConvGeometry expand = geometry(2, 17, 17, 256, 1024, 1, 1, 1, 1, 0, 0, 1, 1, 1);
    EXPECT_EQ(direct_passes(projection), "+++");
    EXPECT_EQ(direct_passes(downsample), "+-+"); // stride 2: the input gradient by im2col
    EXPECT_EQ(direct_passes(reduce), "+--");
    EXPECT_EQ(direct_passes(expand), "---");
    cpu::set_direct_conv_enabled(false); // PG_CPU_DIRECT_CONV=0
    EXPECT_FALSE(cpu::conv2d_direct_applies_forward(narrow));
    EXPECT_FALSE(cpu::conv2d_direct_applies_backward_weight(narrow));
    cpu::set_direct_conv_enabled(true);
}

TEST(ConvDirect, PathFollowsOpenBlasCoreType) {
    // One variable picks both libraries' kernels: tools/test_numerics.sh relies on it.
    EXPECT_EQ(cpu::isa_level_of_core("SkylakeX"), 4);
    EXPECT_EQ(cpu::isa_level_of_core("HASWELL"), 3);
    EXPECT_EQ(cpu::isa_level_of_core("Nehalem"), 1);
    const char* core = std::getenv("OPENBLAS_CORETYPE");
    const int level = core && cpu::isa_level_of_core(core) > 0
                          ? std::min(cpu::isa_level_of_core(core), cpu::isa_level_of_this_cpu())
                          : cpu::isa_level_of_this_cpu();
    const cpu::SimdPath expected = level >= 4   ? cpu::SimdPath::avx512
                                   : level == 3 ? cpu::SimdPath::avx2
                                                : cpu::SimdPath::sse42;
    EXPECT_EQ(cpu::simd_path(), expected) << cpu::simd_path_name(cpu::simd_path());
    EXPECT_TRUE(cpu::simd_path_runs_here(cpu::SimdPath::sse42));
}

} // namespace
} // namespace pg
