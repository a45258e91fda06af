// softmax, log_softmax, entropy: values by hand, stability, PyTorch reference values and
// gradients (tools/dump_softmax_loss.py), gradient checks, CPU/device parity, bad inputs.
#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;
using test::random_leaf;

Tensor mat(std::vector<float> v, Shape shape) { return Tensor::from_vector(v, shape); }

// The gradient of sum(f(x) * dy) with respect to x.
Tensor grad_of(Tensor (*f)(const Tensor&), const Tensor& x, const Tensor& dy) {
    Tensor leaf = x.clone();
    leaf.set_requires_grad(true);
    backward(sum(mul(f(leaf), dy)));
    return leaf.grad();
}

Tensor entropy_default(const Tensor& p) { return entropy(p); }

TEST(Softmax, ValuesByHand) {
    // softmax(0, ln 2, ln 3) = (1, 2, 3) / 6; a constant row is uniform; shape is kept.
    Tensor x = mat({0.f, std::log(2.f), std::log(3.f), 5, 5, 5}, {2, 1, 3});
    Tensor expected = mat({1 / 6.f, 2 / 6.f, 3 / 6.f, 1 / 3.f, 1 / 3.f, 1 / 3.f}, {2, 1, 3});
    EXPECT_TRUE(all_close(softmax(x), expected, 1e-6f));
    EXPECT_TRUE(all_close(log_softmax(x), log(expected), 1e-6f));
    // A single class: probability 1, log-probability 0.
    EXPECT_TRUE(all_close(softmax(mat({-7, 42}, {2, 1})), mat({1, 1}, {2, 1})));
    EXPECT_TRUE(all_close(log_softmax(mat({-7, 42}, {2, 1})), mat({0, 0}, {2, 1})));
}

TEST(Softmax, StableForHugeLogits) {
    // exp(1000) overflows f32: only the max-subtracted form gives finite, exact answers.
    Tensor x = mat({1000, 1000, -1000, 1000}, {2, 2});
    EXPECT_TRUE(all_close(softmax(x), mat({0.5f, 0.5f, 0, 1}, {2, 2})));
    EXPECT_TRUE(all_close(log_softmax(x), mat({-std::log(2.f), -std::log(2.f), -2000, 0}, {2, 2})));
}

TEST(Softmax, EmptyShapes) {
    EXPECT_EQ(softmax(Tensor::zeros({0, 21})).shape(), (Shape{0, 21}));
    EXPECT_EQ(log_softmax(Tensor::zeros({3, 0})).shape(), (Shape{3, 0}));
    EXPECT_TRUE(all_close(entropy(Tensor::zeros({2, 0})), Tensor::zeros({2})));
}

TEST(Entropy, ValuesByHand) {
    // H(1/2, 1/2) = ln 2, H(1, 0) = 0 (eps keeps 0 log 0 at 0), H(uniform over 4) = ln 4.
    Tensor p = mat({0.5f, 0.5f, 0, 0, 1, 0, 0, 0, 0.25f, 0.25f, 0.25f, 0.25f}, {3, 4});
    Tensor h = entropy(p);
    EXPECT_EQ(h.shape(), (Shape{3}));
    EXPECT_TRUE(all_close(h, mat({std::log(2.f), 0, std::log(4.f)}, {3}), 1e-6f));
    // Per-pixel entropy of NHWC probabilities: (N, H, W, C) -> (N, H, W).
    EXPECT_EQ(entropy(softmax(Tensor::zeros({2, 3, 4, 21}))).shape(), (Shape{2, 3, 4}));
    EXPECT_NEAR(entropy(softmax(Tensor::zeros({1, 21}))).item(), std::log(21.f), 1e-5f);
    // The gradient by hand: dH/dp_c = -(log(p_c + eps) + p_c / (p_c + eps)).
    Tensor q = mat({0.25f, 0.75f}, {1, 2});
    q.set_requires_grad(true);
    backward(sum(entropy(q)));
    EXPECT_TRUE(
        all_close(q.grad(), mat({-(std::log(0.25f) + 1), -(std::log(0.75f) + 1)}, {1, 2}), 1e-6f));
}

// Tolerances: f32 against f32 PyTorch; both sum short rows, so 1e-6 absolute (+1e-5 relative
// for values of order 1000) covers the different summation orders.
TEST(SoftmaxReference, MatchesPyTorch) {
    auto ref = test::load_reference("softmax_loss.safetensors");
    Tensor x = ref.at("softmax_x"), dy = ref.at("softmax_dy");
    EXPECT_TRUE(all_close(softmax(x), ref.at("softmax_y"), 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(grad_of(softmax, x, dy), ref.at("softmax_dx"), 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(log_softmax(x), ref.at("log_softmax_y"), 1e-5f, 1e-5f));
    EXPECT_TRUE(all_close(grad_of(log_softmax, x, dy), ref.at("log_softmax_dx"), 1e-6f, 1e-5f));
}

TEST(EntropyReference, MatchesPyTorch) {
    // torch: -(p * log(p + 1e-10)).sum(-1), including a one-hot and a uniform pixel.
    auto ref = test::load_reference("softmax_loss.safetensors");
    Tensor p = ref.at("entropy_p");
    EXPECT_TRUE(all_close(entropy(p), ref.at("entropy_h"), 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(grad_of(entropy_default, p, ref.at("entropy_dh")), ref.at("entropy_dp"),
                          1e-5f, 1e-5f));
}

TEST(SoftmaxGrad, AwkwardShapes) {
    Generator gen(11);
    for (Shape shape : {Shape{3, 7}, Shape{2, 1, 5}, Shape{4, 1}, Shape{1, 1, 1, 21}, Shape{9}}) {
        SCOPED_TRACE(shape_str(shape));
        PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0]); },
                            {random_leaf(shape, gen, -2.f, 2.f)});
        PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0]); },
                            {random_leaf(shape, gen, -2.f, 2.f)});
    }
}

TEST(EntropyGrad, AwkwardShapes) {
    // p in [0.05, 1]: the finite difference step (1e-3) must not cross p = 0 where log blows up.
    Generator gen(12);
    for (Shape shape : {Shape{3, 7}, Shape{2, 1, 5}, Shape{4, 1}, Shape{5}}) {
        SCOPED_TRACE(shape_str(shape));
        PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return entropy(in[0]); },
                            {random_leaf(shape, gen, 0.05f, 1.f)});
    }
    // Entropy of a softmax, the way U2PL computes it from logits.
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return entropy(softmax(in[0])); },
                        {random_leaf({2, 3, 6}, gen, -2.f, 2.f)});
}

TEST(Softmax, BadInputs) {
    auto message = [](Tensor (*f)(const Tensor&), const Tensor& x) -> std::string {
        try {
            f(x);
        } catch (const Error& e) { return e.what(); }
        return "no error";
    };
    auto expect_has = [](const std::string& message, const std::string& text) {
        EXPECT_NE(message.find(text), std::string::npos) << message;
    };
    expect_has(message(softmax, Tensor::scalar(1.f)),
               "softmax: input must have at least 1 dimension");
    expect_has(message(log_softmax, Tensor::zeros({2, 3}, DType::i32)),
               "log_softmax: input must be f32, got i32 (2, 3)");
    expect_has(message(entropy_default, Tensor::zeros({2, 3}, DType::u8)),
               "entropy: input must be f32, got u8");
    try {
        entropy(Tensor::zeros({2, 3}), -1.f);
        FAIL() << "expected an error";
    } catch (const Error& e) { expect_has(e.what(), "entropy: eps must be >= 0, got -1"); }
}

class SoftmaxDevice : public test::DeviceTest {};

TEST_P(SoftmaxDevice, ParityWithCpu) {
    Generator gen(13);
    // A VOC-like pixel batch (odd sizes) and a long row (a softmax over many columns).
    for (Shape shape : {Shape{2, 5, 7, 21}, Shape{3, 1000}}) {
        SCOPED_TRACE(shape_str(shape));
        Tensor x = random_leaf(shape, gen, -4.f, 4.f);
        auto f = [](const std::vector<Tensor>& in) {
            return softmax(in[0]) + log_softmax(in[0]) * 0.5f;
        };
        EXPECT_TRUE(test::device_parity(f, {x}, device()));
        auto h = [](const std::vector<Tensor>& in) { return entropy(softmax(in[0])); };
        EXPECT_TRUE(test::device_parity(h, {x}, device()));
    }
}

PG_INSTANTIATE_DEVICE_SUITE(SoftmaxDevice);

} // namespace
} // namespace pg
