// Reductions: values by hand, axes and keepdim, ties, NaN, gradients, parity, errors.
#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;
using test::all_equal;
using test::random_leaf;

Tensor m23() { return Tensor::from_vector(std::vector<float>{1, 5, 3, 4, 2, 6}, {2, 3}); }

TEST(Reduce, SumMeanOverAxesByHand) {
    EXPECT_FLOAT_EQ(sum(m23()).item(), 21.f);
    EXPECT_EQ(sum(m23()).dim(), 0);
    EXPECT_FLOAT_EQ(mean(m23()).item(), 3.5f);
    EXPECT_TRUE(all_close(sum(m23(), 0), Tensor::from_vector(std::vector<float>{5, 7, 9}, {3})));
    EXPECT_TRUE(
        all_close(sum(m23(), -1, true), Tensor::from_vector(std::vector<float>{9, 12}, {2, 1})));
    EXPECT_TRUE(all_close(mean(m23(), 1), Tensor::from_vector(std::vector<float>{3, 4}, {2})));
    EXPECT_FLOAT_EQ(sum(Tensor::zeros({0})).item(), 0.f);
    EXPECT_THROW(sum(m23(), 2), Error);
    EXPECT_THROW(mean(Tensor::zeros({0})), Error);
}

TEST(Reduce, MaxMinArgmaxByHand) {
    EXPECT_FLOAT_EQ(max(m23()).item(), 6.f);
    EXPECT_FLOAT_EQ(min(m23()).item(), 1.f);
    EXPECT_TRUE(all_close(max(m23(), 1), Tensor::from_vector(std::vector<float>{5, 6}, {2})));
    EXPECT_TRUE(all_close(min(m23(), 0), Tensor::from_vector(std::vector<float>{1, 2, 3}, {3})));
    EXPECT_TRUE(all_equal(argmax(m23(), 1), Tensor::from_vector(std::vector<int32_t>{1, 2}, {2})));
    EXPECT_TRUE(all_equal(argmin(m23(), 0, true),
                          Tensor::from_vector(std::vector<int32_t>{0, 1, 0}, {1, 3})));
    // Ties pick the first position; NaN propagates like PyTorch.
    Tensor ties = Tensor::from_vector(std::vector<float>{2, 7, 7, 1}, {4});
    EXPECT_EQ(argmax(ties, 0).to_i32_vector()[0], 1);
    Tensor with_nan = Tensor::from_vector(std::vector<float>{2, NAN, 7}, {3});
    EXPECT_TRUE(std::isnan(max(with_nan).item()));
    EXPECT_THROW(max(Tensor::zeros({0})), Error);
}

TEST(Reduce, ArgmaxOverNhwcClassAxis) {
    // (1, 2, 2, 3) logits: the label map is the argmax over the last (class) axis.
    Tensor logits =
        Tensor::from_vector(std::vector<float>{0, 1, 2, 5, 1, 0, 0, 9, 1, 3, 3, 0}, {1, 2, 2, 3});
    EXPECT_TRUE(all_equal(argmax(logits, -1),
                          Tensor::from_vector(std::vector<int32_t>{2, 0, 1, 0}, {1, 2, 2})));
}

TEST(Reduce, LongSumIsAccurate) {
    // 1e6 values of 0.1: a naive f32 running sum is off by ~1%; double accumulation is not.
    EXPECT_NEAR(sum(Tensor::full({1000000}, 0.1)).item(), 100000.f, 1.f);
}

TEST(ReduceGrad, EveryReductionAndAxis) {
    Generator gen(5);
    Shape shape{3, 4, 5};
    for (int axis = 0; axis < 3; axis++) {
        for (bool keepdim : {false, true}) {
            SCOPED_TRACE("axis " + std::to_string(axis) + (keepdim ? " keepdim" : ""));
            PG_EXPECT_GRADCHECK(
                [&](const std::vector<Tensor>& in) { return sum(in[0], axis, keepdim); },
                {random_leaf(shape, gen)});
            PG_EXPECT_GRADCHECK(
                [&](const std::vector<Tensor>& in) { return mean(in[0], axis, keepdim); },
                {random_leaf(shape, gen)});
            // Random values are distinct with probability 1, so max / min have no ties.
            PG_EXPECT_GRADCHECK(
                [&](const std::vector<Tensor>& in) { return max(in[0], axis, keepdim); },
                {random_leaf(shape, gen)});
            PG_EXPECT_GRADCHECK(
                [&](const std::vector<Tensor>& in) { return min(in[0], axis, keepdim); },
                {random_leaf(shape, gen)});
        }
    }
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return sum(in[0]); },
                        {random_leaf({7}, gen)});
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0]); },
                        {random_leaf({2, 3}, gen)});
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return max(in[0]); },
                        {random_leaf({2, 3}, gen)});
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return min(in[0]); },
                        {random_leaf({1, 3}, gen)});
}

TEST(ReduceGrad, MaxSendsTheGradientToTheFirstTie) {
    Tensor x = Tensor::from_vector(std::vector<float>{3, 1, 3}, {3});
    x.set_requires_grad(true);
    backward(max(x));
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{1, 0, 0}));
}

class ReduceDevice : public test::DeviceTest {};

TEST_P(ReduceDevice, ParityWithCpu) {
    Generator gen(6);
    Tensor x = random_leaf({3, 17, 9, 5}, gen);
    for (int axis = 0; axis < 4; axis++) {
        auto f = [axis](const std::vector<Tensor>& in) {
            return sum(in[0], axis) + mean(in[0], axis) * 2.f + max(in[0], axis) - min(in[0], axis);
        };
        EXPECT_TRUE(test::device_parity(f, {x}, device())) << "axis " << axis;
        auto arg = [axis](const std::vector<Tensor>& in) {
            return cast(argmax(in[0], axis), DType::f32);
        };
        EXPECT_TRUE(test::device_parity(arg, {x.detach()}, device())) << "axis " << axis;
    }
    auto all = [](const std::vector<Tensor>& in) {
        return sum(in[0]) + max(in[0]) * min(in[0]) + mean(in[0]);
    };
    EXPECT_TRUE(test::device_parity(all, {x}, device(), 1e-4f, 1e-4f));
}

PG_INSTANTIATE_DEVICE_SUITE(ReduceDevice);

} // namespace
} // namespace pg
