// The CAM classifier head (nn/cam.h): logits, maps and the multi-label loss by hand on a tiny
// case (absent classes 0, all-zero maps stay 0, present maps peak at ~1), bilinear upsampling of
// the maps, and logits / BCE loss / gradients / maps against PyTorch (tools/dump_cam.py).
#include <cmath>
#include <functional>
#include <string>

#include "autograd/ops.h"
#include "nn/cam.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::nn {
namespace {

using test::expect_error;

using test::all_close;

Tensor f32s(const std::vector<float>& v, const Shape& shape) {
    return Tensor::from_vector(v, shape);
}

// C_f = 2, K = 3 on one 2x2 image; pixel features (1, 0), (0, 1) / (2, 1), (-1, 0).
// Class weights: c0 = (1, 0), c1 = (0, -1), c2 = (1, 1).
struct Tiny {
    Generator gen{1};
    CamHead head{2, 3, gen};
    Tensor features = f32s({1, 0, 0, 1, 2, 1, -1, 0}, {1, 2, 2, 2});
    Tiny() {
        head.load_state_dict({{"classifier.weight", f32s({1, 0, 0, -1, 1, 1}, {3, 2, 1, 1})}},
                             /*strict=*/true);
    }
};

TEST(CamHead, LogitsAndLossByHand) {
    Tiny t;
    // Mean feature (0.5, 0.5): logits (0.5, -0.5, 1), the means of the pre-ReLU maps.
    Tensor logits = t.head.forward(t.features);
    EXPECT_TRUE(all_close(logits, f32s({0.5f, -0.5f, 1.f}, {1, 3})));
    // Tags (1, 1, 0): BCE = mean(log(1 + e^-x) for present, log(1 + e^x) for absent).
    float expected =
        (std::log1p(std::exp(-0.5f)) + std::log1p(std::exp(0.5f)) + std::log1p(std::exp(1.f))) /
        3.f;
    Tensor tags = f32s({1, 1, 0}, {1, 3});
    EXPECT_NEAR(multilabel_bce_loss(logits, tags).item(), expected, 1e-6f);
    Tensor tags_u8 = Tensor::from_vector(std::vector<uint8_t>{1, 1, 0}, {1, 3});
    EXPECT_NEAR(multilabel_bce_loss(logits, tags_u8).item(), expected, 1e-6f);
    EXPECT_EQ(t.head.parameter_count(), 6);
    EXPECT_EQ(t.head.forward_flops(7, 5), 2 * 2 * 3); // the classifier on the pooled vector
}

TEST(CamHead, MapsByHand) {
    Tiny t;
    // Pre-ReLU maps (h, w order): c0 (1, 0, 2, -1) -> ReLU max 2; c1 (0, -1, -1, 0) -> all 0;
    // c2 (1, 1, 3, -1) -> max 3 but absent from the tags.
    Tensor tags = f32s({1, 1, 0}, {1, 3});
    const float g = 2.f + 1e-5f; // c0's max with the guard
    Tensor expected = f32s({1 / g, 0, 0, 0, 0, 0, 2 / g, 0, 0, 0, 0, 0}, {1, 2, 2, 3});
    Tensor cams = t.head.cams(t.features, tags, 2, 2); // same size: the resize is the identity
    EXPECT_TRUE(all_close(cams, expected, 1e-7f, 1e-6f));
    // All classes present: c2 = (1, 1, 3, 0) / (3 + 1e-5); each present non-zero map peaks ~1.
    const float g2 = 3.f + 1e-5f;
    Tensor all = t.head.cams(t.features, f32s({1, 1, 1}, {1, 3}), 2, 2);
    EXPECT_TRUE(all_close(
        all, f32s({1 / g, 0, 1 / g2, 0, 0, 1 / g2, 2 / g, 0, 3 / g2, 0, 0, 0}, {1, 2, 2, 3}), 1e-7f,
        1e-6f));
    EXPECT_NEAR(max(all).item(), 1.f, 1e-5f);
    // u8 tags select the same classes.
    Tensor tags_u8 = Tensor::from_vector(std::vector<uint8_t>{1, 1, 0}, {1, 3});
    EXPECT_TRUE(all_close(t.head.cams(t.features, tags_u8, 2, 2), expected, 1e-7f, 1e-6f));
}

TEST(CamHead, MapsAreUpsampledBeforeNormalising) {
    // One channel, one class, weight 1: the map (0, 1 / 2, 3) resized to 3x3 with align_corners
    // gives the bilinear grid 0, .5, 1 / 1, 1.5, 2 / 2, 2.5, 3, then divided by 3 + 1e-5.
    Generator gen(2);
    CamHead head(1, 1, gen);
    head.load_state_dict({{"classifier.weight", f32s({1}, {1, 1, 1, 1})}}, true);
    Tensor cams = head.cams(f32s({0, 1, 2, 3}, {1, 2, 2, 1}), f32s({1}, {1, 1}), 3, 3, true);
    const float g = 3.f + 1e-5f;
    EXPECT_TRUE(all_close(
        cams,
        f32s({0, .5f / g, 1 / g, 1 / g, 1.5f / g, 2 / g, 2 / g, 2.5f / g, 3 / g}, {1, 3, 3, 1}),
        1e-7f, 1e-6f));
}

// Against PyTorch (float64 reference): logits, BCE loss, gradients of the classifier weight and
// of the features, and the maps resized to 9x7 with align_corners false and true. Tolerance
// 1e-5 abs + 1e-4 rel (f32 sums over 20 pixels and 6 channels).
TEST(CamHead, MatchesPyTorch) {
    auto ref = test::load_reference("cam.safetensors");
    Generator gen(3);
    CamHead head(6, 4, gen);
    head.load_state_dict({{"classifier.weight", ref.at("w.classifier.weight")}}, true);
    Tensor features = ref.at("features").clone();
    features.set_requires_grad(true);
    Tensor logits = head.forward(features);
    EXPECT_TRUE(all_close(logits, ref.at("logits"), 1e-5f, 1e-4f));
    Tensor loss = multilabel_bce_loss(logits, ref.at("tags"));
    EXPECT_TRUE(all_close(loss, ref.at("loss"), 1e-5f, 1e-4f));
    backward(loss);
    Tensor dw =
        to_torch_layout(head.classifier->weight.grad(), Layout::conv_krsc); // (K, C_f, 1, 1)
    EXPECT_TRUE(all_close(dw, ref.at("grad.classifier.weight"), 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(features.grad(), ref.at("grad.features"), 1e-5f, 1e-4f));
    NoGradGuard no_grad;
    Tensor f = ref.at("features"), tags = ref.at("tags");
    EXPECT_TRUE(all_close(head.cams(f, tags, 9, 7, false), ref.at("cams"), 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(head.cams(f, tags, 9, 7, true), ref.at("cams_align"), 1e-5f, 1e-4f));
}

TEST(CamHead, ErrorsNameTheProblem) {
    Generator gen(4);
    CamHead head(6, 4, gen);
    expect_error(
        [&] {
            head.forward(Tensor::zeros({2, 5, 4, 5}));
        },
        "CamHead: features must be (N, H, W, 6), got (2, 5, 4, 5)");
    expect_error(
        [&] {
            head.cams(Tensor::zeros({2, 5, 4, 6}), Tensor::zeros({2, 3}), 8, 8);
        },
        "CamHead::cams: tags must be (N = 2, K = 4), got (2, 3)");
    expect_error(
        [&] {
            head.cams(Tensor::zeros({2, 5, 4, 6}), Tensor::zeros({2, 4}), 0, 8);
        },
        "output size 0x8 must be positive");
    expect_error(
        [&] {
            multilabel_bce_loss(Tensor::zeros({2, 4}), Tensor::zeros({2, 3}));
        },
        "multilabel_bce_loss: tags (2, 3) must have the logits' shape (2, 4)");
    expect_error([&] { CamHead bad(0, 4, gen); }, "CamHead: feature_channels 0");
}

} // namespace
} // namespace pg::nn
