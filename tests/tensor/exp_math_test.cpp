// The vectorisable exp() of the CPU softmax and cross-entropy kernels (tensor/cpu/exp_math.h)
// against std::exp over its whole range, and at its edges (0, underflow, -inf, NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "tensor/cpu/exp_math.h"

namespace pg::cpu {
namespace {

TEST(ExpMath, WithinTwoUlpOfStdExpOverTheNonPositiveFloats) {
    // Every 1024th float from -0 down to the lowest normal result (about 1M values), stepping
    // through the bit patterns of the negative floats.
    float worst = 0.f, worst_at = 0.f;
    for (uint32_t bits = 0x80000000u;; bits += 1024) {
        float x;
        std::memcpy(&x, &bits, sizeof x);
        if (x < kExpLowest) break;
        const float want = std::exp(x), got = exp_nonpositive(x);
        const float ulp = std::nextafter(want, INFINITY) - want;
        const float err = std::fabs(got - want) / ulp;
        if (err > worst) worst = err, worst_at = x;
    }
    std::printf("largest error %.2f ulp at x = %.9g\n", worst, worst_at);
    EXPECT_LE(worst, 2.f) << "at x = " << worst_at;
}

TEST(ExpMath, EdgesGiveWhatASoftmaxNeeds) {
    EXPECT_EQ(exp_nonpositive(0.f), 1.f);
    EXPECT_EQ(exp_nonpositive(-0.f), 1.f);
    EXPECT_EQ(exp_nonpositive(-100.f), 0.f); // below the normal floats
    EXPECT_EQ(exp_nonpositive(-INFINITY), 0.f);
    EXPECT_TRUE(std::isnan(exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
    EXPECT_GT(exp_nonpositive(kExpLowest), 0.f);
    float row[5], max = 0.f;
    const float x[5] = {1.f, 3.f, -2.f, 3.f, 0.5f};
    exp_shifted_rows(row, &max, x, 1, 5);
    const double sum = sum_in_double(row, 5);
    double want = 0.0;
    for (float v : x) want += std::exp(double(v) - 3.0);
    EXPECT_NEAR(sum, want, 1e-6);
    EXPECT_EQ(row[1], 1.f);
}

} // namespace
} // namespace pg::cpu
