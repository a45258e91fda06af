// U2PL's defining pieces on small tensors with known answers: the entropy split drops exactly
// the top alpha_t% of valid pixels on the schedule, CutMix mixes images, pseudo-labels and
// confidences with the same boxes, the memory banks are per-class FIFO queues with a capacity,
// negatives obey the rank rules (and the original code's bugs under compat: code), and the
// contrastive loss equals a hand-computed value with gradients for the student only.
#include <cmath>

#include "autograd/ops.h"
#include "seg/train/u2pl_contrastive.h"
#include "seg/train/u2pl_parts.h"
#include "tests/common/test_util.h"

namespace pg::seg::u2pl {
namespace {

TEST(U2plSchedule, UnreliablePercentFallsLinearlyToZero) {
    EXPECT_DOUBLE_EQ(unreliable_percent(20, 0, 80), 20.0);
    EXPECT_DOUBLE_EQ(unreliable_percent(20, 40, 80), 10.0);
    EXPECT_NEAR(unreliable_percent(20, 79, 80), 0.25, 1e-12);
    EXPECT_DOUBLE_EQ(unreliable_percent(20, 3, 5.5), 20.0 * (1 - 3 / 5.5));
    test::expect_error([] { unreliable_percent(20, 0, 0); }, "epochs > 0");
}

// 2 images of 5 x 10 = 100 pixels; entropy values 0..99 in a scrambled order; 20 pixels ignored.
struct SplitCase {
    std::vector<float> entropy;
    std::vector<int32_t> target;
};
SplitCase split_case() {
    SplitCase c;
    for (int i = 0; i < 100; i++) {
        c.entropy.push_back(float((i * 37) % 100));
        c.target.push_back(i % 5 == 4 ? 255 : i % 3);
    }
    return c;
}

TEST(U2plEntropySplit, DropsExactlyTheTopAlphaPercentOfValidPixels) {
    SplitCase c = split_case();
    Tensor entropy = Tensor::from_vector(c.entropy, {2, 5, 10});
    Tensor target = Tensor::from_vector(c.target, {2, 5, 10});
    for (double alpha : {20.0, 10.0, 2.5}) {
        EntropySplit s = drop_high_entropy(entropy, target, alpha);
        std::vector<float> valid_values;
        for (int i = 0; i < 100; i++)
            if (c.target[size_t(i)] != 255) valid_values.push_back(c.entropy[size_t(i)]);
        std::sort(valid_values.begin(), valid_values.end());
        // numpy.percentile(q = 100 - alpha): rank (n - 1) q / 100, linearly interpolated.
        double rank = (valid_values.size() - 1) * (100 - alpha) / 100;
        size_t lo = size_t(rank);
        double want = valid_values[lo] + (rank - lo) * (valid_values[lo + 1] - valid_values[lo]);
        EXPECT_NEAR(s.threshold, want, 1e-4) << alpha;
        EXPECT_EQ(s.valid, 80);
        std::vector<int32_t> out = s.target.to_i32_vector();
        int dropped = 0;
        for (int i = 0; i < 100; i++) {
            bool should_drop = c.target[size_t(i)] != 255 && c.entropy[size_t(i)] >= s.threshold;
            EXPECT_EQ(out[size_t(i)], should_drop ? 255 : c.target[size_t(i)]) << i;
            dropped += should_drop;
        }
        EXPECT_EQ(dropped, int(std::round(80 * alpha / 100))) << alpha; // distinct values
        EXPECT_EQ(s.kept, 80 - dropped);
    }
}

TEST(U2plEntropySplit, UnsupLossIsMeanCeTimesAllOverKept) {
    SplitCase c = split_case();
    Generator gen(3);
    Tensor logits = test::random_tensor({2, 5, 10, 3}, gen, -2, 2);
    EntropySplit s = drop_high_entropy(Tensor::from_vector(c.entropy, {2, 5, 10}),
                                       Tensor::from_vector(c.target, {2, 5, 10}), 20);
    std::vector<float> l = logits.to_f32_vector();
    std::vector<int32_t> y = s.target.to_i32_vector();
    double sum = 0;
    for (int i = 0; i < 100; i++) {
        if (y[size_t(i)] == 255) continue;
        const float* p = l.data() + i * 3;
        double lse = std::log(std::exp(p[0]) + std::exp(p[1]) + std::exp(p[2]));
        sum += lse - p[y[size_t(i)]];
    }
    double want = sum / double(s.kept) * 100.0 / double(s.kept);
    EXPECT_NEAR(unsup_loss(logits, s).item(), want, 1e-4);
}

TEST(U2plEntropySplit, IgnoresInvalidPixelsForThePercentileAndRejectsNone) {
    Tensor entropy = Tensor::from_vector(std::vector<float>{5, 1, 2, 3}, {1, 2, 2});
    // The huge entropy sits on an ignored pixel: the threshold comes from {1, 2, 3} only.
    Tensor target = Tensor::from_vector(std::vector<int32_t>{255, 0, 1, 2}, {1, 2, 2});
    EXPECT_FLOAT_EQ(valid_percentile(entropy, target, 50), 2.f);
    Tensor all_valid = Tensor::zeros({1, 2, 2}, DType::i32); // the device path: 1 2 3 5
    EXPECT_FLOAT_EQ(valid_percentile(entropy, all_valid, 50), 2.5f);
    Tensor none = Tensor::full({1, 2, 2}, 255, DType::i32);
    test::expect_error([&] { drop_high_entropy(entropy, none, 20); }, "no valid pixel");
}

TEST(U2plPseudoLabelScore, CountsAgainstTruthOnlyWhereTruthExists) {
    // 8 pixels: pseudo-labels, the entropy split's kept target (255 = dropped), the hidden truth.
    auto ints = [](std::vector<int32_t> v) { return Tensor::from_vector(v, {1, 2, 4}); };
    Tensor pseudo = ints({0, 0, 1, 1, 2, 2, 0, 1});
    Tensor kept = ints({0, 0, 1, 255, 2, 255, 0, 1});
    Tensor truth = ints({0, 1, 1, 1, 0, 2, 255, 1});
    PseudoLabelScore s = score_pseudo_labels(pseudo, kept, truth, 4);
    // Scored (truth != 255): 7 pixels, right: 0, 1, 1, 2 and 1 = 5.
    EXPECT_DOUBLE_EQ(s.accuracy, 5.0 / 7.0);
    // Kept and scored: pixels 0, 1, 2, 4, 7; right: 0, 2, 7.
    EXPECT_DOUBLE_EQ(s.reliable_accuracy, 3.0 / 5.0);
    ASSERT_EQ(s.precision.size(), 4u);
    EXPECT_DOUBLE_EQ(s.precision[0], 0.5);  // kept as 0: pixels 0 (right), 1 (truth 1)
    EXPECT_DOUBLE_EQ(s.precision[1], 1.0);  // pixels 2 and 7
    EXPECT_DOUBLE_EQ(s.precision[2], 0.0);  // pixel 4 is background
    EXPECT_DOUBLE_EQ(s.precision[3], -1.0); // never predicted
    EXPECT_DOUBLE_EQ(s.kept_share[0], 0.4);
    EXPECT_DOUBLE_EQ(s.kept_share[1], 0.4);
    EXPECT_DOUBLE_EQ(s.kept_share[2], 0.2);
    EXPECT_DOUBLE_EQ(s.kept_share[3], 0.0);
    test::expect_error(
        [&] {
            score_pseudo_labels(pseudo, kept, Tensor::zeros({2, 4}, DType::i32), 4);
        },
        "one shape");
}

TEST(U2plCutMix, BoxesFollowU2plsCutoutMask) {
    Generator gen(7);
    for (int i = 0; i < 500; i++) {
        int64_t H = 5 + i % 40, W = 3 + (i * 7) % 60;
        CutMixBox b = sample_cutmix_box(H, W, gen);
        EXPECT_GE(b.width, W / 2 + 1);
        EXPECT_LE(b.width, W - 1);
        EXPECT_EQ(b.height, std::min<int64_t>(H, int64_t(std::nearbyint(H * W / 2.0 / b.width))));
        EXPECT_GE(b.top, 0);
        EXPECT_GE(b.left, 0);
        EXPECT_LE(b.top + b.height, H);
        EXPECT_LE(b.left + b.width, W);
    }
    // 64 x 64: area 2048; width 33..63 so the box covers about half the crop.
    for (int i = 0; i < 200; i++) {
        CutMixBox b = sample_cutmix_box(64, 64, gen);
        EXPECT_NEAR(double(b.width * b.height), 2048.0, b.width / 2.0 + 1e-9);
    }
    test::expect_error([&] { sample_cutmix_box(2, 64, gen); }, "at least 3 x 3");
}

TEST(U2plCutMix, ImagesLabelsAndConfidencesShareTheBoxes) {
    int64_t N = 3, H = 6, W = 8;
    Generator gen(11);
    Tensor images = test::random_tensor({N, H, W, 3}, gen);
    std::vector<int32_t> label_values;
    for (int64_t i = 0; i < N * H * W; i++) label_values.push_back(int32_t(i / (H * W)));
    Tensor labels = Tensor::from_vector(label_values, {N, H, W});
    Tensor conf = test::random_tensor({N, H, W}, gen, 0, 1);
    std::vector<CutMixBox> boxes{{1, 2, 3, 5}, {0, 0, 6, 8}, {2, 3, 1, 1}};
    std::vector<float> im = images.to_f32_vector(), mi = cutmix(images, boxes).to_f32_vector();
    std::vector<int32_t> ml = cutmix(labels, boxes).to_i32_vector();
    std::vector<float> c = conf.to_f32_vector(), mc = cutmix(conf, boxes).to_f32_vector();
    for (int64_t n = 0; n < N; n++) {
        const CutMixBox& b = boxes[size_t(n)];
        int64_t inside_count = 0;
        for (int64_t r = 0; r < H; r++)
            for (int64_t x = 0; x < W; x++) {
                bool inside =
                    r >= b.top && r < b.top + b.height && x >= b.left && x < b.left + b.width;
                inside_count += inside;
                int64_t src = inside ? (n + 1) % N : n, p = (n * H + r) * W + x,
                        q = (src * H + r) * W + x;
                EXPECT_EQ(ml[size_t(p)], src);
                EXPECT_EQ(mc[size_t(p)], c[size_t(q)]);
                for (int k = 0; k < 3; k++) EXPECT_EQ(mi[size_t(p * 3 + k)], im[size_t(q * 3 + k)]);
            }
        EXPECT_EQ(inside_count, b.height * b.width); // the mixed area is the box's
    }
    test::expect_error([&] { cutmix(labels, {boxes[0]}); }, "1 boxes for 3 images");
    test::expect_error([&] { cutmix(labels, {{4, 0, 3, 1}, boxes[1], boxes[2]}); }, "does not fit");
}

// ---- memory banks ----

Tensor rows_from(std::vector<float> first_values, int64_t F) {
    std::vector<float> v;
    for (float x : first_values)
        for (int64_t f = 0; f < F; f++) v.push_back(x + 0.01f * float(f));
    return Tensor::from_vector(v, {int64_t(first_values.size()), F});
}

TEST(U2plMemoryBank, FifoPerClassWithCapacity) {
    MemoryBank bank({4, 3}, 2, Device::cpu());
    EXPECT_EQ(bank.size(0), 0);
    EXPECT_FALSE(bank.keys(0).defined());
    bank.push(0, rows_from({1, 2, 3}, 2));
    bank.push(1, rows_from({10}, 2));
    bank.push(0, rows_from({4, 5}, 2)); // 5 rows > capacity 4: row 1 leaves
    bank.push(0, rows_from({}, 2));     // nothing to add
    EXPECT_EQ(bank.size(0), 4);
    EXPECT_EQ(bank.size(1), 1);
    EXPECT_TRUE(test::all_equal(bank.keys(0), rows_from({2, 3, 4, 5}, 2)));
    EXPECT_TRUE(test::all_equal(bank.keys(1), rows_from({10}, 2))); // classes never mix
    bank.push(1, rows_from({11, 12, 13, 14, 15}, 2));               // a push beyond capacity
    EXPECT_TRUE(test::all_equal(bank.keys(1), rows_from({13, 14, 15}, 2)));

    std::map<std::string, Tensor> saved;
    bank.save(saved, "bank.");
    MemoryBank restored({4, 3}, 2, Device::cpu());
    restored.load(saved, "bank.");
    EXPECT_TRUE(test::all_equal(restored.keys(0), bank.keys(0)));
    EXPECT_TRUE(test::all_equal(restored.keys(1), bank.keys(1)));
    test::expect_error([&] { bank.push(2, rows_from({1}, 2)); }, "class 2 out of range");
    test::expect_error([&] { bank.push(0, rows_from({1}, 3)); }, "(n, 2)");
}

// ---- pixel selection ----

// One labeled and one unlabeled image of 1 x 3 pixels, 5 classes, 2-d embeddings.
ContrastiveInputs rank_case() {
    ContrastiveInputs in;
    in.num_labeled = 1;
    // Teacher probabilities per pixel (descending ranks noted): labeled pixels, then unlabeled.
    std::vector<float> p = {
        0.50f, 0.20f, 0.15f, 0.10f, 0.05f, // L0 label 0: ranks 0 1 2 3 4
        0.10f, 0.05f, 0.60f, 0.15f, 0.10f, // L1 label 2: ranks 2 4 0 1 3 (tie 0/4 -> 0 first)
        0.20f, 0.20f, 0.20f, 0.20f, 0.20f, // L2 label 255: ignored
        0.40f, 0.30f, 0.15f, 0.10f, 0.05f, // U0 pseudo 0, reliable: ranks 0 1 2 3 4
        0.05f, 0.35f, 0.30f, 0.20f, 0.10f, // U1 pseudo 1, unreliable: ranks 4 0 1 2 3
        0.25f, 0.22f, 0.21f, 0.20f, 0.12f, // U2 pseudo 3, unreliable (p_3 = 0.2 < 0.3)
    };
    in.prob_teacher = Tensor::from_vector(p, {2, 1, 3, 5});
    in.labels = Tensor::from_vector(std::vector<int32_t>{0, 2, 255, 0, 1, 3}, {2, 1, 3});
    in.reliable = Tensor::from_vector(std::vector<uint8_t>{1, 0, 0}, {1, 1, 3});
    in.unreliable = Tensor::from_vector(std::vector<uint8_t>{0, 1, 1}, {1, 1, 3});
    Generator gen(5);
    in.rep = test::random_tensor({2, 1, 3, 2}, gen);
    in.rep_teacher = test::random_tensor({2, 1, 3, 2}, gen);
    return in;
}

TEST(U2plSelect, NegativesObeyTheRankRules) {
    ContrastiveInputs in = rank_case();
    std::vector<ClassPixels> pix = select_pixels(in, ContrastiveOptions());
    ASSERT_EQ(pix.size(), 5u);
    using V = std::vector<int32_t>;
    // prototypes: reliable pixels by label (labeled valid pixels count as reliable).
    EXPECT_EQ(pix[0].prototype, (V{0, 3}));
    EXPECT_EQ(pix[2].prototype, (V{1}));
    EXPECT_EQ(pix[1].prototype, V{}); // U1 is unreliable
    // anchors: p_label > 0.3 (L0 0.5, L1 0.6, U0 0.4).
    EXPECT_EQ(pix[0].anchors, (V{0, 3}));
    EXPECT_EQ(pix[2].anchors, (V{1}));
    // negatives: labeled: c != label within the top 3; unlabeled unreliable: rank in [3, 20).
    EXPECT_EQ(pix[0].negatives, (V{1, 4})); // L1 ranks 0 3rd; U1 ranks 0 5th
    EXPECT_EQ(pix[1].negatives, (V{0}));    // L0's 2nd
    EXPECT_EQ(pix[2].negatives, (V{0}));    // L0's 3rd (L1 is class 2 itself)
    EXPECT_EQ(pix[3].negatives, (V{1, 5})); // L1 2nd; U2 4th (U1 ranks 3 3rd: in its top 3)
    EXPECT_EQ(pix[4].negatives, (V{4, 5})); // U1's 4th, U2's 5th (L1 ranks 4 4th: not top 3)

    ContrastiveOptions tight;
    tight.high_rank = 4; // unlabeled ranks 3 only
    tight.anchor_threshold = 0.45f;
    pix = select_pixels(in, tight);
    EXPECT_EQ(pix[0].anchors, (V{0}));   // U0's 0.4 no longer passes
    EXPECT_EQ(pix[0].negatives, (V{1})); // U1 ranks 0 5th: out of [3, 4)
    EXPECT_EQ(pix[3].negatives, (V{1, 5}));
    EXPECT_EQ(pix[4].negatives, (V{4}));
}

TEST(U2plSelect, CompatCodeNeverEnqueuesLabeledNegatives) {
    ContrastiveInputs in = rank_case();
    ContrastiveOptions code;
    code.compat_code = true;
    std::vector<ClassPixels> pix = select_pixels(in, code);
    for (size_t c = 0; c < pix.size(); c++)
        for (int32_t i : pix[c].negatives) EXPECT_GE(i, 3) << "labeled negative for class " << c;
    // The original's mask also demands the pseudo-label be c: only U2 (pseudo 3, rank 3) is left.
    EXPECT_EQ(pix[3].negatives, (std::vector<int32_t>{5}));
    EXPECT_TRUE(pix[1].negatives.empty());
}

// ---- the loss ----

TEST(U2plContrastive, InfoNceEqualsTheHandValue) {
    // Anchor (2, 0) ~ (1, 0); positive (3, 0): cos 1; negatives (0, 1): cos 0 and (-1, 0): cos -1.
    Tensor anchors = Tensor::from_vector(std::vector<float>{2, 0}, {1, 2}).set_requires_grad(true);
    Tensor positive = Tensor::from_vector(std::vector<float>{3, 0}, {2}).set_requires_grad(true);
    Tensor negatives =
        Tensor::from_vector(std::vector<float>{0, 1, -1, 0}, {1, 2, 2}).set_requires_grad(true);
    Tensor loss = info_nce(anchors, positive, negatives, 0.5f);
    double want = -std::log(std::exp(2.0) / (std::exp(2.0) + std::exp(0.0) + std::exp(-2.0)));
    EXPECT_NEAR(loss.item(), want, 1e-6);
    backward(loss);
    ASSERT_TRUE(anchors.grad().defined());
    // Along the anchor's own direction the cosine does not change: d/da_x = 0; the gradient
    // turns the anchor away from the (0, 1) negative: d/da_y = p_neg0 / (tau |a|) > 0.
    std::vector<float> g = anchors.grad().to_f32_vector();
    double p0 = std::exp(0.0) / (std::exp(2.0) + std::exp(0.0) + std::exp(-2.0));
    EXPECT_NEAR(g[0], 0.0, 1e-6);
    EXPECT_NEAR(g[1], p0 / (0.5 * 2.0), 1e-6);
    EXPECT_FALSE(positive.grad().defined()); // teacher keys are constants
    EXPECT_FALSE(negatives.grad().defined());
}

TEST(U2plContrastive, MeanOverValidClassesWithBanksFilledFirst) {
    ContrastiveInputs in = rank_case();
    in.rep = in.rep.detach().set_requires_grad(true);
    MemoryBank bank({8, 8, 8, 8, 8}, 2, Device::cpu());
    ContrastiveOptions o;
    o.num_queries = 4;
    o.num_negatives = 3;
    Generator gen(1);
    ContrastiveResult r = contrastive_loss(in, bank, o, gen);
    EXPECT_EQ(r.valid_classes, 2); // classes 0 and 2 have reliable pixels
    EXPECT_EQ(r.negatives, 2 + 1 + 1 + 2 + 2);
    EXPECT_EQ(bank.size(0), 2);
    EXPECT_EQ(bank.size(3), 2);
    // Bank rows are the teacher's embeddings of the negative pixels, in pixel order.
    Tensor teacher_rows = reshape(in.rep_teacher, {6, 2});
    auto rows_at = [&](std::vector<int32_t> pixels) {
        return index_select(teacher_rows, Tensor::from_vector(pixels, {int64_t(pixels.size())}));
    };
    EXPECT_TRUE(test::all_equal(bank.keys(3), rows_at({1, 5})));
    EXPECT_TRUE(test::all_equal(bank.keys(0), rows_at({1, 4})));
    // Recompute with the same draws: class 0 (anchors {L0, U0}, bank {L1, U1}, prototype
    // mean(L0, U0)), then class 2 (anchor L1, bank {L0}, prototype L1); mean over the 2 classes.
    Tensor rep = reshape(in.rep.detach(), {6, 2});
    Generator replay(1);
    auto term = [&](std::vector<int32_t> anchors, std::vector<int32_t> bank_pixels,
                    std::vector<int32_t> proto) {
        std::vector<int32_t> a, n;
        for (int q = 0; q < 4; q++) a.push_back(anchors[size_t(replay.randint(0, anchors.size()))]);
        for (int k = 0; k < 12; k++)
            n.push_back(bank_pixels[size_t(replay.randint(0, bank_pixels.size()))]);
        Tensor at = index_select(rep, Tensor::from_vector(a, {4}));
        return info_nce(at, mean(rows_at(proto), 0), reshape(rows_at(n), {4, 3, 2}), 0.5f).item();
    };
    double term0 = term({0, 3}, {1, 4}, {0, 3});
    double term2 = term({1}, {0}, {1});
    EXPECT_NEAR(r.loss.item(), (term0 + term2) / 2, 1e-5);
    backward(r.loss);
    ASSERT_TRUE(in.rep.grad().defined());
    std::vector<float> g = in.rep.grad().to_f32_vector();
    // Only anchor pixels (0, 1, 3) receive gradient.
    for (int i : {2, 4, 5}) EXPECT_EQ(g[size_t(2 * i)], 0.f) << i;
    EXPECT_NE(g[2] * g[2] + g[3] * g[3], 0.f);

    // At most one valid class: the loss is 0, and negatives are still enqueued.
    ContrastiveInputs one = rank_case();
    one.labels = Tensor::from_vector(std::vector<int32_t>{0, 255, 255, 0, 1, 3}, {2, 1, 3});
    MemoryBank bank1({8, 8, 8, 8, 8}, 2, Device::cpu());
    ContrastiveResult r1 = contrastive_loss(one, bank1, o, gen);
    EXPECT_EQ(r1.valid_classes, 1);
    EXPECT_EQ(r1.loss.item(), 0.f);
    EXPECT_GT(bank1.size(3), 0);
}

} // namespace
} // namespace pg::seg::u2pl
