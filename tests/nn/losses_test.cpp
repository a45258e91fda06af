// nn/losses: OHEM cross-entropy by hand and against our PyTorch re-implementation of U2PL's
// OhemCrossEntropy2dTensor, the main + aux criterion, CE on upsampled logits, BCE against a
// constant label map, multi-label soft margin (tools/dump_nn_losses.py), gradient checks,
// CPU/device parity and bad arguments.
#include <cmath>
#include <string>

#include "autograd/ops.h"
#include "nn/losses.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::nn {
namespace {

using test::expect_error;

using test::all_close;
using test::all_equal;
using test::random_leaf;

Tensor f32(std::vector<float> v, const Shape& shape) { return Tensor::from_vector(v, shape); }
Tensor i32(std::vector<int32_t> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// A 0-d result against a reference stored as () or (1,).
::testing::AssertionResult matches(const Tensor& actual, const Tensor& expected, float atol = 1e-5f,
                                   float rtol = 1e-5f) {
    return all_close(reshape(actual, expected.shape()), expected, atol, rtol);
}

OhemOptions ohem(int64_t min_kept, float thresh = 0.7f, Tensor weight = Tensor()) {
    OhemOptions o;
    o.min_kept = min_kept;
    o.thresh = thresh;
    o.weight = weight;
    return o;
}

// Logits (P, C) whose target-class probabilities are exactly-ish `probs` (target y_i = i % C):
// other classes get small varied logits, the target logit solves softmax(x)[y] = p.
Tensor logits_with_probs(const std::vector<float>& probs, int64_t classes) {
    std::vector<float> x;
    for (size_t i = 0; i < probs.size(); i++) {
        int64_t y = int64_t(i) % classes;
        std::vector<float> row;
        double others = 0; // sum of exp over the non-target classes
        for (int64_t c = 0; c < classes; c++) {
            row.push_back(0.3f * float((int64_t(i) * 7 + c * 3) % 5) - 0.6f);
            if (c != y) others += std::exp(double(row.back()));
        }
        double p = probs[i];
        row[size_t(y)] = float(std::log(p / (1 - p) * others)); // e^t / (e^t + others) = p
        x.insert(x.end(), row.begin(), row.end());
    }
    return f32(x, {int64_t(probs.size()), classes});
}

Tensor cyclic_targets(size_t n, int classes) {
    std::vector<int32_t> y(n);
    for (size_t i = 0; i < n; i++) y[i] = int32_t(i % size_t(classes));
    return i32(y, {int64_t(n)});
}

// ---- OHEM by hand ----

TEST(Ohem, SelectionRuleByHand) {
    // Four valid pixels with target probabilities 0.2, 0.6, 0.8, 0.95 and one ignored pixel.
    Tensor x = logits_with_probs({0.2f, 0.6f, 0.8f, 0.95f, 0.5f}, 3);
    Tensor y = i32({0, 1, 2, 0, 255}, {5});
    auto kept = [&](OhemOptions o) { return ohem_target(x, y, o); };
    // min_kept 1: k-th smallest 0.2 < 0.7, threshold 0.7: 0.8 and 0.95 are dropped.
    EXPECT_TRUE(all_equal(kept(ohem(1)), i32({0, 1, 255, 255, 255}, {5})));
    // min_kept 3: k-th smallest 0.8 > 0.7 becomes the threshold (kept: p <= 0.8).
    EXPECT_TRUE(all_equal(kept(ohem(3)), i32({0, 1, 2, 255, 255}, {5})));
    // min_kept 4 == num_valid: the k-th is the largest valid p (the ignored pixel's 1 ranks last).
    EXPECT_TRUE(all_equal(kept(ohem(4)), y));
    // min_kept > num_valid, or 0 (the original never applies its threshold then): plain CE.
    EXPECT_TRUE(all_equal(kept(ohem(5)), y));
    EXPECT_TRUE(all_equal(kept(ohem(0)), y));
    // A lower thresh: min_kept 1, threshold 0.5 keeps 0.2 only.
    EXPECT_TRUE(all_equal(kept(ohem(1, 0.5f)), i32({0, 255, 255, 255, 255}, {5})));
    // The loss is the mean -log p over the kept pixels.
    EXPECT_NEAR(ohem_cross_entropy(x, y, ohem(3)).item(),
                -(std::log(0.2) + std::log(0.6) + std::log(0.8)) / 3, 1e-5);
    EXPECT_NEAR(ohem_cross_entropy(x, y, ohem(5)).item(),
                -(std::log(0.2) + std::log(0.6) + std::log(0.8) + std::log(0.95)) / 4, 1e-5);
}

TEST(Ohem, TiesAtTheKthValueAreAllKept) {
    // Equal pixels: p = 0.9 three times, 0.1 once; min_kept 2 -> threshold 0.9 keeps all four.
    Tensor x = f32({1, -1, 1, -1, 1, -1, -1, 1}, {4, 2});
    Tensor y = i32({0, 0, 0, 0}, {4});
    x = mul(x, float(std::log(9.0) / 2)); // softmax([a, -a])[0] = 0.9 for a = ln(9) / 2
    EXPECT_TRUE(all_equal(ohem_target(x, y, ohem(2)), y));
    EXPECT_TRUE(all_equal(ohem_target(x, y, ohem(1)), i32({255, 255, 255, 0}, {4})));
}

TEST(Ohem, NaNPixelIsDroppedLikeTorchLe) {
    // U2PL keeps p.le(threshold): a NaN probability is dropped when the selection runs, and kept
    // (making the loss NaN) when it does not.
    Tensor x = logits_with_probs({0.2f, 0.6f, 0.5f}, 2);
    std::vector<float> v = x.to_f32_vector();
    v[4] = NAN;
    x = f32(v, {3, 2});
    Tensor y = cyclic_targets(3, 2);
    EXPECT_TRUE(all_equal(ohem_target(x, y, ohem(1)), i32({0, 1, 255}, {3})));
    EXPECT_NEAR(ohem_cross_entropy(x, y, ohem(1)).item(), -(std::log(0.2) + std::log(0.6)) / 2,
                1e-5);
    EXPECT_TRUE(std::isnan(ohem_cross_entropy(x, y, ohem(4)).item()));
}

TEST(Ohem, AllIgnoredGivesZeroNotNaN) {
    Tensor y = Tensor::full({2, 3, 4}, 255, DType::u8);
    for (int64_t min_kept : {0, 1, 100}) {
        Tensor x = Tensor::ones({2, 3, 4, 5});
        x.set_requires_grad(true);
        Tensor loss = ohem_cross_entropy(x, y, ohem(min_kept));
        EXPECT_EQ(loss.item(), 0.f) << "min_kept " << min_kept;
        backward(loss);
        EXPECT_TRUE(all_close(x.grad(), Tensor::zeros({2, 3, 4, 5}), 0.f, 0.f));
    }
    EXPECT_EQ(
        ohem_cross_entropy(Tensor::zeros({0, 19}), Tensor::zeros({0}, DType::u8), ohem(1)).item(),
        0.f);
}

TEST(Ohem, DroppedPixelsGetNoGradient) {
    Tensor x = logits_with_probs({0.3f, 0.9f, 0.5f, 0.99f}, 4);
    x.set_requires_grad(true);
    Tensor y = cyclic_targets(4, 4);
    backward(ohem_cross_entropy(x, y, ohem(1))); // keeps rows 0 and 2
    std::vector<float> g = x.grad().to_f32_vector();
    for (int row : {1, 3})
        for (int c = 0; c < 4; c++) EXPECT_EQ(g[size_t(row * 4 + c)], 0.f) << row << " " << c;
    // Kept rows: (softmax - onehot) / 2.
    Tensor p = softmax(x.detach());
    EXPECT_NEAR(g[0], (p.to_f32_vector()[0] - 1) / 2, 1e-6);
    EXPECT_FALSE(ohem_target(x, y, ohem(1)).requires_grad()); // the selection has no history
}

// ---- OHEM against PyTorch ----

// Tolerances: as for cross_entropy (tests/autograd/loss_test.cpp): values 1e-5 absolute +
// relative, gradients 1e-6 absolute + 1e-5 relative. The kept masks must match exactly: the
// dump keeps every probability at least 1% (relative) away from the thresholds in use.
TEST(OhemReference, MatchesU2pl) {
    auto ref = test::load_reference("nn_losses.safetensors");
    for (const char* name : {"thr", "few", "zero", "kept", "edge", "all", "ties", "weighted"}) {
        SCOPED_TRACE(name);
        std::string key = std::string("ohem_") + name;
        Tensor target = ref.at(key + "_target");
        OhemOptions o = ohem(int64_t(ref.at(key + "_min_kept").item()));
        if (std::string(name) == "weighted") o.weight = ref.at("ohem_weighted_weight");
        for (DType dtype : {DType::i32, DType::u8}) {
            SCOPED_TRACE(dtype_name(dtype));
            Tensor y = cast(target, dtype);
            Tensor x = ref.at(key + "_logits").clone().set_requires_grad(true);
            EXPECT_TRUE(all_equal(ohem_target(x, y, o), ref.at(key + "_kept")));
            Tensor loss = ohem_cross_entropy(x, y, o);
            EXPECT_TRUE(matches(loss, ref.at(key + "_loss")));
            backward(loss);
            EXPECT_TRUE(all_close(x.grad(), ref.at(key + "_dx"), 1e-6f, 1e-5f));
        }
    }
}

TEST(OhemReference, OtherIgnoreIndex) {
    // The threshold case with 255 relabelled -1 and ignore_index -1: the same selection and loss.
    auto ref = test::load_reference("nn_losses.safetensors");
    Tensor y255 = ref.at("ohem_thr_target");
    Tensor y = cast(masked_fill(cast(y255, DType::f32), eq(cast(y255, DType::f32), 255.f), -1.f),
                    DType::i32);
    OhemOptions o = ohem(int64_t(ref.at("ohem_thr_min_kept").item()));
    o.ignore_index = -1;
    Tensor kept = ohem_target(ref.at("ohem_thr_logits"), y, o);
    Tensor expected = ref.at("ohem_thr_kept");
    Tensor expected_m1 =
        cast(masked_fill(cast(expected, DType::f32), eq(cast(expected, DType::f32), 255.f), -1.f),
             DType::i32);
    EXPECT_TRUE(all_equal(kept, expected_m1));
    EXPECT_TRUE(
        matches(ohem_cross_entropy(ref.at("ohem_thr_logits"), y, o), ref.at("ohem_thr_loss")));
}

// ---- criterion, upsampled CE, BCE, multi-label: against PyTorch ----

TEST(SegLossReference, UpsampledCeAndAuxHead) {
    auto ref = test::load_reference("nn_losses.safetensors");
    Tensor target = ref.at("crit_target");
    {
        Tensor m = ref.at("crit_main").clone().set_requires_grad(true);
        Tensor loss = cross_entropy_2d(m, target);
        EXPECT_TRUE(matches(loss, ref.at("ce2d_loss")));
        backward(loss);
        EXPECT_TRUE(all_close(m.grad(), ref.at("ce2d_dx"), 1e-6f, 1e-5f));
    }
    for (SegLossType type : {SegLossType::cross_entropy, SegLossType::ohem}) {
        std::string key = type == SegLossType::ohem ? "seg_ohem" : "seg_ce";
        SCOPED_TRACE(key);
        SegLossConfig config;
        config.type = type;
        config.aux_weight = 0.4f;
        if (type == SegLossType::ohem)
            config.ohem_min_kept = int64_t(ref.at("seg_ohem_min_kept").item());
        Tensor m = ref.at("crit_main").clone().set_requires_grad(true);
        Tensor a = ref.at("crit_aux").clone().set_requires_grad(true);
        Tensor loss = seg_loss({m, a}, cast(target, DType::u8), config);
        EXPECT_TRUE(matches(loss, ref.at(key + "_loss")));
        backward(loss);
        EXPECT_TRUE(all_close(m.grad(), ref.at(key + "_dmain"), 1e-6f, 1e-5f));
        EXPECT_TRUE(all_close(a.grad(), ref.at(key + "_daux"), 1e-6f, 1e-5f));
    }
}

TEST(SegLoss, SingleHeadIsCrossEntropy2d) {
    Generator gen(41);
    Tensor x = Tensor::normal({2, 3, 4, 5}, gen);
    Tensor y = i32({0, 1, 2, 3, 4, 255, 0, 1, 2, 3, 4, 0, 1,   2, 3, 4, 255, 0, 1, 2,
                    3, 4, 0, 1, 2, 3,   4, 0, 1, 2, 3, 4, 255, 0, 1, 2, 3,   4, 0, 1},
                   {2, 4, 5});
    EXPECT_TRUE(all_close(seg_loss({x}, y), cross_entropy_2d(x, y), 0.f, 0.f));
    // Same size: no resize, the logits themselves go to cross_entropy.
    EXPECT_TRUE(upsample_logits(x, 3, 4).same_storage(x));
    Tensor same = Tensor::normal({2, 4, 5, 5}, gen);
    EXPECT_TRUE(all_close(cross_entropy_2d(same, y), cross_entropy(same, y), 0.f, 0.f));
}

TEST(BceConstantReference, MatchesAdvSemiSeg) {
    auto ref = test::load_reference("nn_losses.safetensors");
    Tensor d = ref.at("bce_d"); // (2, 5, 6, 1) discriminator logits
    Tensor valid = ne(cast(ref.at("bce_labels"), DType::f32), 255.f); // (2, 5, 6)
    for (int value : {0, 1}) {
        std::string key = "bce_" + std::to_string(value);
        SCOPED_TRACE(key);
        for (const Tensor& mask : {valid, reshape(valid, d.shape())}) {
            Tensor x = d.clone().set_requires_grad(true);
            Tensor loss = bce_with_constant_target(x, float(value), mask);
            EXPECT_TRUE(matches(loss, ref.at(key + "_loss")));
            backward(loss);
            EXPECT_TRUE(all_close(x.grad(), ref.at(key + "_dx"), 1e-6f, 1e-5f));
        }
        Tensor x = d.clone().set_requires_grad(true);
        Tensor loss = bce_with_constant_target(x, float(value));
        EXPECT_TRUE(matches(loss, ref.at(key + "_all_loss")));
        backward(loss);
        EXPECT_TRUE(all_close(x.grad(), ref.at(key + "_all_dx"), 1e-6f, 1e-5f));
    }
    // Nothing valid: 0 (AdvSemiSeg's early return), not NaN.
    EXPECT_EQ(bce_with_constant_target(d, 1.f, Tensor::zeros({2, 5, 6}, DType::u8)).item(), 0.f);
}

TEST(MultilabelSoftMarginReference, MatchesPyTorch) {
    auto ref = test::load_reference("nn_losses.safetensors");
    Tensor t = ref.at("mlsm_t");
    for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        std::string key = std::string("mlsm_") + (r == Reduction::mean  ? "mean"
                                                  : r == Reduction::sum ? "sum"
                                                                        : "none");
        SCOPED_TRACE(key);
        Tensor x = ref.at("mlsm_x").clone().set_requires_grad(true);
        Tensor loss = multilabel_soft_margin(x, t, r);
        EXPECT_TRUE(matches(loss, ref.at(key)));
        backward(r == Reduction::none ? sum(mul(loss, ref.at("mlsm_dloss"))) : loss);
        EXPECT_TRUE(all_close(x.grad(), ref.at(key + "_dx"), 1e-6f, 1e-5f));
    }
}

TEST(MultilabelSoftMargin, ByHand) {
    // x = 0: ln 2 per class whatever the tag; mean over classes, then over the batch.
    EXPECT_NEAR(
        multilabel_soft_margin(Tensor::zeros({2, 3}), f32({1, 0, 1, 0, 0, 1}, {2, 3})).item(),
        std::log(2.0), 1e-6);
    // One sample, two classes: -(log sigmoid(2) + log sigmoid(1)) / 2.
    double expected = (std::log1p(std::exp(-2.0)) + std::log1p(std::exp(-1.0))) / 2;
    EXPECT_NEAR(multilabel_soft_margin(f32({2, -1}, {1, 2}), f32({1, 0}, {1, 2})).item(), expected,
                1e-6);
}

// ---- finite-difference gradient checks ----

TEST(LossesGrad, Ohem) {
    // Probabilities well apart (a 1e-3 logit step moves p by < 3e-4): the selection is stable.
    std::vector<float> probs = {0.1f, 0.25f, 0.45f, 0.6f, 0.75f, 0.85f, 0.92f, 0.97f, 0.5f};
    Tensor x = logits_with_probs(probs, 3).set_requires_grad(true);
    Tensor y = cyclic_targets(probs.size(), 3);
    Tensor y_ignored = i32({0, 1, 2, 0, 1, 2, 0, 1, 255}, {9});
    Tensor w = f32({0.5f, 2.f, 1.f}, {3});
    for (int64_t min_kept : {2, 6, 0, 100}) { // threshold, min_kept, and the two plain-CE cases
        SCOPED_TRACE(min_kept);
        for (const Tensor& target : {y, y_ignored}) {
            PG_EXPECT_GRADCHECK(
                [&](const std::vector<Tensor>& in) {
                    return ohem_cross_entropy(in[0], target, ohem(min_kept));
                },
                {x});
            PG_EXPECT_GRADCHECK(
                [&](const std::vector<Tensor>& in) {
                    return ohem_cross_entropy(in[0], target, ohem(min_kept, 0.7f, w));
                },
                {x});
        }
    }
}

TEST(LossesGrad, CriterionUpsampledBceAndMultilabel) {
    Generator gen(42);
    Tensor y = i32({0, 1, 2, 255, 1, 2, 0, 1, 2, 0, 255, 1, 2, 0, 1, 2, 0, 1, 2, 0}, {1, 4, 5});
    SegLossConfig ce;
    ce.aux_weight = 0.4f;
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return seg_loss({in[0], in[1]}, y, ce);
        },
        {random_leaf({1, 2, 3, 3}, gen, -2.f, 2.f), random_leaf({1, 2, 3, 3}, gen, -2.f, 2.f)});
    PG_EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return cross_entropy_2d(in[0], y); },
                        {random_leaf({1, 3, 2, 3}, gen, -2.f, 2.f)});
    Tensor valid = ne(cast(y, DType::f32), 255.f);
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return bce_with_constant_target(in[0], 1.f, valid); },
        {random_leaf({1, 4, 5, 1}, gen, -3.f, 3.f)});
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return multilabel_soft_margin(in[0], in[1]); },
        {random_leaf({3, 7}, gen, -3.f, 3.f), random_leaf({3, 7}, gen, 0.f, 1.f)});
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return multilabel_soft_margin(in[0], in[1], Reduction::none);
        },
        {random_leaf({3, 7}, gen, -3.f, 3.f), f32(std::vector<float>(21, 1.f), {3, 7})});
}

// ---- CPU / device parity ----

class LossesDevice : public test::DeviceTest {};

TEST_P(LossesDevice, ParityWithCpu) {
    Generator gen(43);
    // (2, 9, 7, 19) logits, labels with every seventh pixel ignored; both OHEM branches.
    Tensor logits = random_leaf({2, 9, 7, 19}, gen, -6.f, 6.f);
    std::vector<int32_t> labels(2 * 9 * 7);
    for (size_t i = 0; i < labels.size(); i++) labels[i] = i % 7 == 0 ? 255 : int32_t(i * 5 % 19);
    Tensor y = i32(labels, {2, 9, 7});
    for (int64_t min_kept : {10, 100}) {
        auto f = [min_kept](const std::vector<Tensor>& in) {
            return ohem_cross_entropy(in[0], in[1], ohem(min_kept));
        };
        EXPECT_TRUE(test::device_parity(f, {logits, y}, device())) << min_kept;
    }
    auto criterion = [](const std::vector<Tensor>& in) {
        SegLossConfig config;
        config.type = SegLossType::ohem;
        config.ohem_min_kept = 300;
        config.aux_weight = 0.4f;
        return seg_loss({in[0], in[1]}, in[2], config);
    };
    Tensor small = random_leaf({2, 5, 4, 19}, gen, -3.f, 3.f);
    Tensor big_y = cast(Tensor::uniform({2, 17, 13}, gen, 0.f, 19.f), DType::i32);
    EXPECT_TRUE(test::device_parity(
        criterion, {small, small.detach().clone().set_requires_grad(true), big_y}, device()));
    auto tags = [](const std::vector<Tensor>& in) { return multilabel_soft_margin(in[0], in[1]); };
    Tensor t = cast(gt(Tensor::uniform({4, 20}, gen), 0.7f), DType::f32);
    EXPECT_TRUE(test::device_parity(tags, {random_leaf({4, 20}, gen, -4.f, 4.f), t}, device()));
}

PG_INSTANTIATE_DEVICE_SUITE(LossesDevice);

// ---- bad arguments ----

TEST(Losses, BadArguments) {
    Tensor x = Tensor::zeros({2, 3, 4, 5});
    Tensor y = Tensor::zeros({2, 3, 4}, DType::i32);
    expect_error([&] { ohem_cross_entropy(x, y, ohem(-1)); },
                 "ohem_cross_entropy: min_kept must be >= 0, got -1");
    expect_error(
        [&] {
            ohem_cross_entropy(x, i32(std::vector<int32_t>(24, 7), {2, 3, 4}));
        },
        "cross_entropy: target label 7 (element 0) is out of range [0, 5)");
    expect_error(
        [&] {
            ohem_cross_entropy(x, Tensor::zeros({2, 3, 5}, DType::i32));
        },
        "cross_entropy: target shape (2, 3, 5) does not match logits (2, 3, 4, 5)");
    expect_error([&] { ohem_cross_entropy(x, Tensor()); },
                 "ohem_cross_entropy: logits or target is undefined");
    expect_error(
        [&] {
            cross_entropy_2d(Tensor::zeros({3, 4, 5}), y);
        },
        "cross_entropy_2d: logits must be (N, h, w, C), got (3, 4, 5)");
    expect_error(
        [&] {
            cross_entropy_2d(x, Tensor::zeros({3, 6, 8}, DType::i32));
        },
        "cross_entropy_2d: target (3, 6, 8) must be (N, H, W) with N = 2");
    SegLossConfig aux;
    aux.aux_weight = 0.4f;
    expect_error([&] { seg_loss({x}, y, aux); },
                 "seg_loss: aux_weight 0.4 expects 2 logits (main, aux), got 1");
    expect_error(
        [&] {
            seg_loss({x, x}, y);
        },
        "seg_loss: aux_weight 0 expects 1 logits tensor (main), got 2");
    aux.aux_weight = -1.f;
    expect_error([&] { seg_loss({x, x}, y, aux); }, "seg_loss: aux_weight must be >= 0, got -1");
    expect_error(
        [&] {
            seg_loss({Tensor::zeros({2, 3, 5})}, y);
        },
        "seg_loss: logits must be (N, h, w, C), got (2, 3, 5)");
    Tensor d = Tensor::zeros({2, 3, 4, 1});
    expect_error(
        [&] {
            bce_with_constant_target(d, 1.f, Tensor::ones({2, 3}, DType::u8));
        },
        "bce_with_constant_target: valid (2, 3) matches neither logits (2, 3, 4, 1) nor "
        "logits without a trailing 1");
    expect_error(
        [&] {
            bce_with_constant_target(d, 1.f, Tensor::ones({2, 3, 4}));
        },
        "bce_with_constant_target: valid must be u8, got f32");
    expect_error(
        [&] {
            multilabel_soft_margin(Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 3, 4}));
        },
        "multilabel_soft_margin: logits must be (N, C), got (2, 3, 4)");
    expect_error(
        [&] {
            multilabel_soft_margin(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}));
        },
        "multilabel_soft_margin: targets (3, 2) do not match logits (2, 3)");
    expect_error(
        [&] {
            multilabel_soft_margin(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}, DType::u8));
        },
        "multilabel_soft_margin: targets must be f32 (cast tags), got u8");
}

} // namespace
} // namespace pg::nn
