// ResNet backbones A, B, C against PyTorch (tools/dump_resnet.py -> tests/data/resnet_*.safetensors):
// key names and order, eval outputs, one train-mode step (loss, every gradient, BN buffers, SGD)
// for a tiny network of each variant; the wiring of each variant at full depth (strides,
// dilations, shortcuts), stage shapes, BN modes, zero_init_residual, initialisation, FLOPs by
// hand, and the full-size parameter counts and keys against PyTorch's.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/resnet.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"
#include "tests/nn/net_reference.h"

namespace pg {
namespace {

using nn::BatchNormMode;
using nn::Bottleneck;
using nn::ResNet;
using nn::ResNetBlock;
using nn::ResNetOptions;
using nn::ResNetVariant;
using test::all_close;
using test::pattern;
using test::with_prefix;

constexpr float kTinyWidth = 1.f / 32; // widths 2/4/8/16, stage outputs 8/16/32/64 channels
const Shape kTinyX = {2, 55, 41, 3};   // the dump's input size (odd: ceil_mode matters)

ResNetOptions tiny(ResNetVariant v, std::vector<int64_t> blocks, BatchNormMode mode,
                   ResNetBlock block = ResNetBlock::bottleneck) {
    ResNetOptions o;
    o.variant = v;
    o.block = block;
    o.blocks = blocks;
    o.width = kTinyWidth;
    o.bn_mode = mode;
    return o;
}

std::vector<Tensor> stages(const nn::ResNetFeatures& f) {
    return {f.layer1, f.layer2, f.layer3, f.layer4};
}

// ---- PyTorch references: one tiny network per variant ----

// The training BN mode of each dump: A as AdvSemiSeg's original (batch statistics, frozen affine),
// B as RIPU (frozen), C as U2PL (trainable).
// Tolerances (f32 on both sides, ~25 convs deep): outputs 1e-4 abs + 1e-4 rel; gradients 1e-6 abs
// + 1e-3 rel (they are ~1e-3 in size, and train-mode BN divides by small batch deviations).
void check_reference(const std::string& file, ResNetVariant variant, std::vector<int64_t> blocks,
                     BatchNormMode mode) {
    SCOPED_TRACE(file);
    auto ref = test::load_reference(file + ".safetensors");
    Generator gen(7);
    ResNet net(tiny(variant, blocks, mode), gen);
    test::expect_same_names(net, ref);
    net.load_state_dict(with_prefix(ref, "w."), /*strict=*/true);
    Tensor x = pattern(kTinyX, 1);

    net.eval();
    {
        NoGradGuard no_grad;
        nn::ResNetFeatures f = net.forward(x);
        EXPECT_TRUE(all_close(f.layer1, ref.at("eval.layer1"), 1e-4f, 1e-4f));
        EXPECT_TRUE(all_close(f.layer4, ref.at("eval.layer4"), 1e-4f, 1e-4f));
    }

    // Train mode: L = sum_i mean(layer_i * r_i), r_i = pattern(layer_i's shape, 11 + i).
    net.train();
    std::vector<Tensor> f = stages(net.forward(x));
    Tensor loss = mean(f[0] * pattern(f[0].shape(), 11));
    for (int i = 1; i < 4; i++) loss = loss + mean(f[i] * pattern(f[i].shape(), 11 + i));
    const float expected = ref.at("train.loss").item();
    EXPECT_NEAR(loss.item(), expected, 1e-6 + 1e-4 * std::fabs(expected));
    backward(loss);
    test::expect_gradients(net, ref, 1e-6f, 1e-3f);
    test::expect_buffers(net, ref, 1e-5f, 1e-4f);
    test::expect_sgd_step(net, ref, 1e-6f, 1e-4f);
}

TEST(ResNetReference, VariantA_AdvSemiSeg) {
    check_reference("resnet_a", ResNetVariant::A, {1, 1, 1, 2}, BatchNormMode::frozen_affine);
}

TEST(ResNetReference, VariantB_Ripu) {
    check_reference("resnet_b", ResNetVariant::B, {1, 1, 2, 2}, BatchNormMode::frozen);
}

TEST(ResNetReference, VariantC_U2pl) {
    check_reference("resnet_c", ResNetVariant::C, {1, 1, 2, 3}, BatchNormMode::trainable);
}

// Dilated BasicBlocks (both 3x3 convs dilated; our own choice, mirrored by the dump's module).
TEST(ResNetReference, BasicBlockEval) {
    auto ref = test::load_reference("resnet_misc.safetensors");
    Generator gen(7);
    ResNet net(tiny(ResNetVariant::B, {1, 1, 2, 2}, BatchNormMode::trainable, ResNetBlock::basic),
               gen);
    net.load_state_dict(with_prefix(ref, "basic.w."), /*strict=*/true);
    net.eval();
    NoGradGuard no_grad;
    nn::ResNetFeatures f = net.forward(pattern(kTinyX, 2));
    EXPECT_TRUE(all_close(f.layer1, ref.at("basic.eval.layer1"), 1e-4f, 1e-4f));
    EXPECT_TRUE(all_close(f.layer4, ref.at("basic.eval.layer4"), 1e-4f, 1e-4f));
}

// ---- wiring ----

std::vector<int64_t> conv2_dilations(const nn::Sequential& stage) {
    std::vector<int64_t> d;
    for (size_t i = 0; i < stage.size(); i++) {
        auto b = std::dynamic_pointer_cast<Bottleneck>(stage[i]);
        EXPECT_EQ(b->conv2->options().padding, b->conv2->options().dilation);
        d.push_back(b->conv2->options().dilation);
    }
    return d;
}

// Full ResNet-101 depth (at width 1/32, so it builds in no time): per-variant dilations, where
// the stride sits, and which blocks have a projection shortcut.
TEST(ResNet, WiringPerVariantAtFullDepth) {
    const std::vector<int64_t> d2(22, 2);
    for (ResNetVariant v : {ResNetVariant::A, ResNetVariant::B, ResNetVariant::C}) {
        SCOPED_TRACE(nn::resnet_variant_name(v));
        Generator gen(1);
        ResNet net(tiny(v, {3, 4, 23, 3}, BatchNormMode::trainable), gen);
        std::vector<int64_t> l3 = {v == ResNetVariant::A ? 2 : 1};
        l3.insert(l3.end(), d2.begin(), d2.end());
        std::vector<int64_t> l4 = v == ResNetVariant::A   ? std::vector<int64_t>{4, 4, 4}
                                  : v == ResNetVariant::B ? std::vector<int64_t>{2, 4, 4}
                                                          : std::vector<int64_t>{4, 8, 16};
        EXPECT_EQ(conv2_dilations(*net.layer1), std::vector<int64_t>(3, 1));
        EXPECT_EQ(conv2_dilations(*net.layer2), std::vector<int64_t>(4, 1));
        EXPECT_EQ(conv2_dilations(*net.layer3), l3);
        EXPECT_EQ(conv2_dilations(*net.layer4), l4);
        // The stride of layer2: on the first 1x1 in A, on the 3x3 in B and C; and its shortcut.
        auto b = std::dynamic_pointer_cast<Bottleneck>((*net.layer2)[0]);
        EXPECT_EQ(b->conv1->options().stride, v == ResNetVariant::A ? 2 : 1);
        EXPECT_EQ(b->conv2->options().stride, v == ResNetVariant::A ? 1 : 2);
        EXPECT_EQ(std::dynamic_pointer_cast<nn::Conv2d>((*b->downsample)[0])->options().stride, 2);
        // Exactly one projection per stage, on its first block (the width changes there).
        for (const auto& stage : {net.layer1, net.layer2, net.layer3, net.layer4})
            for (size_t i = 0; i < stage->size(); i++)
                EXPECT_EQ(std::dynamic_pointer_cast<Bottleneck>((*stage)[i])->downsample != nullptr,
                          i == 0);
        EXPECT_EQ(net.stage_channels(), (std::vector<int64_t>{8, 16, 32, 64}));
    }
}

// 55 x 41 input: A's and C's ceil-mode max-pool give 15 rows where B's floor gives 14, and A's
// stride-2 1x1 (no padding) maps 15 -> 8 like C's padded 3x3.
TEST(ResNet, StageShapesPerVariant) {
    struct Case {
        ResNetVariant v;
        int64_t h1, h8;
    } cases[] = {{ResNetVariant::A, 15, 8}, {ResNetVariant::B, 14, 7}, {ResNetVariant::C, 15, 8}};
    for (const Case& c : cases) {
        for (ResNetBlock block : {ResNetBlock::bottleneck, ResNetBlock::basic}) {
            SCOPED_TRACE(std::string(nn::resnet_variant_name(c.v)) +
                         (block == ResNetBlock::basic ? " basic" : " bottleneck"));
            Generator gen(2);
            ResNet net(tiny(c.v, {1, 1, 2, 2}, BatchNormMode::trainable, block), gen);
            net.eval();
            NoGradGuard no_grad;
            std::vector<Tensor> f = stages(net.forward(pattern(kTinyX, 5)));
            const int64_t e = block == ResNetBlock::basic ? 1 : 4;
            EXPECT_EQ(f[0].shape(), (Shape{2, c.h1, 11, 2 * e}));
            EXPECT_EQ(f[1].shape(), (Shape{2, c.h8, 6, 4 * e}));
            EXPECT_EQ(f[2].shape(), (Shape{2, c.h8, 6, 8 * e}));
            EXPECT_EQ(f[3].shape(), (Shape{2, c.h8, 6, 16 * e}));
            EXPECT_EQ(net.out_channels(), 16 * e);
        }
    }
}

// ---- BN modes, zero_init_residual, initialisation ----

TEST(ResNet, BatchNormModesInTraining) {
    for (BatchNormMode mode :
         {BatchNormMode::trainable, BatchNormMode::frozen_affine, BatchNormMode::frozen}) {
        SCOPED_TRACE(int(mode));
        Generator gen(3);
        ResNet net(tiny(ResNetVariant::C, {1, 1, 1, 1}, mode), gen);
        const std::vector<float> mean_before = net.bn1->running_mean.to_f32_vector();
        Tensor x = pattern({2, 33, 35, 3}, 6);
        net.train();
        Tensor loss = mean(net.forward(x).layer4 * pattern({2, 5, 5, 64}, 7));
        backward(loss);
        const bool learn = mode == BatchNormMode::trainable;
        for (const nn::NamedTensor& p : net.named_parameters()) {
            const bool is_bn = p.tensor.dim() == 1;
            SCOPED_TRACE(p.name);
            EXPECT_EQ(p.tensor.grad().defined(), !is_bn || learn);
            EXPECT_EQ(p.tensor.requires_grad(), !is_bn || learn);
        }
        EXPECT_EQ(net.trainable_parameters().size() < net.parameters().size(), !learn);
        const bool stats_move = mode != BatchNormMode::frozen;
        EXPECT_EQ(net.bn1->running_mean.to_f32_vector() != mean_before, stats_move);
        EXPECT_EQ(net.bn1->num_batches_tracked.item(), stats_move ? 1.f : 0.f);
        if (mode == BatchNormMode::frozen) { // train mode computes exactly what eval mode does
            NoGradGuard no_grad;
            Tensor train_out = net.forward(x).layer4;
            net.eval();
            EXPECT_TRUE(test::all_equal(train_out, net.forward(x).layer4));
        }
    }
}

TEST(ResNet, ZeroInitResidualMakesBlocksIdentities) {
    for (ResNetBlock block : {ResNetBlock::bottleneck, ResNetBlock::basic}) {
        Generator gen(4);
        ResNetOptions o = tiny(ResNetVariant::C, {1, 1, 2, 3}, BatchNormMode::trainable, block);
        o.zero_init_residual = true;
        ResNet net(o, gen);
        for (const nn::NamedTensor& p : net.named_parameters()) {
            if (p.tensor.dim() != 1 || p.name.find(".bias") != std::string::npos) continue;
            const bool last_bn =
                p.name.find(block == ResNetBlock::basic ? ".bn2." : ".bn3.") != std::string::npos;
            for (float v : p.tensor.to_f32_vector()) ASSERT_EQ(v, last_bn ? 0.f : 1.f) << p.name;
        }
        // A block without projection maps a non-negative input to itself: relu(0 + x) = x.
        net.eval();
        NoGradGuard no_grad;
        Tensor h = relu(pattern({1, 5, 6, net.out_channels()}, 8));
        EXPECT_TRUE(test::all_equal((*net.layer4)[2]->forward(h), h));
    }
}

// Sample standard deviation of a tensor's values (mean taken out).
double sample_std(const Tensor& t) {
    std::vector<float> v = t.to_f32_vector();
    double s = 0, s2 = 0;
    for (float x : v) s += x, s2 += double(x) * x;
    double m = s / double(v.size());
    return std::sqrt(s2 / double(v.size()) - m * m);
}

// A: N(0, 0.01) everywhere (AdvSemiSeg); B, C: Kaiming normal, fan_out = K R S. Checked on
// layer4.0.conv2 (147456 values at width 1/4: the sample std is within 1%). BN: 1 and 0.
TEST(ResNet, InitialisationPerVariant) {
    for (ResNetVariant v : {ResNetVariant::A, ResNetVariant::B, ResNetVariant::C}) {
        SCOPED_TRACE(nn::resnet_variant_name(v));
        Generator gen(5);
        ResNetOptions o = tiny(v, {1, 1, 1, 1}, BatchNormMode::trainable);
        o.width = 0.25f;
        ResNet net(o, gen);
        auto b = std::dynamic_pointer_cast<Bottleneck>((*net.layer4)[0]);
        const double expected = v == ResNetVariant::A ? 0.01 : std::sqrt(2.0 / (128 * 9));
        EXPECT_NEAR(sample_std(b->conv2->weight), expected, 0.02 * expected);
        const double stem = v == ResNetVariant::A   ? 0.01
                            : v == ResNetVariant::B ? std::sqrt(2.0 / (16 * 49))
                                                    : std::sqrt(2.0 / (16 * 9));
        auto stem_conv = v == ResNetVariant::C
                             ? std::dynamic_pointer_cast<nn::Conv2d>(
                                   (*std::dynamic_pointer_cast<nn::Sequential>(net.conv1))[0])
                             : std::dynamic_pointer_cast<nn::Conv2d>(net.conv1);
        EXPECT_NEAR(sample_std(stem_conv->weight), stem, 0.15 * stem); // only 432-2352 values
        EXPECT_TRUE(test::all_equal(b->bn3->weight, Tensor::ones({512})));
        EXPECT_TRUE(test::all_equal(b->bn3->bias, Tensor::zeros({512})));
    }
}

// ---- FLOPs and parameter counts ----

// Tiny B, blocks 1,1,1,1, width 1/16 (widths 4/8/16/32), 33 x 33 input: stem 17 x 17, max-pool
// 9 x 9 (layer1), then 5 x 5. FLOPs = 2 x sum over convs of pixels x K x C x R x S.
TEST(ResNet, ForwardFlopsMatchHandFormula) {
    Generator gen(6);
    ResNetOptions o = tiny(ResNetVariant::B, {1, 1, 1, 1}, BatchNormMode::frozen);
    o.width = 1.f / 16;
    ResNet net(o, gen);
    auto f = [](int64_t pixels, int64_t k, int64_t c, int64_t r) {
        return 2 * pixels * k * c * r * r;
    };
    const int64_t p17 = 17 * 17, p9 = 81, p5 = 25;
    int64_t expected = f(p17, 4, 3, 7);
    expected += f(p9, 4, 4, 1) + f(p9, 4, 4, 3) + f(p9, 16, 4, 1) + f(p9, 16, 4, 1);       // layer1
    expected += f(p9, 8, 16, 1) + f(p5, 8, 8, 3) + f(p5, 32, 8, 1) + f(p5, 32, 16, 1);     // layer2
    expected += f(p5, 16, 32, 1) + f(p5, 16, 16, 3) + f(p5, 64, 16, 1) + f(p5, 64, 32, 1); // layer3
    expected += f(p5, 32, 64, 1) + f(p5, 32, 32, 3) + f(p5, 128, 32, 1) + f(p5, 128, 64, 1);
    EXPECT_EQ(net.forward_flops(33, 33), expected);
    EXPECT_TRUE(net.is_training()); // the mode is restored
}

// The full-size networks against PyTorch's parameter counts (printed by the dump script; no fc
// layer): ResNet-101 C 42,623,936 with its state_dict keys and shapes, ResNet-18 B 11,176,512.
// A (= B: 42,500,160, same keys and shapes) is built full size in deeplab_v2_test.cpp; here B's
// keys and shapes are shown equal to A's at a small width. (Each full build takes ~1 s.)
TEST(ResNet, FullSizeParameterCountsAndKeys) {
    auto ref = test::load_reference("resnet_misc.safetensors");
    {
        Generator gen(8);
        ResNet c101(nn::resnet_options(ResNetVariant::C, 101), gen);
        EXPECT_EQ(c101.parameter_count(), int64_t(ref.at("count.resnet101_c").item()));
        // PyTorch's state_dict interleaves each module's buffers after its parameters; the
        // engine lists all parameters, then all buffers: compare the sets.
        std::vector<std::string> ours = test::key_shapes(c101);
        std::vector<std::string> theirs = test::text_lines(ref.at("keys.resnet101_c"));
        std::sort(ours.begin(), ours.end());
        std::sort(theirs.begin(), theirs.end());
        EXPECT_EQ(ours, theirs);
    }
    {
        Generator gen(8);
        ResNet b18(nn::resnet_options(ResNetVariant::B, 18), gen);
        EXPECT_EQ(b18.parameter_count(), int64_t(ref.at("count.resnet18_b").item()));
    }
    EXPECT_EQ(ref.at("count.resnet101_a").item(), ref.at("count.resnet101_b").item());
    Generator gen(8);
    ResNetOptions a = nn::resnet_options(ResNetVariant::A, 101),
                  b = nn::resnet_options(ResNetVariant::B, 101);
    a.width = b.width = 0.125f;
    EXPECT_EQ(test::key_shapes(ResNet(a, gen)), test::key_shapes(ResNet(b, gen)));
}

// ---- options and errors ----

TEST(ResNet, OptionsAndErrors) {
    ResNetOptions a = nn::resnet_options(ResNetVariant::A, 101);
    EXPECT_EQ(a.blocks, (std::vector<int64_t>{3, 4, 23, 3}));
    EXPECT_EQ(a.bn_mode, BatchNormMode::frozen);
    EXPECT_EQ(nn::resnet_options(ResNetVariant::C, 34).block, ResNetBlock::basic);
    EXPECT_TRUE(nn::resnet_options(ResNetVariant::C, 50).zero_init_residual);
    EXPECT_EQ(nn::parse_resnet_variant("b"), ResNetVariant::B);
    EXPECT_THROW(nn::parse_resnet_variant("D"), Error);
    EXPECT_THROW(nn::resnet_options(ResNetVariant::A, 42), Error);
    Generator gen(9);
    EXPECT_THROW(ResNet(tiny(ResNetVariant::C, {1, 1, 1, 4}, BatchNormMode::trainable), gen),
                 Error);
    EXPECT_THROW(ResNet(tiny(ResNetVariant::B, {1, 1, 1}, BatchNormMode::trainable), gen), Error);
    EXPECT_THROW(ResNet(tiny(ResNetVariant::B, {1, 0, 1, 1}, BatchNormMode::trainable), gen),
                 Error);
    ResNet net(tiny(ResNetVariant::B, {1, 1, 1, 1}, BatchNormMode::trainable), gen);
    EXPECT_THROW(net.forward(Tensor::zeros({1, 33, 33, 4})), Error);
    // B allows more than three layer4 blocks (only C's multi-grid is limited).
    EXPECT_NO_THROW(ResNet(tiny(ResNetVariant::B, {1, 1, 1, 4}, BatchNormMode::trainable), gen));
}

} // namespace
} // namespace pg
