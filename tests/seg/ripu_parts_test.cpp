// RIPU's pieces (seg/train/ripu_parts.h) on small maps with hand-computed answers: entropy,
// window sums, uncertainty and impurity (windows cut by the border), the budget arithmetic, the
// greedy selection and its blocking, two rounds' masks, L_nl and L_lc with gradient checks.
#include <cmath>
#include <set>

#include "autograd/softmax.h"
#include "seg/train/ripu_parts.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

using namespace ripu;
using test::expect_error;
using test::random_leaf;

TEST(RipuScores, PixelEntropyIsNormalisedByLogC) {
    // (1, 2, 2): a uniform pixel and a certain one.
    Tensor p = Tensor::from_vector(std::vector<float>{0.5f, 0.5f, 1.f, 0.f}, {1, 2, 2});
    std::vector<float> h = pixel_entropy(p).to_f32_vector();
    EXPECT_NEAR(h[0], -std::log(0.5 + 1e-6) / std::log(2.0), 1e-6);
    EXPECT_NEAR(h[1], 0.0, 1e-5);
    // Three classes: ln 3 is the normaliser.
    Tensor q = Tensor::from_vector(std::vector<float>{1 / 3.f, 1 / 3.f, 1 / 3.f}, {1, 1, 3});
    EXPECT_NEAR(pixel_entropy(q).item(), 1.0, 1e-5);
}

TEST(RipuScores, WindowSumClipsAtTheBorder) {
    Tensor ones = Tensor::ones({3, 4, 1});
    std::vector<float> s = window_sum(ones, 1).to_f32_vector();
    // Corners see 2x2, edges 2x3 or 3x2, inner pixels 3x3.
    EXPECT_EQ(s, (std::vector<float>{4, 6, 6, 4, 6, 9, 9, 6, 4, 6, 6, 4}));
    // Against a brute-force sum on a random map, several k (k larger than the image included).
    Generator gen(3);
    Tensor x = Tensor::uniform({5, 7, 2}, gen);
    std::vector<float> v = x.to_f32_vector();
    for (int64_t k : {0, 1, 2, 9}) {
        std::vector<float> got = window_sum(x, k).to_f32_vector();
        for (int64_t y = 0; y < 5; ++y)
            for (int64_t xx = 0; xx < 7; ++xx)
                for (int64_t c = 0; c < 2; ++c) {
                    double want = 0;
                    for (int64_t yy = std::max<int64_t>(0, y - k);
                         yy <= std::min<int64_t>(4, y + k); ++yy)
                        for (int64_t x2 = std::max<int64_t>(0, xx - k);
                             x2 <= std::min<int64_t>(6, xx + k); ++x2)
                            want += v[size_t((yy * 7 + x2) * 2 + c)];
                    EXPECT_NEAR(got[size_t((y * 7 + xx) * 2 + c)], want, 1e-5)
                        << "k " << k << " at " << y << "," << xx;
                }
    }
}

TEST(RipuScores, UncertaintyIsTheMeanOverInImagePixels) {
    // (2, 3) entropies; k = 1: the corner (0, 0) averages 4 pixels, (0, 1) all 6.
    Tensor h = Tensor::from_vector(std::vector<float>{1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
    std::vector<float> u = region_uncertainty(h, 1).to_f32_vector();
    EXPECT_NEAR(u[0], (1 + 2 + 4 + 5) / 4.0, 1e-6);
    EXPECT_NEAR(u[1], 21 / 6.0, 1e-6);
    EXPECT_NEAR(u[2], (2 + 3 + 5 + 6) / 4.0, 1e-6);
}

TEST(RipuScores, ImpurityCountsArgmaxClassesInTheWindow) {
    // (1, 4), two classes, argmax 0 0 1 1; k = 1.
    Tensor p = Tensor::from_vector(
        std::vector<float>{0.9f, 0.1f, 0.6f, 0.4f, 0.3f, 0.7f, 0.2f, 0.8f}, {1, 4, 2});
    std::vector<float> imp = region_impurity(p, 1).to_f32_vector();
    double mixed =
        -(2 / 3.0 * std::log(2 / 3.0 + 1e-6) + 1 / 3.0 * std::log(1 / 3.0 + 1e-6)) / std::log(2.0);
    EXPECT_NEAR(imp[0], 0.0, 1e-5); // window {0, 1}: pure, cut by the border
    EXPECT_NEAR(imp[1], mixed, 1e-5);
    EXPECT_NEAR(imp[2], mixed, 1e-5);
    EXPECT_NEAR(imp[3], 0.0, 1e-5);
    // RA's score multiplies window uncertainty and impurity, PA's pixel entropy and impurity.
    Tensor ra = acquisition_score(p, Selection::region, 1);
    Tensor pa = acquisition_score(p, Selection::pixel, 1);
    std::vector<float> h = pixel_entropy(p).to_f32_vector();
    EXPECT_NEAR(ra.to_f32_vector()[1], (h[0] + h[1] + h[2]) / 3 * mixed, 1e-5);
    EXPECT_NEAR(pa.to_f32_vector()[2], h[2] * mixed, 1e-5);
}

TEST(RipuBudget, RoundsOfThePaper) {
    // 2.2% of 1024x2048 over 5 rounds in 3x3 regions: ceil(2097152 * 0.0044 / 9) = 1026.
    EXPECT_EQ(regions_per_round(1024, 2048, 0.022, 5, 1), 1026);
    EXPECT_EQ(regions_per_round(1024, 2048, 0.05, 5, 1), 2331);
    // 40 pixels at 640x1280 -> 102.4 at native size -> 21 per round.
    EXPECT_EQ(pixels_per_round(1024, 2048, 640, 1280, 40, 5), 21);
    expect_error([] { regions_per_round(8, 8, 0.0, 5, 1); }, "0 < ratio <= 1");
}

TEST(RipuSelect, GreedyTakesTheBestUnblockedPixels) {
    // (1, 8): picks 1 (0.9), which labels 0..2 and blocks 0..3; then 5 (0.7): labels 4..6.
    Tensor score = Tensor::from_vector(
        std::vector<float>{0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.7f, 0.05f, 0.6f}, {1, 8});
    std::vector<int32_t> truth{0, 1, 255, 2, 0, 1, 2, 0};
    ActiveMaps maps = ActiveMaps::empty(1, 8);
    std::vector<int64_t> picks = greedy_select(score, 5, 1, 2, truth, maps);
    EXPECT_EQ(picks, (std::vector<int64_t>{1, 5}));
    EXPECT_EQ(maps.labels, (std::vector<uint8_t>{0, 1, 255, 255, 0, 1, 2, 255}));
    EXPECT_EQ(maps.selected, (std::vector<uint8_t>{1, 1, 1, 0, 1, 1, 1, 0}));
    EXPECT_EQ(maps.active, (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 1, 1}));
    // A pixel already active is never picked.
    ActiveMaps pre = ActiveMaps::empty(1, 8);
    pre.active[1] = 1;
    EXPECT_EQ(greedy_select(score, 5, 1, 2, truth, pre), (std::vector<int64_t>{2, 5}));
    // Ties go to the lowest index, as torch's argmax.
    ActiveMaps tie = ActiveMaps::empty(1, 8);
    EXPECT_EQ(greedy_select(Tensor::zeros({1, 8}), 1, 0, 0, truth, tie), (std::vector<int64_t>{0}));
}

TEST(RipuSelect, ChosenWindowsNeverOverlapAndNeverHitBlockedPixels) {
    Generator gen(11);
    const int64_t H = 60, W = 80, k = 1;
    std::vector<int32_t> truth(size_t(H * W));
    for (size_t i = 0; i < truth.size(); ++i) truth[i] = int32_t(i % 5);
    ActiveMaps maps = ActiveMaps::empty(H, W);
    std::vector<int64_t> all;
    for (int round = 0; round < 2; ++round) {
        std::vector<uint8_t> blocked_before = maps.active;
        std::vector<int64_t> picks =
            greedy_select(random_score(H, W, gen), 40, k, 2 * k, truth, maps);
        EXPECT_EQ(picks.size(), 40u);
        for (int64_t p : picks) EXPECT_EQ(blocked_before[size_t(p)], 0) << "pixel " << p;
        all.insert(all.end(), picks.begin(), picks.end());
    }
    // Any two centres are more than 2k apart (Chebyshev), so their 3x3 windows are disjoint.
    for (size_t i = 0; i < all.size(); ++i)
        for (size_t j = i + 1; j < all.size(); ++j) {
            int64_t dy = std::abs(all[i] / W - all[j] / W), dx = std::abs(all[i] % W - all[j] % W);
            EXPECT_GT(std::max(dy, dx), 2 * k) << all[i] << " vs " << all[j];
        }
    // The mask after two rounds: the union of the rounds' windows, with the true labels copied.
    std::set<int64_t> window_pixels;
    for (int64_t p : all)
        for (int64_t y = std::max<int64_t>(0, p / W - k); y <= std::min(H - 1, p / W + k); ++y)
            for (int64_t x = std::max<int64_t>(0, p % W - k); x <= std::min(W - 1, p % W + k); ++x)
                window_pixels.insert(y * W + x);
    EXPECT_EQ(maps.selected_count(), int64_t(window_pixels.size()));
    for (int64_t i = 0; i < H * W; ++i) {
        bool chosen = window_pixels.count(i) > 0;
        EXPECT_EQ(maps.selected[size_t(i)], chosen ? 1 : 0);
        EXPECT_EQ(maps.labels[size_t(i)], chosen ? truth[size_t(i)] : 255);
    }
}

TEST(RipuLosses, NegativeLearningHandValue) {
    // One pixel, p = softmax(0, 0, -5): only class 2 is below tau = 0.05.
    Tensor logits = Tensor::from_vector(std::vector<float>{0.f, 0.f, -5.f}, {1, 1, 1, 3});
    double e = std::exp(-5.0), p2 = e / (2 + e);
    EXPECT_NEAR(negative_learning_loss(logits, 0.05f).item(), -std::log(1 - p2 + 1e-6), 1e-6);
    // Nothing below tau: 0, not NaN.
    EXPECT_EQ(negative_learning_loss(Tensor::zeros({1, 2, 2, 3}), 0.05f).item(), 0.f);
    // Gradient through p only (the mask is a constant): logits far from the threshold.
    Generator gen(5);
    Tensor x = random_leaf({2, 3, 3, 4}, gen, -4.f, 4.f);
    PG_EXPECT_GRADCHECK(
        [](const std::vector<Tensor>& in) { return negative_learning_loss(in[0], 0.05f); }, {x});
}

TEST(RipuLosses, BoundariesFromTheLaplacianWithZeroPadding) {
    // All 1: only the border differs from its zero padding, so the centre is not a boundary.
    Tensor ones = Tensor::full({1, 3, 3}, 1, DType::i32);
    EXPECT_EQ(label_boundaries(ones).to_u8_vector(),
              (std::vector<uint8_t>{1, 1, 1, 1, 0, 1, 1, 1, 1}));
    // All 0 (the padding's value): none. A 255 pixel is never counted.
    EXPECT_EQ(label_boundaries(Tensor::zeros({1, 2, 2}, DType::i32)).to_u8_vector(),
              (std::vector<uint8_t>{0, 0, 0, 0}));
    Tensor l = Tensor::from_vector(std::vector<int32_t>{0, 0, 0, 0, 2, 0, 0, 0, 255}, {1, 3, 3});
    EXPECT_EQ(label_boundaries(l).to_u8_vector(),
              (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 1, 1, 0}));
}

// L_lc by loops: replicate-padded 3x3 means, L1 distance, mean over the boundary pixels.
double lc_reference(const Tensor& logits, const Tensor& labels) {
    const int64_t N = logits.size(0), H = logits.size(1), W = logits.size(2), C = logits.size(3);
    std::vector<float> p = softmax(logits).to_f32_vector();
    std::vector<uint8_t> mask = label_boundaries(labels).to_u8_vector();
    auto at = [&](int64_t n, int64_t y, int64_t x, int64_t c) {
        y = std::min(std::max<int64_t>(y, 0), H - 1), x = std::min(std::max<int64_t>(x, 0), W - 1);
        return double(p[size_t(((n * H + y) * W + x) * C + c)]);
    };
    double total = 0, count = 0;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                if (!mask[size_t((n * H + y) * W + x)]) continue;
                double d = 0;
                for (int64_t c = 0; c < C; ++c) {
                    double m = 0;
                    for (int64_t dy = -1; dy <= 1; ++dy)
                        for (int64_t dx = -1; dx <= 1; ++dx) m += at(n, y + dy, x + dx, c) / 9;
                    d += std::abs(at(n, y, x, c) - m);
                }
                total += d, count += 1;
            }
    return count > 0 ? total / count : 0;
}

TEST(RipuLosses, LocalConsistencyAgainstLoopsAndGradcheck) {
    Generator gen(7);
    Tensor logits = random_leaf({2, 4, 5, 3}, gen);
    Tensor labels = Tensor::from_vector(
        [] {
            std::vector<int32_t> v(40);
            for (size_t i = 0; i < v.size(); ++i) v[i] = i % 7 == 3 ? 255 : int32_t(i / 6 % 3);
            return v;
        }(),
        {2, 4, 5});
    EXPECT_NEAR(local_consistency_loss(logits, labels).item(), lc_reference(logits, labels), 1e-5);
    // A constant prediction is locally consistent.
    EXPECT_NEAR(local_consistency_loss(Tensor::zeros({2, 4, 5, 3}), labels).item(), 0.0, 1e-6);
    // No boundary pixel: 0.
    EXPECT_EQ(local_consistency_loss(logits, Tensor::zeros({2, 4, 5}, DType::i32)).item(), 0.f);
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return local_consistency_loss(in[0], labels); },
        {logits});
}

// The engine-op path of the score (the one a CUDA run takes) against the host path, on each
// device: random smooth predictions, windows cut by the border, RA and PA windows.
class RipuScoreDevice : public test::DeviceTest {};

TEST_P(RipuScoreDevice, OpsPathEqualsHostPath) {
    Generator gen(21);
    // Piecewise-constant logits (2x2 blocks) so that windows hold both pure and mixed argmax.
    Tensor coarse = Tensor::normal({6, 9, 4}, gen, 0.f, 2.f);
    std::vector<float> logits(12 * 18 * 4);
    for (int64_t y = 0; y < 12; ++y)
        for (int64_t x = 0; x < 18; ++x)
            for (int64_t c = 0; c < 4; ++c)
                logits[size_t((y * 18 + x) * 4 + c)] = coarse.f32()[((y / 2) * 9 + x / 2) * 4 + c];
    Tensor probs = softmax(Tensor::from_vector(logits, {12, 18, 4}));
    for (Selection s : {Selection::region, Selection::pixel})
        for (int64_t k : {1, 3}) {
            Tensor host = acquisition_score(probs, s, k);
            Tensor ops = acquisition_score_ops(probs.to(device()), s, k);
            EXPECT_TRUE(test::all_close(ops, host, 1e-5f, 1e-4f))
                << selection_name(s) << " k " << k;
        }
}

PG_INSTANTIATE_DEVICE_SUITE(RipuScoreDevice);

} // namespace
} // namespace pg::seg
