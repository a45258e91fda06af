// DeepLab-v2 (AdvSemiSeg) against PyTorch (tools/dump_resnet.py -> tests/data/deeplab_v2.safetensors,
// resnet_misc.safetensors): eval logits with and without the legacy early return, one training
// step as AdvSemiSeg trains (batch-statistics BN with frozen affine, two-branch head, CE on the
// upsampled logits), the ASPP-sum by hand, names, parameter groups, FLOPs, and the full-size
// network: parameter count, keys, strict load of a PyTorch-keyed state and a forward.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/deeplab_v2.h"
#include "nn/losses.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"
#include "tests/nn/net_reference.h"

namespace pg {
namespace {

using nn::AsppSum;
using nn::AsppSumOptions;
using nn::BatchNormMode;
using nn::DeepLabV2;
using nn::DeepLabV2Options;
using test::all_close;
using test::pattern;
using test::with_prefix;

const Shape kTinyX = {2, 55, 41, 3};

// The dump's network: ResNet variant A, blocks 1,1,2,1, width 1/32 (layer4: 64 channels), 5 classes.
DeepLabV2Options tiny_options(bool legacy, BatchNormMode mode) {
    DeepLabV2Options o;
    o.num_classes = 5;
    o.backbone.variant = nn::ResNetVariant::A;
    o.backbone.blocks = {1, 1, 2, 1};
    o.backbone.width = 1.f / 32;
    o.backbone.bn_mode = mode;
    o.legacy_two_branch = legacy;
    return o;
}

// ---- PyTorch references ----

// Tolerances as in resnet_test.cpp: outputs 1e-4 abs + rel, gradients 1e-6 abs + 1e-3 rel.
TEST(DeepLabV2Reference, EvalLogitsWithAndWithoutLegacyEarlyReturn) {
    auto ref = test::load_reference("deeplab_v2.safetensors");
    Tensor x = pattern(kTinyX, 3);
    Tensor logits[2];
    for (bool legacy : {false, true}) {
        SCOPED_TRACE(legacy ? "legacy" : "four branches");
        Generator gen(1);
        DeepLabV2 net(tiny_options(legacy, BatchNormMode::frozen), gen);
        test::expect_same_names(net, ref);
        net.load_state_dict(with_prefix(ref, "w."), /*strict=*/true); // all four branches load
        net.eval();
        NoGradGuard no_grad;
        logits[legacy] = net.forward(x).logits;
        EXPECT_EQ(logits[legacy].shape(), (Shape{2, 8, 6, 5}));
        EXPECT_TRUE(all_close(logits[legacy], ref.at(legacy ? "eval.logits_legacy" : "eval.logits"),
                              1e-4f, 1e-4f));
    }
    EXPECT_FALSE(all_close(logits[0], logits[1], 1e-2f, 1e-2f)); // the flag changes the result
}

// AdvSemiSeg's own setting: BN in train mode with frozen affine, legacy two-branch head; loss =
// CE(logits upsampled with align_corners to 55 x 41, label with 255s). Branches 2 and 3 take no
// part, so they get no gradient (as in PyTorch).
TEST(DeepLabV2Reference, TrainStepAsAdvSemiSeg) {
    auto ref = test::load_reference("deeplab_v2.safetensors");
    Generator gen(2);
    DeepLabV2 net(tiny_options(true, BatchNormMode::frozen_affine), gen);
    net.load_state_dict(with_prefix(ref, "w."), /*strict=*/true);
    net.train();
    Tensor x = pattern(kTinyX, 3);
    Tensor logits = net.forward(x).logits;
    EXPECT_TRUE(all_close(logits, ref.at("train.logits"), 1e-4f, 1e-4f));
    Tensor loss = cross_entropy(nn::upsample_logits(logits, 55, 41), ref.at("train.label"));
    const float expected = ref.at("train.loss").item();
    EXPECT_NEAR(loss.item(), expected, 1e-4 * std::fabs(expected));
    backward(loss);
    test::expect_gradients(net, ref, 1e-6f, 1e-3f);
    EXPECT_FALSE(net.layer5->conv2d_list->named_parameters()[4].tensor.grad().defined());
    test::expect_buffers(net, ref, 1e-5f, 1e-4f);
    test::expect_sgd_step(net, ref, 1e-6f, 1e-4f);
}

// ---- the head by hand ----

std::shared_ptr<nn::Conv2d> branch(const AsppSum& head, size_t i) {
    return std::dynamic_pointer_cast<nn::Conv2d>((*head.conv2d_list)[i]);
}

TEST(AsppSum, SumsAllBranchesOrOnlyTheFirstTwo) {
    Generator gen(3);
    AsppSumOptions o;
    o.in_channels = 64;
    o.num_classes = 8;
    o.rates = {1, 2, 3, 4};
    AsppSum head(o, gen);
    o.legacy_two_branch = true;
    AsppSum legacy(o, gen);
    legacy.load_state_dict(head.state_dict(), /*strict=*/true); // same keys, same weights
    NoGradGuard no_grad;
    Tensor x = test::random_tensor({1, 9, 8, 64}, gen);
    Tensor y[4];
    for (size_t i = 0; i < 4; i++) {
        EXPECT_EQ(branch(head, i)->options().dilation, int64_t(i + 1));
        EXPECT_EQ(branch(head, i)->options().padding, int64_t(i + 1));
        y[i] = branch(head, i)->forward(x);
    }
    EXPECT_TRUE(all_close(head.forward(x), y[0] + y[1] + y[2] + y[3], 1e-5f, 1e-5f));
    EXPECT_TRUE(all_close(legacy.forward(x), y[0] + y[1], 1e-5f, 1e-5f));
    // Init: weights N(0, 0.01) (4608 values each), biases PyTorch's U(+-1/sqrt(9 * 64)).
    for (size_t i = 0; i < 4; i++) {
        std::vector<float> w = branch(head, i)->weight.to_f32_vector();
        double s2 = 0;
        for (float v : w) s2 += double(v) * v;
        EXPECT_NEAR(std::sqrt(s2 / double(w.size())), 0.01, 0.0006);
        for (float b : branch(head, i)->bias.to_f32_vector()) EXPECT_LE(std::fabs(b), 1.f / 24.f);
    }
    o.rates = {6};
    EXPECT_THROW(AsppSum(o, gen), Error); // two branches cannot come from one
}

// ---- the network ----

TEST(DeepLabV2, NamesModesGroupsAndUpsampling) {
    Generator gen(4);
    DeepLabV2 net(tiny_options(false, BatchNormMode::frozen), gen);
    std::vector<std::string> names;
    for (const nn::NamedTensor& p : net.named_parameters()) names.push_back(p.name);
    EXPECT_EQ(names.front(), "conv1.weight");
    EXPECT_EQ(names.back(), "layer5.conv2d_list.3.bias");
    for (const std::string& n : names) EXPECT_EQ(n.rfind("backbone", 0), std::string::npos) << n;
    // Frozen BN: the backbone trains its convs only; layer5 trains 4 weights and 4 biases.
    const size_t convs = 1 + 5 * 3 + 4; // stem, 5 blocks x 3 convs, 4 downsample convs
    EXPECT_EQ(net.backbone_parameters().size(), convs);
    EXPECT_EQ(net.head_parameters().size(), 8u);
    EXPECT_EQ(net.trainable_parameters().size(), convs + 8);
    // Modes reach the adopted backbone children.
    net.eval();
    EXPECT_FALSE(net.backbone->layer3->is_training());
    EXPECT_FALSE(net.backbone->is_training());
    net.backbone->forward_flops(33, 33); // restores eval mode, not a stale flag
    EXPECT_FALSE(net.backbone->layer3->is_training());
    net.train();
    EXPECT_TRUE(net.backbone->bn1->is_training());
    // forward_upsampled = bilinear with align_corners: the corners are the logits' corners.
    NoGradGuard no_grad;
    Tensor x = pattern({1, 35, 29, 3}, 9);
    net.eval();
    Tensor logits = net.forward(x).logits, up = net.forward_upsampled(x);
    ASSERT_EQ(up.shape(), (Shape{1, 35, 29, 5}));
    std::vector<float> l = logits.to_f32_vector(), u = up.to_f32_vector();
    const int64_t h = logits.size(1), w = logits.size(2);
    for (int64_t c = 0; c < 5; c++) {
        EXPECT_NEAR(u[size_t(c)], l[size_t(c)], 1e-6);
        EXPECT_NEAR(u[size_t(((35 * 29) - 1) * 5 + c)], l[size_t((h * w - 1) * 5 + c)], 1e-5);
    }
}

// FLOPs = backbone + branches x 2 x (5 x 5 pixels) x 5 classes x 9 x 64 (33 x 33 input: A's stem
// gives 17, its ceil-mode pool 9, layer2's stride-2 1x1 5). The legacy head computes 2 branches.
TEST(DeepLabV2, ForwardFlops) {
    for (bool legacy : {false, true}) {
        Generator gen(5);
        DeepLabV2 net(tiny_options(legacy, BatchNormMode::frozen), gen);
        const int64_t per_branch = 2 * 25 * 5 * 9 * 64;
        EXPECT_EQ(net.forward_flops(33, 33),
                  net.backbone->forward_flops(33, 33) + (legacy ? 2 : 4) * per_branch);
    }
}

// The real network (ResNet-101 A, 21 classes): PyTorch's parameter count (44,048,532; backbone
// 42,500,160), keys and shapes; a full-size state with PyTorch's keys and layouts loads strictly,
// and a 41 x 41 image gives 6 x 6 logits (stem 21, ceil-mode pool 11, layer2 6). The state holds
// averaging filters (1 / fan_in) and identity BN, so activations stay finite through 33 blocks.
TEST(DeepLabV2, FullSizeCountKeysStrictLoadAndForward) {
    auto ref = test::load_reference("resnet_misc.safetensors");
    Generator gen(6);
    DeepLabV2 net(DeepLabV2Options(), gen);
    EXPECT_EQ(net.parameter_count(), int64_t(ref.at("count.deeplab_v2_21").item()));
    EXPECT_EQ(net.backbone->parameter_count(), int64_t(ref.at("count.resnet101_a").item()));
    std::vector<std::string> theirs = test::text_lines(ref.at("keys.deeplab_v2_21"));
    std::vector<std::string> ours = test::key_shapes(net), sorted_theirs = theirs;
    std::sort(ours.begin(), ours.end());
    std::sort(sorted_theirs.begin(), sorted_theirs.end());
    EXPECT_EQ(ours, sorted_theirs);

    std::map<std::string, Tensor> state;
    for (const std::string& line : theirs) {
        const auto [name, shape] = test::parse_key_shape(line);
        if (name.find("num_batches_tracked") != std::string::npos)
            state[name] = Tensor::zeros(shape, DType::i32);
        else if (shape.size() == 4)
            state[name] = Tensor::full(shape, 1.0 / double(shape[1] * shape[2] * shape[3]));
        else
            state[name] = Tensor::full(shape, name.find("running_var") != std::string::npos ||
                                                      name.find("weight") != std::string::npos
                                                  ? 1.0
                                                  : 0.0);
    }
    net.load_state_dict(state, /*strict=*/true);
    EXPECT_TRUE(
        all_close(nn::to_torch_layout(branch(*net.layer5, 3)->weight, nn::Layout::conv_krsc),
                  state.at("layer5.conv2d_list.3.weight"), 0.f, 0.f));
    net.eval();
    NoGradGuard no_grad;
    Tensor logits = net.forward(pattern({1, 41, 41, 3}, 10)).logits;
    ASSERT_EQ(logits.shape(), (Shape{1, 6, 6, 21}));
    for (float v : logits.to_f32_vector()) ASSERT_TRUE(std::isfinite(v));
}

TEST(DeepLabV2, Errors) {
    Generator gen(7);
    DeepLabV2Options o = tiny_options(false, BatchNormMode::frozen);
    o.rates = {};
    EXPECT_THROW(DeepLabV2(o, gen), Error);
    EXPECT_THROW(nn::upsample_logits(Tensor::zeros({5, 5, 3}), 9, 9), Error);
    DeepLabV2 net(tiny_options(false, BatchNormMode::frozen), gen);
    EXPECT_THROW(net.forward(Tensor::zeros({1, 33, 33, 1})), Error);
}

} // namespace
} // namespace pg
