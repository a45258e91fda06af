// The vectorisable exp() of the CPU softmax and cross-entropy kernels (tensor/cpu/exp_math.h)
// against std::exp over its whole range, and at its edges (0, underflow, -inf, NaN); its builds per
// instruction set (tensor/cpu/softmax_kernels.h) on every path this CPU runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/cpu/exp_math.h"
#include "tensor/cpu/softmax_kernels.h"

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

// Every path's exp_shifted_rows over rows of many lengths (the flat loop's vector body and
// remainder, rows shorter than a vector): the maxes exact, the exps within 2 ulp of std::exp of the
// shifted value, and the SSE4.2 build (no FMA) bit for bit the plain build's, which the trainer's
// golden file was made with.
TEST(ExpMath, EveryInstructionSetPathWithinTwoUlpAndSse42BitForBit) {
    for (int64_t cols : {1, 3, 5, 16, 19, 21, 37}) {
        const int64_t rows = 23;
        std::vector<float> x(size_t(rows * cols));
        for (size_t i = 0; i < x.size(); i++) // spread over [-60, 20], with -inf and a repeated max
            x[i] = float(int64_t(i * 7919) % 8000) / 100.f - 60.f;
        if (cols > 1) x[1] = -INFINITY; // in a row with finite values (else the max is -inf)
        std::vector<float> plain(x.size()), plain_max(static_cast<size_t>(rows));
        exp_shifted_rows(plain.data(), plain_max.data(), x.data(), rows, cols);
        for (SimdPath path : kSimdPaths) {
            if (!simd_path_runs_here(path)) continue;
            std::vector<float> got(x.size()), got_max(static_cast<size_t>(rows));
            softmax_kernels(path).exp_shifted_rows(got.data(), got_max.data(), x.data(), rows,
                                                   cols);
            EXPECT_EQ(got_max, plain_max) << simd_path_name(path) << ", " << cols << " columns";
            if (path == SimdPath::sse42) {
                EXPECT_EQ(got, plain) << cols << " columns";
                continue;
            }
            for (size_t i = 0; i < x.size(); i++) {
                const float want = std::exp(x[i] - got_max[i / size_t(cols)]);
                const float ulp = std::nextafter(want, INFINITY) - want;
                EXPECT_LE(std::fabs(got[i] - want), 2.f * ulp)
                    << simd_path_name(path) << ", " << cols << " columns, element " << i;
            }
        }
    }
}

} // namespace
} // namespace pg::cpu
