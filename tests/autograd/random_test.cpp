// Dropout and Dropout2d: the drop fraction and the 1 / (1 - p) scale, the mask's relation to the
// generator stream (same seed, same mask; one Philox uniform per element or channel), whole-channel
// drops, eval mode, gradient checks with a fresh generator per evaluation, parity, bad inputs.
#include <cmath>
#include <functional>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::expect_error;

using test::all_close;
using test::all_equal;
using test::random_leaf;

TEST(Dropout, EvalModeAndZeroPAreTheIdentityAndDrawNothing) {
    Generator gen(1);
    Tensor x = Tensor::uniform({3, 4}, gen), image = Tensor::uniform({1, 2, 2, 3}, gen);
    uint64_t offset = gen.offset();
    EXPECT_TRUE(dropout(x, 0.5f, false, gen).same_storage(x)); // x itself, like PyTorch
    EXPECT_TRUE(dropout(x, 0.f, true, gen).same_storage(x));
    EXPECT_TRUE(all_equal(dropout2d(image, 0.9f, false, gen), image));
    EXPECT_TRUE(all_equal(dropout2d(image, 0.f, true, gen), image));
    EXPECT_EQ(gen.offset(), offset);
}

TEST(Dropout, DropsAFractionPAndScalesTheRest) {
    const int64_t n = 200000;
    const float p = 0.3f, scale = 1.f / (1.f - p);
    Generator gen(2);
    std::vector<float> y = dropout(Tensor::ones({n}), p, true, gen).to_f32_vector();
    int64_t zeros = 0;
    for (float v : y) {
        if (v == 0.f)
            zeros++;
        else
            EXPECT_EQ(v, scale); // exactly 1 / (1 - p), nothing in between
    }
    // Binomial(n, p): standard deviation sqrt(p (1 - p) / n) ~ 0.001 of the fraction; 5 sigma.
    EXPECT_NEAR(double(zeros) / double(n), p, 0.005);
}

TEST(Dropout, MaskIsAPureFunctionOfTheGeneratorState) {
    Generator a(7), b(7), c(8);
    Tensor x = Tensor::ones({4, 5, 6});
    Tensor ya = dropout(x, 0.5f, true, a), yb = dropout(x, 0.5f, true, b);
    EXPECT_TRUE(all_equal(ya, yb));                         // same seed, same mask
    EXPECT_FALSE(all_equal(ya, dropout(x, 0.5f, true, c))); // another seed
    EXPECT_FALSE(all_equal(dropout(x, 0.5f, true, a), ya)); // the stream moved on
    // Element i is kept iff the i-th uniform of the fill is >= p (see autograd/random.h).
    Generator gen(9);
    uint64_t offset = gen.offset();
    std::vector<float> y = dropout(Tensor::ones({37}), 0.4f, true, gen).to_f32_vector();
    for (uint64_t i = 0; i < 37; i++)
        EXPECT_EQ(y[i] != 0.f, philox_uniform(9, offset, i) >= 0.4f) << "element " << i;
    EXPECT_EQ(gen.offset(), offset + 10); // ceil(37 / 4) Philox counters
}

TEST(Dropout, POfOneGivesZeros) {
    Generator gen(3);
    Tensor x = Tensor::uniform({5, 7}, gen, 1.f, 2.f);
    EXPECT_TRUE(all_equal(dropout(x, 1.f, true, gen), Tensor::zeros({5, 7})));
    EXPECT_TRUE(all_equal(dropout2d(reshape(x, {1, 5, 1, 7}), 1.f, true, gen),
                          Tensor::zeros({1, 5, 1, 7})));
}

TEST(Dropout2d, ZeroesWholeChannels) {
    const int64_t N = 4, H = 3, W = 5, C = 50;
    const float p = 0.5f;
    Generator gen(4);
    Tensor x = Tensor::uniform({N, H, W, C}, gen, 1.f, 2.f);
    uint64_t offset = gen.offset();
    std::vector<float> xv = x.to_f32_vector();
    std::vector<float> y = dropout2d(x, p, true, gen).to_f32_vector();
    int64_t dropped = 0;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t c = 0; c < C; c++) {
            // One draw per (n, c), element n * C + c of the fill: the whole channel follows it.
            bool keep = philox_uniform(4, offset, uint64_t(n * C + c)) >= p;
            dropped += keep ? 0 : 1;
            for (int64_t i = 0; i < H * W; i++) {
                size_t e = size_t((n * H * W + i) * C + c);
                EXPECT_EQ(y[e], keep ? xv[e] * (1.f / (1.f - p)) : 0.f) << n << " " << c;
            }
        }
    }
    EXPECT_GT(dropped, 60); // of 200 channels, p = 0.5: 100 +- 7
    EXPECT_LT(dropped, 140);
    EXPECT_EQ(gen.offset(), offset + uint64_t(N * C / 4));
}

TEST(DropoutGrad, GradientIsTheScaledMask) {
    // A fresh generator with the same seed per evaluation keeps the mask fixed across gradcheck's
    // perturbed evaluations, so dropout is linear in x there.
    Generator gen(5);
    auto drop = [](const std::vector<Tensor>& in) {
        Generator g(42);
        return dropout(in[0], 0.35f, true, g);
    };
    auto drop2d = [](const std::vector<Tensor>& in) {
        Generator g(43);
        return dropout2d(in[0], 0.5f, true, g);
    };
    PG_EXPECT_GRADCHECK(drop, {random_leaf({3, 7}, gen)});
    PG_EXPECT_GRADCHECK(drop, {random_leaf({1, 1, 5}, gen)});
    PG_EXPECT_GRADCHECK(drop2d, {random_leaf({2, 3, 1, 5}, gen)});
    PG_EXPECT_GRADCHECK(drop2d, {random_leaf({1, 1, 1, 1}, gen)});
    // dx = keep / (1 - p) exactly: the output of dropout on ones.
    Tensor x = random_leaf({4, 9}, gen);
    backward(sum(drop({x})));
    EXPECT_TRUE(all_equal(x.grad(), drop({Tensor::ones({4, 9})})));
}

class DropoutDevice : public test::DeviceTest {};

TEST_P(DropoutDevice, SameMaskOnEveryDevice) {
    Generator gen(6);
    Tensor x = random_leaf({2, 5, 3, 16}, gen);
    auto both = [](const std::vector<Tensor>& in) {
        Generator g(77);
        return dropout(in[0], 0.3f, true, g) + dropout2d(in[0], 0.6f, true, g);
    };
    EXPECT_TRUE(test::device_parity(both, {x}, device()));
}

PG_INSTANTIATE_DEVICE_SUITE(DropoutDevice);

TEST(DropoutErrors, BadPAndInputs) {
    Generator gen(8);
    Tensor x = Tensor::ones({2, 3});
    expect_error([&] { dropout(x, 1.5f, true, gen); }, "dropout: p = 1.5 is outside [0, 1]");
    expect_error([&] { dropout(x, -0.1f, false, gen); }, "dropout: p = -0.1 is outside [0, 1]");
    expect_error([&] { dropout(x, NAN, true, gen); }, "dropout: p = nan is outside [0, 1]");
    expect_error(
        [&] {
            dropout2d(Tensor::ones({1, 2, 2, 3}), 2.f, true, gen);
        },
        "dropout2d: p = 2 is outside [0, 1]");
    expect_error([&] { dropout(Tensor::ones({2}, DType::i32), 0.5f, true, gen); },
                 "dropout: input must be f32, got i32");
    expect_error([&] { dropout2d(x, 0.5f, true, gen); },
                 "dropout2d: input must be (N, H, W, C), got shape (2, 3)");
}

} // namespace
} // namespace pg
