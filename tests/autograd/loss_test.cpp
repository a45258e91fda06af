// cross_entropy and bce_with_logits: values by hand, the all-ignored batch, stability, PyTorch
// reference values and gradients (tools/dump_softmax_loss.py), gradient checks, CPU/device
// parity, bad inputs.
#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::expect_error;

using test::all_close;
using test::random_leaf;

Tensor f32(std::vector<float> v, Shape shape) { return Tensor::from_vector(v, shape); }
Tensor i32(std::vector<int32_t> v, Shape shape) { return Tensor::from_vector(v, shape); }
Tensor u8(std::vector<uint8_t> v, Shape shape) { return Tensor::from_vector(v, shape); }

// pgref.save() stores a 0-d result as shape (1,) (np.ascontiguousarray): compare by value.
::testing::AssertionResult matches(const Tensor& actual, const Tensor& expected, float atol,
                                   float rtol) {
    return all_close(reshape(actual, expected.shape()), expected, atol, rtol);
}

CrossEntropyOptions ce_options(Reduction reduction, Tensor weight = Tensor()) {
    CrossEntropyOptions o;
    o.reduction = reduction;
    o.weight = weight;
    return o;
}

const char* reduction_name(Reduction r) {
    return r == Reduction::mean ? "mean" : r == Reduction::sum ? "sum" : "none";
}

// -log softmax(x)[y] of one row, in double.
double nll(std::vector<double> x, int y) {
    double m = x[0], s = 0;
    for (double v : x) m = std::max(m, v);
    for (double v : x) s += std::exp(v - m);
    return m + std::log(s) - x[size_t(y)];
}

TEST(CrossEntropy, ValuesByHand) {
    // Two equal logits: ln 2. Rows with 255 are ignored by every reduction.
    EXPECT_NEAR(cross_entropy(f32({0, 0}, {1, 2}), i32({1}, {1})).item(), std::log(2.0), 1e-6);
    Tensor x = f32({1, 2, 3, 0, 0, 9, -1, 0.5f, 2}, {3, 3});
    Tensor y = u8({2, 255, 0}, {3});
    double l0 = nll({1, 2, 3}, 2), l2 = nll({-1, 0.5, 2}, 0);
    EXPECT_NEAR(cross_entropy(x, y).item(), (l0 + l2) / 2, 1e-6);
    EXPECT_NEAR(cross_entropy(x, y, ce_options(Reduction::sum)).item(), l0 + l2, 1e-5);
    EXPECT_TRUE(all_close(cross_entropy(x, y, ce_options(Reduction::none)),
                          f32({float(l0), 0, float(l2)}, {3})));
    // Class weights: PyTorch's weighted mean divides by the weights of the rows that count.
    Tensor w = f32({3, 1, 0.5f}, {3});
    EXPECT_NEAR(cross_entropy(x, y, ce_options(Reduction::mean, w)).item(),
                (0.5 * l0 + 3 * l2) / 3.5, 1e-6);
    EXPECT_NEAR(cross_entropy(x, y, ce_options(Reduction::sum, w)).item(), 0.5 * l0 + 3 * l2, 1e-5);
    // A huge logit does not overflow.
    EXPECT_NEAR(cross_entropy(f32({1000, 0}, {1, 2}), i32({1}, {1})).item(), 1000.0, 1e-3);
}

TEST(CrossEntropy, AllIgnoredBatchGivesZeroNotNaN) {
    // PyTorch returns NaN (0 / 0) here; we return 0 and zero gradients.
    Tensor x = f32({1, 2, 3, 4, 5, 6}, {1, 2, 3});
    Tensor y = i32({255, 255}, {1, 2});
    for (Reduction r : {Reduction::mean, Reduction::sum}) {
        Tensor leaf = x.clone();
        leaf.set_requires_grad(true);
        Tensor loss = cross_entropy(leaf, y, ce_options(r, f32({1, 2, 3}, {3})));
        EXPECT_EQ(loss.item(), 0.f) << reduction_name(r);
        backward(loss);
        EXPECT_TRUE(all_close(leaf.grad(), Tensor::zeros({1, 2, 3}), 0.f, 0.f));
    }
    EXPECT_EQ(cross_entropy(Tensor::zeros({0, 21}), Tensor::zeros({0}, DType::u8)).item(), 0.f);
}

TEST(CrossEntropy, GradientByHand) {
    // mean over 1 row: d/dx = softmax(x) - onehot(y) = (0.5, 0.5) - (0, 1).
    Tensor x = f32({0, 0, 7, 7}, {2, 2});
    x.set_requires_grad(true);
    backward(cross_entropy(x, i32({1, 255}, {2})));
    EXPECT_TRUE(all_close(x.grad(), f32({0.5f, -0.5f, 0, 0}, {2, 2})));
}

// Tolerances: f32 against f32 PyTorch; losses of order 1-10 summed over <= 24 rows: 1e-5
// absolute + 1e-5 relative for values, 1e-6 absolute for gradients (entries of order 0.1).
TEST(CrossEntropyReference, MatchesPyTorch) {
    auto ref = test::load_reference("softmax_loss.safetensors");
    Tensor logits = ref.at("ce_logits"), dloss = ref.at("ce_dloss"), weight = ref.at("ce_weight");
    Tensor target_i32 = ref.at("ce_target");
    Tensor target_u8 = cast(target_i32, DType::u8);
    for (bool weighted : {false, true}) {
        for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
            std::string key = std::string("ce_") + (weighted ? "w_" : "") + reduction_name(r);
            for (const Tensor& target : {target_i32, target_u8}) {
                SCOPED_TRACE(key + " target " + dtype_name(target.dtype()));
                Tensor leaf = logits.clone();
                leaf.set_requires_grad(true);
                Tensor loss =
                    cross_entropy(leaf, target, ce_options(r, weighted ? weight : Tensor()));
                EXPECT_TRUE(matches(loss, ref.at(key), 1e-5f, 1e-5f));
                backward(r == Reduction::none ? sum(mul(loss, dloss)) : loss);
                EXPECT_TRUE(all_close(leaf.grad(), ref.at(key + "_dx"), 1e-6f, 1e-5f));
            }
        }
    }
    // 21 classes, logits of scale 6, u8 targets with ignored pixels.
    Tensor leaf = ref.at("ce21_logits").clone();
    leaf.set_requires_grad(true);
    Tensor loss = cross_entropy(leaf, ref.at("ce21_target"));
    EXPECT_TRUE(matches(loss, ref.at("ce21_mean"), 1e-5f, 1e-5f));
    backward(loss);
    EXPECT_TRUE(all_close(leaf.grad(), ref.at("ce21_dx"), 1e-6f, 1e-5f));
}

TEST(CrossEntropyGrad, WeightsIgnoredRowsAndShapes) {
    Generator gen(31);
    Tensor w = f32({0.5f, 2, 1, 1.5f, 0.25f}, {5});
    // (2, 3, 5) NHWC-like logits with two ignored pixels, i32 targets.
    Tensor y = i32({0, 4, 255, 2, 255, 1}, {2, 3});
    for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        SCOPED_TRACE(reduction_name(r));
        PG_EXPECT_GRADCHECK(
            [&](const std::vector<Tensor>& in) {
                return cross_entropy(in[0], y, ce_options(r, w));
            },
            {random_leaf({2, 3, 5}, gen, -2.f, 2.f)});
        PG_EXPECT_GRADCHECK(
            [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], y, ce_options(r)); },
            {random_leaf({2, 3, 5}, gen, -2.f, 2.f)});
    }
    // Odd sizes, u8 targets: (1, 3, 1, 21) pixels over a VOC class axis; a single class (loss 0).
    Tensor y21 = u8({20, 0, 255}, {1, 3, 1});
    PG_EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], y21); },
                        {random_leaf({1, 3, 1, 21}, gen, -2.f, 2.f)});
    PG_EXPECT_GRADCHECK(
        [](const std::vector<Tensor>& in) {
            return cross_entropy(in[0], i32({0, 0, 0}, {3}), ce_options(Reduction::none));
        },
        {random_leaf({3, 1}, gen)});
}

TEST(Bce, ValuesByHandAndStability) {
    // x = 0: ln 2 for any target; x = +-100 and +-1000 stay finite (exp(-|x|) never overflows).
    Tensor x = f32({0, 0, 100, -100, 1000, -1000}, {6});
    Tensor t = f32({0.5f, 1, 1, 1, 0, 0}, {6});
    Tensor none = bce_with_logits(x, t, Tensor(), Reduction::none);
    EXPECT_TRUE(all_close(none, f32({std::log(2.f), std::log(2.f), 0, 100, 1000, 0}, {6}), 1e-5f));
    EXPECT_NEAR(bce_with_logits(x, t).item(), (2 * std::log(2.0) + 1100) / 6, 1e-3);
    // The mask zeroes elements and the mean divides by the valid count (here 2).
    Tensor valid = u8({1, 0, 0, 7, 0, 0}, {6}); // any non-zero byte is valid
    EXPECT_NEAR(bce_with_logits(x, t, valid).item(), (std::log(2.0) + 100) / 2, 1e-4);
    EXPECT_NEAR(bce_with_logits(x, t, valid, Reduction::sum).item(), std::log(2.0) + 100, 1e-4);
    // Gradients: sigmoid(x) - t for x, -x for t, 0 where not valid.
    Tensor xl = x.clone().set_requires_grad(true), tl = t.clone().set_requires_grad(true);
    backward(bce_with_logits(xl, tl, valid, Reduction::sum));
    EXPECT_TRUE(all_close(xl.grad(), f32({0, 0, 0, -1, 0, 0}, {6})));
    EXPECT_TRUE(all_close(tl.grad(), f32({0, 0, 0, 100, 0, 0}, {6})));
}

TEST(Bce, NothingValidGivesZero) {
    Tensor x = f32({1, -2}, {2});
    x.set_requires_grad(true);
    Tensor loss = bce_with_logits(x, f32({1, 0}, {2}), u8({0, 0}, {2}));
    EXPECT_EQ(loss.item(), 0.f);
    backward(loss);
    EXPECT_TRUE(all_close(x.grad(), Tensor::zeros({2}), 0.f, 0.f));
}

// Tolerances as for cross-entropy; the masked mean is done by hand in the dump script.
TEST(BceReference, MatchesPyTorch) {
    auto ref = test::load_reference("softmax_loss.safetensors");
    Tensor x = ref.at("bce_x"), t = ref.at("bce_t"), dloss = ref.at("bce_dloss");
    for (bool masked : {false, true}) {
        for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
            std::string key = std::string("bce_") + (masked ? "m_" : "") + reduction_name(r);
            SCOPED_TRACE(key);
            Tensor xl = x.clone().set_requires_grad(true), tl = t.clone().set_requires_grad(true);
            Tensor loss = bce_with_logits(xl, tl, masked ? ref.at("bce_valid") : Tensor(), r);
            EXPECT_TRUE(matches(loss, ref.at(key), 1e-5f, 1e-5f));
            backward(r == Reduction::none ? sum(mul(loss, dloss)) : loss);
            EXPECT_TRUE(all_close(xl.grad(), ref.at(key + "_dx"), 1e-6f, 1e-5f));
            EXPECT_TRUE(all_close(tl.grad(), ref.at(key + "_dt"), 1e-6f, 1e-5f));
        }
    }
}

TEST(BceGrad, WithMaskAndShapes) {
    Generator gen(32);
    Tensor valid = u8({1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1}, {3, 1, 5});
    for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        SCOPED_TRACE(reduction_name(r));
        PG_EXPECT_GRADCHECK(
            [&](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1], valid, r); },
            {random_leaf({3, 1, 5}, gen, -3.f, 3.f), random_leaf({3, 1, 5}, gen, 0.f, 1.f)});
    }
    PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1]); },
                        {random_leaf({7}, gen, -3.f, 3.f), random_leaf({7}, gen, 0.f, 1.f)});
}

// The calls below, as thunks for expect_error.
auto ce_call(Tensor x, Tensor y, Tensor w = Tensor()) {
    return [=] { cross_entropy(x, y, ce_options(Reduction::mean, w)); };
}
auto bce_call(Tensor x, Tensor t, Tensor valid = Tensor()) {
    return [=] { bce_with_logits(x, t, valid); };
}

TEST(Losses, BadInputs) {
    Tensor logits = Tensor::zeros({2, 2, 21});
    expect_error(ce_call(logits, u8({0, 21, 3, 255}, {2, 2})),
                 "cross_entropy: target label 21 (element 1) is out of range [0, 21) and is not "
                 "ignore_index 255");
    // The first bad label is named (-1 too), also when the rows span several parallel chunks.
    expect_error(ce_call(logits, i32({0, 5, -3, 30}, {2, 2})),
                 "target label -3 (element 2) is out of range [0, 21)");
    expect_error(ce_call(logits, i32({0, -1, 3, 4}, {2, 2})), "target label -1 (element 1)");
    std::vector<int32_t> many(3000, 1);
    many[100] = 22, many[1700] = 30, many[2900] = 40;
    expect_error(ce_call(Tensor::zeros({3000, 21}), i32(many, {3000})),
                 "target label 22 (element 100) is out of range");
    CrossEntropyOptions minus_one;
    minus_one.ignore_index = -1; // then -1 is ignored and 255 is the bad label
    EXPECT_NO_THROW(cross_entropy(logits, i32({0, -1, 3, 4}, {2, 2}), minus_one));
    expect_error(
        [&] {
            cross_entropy(logits, i32({0, -1, 255, 4}, {2, 2}), minus_one);
        },
        "target label 255 (element 2) is out of range [0, 21) and is not ignore_index -1");
    expect_error(ce_call(logits, Tensor::zeros({2, 2})),
                 "cross_entropy: target must be i32 or u8, got f32 (2, 2)");
    expect_error(ce_call(logits, Tensor::zeros({2, 3}, DType::i32)),
                 "cross_entropy: target shape (2, 3) does not match logits (2, 2, 21) without its "
                 "class axis (2, 2)");
    expect_error(ce_call(logits, Tensor::zeros({2, 2}, DType::u8), Tensor::ones({20})),
                 "cross_entropy: weight has shape (20,), expected (21,) for 21 classes");
    expect_error(ce_call(Tensor::zeros({2, 2}, DType::i32), Tensor::zeros({2}, DType::i32)),
                 "cross_entropy: logits must be f32, got i32");
    expect_error(bce_call(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})),
                 "bce_with_logits: target shape (3, 2) does not match logits (2, 3)");
    expect_error(bce_call(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}), Tensor::ones({2, 3})),
                 "bce_with_logits: valid must be u8, got f32 (2, 3)");
    expect_error(bce_call(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}, DType::u8)),
                 "bce_with_logits: target must be f32, got u8");
}

class LossDevice : public test::DeviceTest {};

TEST_P(LossDevice, ParityWithCpu) {
    Generator gen(33);
    // (2, 9, 7, 21) logits; labels 0..20 with every fifth pixel ignored.
    Tensor logits = random_leaf({2, 9, 7, 21}, gen, -5.f, 5.f);
    std::vector<int32_t> labels(2 * 9 * 7);
    for (size_t i = 0; i < labels.size(); i++) labels[i] = i % 5 == 0 ? 255 : int32_t(i * 7 % 21);
    Tensor y_i32 = i32(labels, {2, 9, 7});
    Tensor y_u8 = cast(y_i32, DType::u8);
    Tensor w = Tensor::uniform({21}, gen, 0.5f, 2.f);
    for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        for (const Tensor& y : {y_i32, y_u8}) {
            auto f = [r](const std::vector<Tensor>& in) {
                return cross_entropy(in[0], in[1], ce_options(r, in[2]));
            };
            EXPECT_TRUE(test::device_parity(f, {logits, y, w}, device(), 1e-5f, 1e-4f))
                << reduction_name(r);
        }
    }
    Tensor x = random_leaf({4, 33, 5}, gen, -8.f, 8.f), t = random_leaf({4, 33, 5}, gen, 0.f, 1.f);
    Tensor valid = cast(gt(Tensor::uniform({4, 33, 5}, gen), 0.3f), DType::u8);
    for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        auto f = [r](const std::vector<Tensor>& in) {
            return bce_with_logits(in[0], in[1], in[2], r);
        };
        EXPECT_TRUE(test::device_parity(f, {x, t, valid}, device())) << reduction_name(r);
    }
}

PG_INSTANTIATE_DEVICE_SUITE(LossDevice);

} // namespace
} // namespace pg
