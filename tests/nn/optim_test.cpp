// Optimizers (nn/optim.h): single steps by hand, five-step trajectories of SGD (plain, momentum,
// weight decay, nesterov), Adam and AdamW against torch.optim (tools/dump_optim.py) with two
// parameter groups, a poly lr and a parameter without gradient, on every device; zero_grad; the
// state dict (bit-exact resume through a safetensors file, bad states rejected); and gradient
// accumulation over half-batches equal to one full-batch step.
#include <cstdio>
#include <memory>
#include <string>

#include "autograd/ops.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "tensor/backend.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "tests/common/test_util.h"

namespace pg::nn {
namespace {

using test::all_close;
using test::all_equal;

Tensor vec(std::vector<float> v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

Tensor param(std::vector<float> v) {
    Tensor p = vec(std::move(v));
    p.set_requires_grad(true);
    return p;
}

// Options in one line (C++17 has no designated initialisers).
SGDOptions sgd_options(double lr, double momentum = 0, double weight_decay = 0,
                       bool nesterov = false) {
    SGDOptions o;
    o.lr = lr, o.momentum = momentum, o.weight_decay = weight_decay, o.nesterov = nesterov;
    return o;
}

AdamOptions adam_options(double lr, double beta1 = 0.9, double beta2 = 0.999,
                         double weight_decay = 0) {
    AdamOptions o;
    o.lr = lr, o.beta1 = beta1, o.beta2 = beta2, o.weight_decay = weight_decay;
    return o;
}

template <typename F>
void expect_error(const std::string& expected, F f) {
    try {
        f();
        ADD_FAILURE() << "expected an error containing: " << expected;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
}

// ---- single steps by hand: p = (1, -2), grad g = (0.5, 0.25), the same g at every step ----

TEST(SGD, MomentumAndWeightDecayByHand) {
    Tensor p = param({1, -2});
    SGD opt({{{p}}}, sgd_options(0.1, 0.9, 0.1));
    // step 1: d = g + 0.1 p = (0.6, 0.05); buf = d; p -= 0.1 buf
    p.set_grad(vec({0.5f, 0.25f}));
    opt.step();
    EXPECT_TRUE(all_close(p, vec({0.94f, -2.005f}), 1e-6f));
    // step 2: d = (0.594, 0.0495); buf = 0.9 (0.6, 0.05) + d = (1.134, 0.0945); p -= 0.1 buf
    p.set_grad(vec({0.5f, 0.25f}));
    opt.step();
    EXPECT_TRUE(all_close(p, vec({0.8266f, -2.01445f}), 1e-6f));
    EXPECT_EQ(opt.steps(), 2);
}

TEST(SGD, NesterovAndPlainByHand) {
    Tensor p = param({1, -2}), q = param({1, -2});
    SGD nesterov({{{p}}}, sgd_options(0.1, 0.9, 0.1, true));
    SGD plain({{{q}}}, sgd_options(0.1));
    p.set_grad(vec({0.5f, 0.25f}));
    q.set_grad(vec({0.5f, 0.25f}));
    nesterov.step(); // d = (0.6, 0.05), buf = d, p -= 0.1 (d + 0.9 buf)
    plain.step();    // p -= 0.1 g
    EXPECT_TRUE(all_close(p, vec({0.886f, -2.0095f}), 1e-6f));
    EXPECT_TRUE(all_close(q, vec({0.95f, -2.025f}), 1e-6f));
    // The gradient itself is never modified by the step.
    EXPECT_TRUE(all_equal(p.grad(), vec({0.5f, 0.25f})));
}

TEST(Adam, FirstStepIsLrTimesSign) {
    // Step 1: m / (1 - beta1) = g and sqrt(v / (1 - beta2)) = |g|, so p -= lr * g / (|g| + eps).
    Tensor p = param({1, -2}), q = param({1, -2});
    Adam adam({{{p}}}, adam_options(0.01));
    AdamW adamw({{{q}}}, adam_options(0.01, 0.9, 0.999, 0.1));
    p.set_grad(vec({0.5f, -0.25f}));
    q.set_grad(vec({0.5f, -0.25f}));
    adam.step();
    adamw.step(); // first q *= 1 - 0.01 * 0.1
    EXPECT_TRUE(all_close(p, vec({0.99f, -1.99f}), 1e-6f));
    EXPECT_TRUE(all_close(q, vec({0.999f - 0.01f, -1.998f + 0.01f}), 1e-6f));
}

// ---- groups, lr, skipped parameters, zero_grad ----

TEST(Optimizer, GroupsLrMultipliersAndWeightDecay) {
    Tensor a = param({1}), b = param({1});
    SGD opt({{{a}}, {{b}, 10.0, 0.0}}, sgd_options(0.01, 0.9, 5e-4));
    EXPECT_EQ(opt.num_groups(), 2u);
    EXPECT_DOUBLE_EQ(opt.lr(0), 0.01);
    EXPECT_DOUBLE_EQ(opt.lr(1), 0.1);
    EXPECT_DOUBLE_EQ(opt.weight_decay(0), 5e-4); // default
    EXPECT_DOUBLE_EQ(opt.weight_decay(1), 0.0);  // the group's own
    opt.set_lr(poly_lr(0.01, 5, 10));
    EXPECT_DOUBLE_EQ(opt.lr(0), 0.01 * std::pow(0.5, 0.9));
    EXPECT_DOUBLE_EQ(opt.lr(1), 0.01 * std::pow(0.5, 0.9) * 10.0);
    expect_error("SGD: group 2 out of range (2 groups)", [&] { opt.lr(2); });
}

TEST(Optimizer, ParametersWithoutGradientAreSkipped) {
    Tensor a = param({1, 2}), b = param({3});
    Adam opt({{{a, b}}}, adam_options(0.1));
    a.set_grad(vec({1, 1}));
    opt.step();
    EXPECT_TRUE(all_equal(b, vec({3})));
    auto state = opt.state_dict();
    EXPECT_EQ(state.count("group.0.param.0.exp_avg"), 1u);
    EXPECT_EQ(state.count("group.0.param.1.exp_avg"), 0u); // no gradient: no state, as in PyTorch
    EXPECT_EQ(state.count("group.0.param.1.step"), 0u);
}

TEST(Optimizer, ZeroGradSetsToNoneOrZeroesInPlace) {
    Tensor a = param({1, 2}), b = param({3});
    SGD opt({{{a, b}}}, sgd_options(0.1));
    a.set_grad(vec({1, 1}));
    opt.zero_grad(); // PyTorch's default: set_to_none
    EXPECT_FALSE(a.grad().defined());
    EXPECT_FALSE(b.grad().defined());
    Tensor g = vec({4, 5});
    a.set_grad(g);
    opt.zero_grad(/*set_to_none*/ false);
    EXPECT_TRUE(a.grad().same_storage(g));
    EXPECT_TRUE(all_equal(a.grad(), vec({0, 0})));
    EXPECT_FALSE(b.grad().defined());
}

// ---- trajectories against torch.optim ----

// The problem of tools/dump_optim.py: loss = sum_i sum(p_i c_i) + 0.5 sum(p_i p_i d_i) for p0, p1;
// p2 is in the optimizer but not in the loss. Groups: [p0, p2] at lr, [p1] at 10 lr.
struct Problem {
    Tensor p0, p1, p2, c0, c1, d0, d1;

    Problem(const std::map<std::string, Tensor>& ref, Device device) {
        auto leaf = [&](const char* key) {
            Tensor t = ref.at(key).to(device).clone(); // clone: never alias the reference
            t.set_requires_grad(true);
            return t;
        };
        p0 = leaf("init.p0"), p1 = leaf("init.p1"), p2 = leaf("init.p2");
        c0 = ref.at("c.p0").to(device), c1 = ref.at("c.p1").to(device);
        d0 = ref.at("d.p0").to(device), d1 = ref.at("d.p1").to(device);
    }
    std::vector<ParamGroup> groups(double wd1) const { return {{{p0, p2}}, {{p1}, 10.0, wd1}}; }
    Tensor loss() const {
        auto term = [](const Tensor& p, const Tensor& c, const Tensor& d) {
            return add(sum(mul(p, c)), mul(sum(mul(mul(p, p), d)), 0.5f));
        };
        return add(term(p0, c0, d0), term(p1, c1, d1));
    }
};

struct Case {
    const char* name;
    const char* kind; // "sgd", "adam", "adamw"
    SGDOptions sgd;
    AdamOptions adam;
    double wd1; // weight decay of group 1, -1: the optimizer's default
};

// The cases of tools/dump_optim.py, with the same hyper-parameters.
const Case kCases[] = {
    {"sgd_plain", "sgd", sgd_options(0.05), {}, -1},
    {"sgd_momentum", "sgd", sgd_options(0.05, 0.9), {}, -1},
    {"sgd_wd", "sgd", sgd_options(0.05, 0.9, 0.05), {}, 0.0},
    {"sgd_nesterov", "sgd", sgd_options(0.05, 0.9, 0.05, true), {}, -1},
    {"adam", "adam", {}, adam_options(0.01, 0.9, 0.99, 0.01), -1},
    {"adamw", "adamw", {}, adam_options(0.01, 0.9, 0.999, 0.1), 0.0},
};

std::unique_ptr<Optimizer> make_optimizer(const Case& c, std::vector<ParamGroup> groups) {
    std::string kind = c.kind;
    if (kind == "sgd") return std::make_unique<SGD>(std::move(groups), c.sgd);
    if (kind == "adam") return std::make_unique<Adam>(std::move(groups), c.adam);
    return std::make_unique<AdamW>(std::move(groups), c.adam);
}

double base_lr(const Case& c) { return std::string(c.kind) == "sgd" ? c.sgd.lr : c.adam.lr; }

// Iteration `it` of the reference loop: poly lr (max_iter 10), zero_grad, backward, step.
void train_step(Optimizer& opt, const Problem& pb, double lr, int it) {
    opt.set_lr(poly_lr(lr, it, 10, 0.9));
    opt.zero_grad();
    backward(pb.loss());
    opt.step();
}

class OptimDevice : public test::DeviceTest {};

TEST_P(OptimDevice, TrajectoriesMatchTorch) {
    auto ref = test::load_reference("optim.safetensors");
    for (const Case& c : kCases) {
        SCOPED_TRACE(c.name);
        Problem pb(ref, device());
        auto opt = make_optimizer(c, pb.groups(c.wd1));
        for (int it = 0; it < 5; it++) {
            train_step(*opt, pb, base_lr(c), it);
            std::string prefix = std::string(c.name) + ".step" + std::to_string(it + 1) + ".";
            EXPECT_EQ(pb.p0.device(), device()); // the state and the update stay on the device
            EXPECT_TRUE(all_close(pb.p0, ref.at(prefix + "p0"), 1e-6f, 1e-5f)) << prefix;
            EXPECT_TRUE(all_close(pb.p1, ref.at(prefix + "p1"), 1e-6f, 1e-5f)) << prefix;
            EXPECT_TRUE(all_equal(pb.p2.to(Device::cpu()), ref.at("init.p2"))) << prefix;
        }
        EXPECT_FALSE(pb.p2.grad().defined());
        // The final state of p0 equals torch's (momentum_buffer / exp_avg / exp_avg_sq).
        auto state = opt->state_dict();
        int found = 0;
        for (const char* name : {"momentum_buffer", "exp_avg", "exp_avg_sq"}) {
            auto it = ref.find(std::string(c.name) + ".final.p0." + name);
            if (it == ref.end()) continue;
            found++;
            EXPECT_TRUE(all_close(state.at(std::string("group.0.param.0.") + name), it->second,
                                  1e-6f, 1e-5f))
                << name;
        }
        const bool sgd = std::string(c.kind) == "sgd";
        EXPECT_EQ(found, sgd ? (c.sgd.momentum != 0 ? 1 : 0) : 2); // torch kept as many buffers
        EXPECT_EQ(state.at("group.0.param.0.step").to_i32_vector()[0], 5);
        EXPECT_EQ(state.count("group.0.param.1.step"), 0u); // p2: never had a gradient
    }
}

// Two steps, save the state through a safetensors file, load it into a fresh optimizer on copies
// of the parameters, three more steps: bit-identical to five uninterrupted steps.
TEST_P(OptimDevice, StateDictResumesBitExactly) {
    auto ref = test::load_reference("optim.safetensors");
    const std::string path = ::testing::TempDir() + "pg_optim_state.safetensors";
    for (const Case& c : kCases) {
        SCOPED_TRACE(c.name);
        Problem straight(ref, device()), first(ref, device());
        auto opt_straight = make_optimizer(c, straight.groups(c.wd1));
        for (int it = 0; it < 5; it++) train_step(*opt_straight, straight, base_lr(c), it);

        auto opt_first = make_optimizer(c, first.groups(c.wd1));
        for (int it = 0; it < 2; it++) train_step(*opt_first, first, base_lr(c), it);
        save_safetensors(path, opt_first->state_dict());

        Problem resumed(ref, device());
        for (auto [dst, src] : {std::pair{resumed.p0, first.p0}, {resumed.p1, first.p1}}) {
            NoGradGuard no_grad;
            copy_(dst, src);
        }
        auto opt_resumed = make_optimizer(c, resumed.groups(c.wd1));
        opt_resumed->load_state_dict(load_safetensors(path));
        EXPECT_EQ(opt_resumed->steps(), 2);
        for (int it = 2; it < 5; it++) train_step(*opt_resumed, resumed, base_lr(c), it);
        EXPECT_TRUE(all_equal(resumed.p0.to(Device::cpu()), straight.p0.to(Device::cpu())));
        EXPECT_TRUE(all_equal(resumed.p1.to(Device::cpu()), straight.p1.to(Device::cpu())));
    }
    std::remove(path.c_str());
}

// The fused kernel (Backend::sgd_update) against the unfused ops the step used to be, with
// PyTorch's formulas: bit for bit, on every device, for each option and for both the first update
// (the buffer starts as d_p) and a later one.
struct SgdCase {
    float lr, weight_decay, momentum, dampening;
    bool nesterov, first;
};

void unfused_sgd(const Tensor& param, Tensor& buf, const Tensor& grad, const SgdCase& c) {
    Tensor d_p = grad.clone();
    if (c.weight_decay != 0) add_(d_p, param, c.weight_decay);
    if (c.momentum != 0) {
        if (c.first) {
            buf = d_p.clone();
        } else {
            mul_(buf, c.momentum);
            add_(buf, d_p, float(1.0 - double(c.dampening)));
        }
        if (c.nesterov) {
            add_(d_p, buf, c.momentum);
        } else {
            d_p = buf;
        }
    }
    add_(param, d_p, -c.lr);
}

TEST_P(OptimDevice, FusedSgdEqualsUnfusedOpsBitForBit) {
    const SgdCase cases[] = {
        {0.01f, 0, 0, 0, false, false},       {0.01f, 1e-4f, 0, 0, false, false},
        {0.02f, 5e-4f, 0.9f, 0, false, true}, {0.02f, 5e-4f, 0.9f, 0, false, false},
        {0.1f, 0, 0.9f, 0.1f, false, false},  {0.1f, 1e-3f, 0.8f, 0, true, false},
        {0.1f, 1e-3f, 0.8f, 0, true, true}};
    Generator gen(5);
    for (const SgdCase& c : cases) {
        SCOPED_TRACE("lr " + std::to_string(c.lr) + " wd " + std::to_string(c.weight_decay) +
                     " momentum " + std::to_string(c.momentum) + (c.first ? " first" : ""));
        Tensor p = Tensor::normal({1000}, gen), g = Tensor::normal({1000}, gen);
        Tensor b = Tensor::normal({1000}, gen);
        Tensor p_ref = p.clone(), b_ref = b.clone();
        unfused_sgd(p_ref, b_ref, g, c);

        Tensor p_dev = p.to(device()), g_dev = g.to(device());
        Tensor b_dev = c.momentum != 0 ? b.to(device()) : Tensor();
        SgdStep step{c.lr,       c.weight_decay, c.momentum, float(1.0 - double(c.dampening)),
                     c.nesterov, c.first};
        sgd_update_(p_dev, b_dev, g_dev, step);
        EXPECT_TRUE(all_equal(p_dev.to(Device::cpu()), p_ref));
        if (c.momentum != 0) { EXPECT_TRUE(all_equal(b_dev.to(Device::cpu()), b_ref)); }
    }
}

TEST(SGD, FusedStepRejectsMismatchedOperands) {
    Tensor p = Tensor::zeros({4}), g = Tensor::zeros({5}), b = Tensor::zeros({4});
    SgdStep step{0.1f, 0, 0.9f, 1, false, false};
    expect_error("(5,) does not match the parameter's (4,)", [&] { sgd_update_(p, b, g, step); });
    expect_error("undefined gradient", [&] { sgd_update_(p, b, Tensor(), step); });
}

PG_INSTANTIATE_DEVICE_SUITE(OptimDevice);

// ---- bad states ----

TEST(OptimizerState, MismatchesAreClearErrorsAndChangeNothing) {
    Tensor a = param({1, 2, 3}), b = param({4});
    SGD sgd({{{a, b}}}, sgd_options(0.1, 0.9));
    a.set_grad(vec({1, 1, 1}));
    b.set_grad(vec({1}));
    sgd.step();
    const auto good = sgd.state_dict();

    Tensor a2 = param({0, 0, 0}), b2 = param({0});
    Adam adam({{{a2, b2}}}, {});
    expect_error("Adam.load_state_dict: unexpected key 'group.0.param.0.momentum_buffer'",
                 [&] { adam.load_state_dict(good); });
    SGD no_momentum({{{a2, b2}}}, sgd_options(0.1));
    expect_error("SGD.load_state_dict: unexpected key 'group.0.param.0.momentum_buffer'",
                 [&] { no_momentum.load_state_dict(good); });
    SGD fewer({{{a2}}}, sgd_options(0.1, 0.9));
    expect_error("SGD.load_state_dict: group 0 has 1 parameters, the state has 2",
                 [&] { fewer.load_state_dict(good); });
    SGD two_groups({{{a2, b2}}, {{param({5})}}}, sgd_options(0.1, 0.9));
    expect_error("SGD.load_state_dict: missing or malformed key 'group.1.num_params'",
                 [&] { two_groups.load_state_dict(good); });
    SGD wrong_shape({{{param({0, 0}), b2}}}, sgd_options(0.1, 0.9));
    expect_error("'group.0.param.0.momentum_buffer' has shape (3,) f32, the parameter has (2,) f32",
                 [&] { wrong_shape.load_state_dict(good); });

    // One group fewer, a missing buffer, a missing step: the target keeps its own state.
    SGD target({{{a2, b2}}}, sgd_options(0.1, 0.9));
    a2.set_grad(vec({2, 2, 2}));
    target.step();
    const auto before = target.state_dict();
    auto extra_group = good;
    extra_group["group.1.num_params"] = Tensor::from_vector(std::vector<int32_t>{1}, Shape{});
    expect_error(
        "SGD.load_state_dict: unexpected key 'group.1.num_params' (this optimizer has 1 groups)",
        [&] { target.load_state_dict(extra_group); });
    auto no_buffer = good;
    no_buffer.erase("group.0.param.1.momentum_buffer");
    expect_error("SGD.load_state_dict: missing key 'group.0.param.1.momentum_buffer'",
                 [&] { target.load_state_dict(no_buffer); });
    auto wrong_dtype = good;
    wrong_dtype["group.0.param.1.momentum_buffer"] =
        Tensor::from_vector(std::vector<int32_t>{1}, {1});
    expect_error("'group.0.param.1.momentum_buffer' has shape (1,) i32, the parameter has (1,) f32",
                 [&] { target.load_state_dict(wrong_dtype); });
    auto no_step = good;
    no_step.erase("step");
    expect_error("SGD.load_state_dict: missing or malformed key 'step'",
                 [&] { target.load_state_dict(no_step); });
    const auto after = target.state_dict();
    ASSERT_EQ(after.size(), before.size());
    for (const auto& [key, t] : before) EXPECT_TRUE(all_equal(after.at(key), t)) << key;
    EXPECT_EQ(target.steps(), 1);
}

TEST(OptimizerState, BadArguments) {
    expect_error("SGD: nesterov needs momentum > 0 and dampening 0",
                 [] { SGD({{{param({1})}}}, sgd_options(0.1, 0, 0, true)); });
    expect_error("SGD: no parameter groups", [] { SGD({}, {}); });
    expect_error("Adam: betas must be in [0, 1), got (0.9, 1)",
                 [] { Adam({{{param({1})}}}, adam_options(1e-3, 0.9, 1.0)); });
    expect_error("SGD: group 0 parameter 0 must be a defined f32 tensor",
                 [] { SGD({{{Tensor()}}}, {}); });
}

// ---- gradient accumulation ----

// Two backward passes on half-batches, each loss scaled by 0.5, with no zero_grad in between,
// then one SGD step == one backward on the full batch then one step (mean CE over 8 rows = the
// average of the two 4-row means). Two iterations, so momentum state is exercised too.
TEST(GradientAccumulation, TwoHalfBatchesEqualOneFullBatch) {
    Generator gen(7);
    Tensor x = test::random_tensor({8, 5}, gen);
    Tensor y = Tensor::from_vector(std::vector<int32_t>{0, 2, 1, 1, 2, 0, 0, 1}, {8});
    Tensor w0 = test::random_tensor({3, 5}, gen), b0 = test::random_tensor({3}, gen);
    auto leaf = [](const Tensor& t) {
        Tensor c = t.clone();
        c.set_requires_grad(true);
        return c;
    };
    Tensor w_full = leaf(w0), b_full = leaf(b0), w_acc = leaf(w0), b_acc = leaf(b0);
    SGDOptions options = sgd_options(0.5, 0.9, 1e-3);
    SGD full({{{w_full, b_full}}}, options), acc({{{w_acc, b_acc}}}, options);
    for (int it = 0; it < 2; it++) {
        full.zero_grad();
        backward(cross_entropy(linear(x, w_full, b_full), y));
        full.step();

        acc.zero_grad();
        for (int half = 0; half < 2; half++) {
            Tensor xh = narrow(x, 0, 4 * half, 4), yh = narrow(y, 0, 4 * half, 4);
            backward(mul(cross_entropy(linear(xh, w_acc, b_acc), yh), 0.5f));
        }
        acc.step();
    }
    EXPECT_TRUE(all_close(w_acc, w_full, 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(b_acc, b_full, 1e-6f, 1e-5f));
    // The step moved the weights (the comparison is not between two untouched copies).
    EXPECT_FALSE(all_close(w_full, w0, 1e-3f, 0.f));
}

} // namespace
} // namespace pg::nn
