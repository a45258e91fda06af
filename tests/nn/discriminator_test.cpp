// AdvSemiSeg's FCDiscriminator against PyTorch (tools/dump_resnet.py ->
// tests/data/discriminator.safetensors): names, the forward, BCE on the upsampled output with every
// parameter's gradient and the gradient w.r.t. the input map (what reaches the generator), an SGD
// step; output sizes, FLOPs by hand, the default init and the full-size parameter count.
#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/deeplab_v2.h"
#include "nn/discriminator.h"
#include "nn/losses.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"
#include "tests/nn/net_reference.h"

namespace pg {
namespace {

using nn::FCDiscriminator;
using nn::FCDiscriminatorOptions;
using test::all_close;

FCDiscriminatorOptions tiny_options() { return FCDiscriminatorOptions{5, 4}; } // 5 classes, ndf 4

// Tolerances: output 1e-5 abs + 1e-4 rel; gradients 1e-7 abs + 1e-3 rel (they are ~1e-3..1e-5).
TEST(FCDiscriminatorReference, ForwardBceAndGradients) {
    auto ref = test::load_reference("discriminator.safetensors");
    Generator gen(1);
    FCDiscriminator d(tiny_options(), gen);
    test::expect_same_names(d, ref);
    d.load_state_dict(test::with_prefix(ref, "w."), /*strict=*/true);
    // x = softmax over the classes of 2 pattern: a probability map, as D sees G's output.
    Tensor x = softmax(test::pattern({2, 37, 33, 5}, 4) * 2.f).detach();
    x.set_requires_grad(true);
    Tensor y = d.forward(x);
    ASSERT_EQ(y.shape(), (Shape{2, 1, 1, 1})); // 37 -> 18 -> 9 -> 4 -> 2 -> 1, 33 -> 16 -> ... -> 1
    EXPECT_TRUE(all_close(y, ref.at("eval.y"), 1e-5f, 1e-4f));
    Tensor loss = bce_with_logits(nn::upsample_logits(y, 37, 33), ref.at("train.target"));
    const float expected = ref.at("train.loss").item();
    EXPECT_NEAR(loss.item(), expected, 1e-5 * std::fabs(expected));
    backward(loss);
    test::expect_gradients(d, ref, 1e-7f, 1e-3f);
    EXPECT_TRUE(all_close(x.grad(), ref.at("g.x"), 1e-7f, 1e-3f));
    test::expect_sgd_step(d, ref, 1e-6f, 1e-4f);
}

TEST(FCDiscriminator, OutputSizesAndErrors) {
    Generator gen(2);
    FCDiscriminator d(tiny_options(), gen);
    NoGradGuard no_grad;
    EXPECT_EQ(d.forward(Tensor::zeros({1, 64, 100, 5})).shape(), (Shape{1, 2, 3, 1}));
    EXPECT_EQ(d.forward(Tensor::zeros({3, 32, 63, 5})).shape(), (Shape{3, 1, 1, 1}));
    EXPECT_THROW(d.forward(Tensor::zeros({1, 31, 64, 5})), Error); // 31 -> 15 -> 7 -> 3 -> 1 -> 0
    EXPECT_THROW(d.forward(Tensor::zeros({1, 64, 64, 4})), Error); // wrong class count
    EXPECT_THROW(FCDiscriminator(FCDiscriminatorOptions{0, 64}, gen), Error);
}

// stride 8: conv1..conv3 halve (64 -> 32 -> 16 -> 8), conv4 and the classifier are 4x4 stride 1
// with padding 1 (8 -> 7 -> 6); same parameters as at stride 32.
TEST(FCDiscriminator, SmallerStrideKeepsTheWeightsAndRefinesTheMap) {
    Generator gen(2), gen2(2);
    FCDiscriminator d8(FCDiscriminatorOptions{5, 4, 8}, gen);
    FCDiscriminator d32(tiny_options(), gen2);
    NoGradGuard no_grad;
    EXPECT_EQ(d8.forward(Tensor::zeros({2, 64, 40, 5})).shape(), (Shape{2, 6, 3, 1}));
    EXPECT_EQ(d8.parameter_count(), d32.parameter_count());
    EXPECT_TRUE(all_close(d8.conv4->weight, d32.conv4->weight, 0.f, 0.f)); // same init stream
    EXPECT_EQ(d8.conv4->options().stride, 1);
    EXPECT_EQ(d8.conv3->options().stride, 2);
    EXPECT_THROW(d8.forward(Tensor::zeros({1, 16, 64, 5})), Error); // 16 -> 8 -> 4 -> 2 -> 1 -> 0
    EXPECT_THROW(FCDiscriminator(FCDiscriminatorOptions{5, 4, 12}, gen), Error);
}

// 64 x 64 input: the five convs output 32, 16, 8, 4, 2 (squared pixels); each is 4x4 over its
// input channels. FLOPs = 2 x pixels x K x C x 16.
TEST(FCDiscriminator, ForwardFlopsMatchHandFormula) {
    Generator gen(3);
    FCDiscriminator d(tiny_options(), gen);
    auto f = [](int64_t side, int64_t k, int64_t c) { return 2 * side * side * k * c * 16; };
    const int64_t expected = f(32, 4, 5) + f(16, 8, 4) + f(8, 16, 8) + f(4, 32, 16) + f(2, 1, 32);
    EXPECT_EQ(d.forward_flops(64, 64), expected);
}

// ndf 64, 21 classes: PyTorch's count (2,783,169); weights and biases inside PyTorch's default
// bound 1/sqrt(C x 16), the original setting no init of its own.
TEST(FCDiscriminator, FullSizeCountAndDefaultInit) {
    auto ref = test::load_reference("discriminator.safetensors");
    Generator gen(4);
    FCDiscriminator d(FCDiscriminatorOptions{21, 64}, gen);
    EXPECT_EQ(d.parameter_count(), int64_t(ref.at("count.full_21").item()));
    EXPECT_EQ(d.parameter_count(), 2783169);
    for (const auto& conv : {d.conv1, d.conv2, d.conv3, d.conv4, d.classifier}) {
        const float bound = 1.f / std::sqrt(float(conv->options().in_channels * 16));
        float largest = 0;
        for (float v : conv->weight.to_f32_vector()) largest = std::max(largest, std::fabs(v));
        for (float v : conv->bias.to_f32_vector()) EXPECT_LE(std::fabs(v), bound);
        EXPECT_LE(largest, bound);
        EXPECT_GT(largest, 0.9f * bound); // uniform over the whole range, not something narrower
    }
}

} // namespace
} // namespace pg
