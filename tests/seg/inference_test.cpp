// Sliding-window inference: equal to the whole-image result for a network whose output at a pixel
// depends only on that pixel (so every window agrees where windows overlap), window placement at
// the borders, flip averaging; the padded forward (AdvSemiSeg's VOC protocol); argument errors.
#include "autograd/ops.h"
#include "nn/layers.h"
#include "seg/inference.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

// A per-pixel network: 1x1 conv 3 -> 4 classes, logits at stride 1.
class PointwiseNet : public nn::SegmentationNet {
  public:
    explicit PointwiseNet(Generator& gen) : nn::SegmentationNet("PointwiseNet") {
        conv =
            register_module("conv", std::make_shared<nn::Conv2d>(nn::Conv2dOptions{3, 4, 1}, gen));
    }
    nn::SegOutput forward(const Tensor& x) override { return {conv->forward(x), {}, {}, {}}; }
    int64_t num_classes() const override { return 4; }
    int64_t output_stride() const override { return 1; }
    std::vector<Tensor> backbone_parameters() const override { return {}; }
    std::vector<Tensor> head_parameters() const override { return trainable_parameters(); }
    std::shared_ptr<nn::Conv2d> conv;
};

TEST(Inference, SlidingEqualsWholeForAPointwiseNetwork) {
    Generator gen(3);
    PointwiseNet net(gen);
    net.eval();
    Tensor image = test::random_tensor({2, 23, 30, 3}, gen);
    Tensor whole = predict_whole(net, image);
    ASSERT_EQ(whole.shape(), (Shape{2, 23, 30, 4}));
    // Overlapping windows, a last window pushed back inside, and a crop larger than H.
    for (auto [crop, stride] : {std::pair<int64_t, int64_t>{8, 5}, {10, 10}, {16, 3}, {40, 20}})
        EXPECT_TRUE(test::all_close(predict_sliding(net, image, crop, stride), whole, 1e-6f, 1e-5f))
            << crop << "/" << stride;
    // Flip: for a pointwise net the mirrored prediction mirrors back to the same values.
    EXPECT_TRUE(test::all_close(predict_whole(net, image, true), whole, 1e-6f, 1e-5f));
    EXPECT_TRUE(test::all_equal(predict_labels(whole), argmax(whole, -1)));
}

// A network that sees the whole input: every pixel's logits are the input's per-channel mean
// (3 channels + a zero 4th), so padding changes the answer by exactly the padded area.
class GlobalMeanNet : public nn::SegmentationNet {
  public:
    GlobalMeanNet() : nn::SegmentationNet("GlobalMeanNet") {}
    nn::SegOutput forward(const Tensor& x) override {
        Tensor m = mean(mean(x, 1, true), 2, true); // (N, 1, 1, 3)
        m = concat({m, Tensor::zeros({x.size(0), 1, 1, 1})}, 3);
        return {broadcast_to(m, {x.size(0), x.size(1), x.size(2), 4}), {}, {}, {}};
    }
    int64_t num_classes() const override { return 4; }
    int64_t output_stride() const override { return 1; }
    std::vector<Tensor> backbone_parameters() const override { return {}; }
    std::vector<Tensor> head_parameters() const override { return {}; }
};

// AdvSemiSeg's VOC protocol: pad bottom/right with zeros to 8x8, one forward, crop back to 5x6.
TEST(Inference, PaddedForwardSeesTheZeroPaddingAndCropsBack) {
    Generator gen(5);
    GlobalMeanNet net;
    Tensor image = test::random_tensor({1, 5, 6, 3}, gen);
    Tensor padded = predict_padded(net, image, 8);
    ASSERT_EQ(padded.shape(), (Shape{1, 5, 6, 4}));
    std::vector<float> x = image.to_f32_vector(), p = padded.to_f32_vector();
    for (int c = 0; c < 3; c++) {
        double sum = 0;
        for (int i = 0; i < 30; i++) sum += x[size_t(i * 3 + c)];
        EXPECT_NEAR(p[size_t(c)], sum / 64, 1e-5) << c;          // mean over the 8x8 canvas
        EXPECT_NEAR(p[size_t(29 * 4 + c)], sum / 64, 1e-5) << c; // every pixel the same
    }
    // An image already at least the size is not padded: the whole-image answer.
    EXPECT_TRUE(
        test::all_close(predict_padded(net, image, 5), predict_whole(net, image), 0.f, 0.f));
    // Through the options, as evaluate() and predict run it.
    EvalOptions o;
    o.mode = EvalMode::pad;
    o.crop = 8;
    EXPECT_TRUE(test::all_equal(predict_logits(net, image, o), padded));
    PointwiseNet pointwise(gen);
    pointwise.eval();
    EXPECT_TRUE(test::all_close(predict_padded(pointwise, image, 16, true),
                                predict_whole(pointwise, image), 1e-6f, 1e-5f));
}

TEST(Inference, BadArgumentsAreErrors) {
    Generator gen(4);
    PointwiseNet net(gen);
    Tensor image = test::random_tensor({1, 9, 9, 3}, gen);
    EXPECT_THROW(predict_sliding(net, image, 4, 5), Error); // stride > crop leaves holes
    EXPECT_THROW(predict_sliding(net, image, 0, 1), Error);
    EXPECT_THROW(predict_whole(net, test::random_tensor({1, 9, 9, 2}, gen)), Error);
}

} // namespace
} // namespace pg::seg
