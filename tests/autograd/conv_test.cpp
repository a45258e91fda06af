// conv2d: values by hand, the CPU kernels against a naive reference (asymmetric geometry, blocks,
// groups, depthwise, dead taps, the few-output-channel path and its blocks; each case with the
// direct kernels on and off, and the weight gradient by row bands), PyTorch reference values and
// gradients, gradient checks (dilation up to 24, odd sizes, P or Q of 1), determinism, CPU/device
// parity and argument errors.
#include <omp.h>

#include <cmath>
#include <string>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/cpu/conv_regions.h"
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
#include "tests/autograd/conv_reference.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;
using test::all_equal;
using test::geometry;
using test::random_leaf;
using test::random_tensor;

Tensor nhwc(std::vector<float> v, int64_t h, int64_t w, int64_t c) {
    return Tensor::from_vector(v, {1, h, w, c});
}

// ---- values by hand ----

TEST(Conv, OnesKernelByHand) {
    // x = 1..9 on a 3x3 image; a 3x3 kernel of ones sums each (zero-padded) neighbourhood.
    Tensor x = nhwc({1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3, 1);
    Tensor w = Tensor::ones({1, 3, 3, 1});
    EXPECT_TRUE(all_close(conv2d(x, w, Tensor(), 1, 1),
                          nhwc({12, 21, 16, 27, 45, 33, 24, 39, 28}, 3, 3, 1)));
    // Stride 2 keeps the corners; a bias is added everywhere.
    EXPECT_TRUE(all_close(conv2d(x, w, Tensor::full({1}, 0.5), 2, 1),
                          nhwc({12.5f, 16.5f, 24.5f, 28.5f}, 2, 2, 1)));
    // Dilation 2, padding 2: the taps sit at offsets -2, 0, 2, so (0, 0) sees the four corners,
    // (0, 1) the middle of the top and bottom rows and (1, 1) only the centre.
    Tensor y = conv2d(x, w, Tensor(), 1, 2, 2);
    EXPECT_TRUE(all_close(y, nhwc({20, 10, 20, 10, 5, 10, 20, 10, 20}, 3, 3, 1)));
    // No padding: one output pixel, the sum of everything.
    EXPECT_TRUE(all_close(conv2d(x, w), nhwc({45}, 1, 1, 1)));
}

TEST(Conv, ChannelsAndGroupsByHand) {
    // 2x2 kernel [[1, 0], [0, -1]] over two input channels weighted 1 and 10: y = x(p, q) - x(p+1,
    // q+1) per channel, then mixed.
    Tensor x = Tensor::from_vector(std::vector<float>{1, 10, 2, 20, 3, 30, 4, 40}, {1, 2, 2, 2});
    Tensor w = Tensor::from_vector(std::vector<float>{1, 10, 0, 0, 0, 0, -1, -10}, {1, 2, 2, 2});
    EXPECT_TRUE(all_close(conv2d(x, w), nhwc({1 + 100 - 4 - 400}, 1, 1, 1)));
    // Depthwise (groups == C == K): each channel scaled by its own 1x1 filter.
    Tensor x2 = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2});
    Tensor dw = Tensor::from_vector(std::vector<float>{2, -1}, {2, 1, 1, 1});
    EXPECT_TRUE(all_close(conv2d(x2, dw, Tensor(), 1, 0, 1, 2),
                          Tensor::from_vector(std::vector<float>{2, -2, 6, -4}, {1, 1, 2, 2})));
    // Two groups of a 1x1 conv: output 0 mixes channels 0-1, output 1 mixes channels 2-3.
    Tensor x4 = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 1, 4});
    Tensor wg = Tensor::from_vector(std::vector<float>{1, 10, 100, 1000}, {2, 1, 1, 2});
    Tensor bg = Tensor::from_vector(std::vector<float>{0.5f, -0.5f}, {2});
    EXPECT_TRUE(all_close(conv2d(x4, wg, bg, 1, 0, 1, 2),
                          Tensor::from_vector(std::vector<float>{21.5f, 4299.5f}, {1, 1, 1, 2})));
}

// ---- the kernels against a naive reference ----

// Runs the three CPU kernels and compares them with the naive loops. few_outputs_block > 0 calls
// the few-output-channel kernels directly with blocks of that many output channels.
void expect_kernels_match_naive(const ConvGeometry& g, bool with_bias,
                                int64_t few_outputs_block = 0) {
    const test::ConvCase c = test::conv_case(g, with_bias);
    Backend& be = backend_for(Device::cpu());
    Tensor y_out = Tensor::empty(c.dy.shape()), dx_out = Tensor::empty(c.x.shape()),
           dw_out = Tensor::empty(c.w.shape());
    const float* bias = with_bias ? c.b.f32() : nullptr;
    auto expect_match = [&](const std::string& path) {
        EXPECT_TRUE(all_close(y_out, c.y, 1e-4f, 1e-4f)) << "forward, " << path;
        EXPECT_TRUE(all_close(dx_out, c.dx, 1e-4f, 1e-4f)) << "backward_input, " << path;
        EXPECT_TRUE(all_close(dw_out, c.dw, 1e-4f, 1e-4f)) << "backward_weight, " << path;
    };
    if (few_outputs_block > 0) {
        const int64_t kb = few_outputs_block;
        cpu::conv2d_few_outputs_forward(y_out.f32(), c.x.f32(), c.w.f32(), bias, g, kb);
        cpu::conv2d_few_outputs_backward_input(dx_out.f32(), c.dy.f32(), c.w.f32(), g, kb);
        cpu::conv2d_few_outputs_backward_weight(dw_out.f32(), c.dy.f32(), c.x.f32(), g, kb);
        return expect_match("few outputs");
    }
    // Through the backend, with the direct kernels (where they apply) and without (im2col).
    for (bool direct : {true, false}) {
        cpu::set_direct_conv_enabled(direct);
        be.conv2d_forward(y_out.f32(), c.x.f32(), c.w.f32(), bias, g);
        be.conv2d_backward_input(dx_out.f32(), c.dy.f32(), c.w.f32(), g);
        be.conv2d_backward_weight(dw_out.f32(), c.dy.f32(), c.x.f32(), g);
        cpu::set_direct_conv_enabled(true);
        expect_match(direct ? "direct where it applies" : "im2col");
    }
    // The weight gradient by bands of output rows (tensor/cpu/conv_regions.h), im2col only (the
    // direct kernels would take most of these small layers): with no fixed cost a layer splits
    // wherever its rows differ in their live taps (these never pay for it at the default cost).
    cpu::set_band_fixed_cost(0);
    cpu::set_direct_conv_enabled(false);
    be.conv2d_backward_weight(dw_out.f32(), c.dy.f32(), c.x.f32(), g);
    cpu::set_direct_conv_enabled(true);
    cpu::set_band_fixed_cost(-1);
    EXPECT_TRUE(all_close(dw_out, c.dw, 1e-4f, 1e-4f)) << "backward_weight by row bands";
}

TEST(ConvKernels, AsymmetricGeometryMatchesNaive) {
    // Different stride, padding and dilation per axis (the op API uses one value for both, the
    // kernels do not), odd sizes, rectangular kernels.
    expect_kernels_match_naive(geometry(2, 7, 9, 3, 4, 3, 2, 2, 1, 1, 0, 1, 3, 1), true);
    expect_kernels_match_naive(geometry(1, 6, 11, 2, 3, 2, 3, 1, 3, 2, 1, 2, 1, 1), false);
    expect_kernels_match_naive(geometry(2, 5, 8, 4, 6, 3, 3, 2, 1, 0, 2, 1, 2, 2), true);
}

TEST(ConvKernels, EveryPathMatchesNaive) {
    // pointwise (no im2col), grouped pointwise, 1x1 stride 2, depthwise with stride / dilation,
    // grouped 3x3, P = 1, Q = 1, a 1x1 image.
    expect_kernels_match_naive(geometry(2, 4, 5, 6, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1), true);
    expect_kernels_match_naive(geometry(2, 3, 5, 6, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2), false);
    expect_kernels_match_naive(geometry(1, 7, 6, 3, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1), true);
    expect_kernels_match_naive(geometry(2, 9, 8, 5, 5, 3, 3, 2, 1, 1, 1, 1, 2, 5), true);
    expect_kernels_match_naive(geometry(1, 7, 7, 4, 4, 3, 3, 1, 1, 2, 2, 2, 2, 4), false);
    expect_kernels_match_naive(geometry(2, 6, 5, 4, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2), true);
    expect_kernels_match_naive(geometry(1, 3, 7, 2, 3, 3, 3, 1, 1, 0, 1, 1, 1, 1), true);
    expect_kernels_match_naive(geometry(1, 6, 3, 2, 3, 3, 3, 2, 1, 1, 0, 1, 1, 1), false);
    expect_kernels_match_naive(geometry(2, 1, 1, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1), true);
    // 32 -> 20 at stride 1: the input gradient by the direct kernels' packed tiles (K > 16).
    expect_kernels_match_naive(geometry(2, 5, 30, 32, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1), true);
}

TEST(ConvKernels, ColumnBlocksSpanImages) {
    // 5x5 x 256 channels per group: the column buffer holds ~650 output pixels, so 2 x 25x25
    // images (and 3 x 12x23 at stride 2) go through in blocks whose boundary falls inside an image.
    // Two groups keep them on the im2col path (the few-output path takes groups 1 with K <= C/2).
    expect_kernels_match_naive(geometry(2, 25, 25, 512, 4, 5, 5, 1, 1, 2, 2, 1, 1, 2), true);
    expect_kernels_match_naive(geometry(3, 24, 23, 512, 2, 5, 5, 2, 1, 2, 2, 1, 1, 2), false);
}

TEST(ConvKernels, DeadTapsMatchNaive) {
    // Taps that read padding at every output pixel are skipped (tensor/cpu/conv.cpp): only the
    // centre tap live (the rest of the work is then a plain GEMM), live rows but a dead column
    // pair, one live row off the centre with padding left over (R' = 1, pad 1), depthwise,
    // stride 2, and a 1x1 filter that never reads a real pixel (y = bias, zero gradients).
    expect_kernels_match_naive(geometry(2, 5, 6, 4, 3, 3, 3, 1, 1, 6, 6, 6, 6, 1), true);
    expect_kernels_match_naive(geometry(1, 9, 4, 3, 2, 3, 3, 1, 1, 2, 5, 2, 5, 1), false);
    expect_kernels_match_naive(geometry(2, 3, 3, 2, 3, 3, 3, 1, 1, 5, 5, 4, 4, 1), true);
    expect_kernels_match_naive(geometry(1, 4, 4, 3, 3, 3, 3, 1, 1, 5, 5, 5, 5, 3), true);
    expect_kernels_match_naive(geometry(2, 5, 5, 2, 3, 3, 3, 2, 2, 7, 7, 7, 7, 1), false);
    expect_kernels_match_naive(geometry(1, 1, 1, 2, 3, 1, 1, 3, 3, 1, 1, 1, 1, 1), true);
    // Two columns at rate 2: only the centre filter column ever reads a pixel, while the rows
    // form bands (the weight gradient's bands then write through a copy, not in place).
    expect_kernels_match_naive(geometry(1, 9, 2, 4, 6, 3, 3, 1, 1, 2, 2, 2, 2, 1), true);
}

TEST(ConvKernels, FewOutputChannelsMatchNaive) {
    // K at most half of C (the input-side GEMM, tensor/cpu/conv_few_outputs.cpp): 3x3, stride 2
    // (M_in = 3.5 M_out, so C = 24 K), asymmetric dilation and padding, a 2x3 filter, and an
    // ASPP-like rate on a map larger than it (every tap live at some pixels only).
    expect_kernels_match_naive(geometry(2, 5, 6, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1), true);
    expect_kernels_match_naive(geometry(1, 7, 6, 24, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1), false);
    expect_kernels_match_naive(geometry(2, 9, 7, 16, 4, 3, 2, 1, 1, 2, 1, 2, 1, 1), true);
    expect_kernels_match_naive(geometry(1, 8, 9, 12, 5, 3, 3, 1, 1, 4, 4, 4, 4, 1), false);
    // Output channels in blocks of 2 (5 = 2 + 2 + 1) and of 1, as the column budget makes them at
    // large sizes: the blocks' dx accumulate, their dw land in their own rows.
    expect_kernels_match_naive(geometry(2, 5, 6, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1), true, 2);
    expect_kernels_match_naive(geometry(1, 7, 6, 24, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1), false, 1);
}

// ---- PyTorch reference (tools/dump_conv.py) ----

struct RefConfig {
    const char* name;
    int64_t stride, padding, dilation, groups;
};

TEST(Conv, MatchesPytorch) {
    // Same table as tools/dump_conv.py. Values are O(1) to O(10) sums of up to 147 products, so
    // float rounding in either library stays well below the 1e-4 tolerance (absolute and relative).
    const RefConfig configs[] = {
        {"basic", 1, 1, 1, 1},        {"stride2_odd", 2, 1, 1, 1},       {"dilation2", 1, 2, 2, 1},
        {"dilation12", 1, 12, 12, 1}, {"groups2", 1, 1, 1, 2},           {"depthwise", 2, 1, 1, 5},
        {"pointwise", 1, 0, 1, 1},    {"pointwise_stride2", 2, 0, 1, 1}, {"stem7x7", 2, 3, 1, 1},
        {"disc4x4", 2, 1, 1, 1},      {"rect2x3", 1, 0, 1, 1},
    };
    auto ref = test::load_reference("conv.safetensors");
    for (const RefConfig& c : configs) {
        SCOPED_TRACE(c.name);
        auto get = [&](const char* key) { return ref.at(std::string(c.name) + "." + key); };
        const bool has_bias = ref.count(std::string(c.name) + ".b") > 0;
        Tensor x = get("x").clone().set_requires_grad(true);
        Tensor w = get("w").clone().set_requires_grad(true);
        Tensor b = has_bias ? get("b").clone().set_requires_grad(true) : Tensor();
        Tensor y = conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
        EXPECT_TRUE(all_close(y, get("y"), 1e-4f, 1e-4f));
        backward(y, get("dy"));
        EXPECT_TRUE(all_close(x.grad(), get("dx"), 1e-4f, 1e-4f));
        EXPECT_TRUE(all_close(w.grad(), get("dw"), 1e-4f, 1e-4f));
        if (has_bias) { EXPECT_TRUE(all_close(b.grad(), get("db"), 1e-4f, 1e-4f)); }
    }
}

// ---- gradient checks ----

struct GradCase {
    Shape x, w;
    int64_t stride, padding, dilation, groups;
    bool bias;
};

void expect_conv_gradcheck(const GradCase& c, Generator& gen) {
    SCOPED_TRACE("x " + shape_str(c.x) + " w " + shape_str(c.w) + " stride " +
                 std::to_string(c.stride) + " padding " + std::to_string(c.padding) + " dilation " +
                 std::to_string(c.dilation) + " groups " + std::to_string(c.groups));
    std::vector<Tensor> inputs{random_leaf(c.x, gen), random_leaf(c.w, gen)};
    if (c.bias) inputs.push_back(random_leaf({c.w[0]}, gen));
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return conv2d(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.padding, c.dilation,
                          c.groups);
        },
        inputs);
}

TEST(ConvGrad, StridesPaddingKernelsAndOddSizes) {
    Generator gen(3);
    const GradCase cases[] = {
        {{2, 4, 5, 2}, {3, 3, 3, 2}, 1, 1, 1, 1, true},  // 3x3 "same"
        {{1, 7, 5, 2}, {2, 3, 3, 2}, 2, 1, 1, 1, false}, // stride 2, odd sizes
        {{1, 6, 7, 1}, {2, 3, 3, 1}, 2, 0, 1, 1, true},  // stride 2, no padding
        {{1, 9, 8, 2}, {2, 7, 7, 2}, 2, 3, 1, 1, false}, // the ResNet stem's 7x7 s2 p3
        {{1, 6, 6, 2}, {2, 4, 4, 2}, 2, 1, 1, 1, true},  // the discriminator's 4x4 s2 p1
        {{2, 3, 4, 3}, {2, 1, 1, 3}, 1, 0, 1, 1, true},  // 1x1: a plain GEMM
        {{1, 5, 7, 3}, {2, 1, 1, 3}, 2, 0, 1, 1, false}, // 1x1 stride 2
        {{1, 4, 5, 2}, {2, 2, 3, 2}, 1, 0, 1, 1, true},  // rectangular kernel
    };
    for (const GradCase& c : cases) expect_conv_gradcheck(c, gen);
}

TEST(ConvGrad, DilationsUpTo24) {
    // DeepLab's ASPP rates: padding = dilation. Inputs a few pixels wider than the rate, so the
    // off-centre taps reach real pixels at some outputs and padding at others.
    Generator gen(4);
    for (int64_t d : {2, 3, 4, 6, 12, 18, 24}) {
        int64_t size = d + 3;
        expect_conv_gradcheck({{1, size, size - 1, 1}, {2, 3, 3, 1}, 1, d, d, 1, true}, gen);
    }
    expect_conv_gradcheck({{1, 7, 8, 2}, {2, 3, 3, 2}, 1, 0, 2, 1, false}, gen); // no padding
    expect_conv_gradcheck({{1, 9, 9, 1}, {1, 3, 3, 1}, 2, 4, 4, 1, true}, gen);  // with stride
    expect_conv_gradcheck({{2, 5, 4, 2}, {2, 3, 3, 2}, 1, 6, 6, 1, true}, gen);  // centre tap only
}

TEST(ConvGrad, GroupsDepthwiseAndSizeOne) {
    Generator gen(5);
    const GradCase cases[] = {
        {{2, 5, 4, 4}, {4, 3, 3, 2}, 1, 1, 1, 2, true},  // 2 groups
        {{1, 4, 3, 6}, {3, 1, 1, 2}, 1, 0, 1, 3, false}, // grouped 1x1
        {{2, 7, 6, 3}, {3, 3, 3, 1}, 2, 1, 1, 3, true},  // depthwise, stride 2, odd sizes
        {{1, 7, 7, 2}, {2, 3, 3, 1}, 1, 2, 2, 2, false}, // depthwise, dilation 2
        {{1, 3, 6, 2}, {2, 3, 3, 2}, 1, 0, 1, 1, true},  // P = 1
        {{1, 5, 3, 2}, {3, 3, 3, 2}, 2, 0, 1, 1, false}, // Q = 1, stride 2
        {{1, 1, 1, 2}, {3, 3, 3, 2}, 1, 1, 1, 1, true},  // a 1x1 image, padding 1
        {{3, 2, 2, 1}, {1, 2, 2, 1}, 1, 0, 1, 1, true},  // C = K = 1, P = Q = 1
    };
    for (const GradCase& c : cases) expect_conv_gradcheck(c, gen);
}

TEST(ConvGrad, OnlyRequestedGradients) {
    // With only x requiring grad the weight gradient is skipped (and the weight stays untouched).
    Generator gen(6);
    Tensor x = random_leaf({1, 5, 5, 2}, gen);
    Tensor w = random_tensor({3, 3, 3, 2}, gen), b = random_tensor({3}, gen);
    backward(sum(conv2d(x, w, b, 1, 1)));
    EXPECT_TRUE(x.grad().defined());
    EXPECT_FALSE(w.grad().defined());
    EXPECT_FALSE(b.grad().defined());
    // d sum(y) / d b = number of output pixels for every channel.
    Tensor b2 = random_leaf({3}, gen);
    backward(sum(conv2d(x.detach(), w, b2, 2, 1)));
    EXPECT_TRUE(all_close(b2.grad(), Tensor::full({3}, 9.0)));
}

// ---- determinism ----

struct ConvGrads {
    Tensor y, dx, dw;
};

ConvGrads run_conv(const Tensor& x0, const Tensor& w0, const Tensor& dy, int64_t stride,
                   int64_t padding, int64_t dilation, int64_t groups) {
    Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true);
    Tensor y = conv2d(x, w, Tensor(), stride, padding, dilation, groups);
    backward(y, dy);
    return {y, x.grad(), w.grad()};
}

TEST(ConvDeterminism, BackwardIsBitIdenticalAcrossRunsAndThreadCounts) {
    // im2col + col2im (3x3 dilation 2 stride 2), grouped, and the depthwise direct loops. The
    // OpenMP thread count varies; OpenBLAS keeps its own (its sums for some GEMM shapes, e.g. small
    // M with a long K, change in the last bits with its thread count).
    struct Case {
        Shape x, w;
        int64_t stride, padding, dilation, groups;
    };
    const Case cases[] = {{{2, 17, 13, 8}, {16, 3, 3, 8}, 2, 2, 2, 1},
                          {{2, 11, 12, 8}, {8, 3, 3, 4}, 1, 1, 1, 2},
                          {{2, 15, 14, 40}, {40, 3, 3, 1}, 1, 1, 1, 40}};
    Generator gen(8);
    const int threads = omp_get_max_threads();
    for (const Case& c : cases) {
        SCOPED_TRACE("groups " + std::to_string(c.groups));
        Tensor x = random_tensor(c.x, gen), w = random_tensor(c.w, gen);
        Tensor y0 = conv2d(x, w, Tensor(), c.stride, c.padding, c.dilation, c.groups);
        Tensor dy = random_tensor(y0.shape(), gen);
        ConvGrads first = run_conv(x, w, dy, c.stride, c.padding, c.dilation, c.groups);
        ConvGrads again = run_conv(x, w, dy, c.stride, c.padding, c.dilation, c.groups);
        EXPECT_TRUE(all_equal(again.dx, first.dx));
        EXPECT_TRUE(all_equal(again.dw, first.dw));
        for (int t : {1, 3}) { // OpenMP loops (depthwise) split work by shape, not thread count
            omp_set_num_threads(t);
            ConvGrads other = run_conv(x, w, dy, c.stride, c.padding, c.dilation, c.groups);
            omp_set_num_threads(threads);
            EXPECT_TRUE(all_equal(other.y, first.y)) << t << " threads";
            EXPECT_TRUE(all_equal(other.dx, first.dx)) << t << " threads";
            EXPECT_TRUE(all_equal(other.dw, first.dw)) << t << " threads";
        }
    }
}

// ---- CPU / device parity ----

class ConvDevice : public test::DeviceTest {};

TEST_P(ConvDevice, ParityWithCpu) {
    Generator gen(9);
    struct Case {
        Shape x, w;
        int64_t stride, padding, dilation, groups;
    };
    const Case cases[] = {
        {{2, 9, 10, 6}, {8, 3, 3, 6}, 1, 1, 1, 1},  {{2, 9, 11, 6}, {4, 3, 3, 6}, 2, 1, 1, 1},
        {{1, 13, 12, 4}, {4, 3, 3, 4}, 1, 6, 6, 1}, {{2, 8, 8, 6}, {6, 3, 3, 3}, 1, 1, 1, 2},
        {{2, 9, 8, 6}, {6, 3, 3, 1}, 2, 1, 1, 6},   {{2, 5, 6, 8}, {4, 1, 1, 8}, 1, 0, 1, 1},
        {{1, 15, 15, 3}, {4, 7, 7, 3}, 2, 3, 1, 1},
    };
    for (const Case& c : cases) {
        Tensor x = random_leaf(c.x, gen), w = random_leaf(c.w, gen), b = random_leaf({c.w[0]}, gen);
        auto f = [&](const std::vector<Tensor>& in) {
            return conv2d(in[0], in[1], in[2], c.stride, c.padding, c.dilation, c.groups);
        };
        EXPECT_TRUE(test::device_parity(f, {x, w, b}, device(), 1e-4f, 1e-4f))
            << "x " << shape_str(c.x) << " w " << shape_str(c.w);
    }
}

PG_INSTANTIATE_DEVICE_SUITE(ConvDevice);

// ---- errors ----

void expect_conv_error(const std::string& expected, const Tensor& x, const Tensor& w,
                       const Tensor& b = Tensor(), int64_t stride = 1, int64_t padding = 0,
                       int64_t dilation = 1, int64_t groups = 1) {
    try {
        conv2d(x, w, b, stride, padding, dilation, groups);
        ADD_FAILURE() << "expected an error containing: " << expected;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
}

TEST(Conv, BadArgumentsNameTheValues) {
    Tensor x = Tensor::zeros({1, 8, 8, 64});
    expect_conv_error("conv2d: input has 64 channels, weight expects 128 (groups 1)", x,
                      Tensor::zeros({32, 3, 3, 128}));
    expect_conv_error("conv2d: input has 64 channels, weight expects 128 (groups 4)", x,
                      Tensor::zeros({8, 3, 3, 32}), Tensor(), 1, 0, 1, 4);
    expect_conv_error("conv2d: input has 6 channels, not divisible by groups 4",
                      Tensor::zeros({1, 4, 4, 6}), Tensor::zeros({4, 3, 3, 1}), Tensor(), 1, 0, 1,
                      4);
    expect_conv_error("conv2d: weight has 5 output channels, not divisible by groups 2",
                      Tensor::zeros({1, 4, 4, 4}), Tensor::zeros({5, 3, 3, 2}), Tensor(), 1, 0, 1,
                      2);
    expect_conv_error("conv2d: input must be 4-D (N, H, W, C), got shape (8, 8, 64)",
                      Tensor::zeros({8, 8, 64}), Tensor::zeros({32, 3, 3, 64}));
    expect_conv_error("conv2d: weight must be 4-D (K, R, S, C / groups), got shape (32, 64)", x,
                      Tensor::zeros({32, 64}));
    expect_conv_error("conv2d: bias has shape (16,), expected (32,)", x,
                      Tensor::zeros({32, 3, 3, 64}), Tensor::zeros({16}));
    expect_conv_error("conv2d: input must be f32, got i32",
                      Tensor::zeros({1, 8, 8, 64}, DType::i32), Tensor::zeros({32, 3, 3, 64}));
    expect_conv_error("conv2d: weight must be f32, got u8", x,
                      Tensor::zeros({32, 3, 3, 64}, DType::u8));
    expect_conv_error("conv2d: output would be 0x0: input 8x8 is smaller than the 3x3 kernel with "
                      "dilation 4 and padding 0",
                      x, Tensor::zeros({32, 3, 3, 64}), Tensor(), 1, 0, 4);
    expect_conv_error("got stride 0, dilation 1, padding 0, groups 1", x,
                      Tensor::zeros({32, 3, 3, 64}), Tensor(), 0);
    expect_conv_error("got stride 1, dilation 1, padding -1, groups 1", x,
                      Tensor::zeros({32, 3, 3, 64}), Tensor(), 1, -1);
}

} // namespace
} // namespace pg
