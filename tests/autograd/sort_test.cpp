// topk / sort along the last axis and the order statistics kthvalue / percentile: ties and NaN by
// hand, PyTorch / NumPy reference values (tools/dump_softmax_loss.py), a naive sort-based
// reference for large inputs, gradient checks, CPU/device parity, bad inputs.
#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::expect_error;

using test::all_close;
using test::all_equal;
using test::random_leaf;

Tensor vec(std::vector<float> v) { return Tensor::from_vector(v, {int64_t(v.size())}); }
Tensor ivec(std::vector<int32_t> v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

// x rounded to multiples of 1/8 on the host: many exact ties.
Tensor floor_to_grid(const Tensor& x) {
    std::vector<float> v = x.to_f32_vector();
    for (float& e : v) e = std::floor(e * 8.f) / 8.f;
    return Tensor::from_vector(v, x.shape());
}

// numpy.percentile's linear method, the slow obvious way: sort everything.
double naive_percentile(std::vector<float> v, double q) {
    std::sort(v.begin(), v.end());
    double pos = q / 100.0 * double(v.size() - 1);
    size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (double(v[hi]) - v[lo]) * (pos - double(lo));
}

TEST(TopK, TiesAndOrderByHand) {
    Tensor x = vec({3, 1, 3, 2});
    TopK big = topk(x, 2);
    EXPECT_TRUE(all_equal(big.values, vec({3, 3})));
    EXPECT_TRUE(all_equal(big.indices, ivec({0, 2}))); // equal values: lower index first
    TopK small = topk(x, 2, false);
    EXPECT_TRUE(all_equal(small.values, vec({1, 2})));
    EXPECT_TRUE(all_equal(small.indices, ivec({1, 3})));
    TopK up = sort(x), down = sort(x, true);
    EXPECT_TRUE(all_equal(up.values, vec({1, 2, 3, 3})));
    EXPECT_TRUE(all_equal(up.indices, ivec({1, 3, 0, 2})));
    EXPECT_TRUE(all_equal(down.values, vec({3, 3, 2, 1})));
    EXPECT_TRUE(all_equal(down.indices, ivec({0, 2, 3, 1})));
    // NaN sorts above every number (PyTorch's order).
    TopK nan_first = topk(vec({1, NAN, 2}), 2);
    EXPECT_TRUE(std::isnan(nan_first.values.to_f32_vector()[0]));
    EXPECT_TRUE(all_equal(nan_first.indices, ivec({1, 2})));
    EXPECT_TRUE(all_equal(sort(vec({NAN, 1, -INFINITY})).indices, ivec({2, 1, 0})));
}

TEST(TopK, RowsOfAClassAxis) {
    // (N, H, W, C) = (1, 1, 2, 4): ranks per pixel; shapes (..., k).
    Tensor p = Tensor::from_vector(
        std::vector<float>{0.1f, 0.6f, 0.2f, 0.1f, 0.4f, 0.0f, 0.5f, 0.1f}, {1, 1, 2, 4});
    TopK t = topk(p, 3);
    EXPECT_EQ(t.values.shape(), (Shape{1, 1, 2, 3}));
    EXPECT_EQ(t.indices.dtype(), DType::i32);
    EXPECT_TRUE(all_equal(
        t.indices, Tensor::from_vector(std::vector<int32_t>{1, 2, 0, 2, 0, 3}, {1, 1, 2, 3})));
    EXPECT_EQ(topk(Tensor::zeros({0, 21}), 21).values.shape(), (Shape{0, 21}));
    EXPECT_EQ(sort(Tensor::zeros({3, 0})).indices.shape(), (Shape{3, 0}));
}

TEST(TopK, GradientScattersToTheChosenPositions) {
    Tensor x = vec({3, 1, 3, 2});
    x.set_requires_grad(true);
    backward(sum(mul(topk(x, 3).values, vec({10, 20, 30}))));
    EXPECT_TRUE(all_equal(x.grad(), vec({10, 0, 20, 30})));
}

// Tolerances: topk / sort only move values, so they match torch exactly.
TEST(TopKReference, MatchesPyTorch) {
    auto ref = test::load_reference("softmax_loss.safetensors");
    Tensor x = ref.at("topk_x"), dv = ref.at("topk_dv");
    for (bool largest : {true, false}) {
        std::string key = largest ? "topk_largest" : "topk_smallest";
        Tensor leaf = x.clone();
        leaf.set_requires_grad(true);
        TopK t = topk(leaf, 5, largest);
        EXPECT_TRUE(all_equal(t.values, ref.at(key + "_values"))) << key;
        EXPECT_TRUE(all_equal(t.indices, ref.at(key + "_indices"))) << key;
        backward(sum(mul(t.values, dv)));
        EXPECT_TRUE(all_equal(leaf.grad(), ref.at(key + "_dx"))) << key;
    }
    TopK s = sort(x);
    EXPECT_TRUE(all_equal(s.values, ref.at("sort_values")));
    EXPECT_TRUE(all_equal(s.indices, ref.at("sort_indices")));
}

TEST(TopKGrad, AwkwardShapes) {
    // Uniform random values are distinct with probability 1: no ties, so values are smooth in x.
    Generator gen(21);
    struct Case {
        Shape shape;
        int64_t k;
        bool largest;
    };
    for (const Case& c : {Case{{3, 7}, 3, true}, Case{{2, 1, 5}, 5, false}, Case{{1, 4}, 1, false},
                          Case{{4, 1}, 1, true}, Case{{2, 3, 21}, 21, true}}) {
        SCOPED_TRACE(shape_str(c.shape) + " k=" + std::to_string(c.k));
        PG_EXPECT_GRADCHECK(
            [&](const std::vector<Tensor>& in) { return topk(in[0], c.k, c.largest).values; },
            {random_leaf(c.shape, gen)});
    }
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return sort(in[0], true).values; },
                        {random_leaf({3, 6}, gen)});
}

TEST(OrderStatistics, ByHand) {
    Tensor x = Tensor::from_vector(std::vector<float>{4, 1, 3, 2}, {2, 2});
    EXPECT_EQ(kthvalue(x, 1), 1.f);
    EXPECT_EQ(kthvalue(x, 3), 3.f);
    EXPECT_EQ(kthvalue(x, 4), 4.f);
    EXPECT_EQ(kthvalue(vec({2, 2, 1}), 2), 2.f); // duplicates count separately
    // numpy.percentile([1, 2, 3, 4], q): position q / 100 * 3, linear in between.
    EXPECT_FLOAT_EQ(percentile(x, 0), 1.f);
    EXPECT_FLOAT_EQ(percentile(x, 25), 1.75f);
    EXPECT_FLOAT_EQ(percentile(x, 50), 2.5f);
    EXPECT_FLOAT_EQ(percentile(x, 100), 4.f);
    EXPECT_FLOAT_EQ(percentile(vec({7}), 37.5), 7.f);
    EXPECT_FLOAT_EQ(percentile(vec({5, 5, 5, 9}), 50), 5.f);
}

// Tolerances: kthvalue picks an element (exact); percentile interpolates in double like NumPy
// (float64 reference) and rounds once to f32: 1e-6 relative.
TEST(OrderStatisticsReference, MatchesTorchAndNumPy) {
    auto ref = test::load_reference("softmax_loss.safetensors");
    Tensor kx = ref.at("kth_x");
    std::vector<int32_t> ks = ref.at("kth_k").to_i32_vector();
    std::vector<float> kth = ref.at("kth_out").to_f32_vector();
    for (size_t i = 0; i < ks.size(); i++) EXPECT_EQ(kthvalue(kx, ks[i]), kth[i]) << "k " << ks[i];
    const std::vector<double> qs{0.0, 1.0, 10.0, 25.0, 33.3, 50.0, 80.0, 99.9, 100.0}; // pct_q
    EXPECT_TRUE(
        all_close(ref.at("pct_q"), Tensor::from_vector(std::vector<float>(qs.begin(), qs.end()),
                                                       {int64_t(qs.size())})));
    for (std::string n : {"n1", "n2", "n7", "n10", "n1000"}) {
        Tensor x = ref.at("pct_" + n + "_x");
        std::vector<float> expected = ref.at("pct_" + n + "_out").to_f32_vector();
        for (size_t i = 0; i < qs.size(); i++)
            EXPECT_NEAR(percentile(x, qs[i]), expected[i], 1e-6 * (1 + std::fabs(expected[i])))
                << n << " q " << qs[i];
    }
}

TEST(OrderStatistics, LargeInputMatchesASort) {
    // U2PL's use: a percentile of per-pixel entropies (2 x 65 x 65 here, odd n, many duplicates).
    Generator gen(22);
    Tensor h = entropy(softmax(Tensor::uniform({2, 65, 65, 21}, gen, -3.f, 3.f)));
    h = floor_to_grid(h);
    std::vector<float> v = h.to_f32_vector();
    for (double q : {0.0, 20.0, 50.0, 80.0, 99.5, 100.0})
        EXPECT_FLOAT_EQ(percentile(h, q), float(naive_percentile(v, q))) << "q " << q;
    std::vector<float> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t k : {int64_t(1), int64_t(4000), h.numel()})
        EXPECT_EQ(kthvalue(h, k), sorted[size_t(k - 1)]) << "k " << k;
}

TEST(TopK, BadInputs) {
    Tensor x = Tensor::zeros({4, 21});
    expect_error([&] { topk(x, 0); },
                 "topk: k = 0 is out of range [1, 21] for the last axis of (4, 21)");
    expect_error([&] { topk(x, 22); }, "topk: k = 22 is out of range [1, 21]");
    expect_error([] { topk(Tensor::scalar(1.f), 1); },
                 "topk: input must have at least 1 dimension");
    expect_error([] { sort(Tensor::zeros({3}, DType::i32)); }, "sort: input must be f32, got i32");
    expect_error([&] { kthvalue(x, 0); }, "kthvalue: k = 0 is out of range [1, 84]");
    expect_error([&] { kthvalue(x, 85); }, "kthvalue: k = 85 is out of range [1, 84]");
    expect_error([] { kthvalue(Tensor::zeros({0, 3}), 1); }, "kthvalue: empty tensor (0, 3)");
    expect_error([&] { percentile(x, 101); }, "percentile: q = 101 is outside [0, 100]");
    expect_error([&] { percentile(x, -0.5); }, "percentile: q = -0.5 is outside [0, 100]");
    expect_error([&] { percentile(x, NAN); }, "percentile: q = nan is outside [0, 100]");
    expect_error([] { percentile(Tensor::zeros({0}), 50); }, "percentile: empty tensor (0,)");
}

class SortDevice : public test::DeviceTest {};

TEST_P(SortDevice, ParityWithCpu) {
    Generator gen(23);
    Tensor x = random_leaf({3, 5, 7, 21}, gen);
    for (int64_t k : {1, 5, 21}) {
        auto values = [k](const std::vector<Tensor>& in) { return topk(in[0], k).values; };
        EXPECT_TRUE(test::device_parity(values, {x}, device())) << "k " << k;
        auto indices = [k](const std::vector<Tensor>& in) {
            return cast(topk(in[0], k, false).indices, DType::f32);
        };
        EXPECT_TRUE(test::device_parity(indices, {x.detach()}, device())) << "k " << k;
    }
    // Ties: quantised values must be ordered by index on every device.
    Tensor ties = floor_to_grid(x.detach());
    auto sorted = [](const std::vector<Tensor>& in) {
        return cast(sort(in[0], true).indices, DType::f32);
    };
    EXPECT_TRUE(test::device_parity(sorted, {ties}, device()));
    auto stats = [](const std::vector<Tensor>& in) {
        return Tensor::from_vector(
            std::vector<float>{percentile(in[0], 12.5), percentile(in[0], 90), kthvalue(in[0], 77)},
            {3});
    };
    EXPECT_TRUE(test::device_parity(stats, {x.detach()}, device(), 0.f, 0.f));
}

PG_INSTANTIATE_DEVICE_SUITE(SortDevice);

} // namespace
} // namespace pg
