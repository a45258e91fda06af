// Pooling: output sizes (ceil_mode), values by hand (padding, ties, NaN, count modes), PyTorch
// reference (tests/data/norm_pool.safetensors from tools/dump_norm_pool.py), gradient checks,
// thread-count independence, device parity and argument errors.
#include <omp.h>

#include <cmath>
#include <numeric>
#include <string>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::error_of;

using test::all_close;
using test::all_equal;
using test::random_leaf;

Tensor image(const std::vector<float>& v, int64_t H, int64_t W) {
    return Tensor::from_vector(v, {1, H, W, 1});
}

// A leaf whose values are distinct and at least 2 / numel apart, in a scrambled order, so a
// max-pool gradcheck (step 1e-3) never changes which element of a window is the maximum.
Tensor distinct_leaf(const Shape& shape) {
    const int64_t n = numel(shape);
    int64_t mult = 37;
    while (std::gcd(mult, n) != 1) mult += 2;
    std::vector<float> v(size_t(n), 0.f);
    for (int64_t i = 0; i < n; i++) v[size_t(i)] = float((i * mult) % n) / float(n) * 2.f - 1.f;
    Tensor t = Tensor::from_vector(v, shape);
    t.set_requires_grad(true);
    return t;
}

TEST(Pool, OutputSizeFollowsPyTorch) {
    auto hw = [](int64_t H, int64_t W, int64_t k, int64_t s, int64_t p, bool ceil) {
        Tensor y = max_pool2d(Tensor::zeros({1, H, W, 1}), k, s, p, ceil);
        return std::make_pair(y.size(1), y.size(2));
    };
    // 3x3 s2 p1: even sizes gain one with ceil_mode, odd sizes do not.
    EXPECT_EQ(hw(8, 9, 3, 2, 1, false), std::make_pair(int64_t(4), int64_t(5)));
    EXPECT_EQ(hw(8, 9, 3, 2, 1, true), std::make_pair(int64_t(5), int64_t(5)));
    EXPECT_EQ(hw(161, 160, 3, 2, 1, true), std::make_pair(int64_t(81), int64_t(81)));
    // The last window would start in the right padding: ceil_mode drops it.
    EXPECT_EQ(hw(5, 7, 3, 3, 1, true), std::make_pair(int64_t(2), int64_t(3)));
    EXPECT_EQ(hw(5, 6, 2, 2, 1, true), std::make_pair(int64_t(3), int64_t(4)));
    EXPECT_EQ(hw(1, 1, 1, 1, 0, false), std::make_pair(int64_t(1), int64_t(1)));
    EXPECT_EQ(avg_pool2d(Tensor::zeros({2, 6, 8, 3}), 3, 2, 0, true).shape(), (Shape{2, 3, 4, 3}));
}

TEST(Pool, MaxByHand) {
    // 4x4 image of 0..15; 2x2 stride 2 -> the bottom-right of each block.
    std::vector<float> v(16);
    std::iota(v.begin(), v.end(), 0.f);
    EXPECT_TRUE(all_close(max_pool2d(image(v, 4, 4), 2, 2), image({5, 7, 13, 15}, 2, 2)));
    // 3x3 stride 2 padding 1 on 4x4: windows rows/cols [-1, 2) and [1, 4).
    EXPECT_TRUE(all_close(max_pool2d(image(v, 4, 4), 3, 2, 1), image({5, 7, 13, 15}, 2, 2)));
    // Padding is -inf, not 0: an all-negative image keeps its own values.
    Tensor neg = Tensor::full({1, 3, 3, 2}, -5.0);
    EXPECT_TRUE(all_close(max_pool2d(neg, 3, 2, 1), Tensor::full({1, 2, 2, 2}, -5.0)));
    // Channels pool independently.
    Tensor two = Tensor::from_vector(std::vector<float>{1, 8, 4, 2, 3, 6, 2, 7}, {1, 2, 2, 2});
    EXPECT_TRUE(all_close(max_pool2d(two, 2, 1),
                          Tensor::from_vector(std::vector<float>{4, 8}, {1, 1, 1, 2})));
}

TEST(Pool, MaxGradientGoesToTheFirstMaximum) {
    Tensor x = image({3, 7, 7, 1}, 2, 2);
    x.set_requires_grad(true);
    backward(sum(max_pool2d(x, 2, 1)));
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{0, 1, 0, 0}));
    // Overlapping windows add up: the centre 9 is the max of all four 2x2 windows.
    Tensor c = image({1, 2, 3, 4, 9, 5, 6, 7, 8}, 3, 3);
    c.set_requires_grad(true);
    backward(sum(max_pool2d(c, 2, 1)));
    EXPECT_EQ(c.grad().to_f32_vector(), (std::vector<float>{0, 0, 0, 0, 4, 0, 0, 0, 0}));
}

TEST(Pool, MaxPropagatesNaN) {
    Tensor y = max_pool2d(image({1, NAN, 5, 2}, 2, 2), 2, 2);
    EXPECT_TRUE(std::isnan(y.item()));
}

TEST(Pool, AvgCountModesByHand) {
    Tensor ones = Tensor::ones({1, 2, 2, 1});
    // 2x2 stride 2 padding 1: every window holds 1 real pixel of 4.
    EXPECT_TRUE(
        all_close(avg_pool2d(ones, 2, 2, 1, false, true), Tensor::full({1, 2, 2, 1}, 0.25)));
    EXPECT_TRUE(all_close(avg_pool2d(ones, 2, 2, 1, false, false), Tensor::ones({1, 2, 2, 1})));
    // ceil_mode on 3x3 with 2x2 stride 2: the last window [2, 4) runs past the (unpadded) input
    // and is clipped to it, so even count_include_pad divides by the clipped size.
    std::vector<float> v{1, 2, 3, 4, 5, 6, 7, 8, 9};
    EXPECT_TRUE(all_close(avg_pool2d(image(v, 3, 3), 2, 2, 0, true, true),
                          image({3, 4.5f, 7.5f, 9}, 2, 2)));
    // 3x3 stride 1 padding 1 on 3x3: the corner window covers 4 real pixels of 9.
    Tensor y = avg_pool2d(image(v, 3, 3), 3, 1, 1, false, true);
    EXPECT_FLOAT_EQ(y.to_f32_vector()[0], (1 + 2 + 4 + 5) / 9.f);
    y = avg_pool2d(image(v, 3, 3), 3, 1, 1, false, false);
    EXPECT_FLOAT_EQ(y.to_f32_vector()[0], (1 + 2 + 4 + 5) / 4.f);
}

TEST(Pool, GlobalAvgPoolByHand) {
    Tensor x = Tensor::from_vector(std::vector<float>{1, 10, 2, 20, 3, 30, 6, 60}, {1, 2, 2, 2});
    EXPECT_TRUE(all_close(global_avg_pool(x),
                          Tensor::from_vector(std::vector<float>{3, 30}, {1, 1, 1, 2})));
}

// ---- PyTorch reference ----

TEST(PoolReference, MatchesPyTorch) {
    std::map<std::string, Tensor> ref = test::load_reference("norm_pool.safetensors");
    int cases = 0;
    for (const auto& [key, config_tensor] : ref) {
        const std::string suffix = ".config";
        if (key.rfind("pool_", 0) != 0 || key.size() < suffix.size() ||
            key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        const std::string p = key.substr(0, key.size() - suffix.size()) + ".";
        SCOPED_TRACE(p);
        // [is_max, kernel, stride, padding, ceil_mode, count_include_pad]
        std::vector<int32_t> c = config_tensor.to_i32_vector();
        Tensor x = ref.at(p + "x").clone();
        x.set_requires_grad(true);
        Tensor y = c[0] ? max_pool2d(x, c[1], c[2], c[3], c[4] != 0)
                        : avg_pool2d(x, c[1], c[2], c[3], c[4] != 0, c[5] != 0);
        backward(y, ref.at(p + "dy"));
        // Max picks existing values (exact up to the summation order of overlapping windows);
        // averages differ from PyTorch's only by f32 rounding.
        EXPECT_TRUE(all_close(y, ref.at(p + "y"), 1e-6f, 1e-6f));
        EXPECT_TRUE(all_close(x.grad(), ref.at(p + "dx"), 1e-6f, 1e-5f));
        cases++;
    }
    EXPECT_EQ(cases, 13);
}

// ---- gradients ----

struct PoolCase {
    Shape shape;
    int64_t kernel, stride, padding;
    bool ceil_mode;
};

// Odd sizes, size-1 dims, padding, ceil_mode with windows past the edge and the dropped window.
const std::vector<PoolCase> kGradCases = {
    {{2, 7, 8, 3}, 3, 2, 1, true},  {{1, 4, 5, 2}, 2, 2, 0, false}, {{1, 5, 7, 2}, 3, 3, 1, true},
    {{1, 1, 5, 2}, 3, 2, 1, false}, {{1, 6, 6, 1}, 3, 2, 0, true},  {{1, 1, 1, 1}, 1, 1, 0, false},
};

TEST(PoolGrad, MaxPool) {
    for (const PoolCase& c : kGradCases) {
        SCOPED_TRACE(shape_str(c.shape) + " k" + std::to_string(c.kernel));
        PG_EXPECT_GRADCHECK(
            [&](const std::vector<Tensor>& in) {
                return max_pool2d(in[0], c.kernel, c.stride, c.padding, c.ceil_mode);
            },
            {distinct_leaf(c.shape)});
    }
}

TEST(PoolGrad, AvgPoolBothCountModes) {
    Generator gen(11);
    for (const PoolCase& c : kGradCases) {
        for (bool include : {true, false}) {
            SCOPED_TRACE(shape_str(c.shape) + " k" + std::to_string(c.kernel) +
                         (include ? " include" : " exclude"));
            PG_EXPECT_GRADCHECK(
                [&](const std::vector<Tensor>& in) {
                    return avg_pool2d(in[0], c.kernel, c.stride, c.padding, c.ceil_mode, include);
                },
                {random_leaf(c.shape, gen)});
        }
    }
}

TEST(PoolGrad, GlobalAvgPool) {
    Generator gen(12);
    for (const Shape& shape : std::vector<Shape>{{2, 3, 5, 4}, {1, 1, 1, 3}, {3, 1, 7, 1}}) {
        PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); },
                            {random_leaf(shape, gen)});
    }
}

// ---- determinism ----

TEST(Pool, SameBitsForAnyThreadCount) {
    Generator gen(13);
    Tensor x = test::random_tensor({2, 33, 31, 8}, gen), dy_max, dy_avg;
    auto run = [&](int threads) {
        int previous = omp_get_max_threads();
        omp_set_num_threads(threads);
        Tensor a = x.clone(), b = x.clone();
        a.set_requires_grad(true);
        b.set_requires_grad(true);
        Tensor ym = max_pool2d(a, 3, 2, 1, true), ya = avg_pool2d(b, 3, 2, 1, true, false);
        Generator g(14);
        backward(ym, test::random_tensor(ym.shape(), g));
        backward(ya, test::random_tensor(ya.shape(), g));
        omp_set_num_threads(previous);
        return std::vector<Tensor>{ym, ya, a.grad(), b.grad()};
    };
    std::vector<Tensor> one = run(1), three = run(3);
    for (size_t i = 0; i < one.size(); i++) EXPECT_TRUE(all_equal(three[i], one[i])) << i;
}

// ---- device parity ----

class PoolDevice : public test::DeviceTest {};

TEST_P(PoolDevice, ParityWithCpu) {
    Generator gen(15);
    Tensor x = distinct_leaf({2, 17, 16, 5});
    for (bool ceil : {false, true}) {
        auto fmax = [ceil](const std::vector<Tensor>& in) {
            return max_pool2d(in[0], 3, 2, 1, ceil);
        };
        EXPECT_TRUE(test::device_parity(fmax, {x}, device())) << "max ceil " << ceil;
        for (bool include : {true, false}) {
            auto favg = [ceil, include](const std::vector<Tensor>& in) {
                return avg_pool2d(in[0], 3, 2, 1, ceil, include);
            };
            EXPECT_TRUE(test::device_parity(favg, {x}, device()))
                << "avg ceil " << ceil << " include " << include;
        }
    }
    auto fglobal = [](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); };
    EXPECT_TRUE(test::device_parity(fglobal, {random_leaf({2, 9, 7, 6}, gen)}, device()));
}

PG_INSTANTIATE_DEVICE_SUITE(PoolDevice);

// ---- errors ----

TEST(PoolErrors, NameTheOpAndTheValues) {
    Tensor x = Tensor::zeros({1, 8, 8, 3});
    std::string e = error_of([] { max_pool2d(Tensor::zeros({8, 8, 3}), 3, 2, 1); });
    EXPECT_NE(
        e.find("max_pool2d: input must be (N, H, W, C) with 4 dimensions, got shape (8, 8, 3)"),
        std::string::npos)
        << e;
    e = error_of([] { avg_pool2d(Tensor::zeros({2, 1, 8, 8, 3}), 3, 2, 1); });
    EXPECT_NE(e.find("avg_pool2d: input must be (N, H, W, C)"), std::string::npos) << e;
    e = error_of([&] { max_pool2d(x, 3, 2, 2); });
    EXPECT_NE(e.find("max_pool2d: padding 2 must be at most half the kernel size 3"),
              std::string::npos)
        << e;
    e = error_of([&] { avg_pool2d(x, 2, 2, 2); });
    EXPECT_NE(e.find("avg_pool2d: padding 2 must be at most half the kernel size 2"),
              std::string::npos)
        << e;
    e = error_of([&] { max_pool2d(x, 0, 1); });
    EXPECT_NE(e.find("max_pool2d: kernel 0 and stride 1 must be positive"), std::string::npos) << e;
    e = error_of([&] { max_pool2d(x, 3, 0); });
    EXPECT_NE(e.find("max_pool2d: kernel 3 and stride 0 must be positive"), std::string::npos) << e;
    e = error_of([] { max_pool2d(Tensor::zeros({1, 2, 8, 3}), 3, 1); });
    EXPECT_NE(e.find("max_pool2d: input (1, 2, 8, 3) is too small for kernel 3"), std::string::npos)
        << e;
    e = error_of([] { max_pool2d(Tensor::zeros({1, 4, 4, 1}, DType::u8), 2, 2); });
    EXPECT_NE(e.find("max_pool2d: input must be f32, got u8"), std::string::npos) << e;
    e = error_of([] { global_avg_pool(Tensor::zeros({4, 3})); });
    EXPECT_NE(e.find("global_avg_pool: input must be (N, H, W, C) with 4 dimensions, got shape "
                     "(4, 3)"),
              std::string::npos)
        << e;
}

} // namespace
} // namespace pg
