// Batch normalisation's per-instruction-set loops (tensor/cpu/batch_norm_kernels.h) on every path
// this CPU runs, against plain float loops written here: the SSE4.2 build gives their bits, the
// FMA builds stay within rounding of them and give each other's bits; the input gradient written
// over dy equals the one written elsewhere; the 8-row float sums flush into the doubles and leave
// their scratch at zero. Channel counts across vector tails, row counts across the 8-row blocks.
#include <cmath>
#include <string>
#include <vector>

#include "tensor/cpu/batch_norm_kernels.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using cpu::BatchNormKernels;
using cpu::SimdPath;

struct Data {
    int64_t rows, C;
    std::vector<float> x, dy, relu_y,
        per_channel[4]; // per_channel: shift/mean, scale, coef, offset
};

Data make_data(int64_t rows, int64_t C, uint64_t seed) {
    Generator gen(seed);
    Data d{rows, C, {}, {}, {}, {}};
    d.x = Tensor::uniform({rows * C}, gen, -2.f, 3.f).to_f32_vector();
    d.dy = Tensor::uniform({rows * C}, gen, -1.f, 1.f).to_f32_vector();
    d.relu_y = Tensor::uniform({rows * C}, gen, -1.f, 1.f).to_f32_vector(); // about half positive
    for (auto& v : d.per_channel) v = Tensor::uniform({C}, gen, -1.f, 1.f).to_f32_vector();
    return d;
}

// What every kernel computes, as plain float loops (the test is built without FMA).
struct Results {
    std::vector<double> a, b;
    std::vector<float> y, dx;
};

Results zeros_for(const Data& d) {
    return {std::vector<double>(size_t(d.C), 0.0), std::vector<double>(size_t(d.C), 0.0),
            std::vector<float>(d.x.size()), std::vector<float>(d.x.size())};
}

Results reference(const Data& d, bool relu, bool backward) {
    const int64_t C = d.C;
    Results out = zeros_for(d);
    const float *m = d.per_channel[0].data(), *s = d.per_channel[1].data();
    const float *k = d.per_channel[2].data(), *o = d.per_channel[3].data();
    std::vector<float> fa(size_t(C), 0.f), fb(size_t(C), 0.f);
    for (int64_t r = 0; r < d.rows; r++) {
        for (int64_t c = 0; c < C; c++) {
            const size_t i = size_t(r * C + c);
            float ta, tb;
            if (backward) {
                const float g = relu ? (d.relu_y[i] > 0.f ? d.dy[i] : 0.f) : d.dy[i];
                ta = g, tb = g * (d.x[i] - m[c]);
                out.dx[i] = s[c] * g + k[c] * (d.x[i] - m[c]) + o[c];
            } else {
                const float t = d.x[i] - m[c];
                ta = t, tb = t * t;
                const float v = d.x[i] * s[c] + k[c];
                out.y[i] = relu ? (v < 0.f ? 0.f : v) : v;
            }
            fa[size_t(c)] += ta, fb[size_t(c)] += tb;
        }
        if (r % 8 == 7 || r + 1 == d.rows)
            for (int64_t c = 0; c < C; c++) {
                out.a[size_t(c)] += fa[size_t(c)], out.b[size_t(c)] += fb[size_t(c)];
                fa[size_t(c)] = fb[size_t(c)] = 0.f;
            }
    }
    return out;
}

Results run(const BatchNormKernels& kern, const Data& d, bool relu, bool backward) {
    const int64_t C = d.C;
    Results out = zeros_for(d);
    const float *m = d.per_channel[0].data(), *s = d.per_channel[1].data();
    const float *k = d.per_channel[2].data(), *o = d.per_channel[3].data();
    std::vector<float> fa(size_t(C), 0.f), fb(size_t(C), 0.f);
    if (backward) {
        kern.backward_sums(out.a.data(), out.b.data(), fa.data(), fb.data(), d.dy.data(),
                           d.x.data(), m, relu ? d.relu_y.data() : nullptr, 0, d.rows, C);
        kern.input_gradient(out.dx.data(), d.dy.data(), d.x.data(),
                            relu ? d.relu_y.data() : nullptr, s, k, m, o, 0, d.rows, C);
        // Written over dy, in two row ranges: the same values.
        std::vector<float> in_place = d.dy;
        const int64_t half = d.rows / 2;
        for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, half}, {half, d.rows}})
            kern.input_gradient(in_place.data(), in_place.data(), d.x.data(),
                                relu ? d.relu_y.data() : nullptr, s, k, m, o, r0, r1, C);
        EXPECT_EQ(in_place, out.dx) << "dx written over dy";
    } else {
        kern.forward_sums(out.a.data(), out.b.data(), fa.data(), fb.data(), d.x.data(), m, 0,
                          d.rows, C);
        kern.scale_shift(out.y.data(), d.x.data(), s, k, 0, d.rows, C, relu);
    }
    for (int64_t c = 0; c < C; c++) EXPECT_EQ(fa[size_t(c)], 0.f) << "scratch left non-zero";
    return out;
}

void expect_close(const Results& got, const Results& want, bool same_bits) {
    for (size_t i = 0; i < want.a.size(); i++) {
        const double tol = same_bits ? 0.0 : 1e-5 * (1.0 + std::fabs(want.b[i]));
        EXPECT_NEAR(got.a[i], want.a[i], same_bits ? 0.0 : 1e-5 * (1.0 + std::fabs(want.a[i])));
        EXPECT_NEAR(got.b[i], want.b[i], tol);
    }
    for (size_t i = 0; i < want.y.size(); i++) {
        EXPECT_NEAR(got.y[i], want.y[i], same_bits ? 0.f : 1e-5f * (1.f + std::fabs(want.y[i])));
        EXPECT_NEAR(got.dx[i], want.dx[i], same_bits ? 0.f : 1e-5f * (1.f + std::fabs(want.dx[i])));
    }
}

TEST(BatchNormKernels, EveryPathMatchesPlainFloatLoops) {
    for (int64_t C : {1, 3, 8, 17, 40})
        for (int64_t rows : {1, 7, 8, 9, 33})
            for (bool backward : {false, true})
                for (bool relu : {false, true}) {
                    const Data d = make_data(rows, C, uint64_t(C * 100 + rows));
                    const Results want = reference(d, relu, backward);
                    for (SimdPath path : cpu::kSimdPaths) {
                        if (!cpu::simd_path_runs_here(path)) continue;
                        SCOPED_TRACE(std::string(cpu::simd_path_name(path)) + ", C " +
                                     std::to_string(C) + ", rows " + std::to_string(rows) +
                                     (backward ? ", backward" : ", forward") +
                                     (relu ? ", relu" : ""));
                        const Results got = run(cpu::batch_norm_kernels(path), d, relu, backward);
                        expect_close(got, want, path == SimdPath::sse42);
                    }
                }
}

TEST(BatchNormKernels, Avx2AndAvx512GiveTheSameBits) {
    if (!cpu::simd_path_runs_here(SimdPath::avx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
    for (int64_t C : {8, 17, 40, 64})
        for (bool backward : {false, true}) {
            const Data d = make_data(37, C, uint64_t(C));
            const Results avx2 = run(cpu::kBatchNormAvx2, d, true, backward);
            const Results avx512 = run(cpu::kBatchNormAvx512, d, true, backward);
            SCOPED_TRACE("C " + std::to_string(C));
            expect_close(avx512, avx2, true);
        }
}

} // namespace
} // namespace pg
