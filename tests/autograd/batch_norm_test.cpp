// Batch norm: values by hand, running statistics over two steps, frozen affine, PyTorch reference
// (tests/data/norm_pool.safetensors from tools/dump_norm_pool.py), gradient checks, thread-count
// independence, device parity and argument errors.
#include <omp.h>

#include <cmath>
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
using test::random_tensor;

Tensor vec(const std::vector<float>& v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

TEST(BatchNorm, TrainingByHand) {
    // (rows 4, C 2): channel 0 = 1 2 3 4 (mean 2.5, biased var 1.25), channel 1 = 0 0 2 2 (1, 1).
    Tensor x = Tensor::from_vector(std::vector<float>{1, 0, 2, 0, 3, 2, 4, 2}, {4, 2});
    Tensor rm = vec({0, 0}), rv = vec({1, 1});
    Tensor y = batch_norm(x, vec({2, 1}), vec({0, 1}), rm, rv, true);
    const float s0 = 2.f / std::sqrt(1.25f + 1e-5f), s1 = 1.f / std::sqrt(1.f + 1e-5f);
    EXPECT_TRUE(
        all_close(y, Tensor::from_vector(std::vector<float>{-1.5f * s0, 1 - s1, -0.5f * s0, 1 - s1,
                                                            0.5f * s0, 1 + s1, 1.5f * s0, 1 + s1},
                                         {4, 2})));
    // running = 0.9 running + 0.1 batch, with the unbiased variance (x 4/3).
    EXPECT_TRUE(all_close(rm, vec({0.25f, 0.1f})));
    EXPECT_TRUE(all_close(rv, vec({0.9f + 0.1f * 1.25f * 4 / 3, 0.9f + 0.1f * 4.f / 3})));
}

TEST(BatchNorm, EvalByHand) {
    Tensor x = Tensor::from_vector(std::vector<float>{1, 0, 2, 4}, {1, 2, 1, 2}); // NHWC, C = 2
    Tensor rm = vec({1, 2}), rv = vec({4, 0.25f});
    Tensor y = batch_norm(x, vec({3, 1}), vec({1, 0}), rm, rv, false, 0.1f, 0.f);
    // (x - rm) / sqrt(rv) * w + b: channel 0 (1, 2) -> 1, 2.5; channel 1 (0, 4) -> -4, 4.
    EXPECT_TRUE(
        all_close(y, Tensor::from_vector(std::vector<float>{1, -4, 2.5f, 4}, {1, 2, 1, 2})));
    EXPECT_TRUE(all_close(rm, vec({1, 2}))); // eval leaves the running stats alone
    EXPECT_TRUE(all_close(rv, vec({4, 0.25f})));
}

// Mean and biased variance per channel of x (rows, C), in double.
void channel_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
    const int64_t C = x.shape().back(), rows = x.numel() / C;
    std::vector<float> v = x.to_f32_vector();
    mean.assign(size_t(C), 0.0);
    var.assign(size_t(C), 0.0);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < C; c++) mean[size_t(c)] += v[size_t(r * C + c)] / double(rows);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < C; c++) {
            double d = v[size_t(r * C + c)] - mean[size_t(c)];
            var[size_t(c)] += d * d / double(rows);
        }
}

TEST(BatchNorm, RunningStatsOverTwoStepsFollowTheFormula) {
    Generator gen(3);
    const float m = 0.25f;
    Tensor rm = random_tensor({5}, gen), rv = random_tensor({5}, gen, 0.5f, 2.f);
    std::vector<float> erm = rm.to_f32_vector(), erv = rv.to_f32_vector();
    const uint64_t version0 = rm.version();
    for (int step = 0; step < 2; step++) {
        Tensor x = random_tensor({2, 3, 4, 5}, gen, -2.f, 3.f);
        batch_norm(x, Tensor(), Tensor(), rm, rv, true, m);
        std::vector<double> mean, var;
        channel_stats(x, mean, var);
        for (size_t c = 0; c < 5; c++) {
            erm[c] = float((1 - m) * erm[c] + m * mean[c]);
            erv[c] = float((1 - m) * erv[c] + m * var[c] * 24.0 / 23.0); // rows = 24
        }
    }
    EXPECT_TRUE(all_close(rm, Tensor::from_vector(erm, {5}), 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(rv, Tensor::from_vector(erv, {5}), 1e-6f, 1e-5f));
    EXPECT_GT(rm.version(), version0); // updated in place: the version counter moved
}

TEST(BatchNorm, LargeMeanKeepsTheVariance) {
    // Values 1000 + {-1, 1}: a naive f32 E[x^2] - E[x]^2 would lose the variance entirely.
    Tensor x = Tensor::from_vector(std::vector<float>{999, 1001, 999, 1001}, {4, 1});
    Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1f, 0.f);
    EXPECT_TRUE(all_close(y, Tensor::from_vector(std::vector<float>{-1, 1, -1, 1}, {4, 1})));
}

TEST(BatchNorm, FrozenAffineGivesNoWeightGrad) {
    Generator gen(4);
    Tensor x = random_leaf({2, 3, 3, 4}, gen);
    Tensor w = random_tensor({4}, gen, 0.5f, 1.5f), b = random_tensor({4}, gen); // frozen
    Tensor rm = Tensor::zeros({4}), rv = Tensor::ones({4});
    backward(sum(batch_norm(x, w, b, rm, rv, true) * random_tensor({2, 3, 3, 4}, gen)));
    EXPECT_TRUE(x.grad().defined());
    EXPECT_FALSE(w.grad().defined());
    EXPECT_FALSE(b.grad().defined());
    // Undefined weight / bias behave as 1 / 0, in training and eval.
    Tensor xd = x.detach();
    EXPECT_TRUE(
        all_close(batch_norm(xd, Tensor(), Tensor(), Tensor(), Tensor(), true),
                  batch_norm(xd, Tensor::ones({4}), Tensor::zeros({4}), Tensor(), Tensor(), true)));
    EXPECT_TRUE(all_close(batch_norm(xd, Tensor(), Tensor(), rm, rv, false),
                          batch_norm(xd, Tensor::ones({4}), Tensor::zeros({4}), rm, rv, false)));
}

TEST(BatchNorm, NoHistoryWithoutGrad) {
    Generator gen(5);
    Tensor x = random_tensor({3, 4}, gen);
    EXPECT_FALSE(
        batch_norm(x, Tensor::ones({4}), Tensor(), Tensor(), Tensor(), true).requires_grad());
}

// ---- PyTorch reference ----

void check_bn_reference(const std::map<std::string, Tensor>& ref, const std::string& name) {
    SCOPED_TRACE(name);
    auto at = [&](const std::string& key) { return ref.at("bn_" + name + "." + key); };
    std::vector<float> config = at("config").to_f32_vector(); // training, momentum, eps
    const bool training = config[0] != 0.f;
    Tensor x = at("x").clone(), w = at("weight").clone(), b = at("bias").clone();
    for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
    Tensor rm = at("running_mean").clone(), rv = at("running_var").clone();
    Tensor y = batch_norm(x, w, b, rm, rv, training, config[1], config[2]);
    backward(y, at("dy"));
    // Forward and running stats to f32 rounding; gradients sum over rows, so a little looser.
    EXPECT_TRUE(all_close(y, at("y"), 1e-5f, 1e-5f));
    EXPECT_TRUE(all_close(rm, at("running_mean_after"), 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(rv, at("running_var_after"), 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(x.grad(), at("dx"), 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(w.grad(), at("dweight"), 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(b.grad(), at("dbias"), 1e-5f, 1e-4f));
}

TEST(BatchNormReference, MatchesPyTorch) {
    std::map<std::string, Tensor> ref = test::load_reference("norm_pool.safetensors");
    for (const char* name : {"train", "eval", "train_nc", "eval_nc"}) check_bn_reference(ref, name);
}

// ---- gradients ----

TEST(BatchNormGrad, TrainingXWeightBias) {
    Generator gen(6);
    // Odd sizes, size-1 N / H / W, and the (N, C) form; rows >= 2 everywhere.
    for (const Shape& shape :
         std::vector<Shape>{{2, 3, 5, 3}, {1, 1, 5, 2}, {3, 1, 1, 1}, {5, 4}, {2, 1}}) {
        SCOPED_TRACE(shape_str(shape));
        const int64_t C = shape.back();
        Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});
        PG_EXPECT_GRADCHECK(
            [&](const std::vector<Tensor>& in) {
                return batch_norm(in[0], in[1], in[2], rm, rv, true);
            },
            {random_leaf(shape, gen, -2.f, 2.f), random_leaf({C}, gen, 0.5f, 1.5f),
             random_leaf({C}, gen)});
    }
}

TEST(BatchNormGrad, EvalXWeightBias) {
    Generator gen(7);
    for (const Shape& shape : std::vector<Shape>{{2, 3, 5, 3}, {1, 1, 1, 4}, {1, 3}}) {
        SCOPED_TRACE(shape_str(shape));
        const int64_t C = shape.back();
        Tensor rm = random_tensor({C}, gen), rv = random_tensor({C}, gen, 0.5f, 2.f);
        PG_EXPECT_GRADCHECK(
            [&](const std::vector<Tensor>& in) {
                return batch_norm(in[0], in[1], in[2], rm, rv, false);
            },
            {random_leaf(shape, gen, -2.f, 2.f), random_leaf({C}, gen, 0.5f, 1.5f),
             random_leaf({C}, gen)});
    }
}

TEST(BatchNormGrad, WithoutAffine) {
    Generator gen(8);
    PG_EXPECT_GRADCHECK(
        [](const std::vector<Tensor>& in) {
            return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
        },
        {random_leaf({2, 3, 3, 2}, gen)});
}

// ---- the fused BN + ReLU ----

TEST(BatchNormReluGrad, TrainingAndEvalAwayFromTheKink) {
    // Training: per channel the rows are {-2, -1, 1, 2} (shifted), so xhat = +-0.63 or +-1.26 and
    // the kink (xhat = -bias / weight, within 0.2 of 0 here) is far from every element.
    std::vector<float> xs;
    const float base[4] = {-2, -1, 1, 2};
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++) xs.push_back(base[(r + c) % 4] + float(c));
    Tensor x = Tensor::from_vector(xs, {2, 2, 1, 3}).set_requires_grad(true);
    Tensor w = vec({0.8f, 1.2f, 1.f}).set_requires_grad(true);
    Tensor b = vec({0.1f, -0.2f, 0.05f}).set_requires_grad(true);
    Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return batch_norm_relu(in[0], in[1], in[2], rm, rv, true);
        },
        {x, w, b});
    // Eval: random x, checked to land at least 0.05 from the kink.
    Generator gen(14);
    Tensor xe = random_leaf({2, 3, 2, 3}, gen, -2.f, 2.f);
    Tensor erm = vec({0.5f, -0.5f, 0.f}), erv = vec({1.f, 2.f, 0.5f});
    Tensor z = batch_norm(xe.detach(), w.detach(), b.detach(), erm, erv, false);
    for (float v : z.to_f32_vector()) ASSERT_GT(std::fabs(v), 0.05f) << "pick another seed";
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
            return batch_norm_relu(in[0], in[1], in[2], erm, erv, false);
        },
        {xe, w, b});
}

// ---- determinism ----

TEST(BatchNorm, SameBitsForAnyThreadCount) {
    // 40000 rows of 8 channels: several fixed row chunks, so the partial sums really are split.
    Generator gen(9);
    Tensor x = random_tensor({40000, 8}, gen, 1.f, 3.f), dy = random_tensor({40000, 8}, gen);
    Tensor w = random_tensor({8}, gen), b = random_tensor({8}, gen);
    auto run = [&](int threads) {
        int previous = omp_get_max_threads();
        omp_set_num_threads(threads);
        Tensor xl = x.clone(), wl = w.clone(), bl = b.clone();
        for (Tensor* t : {&xl, &wl, &bl}) t->set_requires_grad(true);
        Tensor rm = Tensor::zeros({8}), rv = Tensor::ones({8});
        Tensor y = batch_norm(xl, wl, bl, rm, rv, true);
        backward(y, dy);
        omp_set_num_threads(previous);
        return std::vector<Tensor>{y, rm, rv, xl.grad(), wl.grad(), bl.grad()};
    };
    std::vector<Tensor> one = run(1), three = run(3);
    for (size_t i = 0; i < one.size(); i++) EXPECT_TRUE(all_equal(three[i], one[i])) << i;
}

// ---- device parity ----

class BatchNormDevice : public test::DeviceTest {};

TEST_P(BatchNormDevice, ParityWithCpu) {
    Generator gen(10);
    Tensor x = random_leaf({2, 9, 7, 16}, gen, -1.f, 3.f);
    Tensor w = random_leaf({16}, gen, 0.5f, 1.5f), b = random_leaf({16}, gen);
    Tensor rm = random_tensor({16}, gen), rv = random_tensor({16}, gen, 0.5f, 2.f);
    for (bool training : {true, false}) {
        auto f = [&](const std::vector<Tensor>& in) {
            // Fresh running stats on the inputs' device (the in-place update must not leak).
            Tensor m = rm.to(in[0].device()).clone(), v = rv.to(in[0].device()).clone();
            return batch_norm(in[0], in[1], in[2], m, v, training);
        };
        EXPECT_TRUE(test::device_parity(f, {x, w, b}, device(), 1e-4f, 1e-4f))
            << (training ? "training" : "eval");
    }
    auto nc = [](const std::vector<Tensor>& in) {
        return batch_norm(in[0], Tensor(), in[1], Tensor(), Tensor(), true);
    };
    EXPECT_TRUE(test::device_parity(nc, {random_leaf({37, 5}, gen), random_leaf({5}, gen)},
                                    device(), 1e-4f, 1e-4f));
}

// batch_norm_relu is relu(batch_norm(...)) bit for bit, values, gradients and running statistics,
// on every device: training and eval, with and without the affine.
TEST_P(BatchNormDevice, FusedReluEqualsReluOfBatchNormBitForBit) {
    Generator gen(11);
    Tensor x0 = random_tensor({2, 5, 3, 8}, gen, -1.f, 2.f), dy0 = random_tensor({2, 5, 3, 8}, gen);
    Tensor w0 = random_tensor({8}, gen, 0.5f, 1.5f), b0 = random_tensor({8}, gen);
    Tensor rm0 = random_tensor({8}, gen), rv0 = random_tensor({8}, gen, 0.5f, 2.f);
    for (bool training : {true, false})
        for (bool affine : {true, false}) {
            SCOPED_TRACE(std::string(training ? "training" : "eval") + (affine ? " affine" : ""));
            auto run = [&](bool fused) {
                // Fresh leaves per run (on the CPU, to() returns the tensor itself).
                Tensor x = x0.to(device()).clone().set_requires_grad(true);
                Tensor w = affine ? w0.to(device()).clone().set_requires_grad(true) : Tensor();
                Tensor b = affine ? b0.to(device()).clone().set_requires_grad(true) : Tensor();
                Tensor rm = rm0.to(device()).clone(), rv = rv0.to(device()).clone();
                Tensor y = fused ? batch_norm_relu(x, w, b, rm, rv, training)
                                 : relu(batch_norm(x, w, b, rm, rv, training));
                backward(y, dy0.to(device()));
                std::vector<Tensor> out{y, x.grad(), rm, rv};
                if (affine) out.insert(out.end(), {w.grad(), b.grad()});
                for (Tensor& t : out) t = t.to(Device::cpu());
                return out;
            };
            std::vector<Tensor> fused = run(true), plain = run(false);
            for (size_t i = 0; i < fused.size(); i++)
                EXPECT_TRUE(all_equal(fused[i], plain[i])) << "output " << i;
        }
}

PG_INSTANTIATE_DEVICE_SUITE(BatchNormDevice);

// ---- errors ----

TEST(BatchNormErrors, NameTheOpAndTheValues) {
    Tensor x = Tensor::zeros({2, 4, 4, 4});
    Tensor c4 = Tensor::ones({4}), c3 = Tensor::ones({3});
    std::string e = error_of([&] { batch_norm(x, c3, c4, c4, c4, true); });
    EXPECT_NE(e.find("batch_norm: weight has shape (3,)"), std::string::npos) << e;
    EXPECT_NE(e.find("4 channels"), std::string::npos) << e;
    e = error_of([&] { batch_norm(x, c4, c3, c4, c4, true); });
    EXPECT_NE(e.find("batch_norm: bias has shape (3,)"), std::string::npos) << e;
    e = error_of([&] { batch_norm(x, c4, c4, c3, c4, true); });
    EXPECT_NE(e.find("batch_norm: running_mean has shape (3,)"), std::string::npos) << e;
    e = error_of([&] { batch_norm(x, c4, c4, c4, c3, false); });
    EXPECT_NE(e.find("batch_norm: running_var has shape (3,)"), std::string::npos) << e;
    e = error_of([&] { batch_norm(x, c4, c4, c4, Tensor(), true); });
    EXPECT_NE(e.find("given together"), std::string::npos) << e;
    e = error_of([&] { batch_norm(x, c4, c4, Tensor(), Tensor(), false); });
    EXPECT_NE(e.find("batch_norm: eval mode needs running_mean"), std::string::npos) << e;
    e = error_of([&] {
        batch_norm(Tensor::zeros({1, 1, 1, 8}), Tensor(), Tensor(), Tensor(), Tensor(), true);
    });
    EXPECT_NE(e.find("batch_norm: expected more than 1 value per channel when training, got "
                     "input of shape (1, 1, 1, 8)"),
              std::string::npos)
        << e;
    e = error_of([&] {
        batch_norm(Tensor::zeros({2, 3, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true);
    });
    EXPECT_NE(e.find("batch_norm: input must be (N, C) or (N, H, W, C), got shape (2, 3, 4)"),
              std::string::npos)
        << e;
    e = error_of([&] {
        batch_norm(Tensor::zeros({2, 4}, DType::i32), Tensor(), Tensor(), Tensor(), Tensor(), true);
    });
    EXPECT_NE(e.find("batch_norm: input must be f32, got i32"), std::string::npos) << e;
    Tensor rm_grad = Tensor::zeros({4});
    rm_grad.set_requires_grad(true);
    e = error_of([&] { batch_norm(x, c4, c4, rm_grad, c4, true); });
    EXPECT_NE(e.find("batch_norm: running statistics"), std::string::npos) << e;
    // Eval with one row per channel is fine (no batch statistics are computed).
    EXPECT_NO_THROW(batch_norm(Tensor::zeros({1, 4}), c4, c4, c4, c4, false));
}

} // namespace
} // namespace pg
