// Elementwise ops: values (by hand), broadcasting, gradient checks, CPU/device parity, errors.
#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;
using test::all_equal;
using test::random_leaf;
using test::random_tensor;

Tensor vec(std::vector<float> v) {
    Shape shape{int64_t(v.size())};
    return Tensor::from_vector(v, shape);
}

TEST(Elementwise, ArithmeticByHand) {
    Tensor a = vec({1, 2, 3}), b = vec({4, 5, 6});
    EXPECT_TRUE(all_close(a + b, vec({5, 7, 9})));
    EXPECT_TRUE(all_close(a - b, vec({-3, -3, -3})));
    EXPECT_TRUE(all_close(a * b, vec({4, 10, 18})));
    EXPECT_TRUE(all_close(b / a, vec({4, 2.5f, 2})));
    EXPECT_TRUE(all_close(maximum(a, vec({2, 2, 2})), vec({2, 2, 3})));
    EXPECT_TRUE(all_close(minimum(a, vec({2, 2, 2})), vec({1, 2, 2})));
    EXPECT_TRUE(all_close(a * 2.f + 1.f, vec({3, 5, 7})));
    EXPECT_TRUE(all_close(10.f - a, vec({9, 8, 7})));
    EXPECT_TRUE(all_close(6.f / a, vec({6, 3, 2})));
    EXPECT_TRUE(all_close(-a, vec({-1, -2, -3})));
}

TEST(Elementwise, MathAndActivationsByHand) {
    Tensor x = vec({-2.f, -0.5f, 0.f, 1.5f});
    EXPECT_TRUE(all_close(relu(x), vec({0, 0, 0, 1.5f})));
    EXPECT_TRUE(all_close(leaky_relu(x, 0.2f), vec({-0.4f, -0.1f, 0, 1.5f})));
    EXPECT_TRUE(all_close(elu(x), vec({std::expm1(-2.f), std::expm1(-0.5f), 0, 1.5f})));
    EXPECT_TRUE(all_close(sigmoid(x), vec({1 / (1 + std::exp(2.f)), 1 / (1 + std::exp(0.5f)), 0.5f,
                                           1 / (1 + std::exp(-1.5f))})));
    EXPECT_TRUE(all_close(tanh(x), vec({std::tanh(-2.f), std::tanh(-0.5f), 0, std::tanh(1.5f)})));
    EXPECT_TRUE(all_close(abs(x), vec({2, 0.5f, 0, 1.5f})));
    EXPECT_TRUE(all_close(clamp(x, -1.f, 1.f), vec({-1, -0.5f, 0, 1})));
    Tensor p = vec({0.25f, 1.f, 4.f});
    EXPECT_TRUE(all_close(sqrt(p), vec({0.5f, 1, 2})));
    EXPECT_TRUE(all_close(pow(p, 1.5f), vec({0.125f, 1, 8})));
    EXPECT_TRUE(all_close(log(exp(p)), p));
}

TEST(Elementwise, BroadcastingShapes) {
    // (2, 3) + (3,): per-column; (2, 3) * (2, 1): per-row; (2, 1, 3) + (4, 1): outer product shape.
    Tensor m = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    EXPECT_TRUE(all_close(m + vec({10, 20, 30}),
                          Tensor::from_vector(std::vector<float>{11, 22, 33, 14, 25, 36}, {2, 3})));
    Tensor col = Tensor::from_vector(std::vector<float>{2, 3}, {2, 1});
    EXPECT_TRUE(
        all_close(m * col, Tensor::from_vector(std::vector<float>{2, 4, 6, 12, 15, 18}, {2, 3})));
    Tensor a = Tensor::ones({2, 1, 3}), b = Tensor::zeros({4, 1});
    EXPECT_EQ((a + b).shape(), (Shape{2, 4, 3}));
    EXPECT_TRUE(all_close(m + Tensor::scalar(1.f), m + 1.f));
    try {
        Tensor::zeros({2, 3}) + Tensor::zeros({2});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("add: shapes (2, 3) and (2,) cannot be broadcast"),
                  std::string::npos)
            << e.what();
    }
}

// out = a * b + a over 3-d shapes by explicit index arithmetic (size-1 dimensions broadcast).
std::vector<float> naive_mul_add(const Tensor& a, const Tensor& b, const Shape& out) {
    std::vector<float> av = a.to_f32_vector(), bv = b.to_f32_vector(), result;
    auto at = [](const std::vector<float>& v, const Shape& s, int64_t i, int64_t j, int64_t k) {
        return v[size_t(((s[0] == 1 ? 0 : i) * s[1] + (s[1] == 1 ? 0 : j)) * s[2] +
                        (s[2] == 1 ? 0 : k))];
    };
    for (int64_t i = 0; i < out[0]; i++)
        for (int64_t j = 0; j < out[1]; j++)
            for (int64_t k = 0; k < out[2]; k++) {
                const float u = at(av, a.shape(), i, j, k), v = at(bv, b.shape(), i, j, k);
                result.push_back(u * v + u);
            }
    return result;
}

TEST(Elementwise, BroadcastOverLongRows) {
    // Innermost dimensions of 16 and more go through whole rows (tensor/cpu/elementwise.cpp):
    // Dropout2d's (N, H, W, C) * (N, 1, 1, C), a per-channel vector, an outer broadcast of both,
    // a row of b against a column of a, and a short row (the element-by-element path) beside them.
    Generator gen(9);
    const std::pair<Shape, Shape> cases[] = {{{2, 35, 24}, {2, 1, 24}}, {{3, 7, 40}, {1, 1, 40}},
                                             {{4, 1, 18}, {1, 5, 18}},  {{2, 6, 1}, {1, 1, 17}},
                                             {{2, 9, 20}, {2, 9, 1}},   {{2, 9, 5}, {2, 1, 5}}};
    for (const auto& [sa, sb] : cases) {
        SCOPED_TRACE(shape_str(sa) + " with " + shape_str(sb));
        Tensor a = random_tensor(sa, gen), b = random_tensor(sb, gen);
        Tensor out = a * b + a;
        Shape shape = broadcast_shapes("test", sa, sb);
        EXPECT_EQ(out.shape(), shape);
        EXPECT_EQ(out.to_f32_vector(), naive_mul_add(a, b, shape));
    }
}

TEST(Elementwise, ComparisonsLogicWhere) {
    Tensor a = vec({1, 2, 3}), b = vec({3, 2, 1});
    auto u8 = [](std::vector<uint8_t> v) { return Tensor::from_vector(v, {int64_t(v.size())}); };
    EXPECT_TRUE(all_equal(lt(a, b), u8({1, 0, 0})));
    EXPECT_TRUE(all_equal(le(a, b), u8({1, 1, 0})));
    EXPECT_TRUE(all_equal(eq(a, b), u8({0, 1, 0})));
    EXPECT_TRUE(all_equal(ne(a, 2.f), u8({1, 0, 1})));
    EXPECT_TRUE(all_equal(gt(a, 1.5f), u8({0, 1, 1})));
    EXPECT_TRUE(all_equal(ge(a, b), u8({0, 1, 1})));
    EXPECT_TRUE(all_equal(logical_and(lt(a, b), le(a, b)), u8({1, 0, 0})));
    EXPECT_TRUE(all_equal(logical_or(lt(a, b), gt(a, b)), u8({1, 0, 1})));
    EXPECT_TRUE(all_equal(logical_xor(lt(a, b), le(a, b)), u8({0, 1, 0})));
    EXPECT_TRUE(all_equal(logical_not(eq(a, b)), u8({1, 0, 1})));
    EXPECT_TRUE(all_close(where(gt(a, 1.5f), a, b), vec({3, 2, 3})));
    EXPECT_TRUE(all_close(masked_fill(a, eq(a, 2.f), -1.f), vec({1, -1, 3})));
    EXPECT_THROW(where(gt(a, 1.f), a, Tensor::zeros({2})), Error);
    EXPECT_THROW(logical_and(lt(a, b), Tensor::zeros({3})), Error); // f32 is not a mask
}

TEST(Elementwise, SumToShapeIsTheAdjointOfBroadcast) {
    Tensor m = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    EXPECT_TRUE(all_close(sum_to_shape(m, {3}), vec({5, 7, 9})));
    EXPECT_TRUE(
        all_close(sum_to_shape(m, {2, 1}), Tensor::from_vector(std::vector<float>{6, 15}, {2, 1})));
    EXPECT_TRUE(all_close(sum_to_shape(m, {}), Tensor::scalar(21.f)));
    EXPECT_TRUE(all_close(broadcast_to(vec({1, 2, 3}), {2, 3}),
                          Tensor::from_vector(std::vector<float>{1, 2, 3, 1, 2, 3}, {2, 3})));
    EXPECT_THROW(broadcast_to(vec({1, 2}), {2, 3}), Error);
}

TEST(Elementwise, LargeSumToShapeIsExactAndThreadIndependent) {
    // 300000 rows x 3 columns of 1: chunked partial sums must still give exactly 300000.
    Tensor ones = Tensor::ones({300000, 3});
    EXPECT_TRUE(all_equal(sum_to_shape(ones, {3}), Tensor::full({3}, 300000.0)));
}

TEST(ElementwiseGrad, UnaryOps) {
    Generator gen(1);
    auto check = [&](const char* name, std::function<Tensor(const Tensor&)> f, float lo, float hi) {
        SCOPED_TRACE(name);
        PG_EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return f(in[0]); },
                            {random_leaf({3, 5}, gen, lo, hi)});
    };
    // Inputs stay away from kinks (0 for relu / abs / leaky / elu, the clamp bounds).
    check(
        "neg", [](const Tensor& x) { return neg(x); }, -1, 1);
    check(
        "affine", [](const Tensor& x) { return affine(x, -1.5f, 0.5f); }, -1, 1);
    check(
        "rdiv", [](const Tensor& x) { return rdiv(2.f, x); }, 0.5f, 2);
    check(
        "pow", [](const Tensor& x) { return pow(x, 2.5f); }, 0.5f, 2);
    check(
        "sqrt", [](const Tensor& x) { return sqrt(x); }, 0.5f, 2);
    check(
        "exp", [](const Tensor& x) { return exp(x); }, -1, 1);
    check(
        "log", [](const Tensor& x) { return log(x); }, 0.5f, 2);
    check(
        "abs", [](const Tensor& x) { return abs(x); }, 0.1f, 1);
    check(
        "abs_neg", [](const Tensor& x) { return abs(x); }, -1, -0.1f);
    check(
        "clamp", [](const Tensor& x) { return clamp(x, -0.5f, 0.5f); }, -1, 1);
    check(
        "relu", [](const Tensor& x) { return relu(x); }, 0.1f, 1);
    check(
        "relu_neg", [](const Tensor& x) { return relu(x); }, -1, -0.1f);
    check(
        "leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2f); }, -1, -0.1f);
    check(
        "elu", [](const Tensor& x) { return elu(x, 0.7f); }, -1, -0.1f);
    check(
        "elu_pos", [](const Tensor& x) { return elu(x, 0.7f); }, 0.1f, 1);
    check(
        "sigmoid", [](const Tensor& x) { return sigmoid(x); }, -3, 3);
    check(
        "tanh", [](const Tensor& x) { return tanh(x); }, -2, 2);
}

TEST(ElementwiseGrad, BinaryOpsWithBroadcasting) {
    Generator gen(2);
    using Fn = std::function<Tensor(const Tensor&, const Tensor&)>;
    std::vector<std::pair<const char*, Fn>> ops{
        {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
        {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
        {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
        {"div", [](const Tensor& a, const Tensor& b) { return a / b; }},
        {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
        {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
    };
    std::vector<std::pair<Shape, Shape>> shapes{
        {{2, 3}, {2, 3}}, {{2, 3, 4}, {4}}, {{2, 1, 3}, {5, 1}}, {{3}, {}}, {{1, 7}, {3, 1}}};
    for (auto& [name, f] : ops) {
        for (auto& [sa, sb] : shapes) {
            SCOPED_TRACE(std::string(name) + " " + shape_str(sa) + " " + shape_str(sb));
            // b in [0.5, 1.5] keeps div away from 0; a in [-1, 0.4] keeps max/min off ties.
            PG_EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return f(in[0], in[1]); },
                                {random_leaf(sa, gen, -1, 0.4f), random_leaf(sb, gen, 0.5f, 1.5f)});
        }
    }
}

// add_relu(a, b) = relu(a + b) bit for bit, values and gradients (with a per-channel b and NaN),
// and its gradcheck away from the kink.
TEST(Elementwise, AddReluIsReluOfAddBitForBit) {
    Generator gen(9);
    Tensor a0 = random_tensor({2, 5, 7, 3}, gen), b0 = random_tensor({3}, gen);
    a0.f32()[4] = NAN;
    Tensor dy = random_tensor({2, 5, 7, 3}, gen);
    auto run = [&](bool fused) {
        Tensor a = a0.clone().set_requires_grad(true), b = b0.clone().set_requires_grad(true);
        Tensor y = fused ? add_relu(a, b) : relu(a + b);
        backward(y, dy);
        return std::vector<Tensor>{y, a.grad(), b.grad()};
    };
    std::vector<Tensor> fused = run(true), apart = run(false);
    for (size_t i = 0; i < fused.size(); i++)
        EXPECT_TRUE(test::all_equal(fused[i], apart[i])) << i; // NaN equals NaN there
    EXPECT_TRUE(std::isnan(fused[0].f32()[4]));
    // Sums at least 0.2 away from 0 (the kink), half of them negative.
    Tensor a = Tensor::from_vector(std::vector<float>{1.f, -2.f, 0.7f, -0.9f, 0.3f, -1.4f}, {2, 3});
    Tensor b = Tensor::from_vector(std::vector<float>{-0.5f, 1.1f, 0.2f}, {3});
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return add_relu(in[0], in[1]); },
                        {a.set_requires_grad(true), b.set_requires_grad(true)});
}

TEST(ElementwiseGrad, WhereAndBroadcastOps) {
    Generator gen(3);
    Tensor mask = gt(random_tensor({4, 3}, gen), 0.f);
    PG_EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return where(mask, in[0], in[1]); },
                        {random_leaf({4, 3}, gen), random_leaf({4, 3}, gen)});
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return masked_fill(in[0], mask, 2.f); },
        {random_leaf({4, 3}, gen)});
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return broadcast_to(in[0], {2, 4, 3});
        },
        {random_leaf({4, 1}, gen)});
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return sum_to_shape(in[0], {1, 3});
        },
        {random_leaf({4, 3}, gen)});
}

TEST(Elementwise, InPlaceOpsBumpVersionAndRefuseGradTensors) {
    Tensor t = vec({1, 2, 3});
    uint64_t v = t.version();
    add_(t, vec({1, 1, 1}), 2.f);
    mul_(t, 0.5f);
    EXPECT_TRUE(all_close(t, vec({1.5f, 2, 2.5f})));
    mul_(t, vec({2, 2, 2}));
    EXPECT_TRUE(all_close(t, vec({3, 4, 5})));
    copy_(t, vec({7, 8, 9}));
    EXPECT_TRUE(all_close(t, vec({7, 8, 9})));
    zero_(t);
    EXPECT_EQ(t.version(), v + 5);
    Tensor leaf = vec({1, 2});
    leaf.set_requires_grad(true);
    EXPECT_THROW(add_(leaf, vec({1, 1})), Error);
    {
        NoGradGuard no_grad; // an optimizer step
        add_(leaf, vec({1, 1}));
    }
    EXPECT_TRUE(all_close(leaf, vec({2, 3})));
}

class ElementwiseDevice : public test::DeviceTest {};

TEST_P(ElementwiseDevice, ParityWithCpu) {
    Generator gen(4);
    // Odd sizes and every broadcast pattern the networks use: same shape, per-channel, per-pixel, scalar.
    Tensor x = random_leaf({2, 5, 7, 3}, gen), per_channel = random_leaf({3}, gen, 0.5f, 1.5f);
    Tensor per_pixel = random_leaf({2, 5, 7, 1}, gen, 0.5f, 1.5f);
    auto all_ops = [](const std::vector<Tensor>& in) {
        Tensor y = relu(in[0]) * in[1] + sigmoid(in[0]) / in[2] - tanh(in[0]);
        y = y + leaky_relu(in[0], 0.1f) + elu(in[0]) + exp(in[0]) + log(abs(in[0]) + 1.f);
        y = y + maximum(in[0], in[1]) + minimum(in[0], in[2]) + clamp(in[0], -0.3f, 0.3f);
        y = y + add_relu(in[0], in[1]);
        y = y + sqrt(in[1]) * pow(in[2], 1.7f) + 2.f / in[2];
        return where(gt(in[0], 0.f), y, neg(y));
    };
    EXPECT_TRUE(test::device_parity(all_ops, {x, per_channel, per_pixel}, device()));
    auto masks = [](const std::vector<Tensor>& in) {
        Tensor m = logical_xor(lt(in[0], in[1]), ge(in[0], 0.2f));
        return cast(logical_or(m, logical_not(eq(in[0], in[0]))), DType::f32);
    };
    EXPECT_TRUE(test::device_parity(masks, {x.detach(), per_channel.detach()}, device()));
}

PG_INSTANTIATE_DEVICE_SUITE(ElementwiseDevice);

} // namespace
} // namespace pg
