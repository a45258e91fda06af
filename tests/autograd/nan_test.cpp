// NaN propagates through every op as in PyTorch: an input holding one NaN gives NaN exactly where
// PyTorch's output depends on that element, and finite values elsewhere (ReLU and max pooling
// keep NaN, a training-mode BN spreads it over its channel, softmax over its row, ...). On the
// CPU and, when present, CUDA: a kernel that maps NaN to a number would hide a diverged run.
#include <algorithm>
#include <cmath>
#include <functional>

#include "autograd/ops.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

class NanDevice : public test::DeviceTest {};

// Which elements of `t` (any device, f32) are NaN, in row-major order.
std::vector<bool> nan_mask(const Tensor& t) {
    Tensor c = t.to(Device::cpu());
    const float* v = static_cast<const float*>(c.raw());
    std::vector<bool> out(size_t(c.numel()));
    for (size_t i = 0; i < out.size(); i++) out[i] = std::isnan(v[i]);
    return out;
}

// `shape` uniform in [lo, hi) with element `at` set to NaN, on `device`.
Tensor with_nan(const Shape& shape, int64_t at, Device device, float lo = -1.f, float hi = 1.f) {
    Generator gen(7);
    Tensor x = Tensor::uniform(shape, gen, lo, hi);
    static_cast<float*>(x.raw())[at] = NAN;
    return x.to(device);
}

// The NaN positions of `out` are exactly `expected` (a list of flat indices).
::testing::AssertionResult nan_exactly_at(const Tensor& out, const std::vector<int64_t>& expected) {
    std::vector<bool> got = nan_mask(out), want(got.size(), false);
    for (int64_t i : expected) want[size_t(i)] = true;
    for (size_t i = 0; i < got.size(); i++)
        if (got[i] != want[i])
            return ::testing::AssertionFailure()
                   << "element " << i << (got[i] ? " is NaN" : " is not NaN") << " (of "
                   << got.size() << ")";
    return ::testing::AssertionSuccess();
}

TEST_P(NanDevice, ElementwiseOpsKeepNanInPlace) {
    Tensor x = with_nan({2, 3, 4}, 5, device());
    Tensor pos = with_nan({2, 3, 4}, 5, device(), 0.5f, 2.f);
    Tensor other = with_nan({2, 3, 4}, 0, device()); // NaN elsewhere: the result has both
    const std::vector<std::pair<const char*, std::function<Tensor()>>> unary = {
        {"relu", [&] { return relu(x); }},
        {"leaky_relu", [&] { return leaky_relu(x, 0.1f); }},
        {"elu", [&] { return elu(x); }},
        {"sigmoid", [&] { return sigmoid(x); }},
        {"tanh", [&] { return tanh(x); }},
        {"exp", [&] { return exp(x); }},
        {"log", [&] { return log(pos); }},
        {"sqrt", [&] { return sqrt(pos); }},
        {"pow", [&] { return pow(pos, 1.5f); }},
        {"abs", [&] { return abs(x); }},
        {"neg", [&] { return neg(x); }},
        {"clamp", [&] { return clamp(x, -0.5f, 0.5f); }},
        {"affine", [&] { return x * 2.f + 1.f; }},
        {"rdiv", [&] { return 2.f / pos; }},
    };
    for (const auto& [name, f] : unary) EXPECT_TRUE(nan_exactly_at(f(), {5})) << name;
    const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, const Tensor&)>>>
        binary = {{"add", [](auto& a, auto& b) { return add(a, b); }},
                  {"sub", [](auto& a, auto& b) { return sub(a, b); }},
                  {"mul", [](auto& a, auto& b) { return mul(a, b); }},
                  {"div", [](auto& a, auto& b) { return div(a, b); }},
                  {"maximum", [](auto& a, auto& b) { return maximum(a, b); }},
                  {"minimum", [](auto& a, auto& b) { return minimum(a, b); }}};
    for (const auto& [name, f] : binary) {
        EXPECT_TRUE(nan_exactly_at(f(x, other), {0, 5})) << name;
        EXPECT_TRUE(nan_exactly_at(f(other, x), {0, 5})) << name << " (swapped)";
    }
}

TEST_P(NanDevice, ReductionsAndRowOpsSpreadNanOverWhatTheyMix) {
    Tensor x = with_nan({2, 3, 4}, 5, device()); // row 1 (of 6 rows of 4), column 1
    for (auto f :
         {+[](const Tensor& t) { return sum(t); }, +[](const Tensor& t) { return mean(t); },
          +[](const Tensor& t) { return max(t); }, +[](const Tensor& t) { return min(t); }})
        EXPECT_TRUE(nan_exactly_at(f(x), {0}));
    EXPECT_TRUE(nan_exactly_at(sum(x, -1), {1})); // (2, 3): the NaN's row
    EXPECT_TRUE(nan_exactly_at(mean(x, 0), {5})); // (3, 4)
    EXPECT_TRUE(nan_exactly_at(max(x, -1), {1}));
    EXPECT_TRUE(nan_exactly_at(softmax(x), {4, 5, 6, 7})); // the whole row
    EXPECT_TRUE(nan_exactly_at(log_softmax(x), {4, 5, 6, 7}));
    EXPECT_TRUE(nan_exactly_at(entropy(softmax(x)), {1}));
    // argmax picks the NaN, as torch.argmax does.
    Tensor am = argmax(x, -1).to(Device::cpu());
    EXPECT_EQ(static_cast<const int32_t*>(am.raw())[1], 1);
    Generator gen(3); // the matrix product: the NaN's row of the output
    Tensor w = Tensor::uniform({5, 4}, gen).to(device());
    EXPECT_TRUE(nan_exactly_at(linear(reshape(x, {6, 4}), w), {5, 6, 7, 8, 9}));
}

TEST_P(NanDevice, ConvPoolNormResizeAndLosses) {
    // (1, 8, 8, 2) NHWC with the NaN at pixel (1, 1), channel 0.
    const int64_t at = (1 * 8 + 1) * 2;
    Tensor x = with_nan({1, 8, 8, 2}, at, device());
    Generator gen(5);
    Tensor wconv = Tensor::uniform({3, 3, 3, 2}, gen, -0.5f, 0.5f).to(device()); // (K, R, S, C)
    Tensor y = conv2d(x, wconv, Tensor(), 1, 1);                                 // (1, 8, 8, 3)
    std::vector<int64_t> conv_nan;
    for (int64_t h = 0; h <= 2; h++)
        for (int64_t w = 0; w <= 2; w++)
            for (int64_t k = 0; k < 3; k++) conv_nan.push_back((h * 8 + w) * 3 + k);
    EXPECT_TRUE(nan_exactly_at(y, conv_nan)) << "conv2d: the 3x3 outputs that see (1, 1)";
    EXPECT_TRUE(nan_exactly_at(relu(y), conv_nan)) << "relu after conv";
    EXPECT_TRUE(nan_exactly_at(max_pool2d(x, 2, 2), {0})) << "max_pool2d keeps NaN";
    EXPECT_TRUE(nan_exactly_at(avg_pool2d(x, 2, 2), {0}));
    EXPECT_TRUE(nan_exactly_at(global_avg_pool(x), {0}));
    std::vector<int64_t> channel0;
    for (int64_t p = 0; p < 64; p++) channel0.push_back(p * 2);
    Tensor gamma = Tensor::ones({2}).to(device()), beta = Tensor::zeros({2}).to(device());
    Tensor rm = Tensor::zeros({2}).to(device()), rv = Tensor::ones({2}).to(device());
    EXPECT_TRUE(nan_exactly_at(batch_norm(x, gamma, beta, rm, rv, /*training=*/true), channel0))
        << "training BN: the batch mean of channel 0 is NaN";
    Tensor rm2 = Tensor::zeros({2}).to(device()), rv2 = Tensor::ones({2}).to(device());
    EXPECT_TRUE(nan_exactly_at(batch_norm(x, gamma, beta, rm2, rv2, /*training=*/false), {at}));
    Tensor up = resize_bilinear(x, 16, 16, /*align_corners=*/true);
    std::vector<bool> up_nan = nan_mask(up);
    EXPECT_GT(std::count(up_nan.begin(), up_nan.end(), true), 0) << "resize_bilinear";
    EXPECT_FALSE(up_nan.back()) << "resize_bilinear: the far corner does not see (1, 1)";
    Tensor labels = Tensor::zeros({1, 8, 8}, DType::i32).to(device());
    EXPECT_TRUE(std::isnan(cross_entropy(x, labels).item())) << "cross_entropy";
    Tensor targets = Tensor::zeros({1, 8, 8, 2}).to(device());
    EXPECT_TRUE(std::isnan(bce_with_logits(x, targets).item())) << "bce_with_logits";
}

PG_INSTANTIATE_DEVICE_SUITE(NanDevice);

} // namespace
} // namespace pg
