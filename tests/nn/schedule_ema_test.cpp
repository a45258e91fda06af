// The poly learning-rate schedule (nn/schedule.h) against values computed in Python
// (tools/dump_optim.py) and by hand, and the U2PL EMA teacher (nn/ema.h): the decay rule, the
// update on every device, the copy of the first semi-supervised epoch, and argument errors.
#include <cmath>
#include <string>

#include "autograd/ops.h"
#include "nn/ema.h"
#include "nn/schedule.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::nn {
namespace {

using test::all_close;
using test::all_equal;

Tensor vec(std::vector<float> v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

template <typename F>
void expect_error(const std::string& expected, F f) {
    try {
        f();
        ADD_FAILURE() << "expected an error containing: " << expected;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
}

// ---- poly schedule ----

TEST(PolyLR, MatchesPython) {
    // 0.01 * (1 - it / 7) ** 0.9 for it = 0..7, computed in Python doubles, stored as f32.
    std::vector<float> ref =
        test::load_reference("optim.safetensors").at("poly.values").to_f32_vector();
    ASSERT_EQ(ref.size(), 8u);
    for (int it = 0; it < 8; it++) EXPECT_EQ(float(poly_lr(0.01, it, 7)), ref[it]) << it;
}

TEST(PolyLR, ValuesByHand) {
    EXPECT_DOUBLE_EQ(poly_lr(0.01, 0, 100), 0.01);               // first iteration: base lr
    EXPECT_DOUBLE_EQ(poly_lr(1.0, 50, 100, 1.0), 0.5);           // power 1: linear
    EXPECT_DOUBLE_EQ(poly_lr(2.0, 75, 100, 2.0), 0.125);         // 2 * 0.25^2
    EXPECT_DOUBLE_EQ(poly_lr(2.5e-4, 20000, 20000), 0.0);        // the horizon
    EXPECT_NEAR(poly_lr(2.5e-4, 10000, 20000), 1.3397e-4, 1e-8); // 2.5e-4 * 0.5^0.9
    PolyLR ripu{2.5e-4, 62500, 0.9};                             // horizon longer than the run
    EXPECT_DOUBLE_EQ(ripu.at(40000), poly_lr(2.5e-4, 40000, 62500, 0.9));
    EXPECT_GT(ripu.at(40000), 0.0);
}

TEST(PolyLR, BadArguments) {
    expect_error("poly_lr: iteration 11 outside [0, 10]", [] { poly_lr(0.01, 11, 10); });
    expect_error("poly_lr: iteration -1 outside [0, 10]", [] { poly_lr(0.01, -1, 10); });
    expect_error("poly_lr: max_iter must be > 0, got 0", [] { poly_lr(0.01, 0, 0); });
}

// ---- EMA teacher ----

TEST(Ema, DecayRule) {
    EXPECT_DOUBLE_EQ(ema_decay(0), 0.0); // the first semi iteration: teacher = student
    EXPECT_DOUBLE_EQ(ema_decay(1), 0.5);
    EXPECT_DOUBLE_EQ(ema_decay(3), 0.75);
    EXPECT_DOUBLE_EQ(ema_decay(9), 0.9);
    EXPECT_DOUBLE_EQ(ema_decay(98), 1.0 - 1.0 / 99.0); // still below the cap
    EXPECT_DOUBLE_EQ(ema_decay(99), 0.99);             // 1 - 1/100 reaches it
    EXPECT_DOUBLE_EQ(ema_decay(100000), 0.99);
    EXPECT_DOUBLE_EQ(ema_decay(100000, 0.999), 0.999);
    expect_error("ema_decay: iterations since the semi-supervised phase began must be >= 0, got -1",
                 [] { ema_decay(-1); });
}

class EmaDevice : public test::DeviceTest {};

TEST_P(EmaDevice, UpdateAndCopy) {
    auto leaf = [&](std::vector<float> v) {
        Tensor t = vec(std::move(v)).to(device());
        t.set_requires_grad(true); // both models' parameters require grad: the update is no_grad
        return t;
    };
    Tensor t0 = leaf({1, 2}), t1 = leaf({-4}), s0 = leaf({3, 4}), s1 = leaf({8});
    Tensor t0_storage = t0;
    ema_update({t0, t1}, {s0, s1}, 0.75); // 0.75 t + 0.25 s
    EXPECT_TRUE(all_close(t0, vec({1.5f, 2.5f}), 0.f, 0.f));
    EXPECT_TRUE(all_close(t1, vec({-1.f}), 0.f, 0.f));
    EXPECT_TRUE(t0.same_storage(t0_storage)); // in place: the teacher module sees the new values
    EXPECT_TRUE(all_equal(s0.to(Device::cpu()), vec({3, 4}))); // the student is untouched
    EXPECT_FALSE(t0.grad_fn());                                // nothing recorded

    ema_update({t0, t1}, {s0, s1}, ema_decay(0)); // decay 0: the teacher becomes the student
    EXPECT_TRUE(all_equal(t0.to(Device::cpu()), vec({3, 4})));
    EXPECT_TRUE(all_equal(t1.to(Device::cpu()), vec({8})));

    Tensor s2 = leaf({0.1f, 0.2f});
    copy_params({t0}, {s2});
    EXPECT_TRUE(all_equal(t0.to(Device::cpu()), vec({0.1f, 0.2f})));
    EXPECT_FALSE(t0.same_storage(s2)); // a copy, not an alias
}

PG_INSTANTIATE_DEVICE_SUITE(EmaDevice);

TEST(Ema, RoundingMatchesTorch) {
    // U2PL: t = d * t + (1 - d) * s with d a Python float; both scalars rounded to f32 once.
    const double d = 0.99;
    Tensor t = vec({0.3f, -1.7f}), s = vec({0.1f, 2.9f});
    std::vector<float> tv = t.to_f32_vector(), sv = s.to_f32_vector();
    ema_update({t}, {s}, d);
    for (int i = 0; i < 2; i++) {
        float expected = float(d) * tv[i] + float(1.0 - d) * sv[i];
        EXPECT_EQ(t.to_f32_vector()[i], expected) << i;
    }
}

TEST(Ema, BadArguments) {
    expect_error("ema_update: teacher has 2 tensors, student has 1", [] {
        ema_update({vec({1}), vec({2})}, {vec({1})}, 0.5);
    });
    expect_error("ema_update: tensor 0 has shape (2,) in the teacher, (3,) in the student", [] {
        ema_update({vec({1, 2})}, {vec({1, 2, 3})}, 0.5);
    });
    expect_error("ema_update: decay must be in [0, 1], got 1.5",
                 [] { ema_update({vec({1})}, {vec({1})}, 1.5); });
    expect_error("copy_params: teacher has 0 tensors, student has 1",
                 [] { copy_params({}, {vec({1})}); });
}

} // namespace
} // namespace pg::nn
