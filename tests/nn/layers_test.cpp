// nn/module + nn/layers: PyTorch names, layouts and numbers for a small network touching every
// layer kind (tools/dump_nn_layers.py), strict / non-strict loading reports, weight files,
// modes (train / eval / BN modes / dropout), device moves, initialisation and FLOP counting.
#include <cmath>
#include <cstdio>
#include <fstream>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/flops.h"
#include "nn/layers.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"
#include "tests/nn/net_reference.h"

namespace pg::nn {
namespace {

using test::with_prefix;

using test::all_close;
using test::load_reference;

// The C++ twin of tools/dump_nn_layers.py's Small.
class Small : public Module {
  public:
    explicit Small(Generator& gen) : Module("Small") {
        features = register_module("features", std::make_shared<Sequential>());
        features->add(std::make_shared<Conv2d>(Conv2dOptions{3, 4, 3, 1, 1, 1, 1, false}, gen));
        features->add(std::make_shared<BatchNorm2d>(4));
        features->add(std::make_shared<ReLU>());
        features->add(std::make_shared<MaxPool2d>(3, 2, 1, true));
        features->add(std::make_shared<Conv2d>(Conv2dOptions{4, 6, 3, 2, 2, 2, 2, true}, gen));
        features->add(std::make_shared<LeakyReLU>(0.2f));
        features->add(std::make_shared<AvgPool2d>(2, 2, 0, true));
        features->add(std::make_shared<Dropout2d>(0.f));
        features->add(std::make_shared<ELU>());
        fc = register_module("fc", std::make_shared<Linear>(6, 5, gen));
    }
    // x (N, H, W, 3) -> logits (N, 5); features (N, h, w, 6) in *f.
    Tensor forward(const Tensor& x, Tensor* f) {
        *f = features->forward(x);
        Tensor pooled = global_avg_pool(*f);
        return fc->forward(reshape(pooled, {pooled.size(0), pooled.size(3)}));
    }
    std::shared_ptr<Sequential> features;
    std::shared_ptr<Linear> fc;
};

TEST(Module, NamesAndOrderAreTorchStateDictKeys) {
    Generator gen(1);
    Small net(gen);
    std::vector<std::string> names;
    for (const NamedTensor& p : net.named_parameters()) names.push_back(p.name);
    EXPECT_EQ(names, (std::vector<std::string>{"features.0.weight", "features.1.weight",
                                               "features.1.bias", "features.4.weight",
                                               "features.4.bias", "fc.weight", "fc.bias"}));
    std::vector<std::string> buffers;
    for (const NamedTensor& b : net.named_buffers()) buffers.push_back(b.name);
    EXPECT_EQ(buffers,
              (std::vector<std::string>{"features.1.running_mean", "features.1.running_var",
                                        "features.1.num_batches_tracked"}));
    // state_dict keys are exactly PyTorch's (the dump holds them with a "w." prefix).
    auto ref = with_prefix(load_reference("nn_layers.safetensors"), "w.");
    auto state = net.state_dict();
    ASSERT_EQ(state.size(), ref.size());
    for (const auto& [k, v] : ref) {
        ASSERT_TRUE(state.count(k)) << k;
        EXPECT_EQ(state[k].shape(), v.shape()) << k;
    }
    EXPECT_EQ(net.parameter_count(), 3 * 4 * 9 + 4 + 4 + 6 * 2 * 9 + 6 + 6 * 5 + 5);
}

TEST(Module, MatchesPyTorchInEvalAndTrainMode) {
    auto ref = load_reference("nn_layers.safetensors");
    Generator gen(2);
    Small net(gen);
    LoadReport report = net.load_state_dict(with_prefix(ref, "w."), /*strict=*/true);
    EXPECT_TRUE(report.clean());
    // Eval: running statistics.
    net.eval();
    Tensor f;
    Tensor logits = net.forward(ref["x"], &f);
    EXPECT_TRUE(all_close(logits, ref["eval.logits"], 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(f, ref["eval.features"], 1e-5f, 1e-4f));
    // Train: batch statistics, CE, every gradient in PyTorch's layout, running-stat update.
    net.train();
    Generator dropout_gen(0);
    net.set_generator(&dropout_gen);
    logits = net.forward(ref["x"], &f);
    Tensor loss = cross_entropy(logits, ref["labels"]);
    EXPECT_TRUE(all_close(logits, ref["train.logits"], 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(loss, ref["train.loss"], 1e-6f, 1e-5f));
    backward(loss);
    for (const NamedTensor& p : net.named_parameters()) {
        ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
        EXPECT_TRUE(all_close(to_torch_layout(p.tensor.grad(), p.layout), ref["grad." + p.name],
                              1e-5f, 1e-4f))
            << p.name;
    }
    EXPECT_TRUE(all_close(net.features->operator[](1)->named_buffers()[0].tensor,
                          ref["train.running_mean"], 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(net.features->operator[](1)->named_buffers()[1].tensor,
                          ref["train.running_var"], 1e-6f, 1e-5f));
    // The counter loaded as 7 from PyTorch and counted this batch.
    EXPECT_EQ(net.state_dict()["features.1.num_batches_tracked"].item(), 8.f);
}

TEST(Module, StrictLoadReportsEveryProblemAndChangesNothing) {
    Generator gen(3);
    Small net(gen);
    auto state = net.state_dict();
    Tensor before = net.fc->weight.clone();
    auto bad = state;
    bad.erase("fc.bias");
    bad["decoder.extra.weight"] = Tensor::zeros({2});
    bad["fc.weight"] = Tensor::zeros({6, 5}); // transposed
    bad["features.0.weight"] = Tensor::zeros({4, 3, 3, 3});
    try {
        net.load_state_dict(bad, true);
        FAIL() << "a strict load of mismatching weights must throw";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("missing in file:     fc.bias"), std::string::npos) << m;
        EXPECT_NE(m.find("unexpected in file:  decoder.extra.weight"), std::string::npos) << m;
        EXPECT_NE(m.find("fc.weight: file (6, 5) vs module (5, 6)"), std::string::npos) << m;
    }
    EXPECT_TRUE(all_close(net.fc->weight, before, 0.f, 0.f));
    // Non-strict: the same report, and the keys that match are loaded.
    LoadReport r = net.load_state_dict(bad, false);
    EXPECT_EQ(r.missing, std::vector<std::string>{"fc.bias"});
    EXPECT_EQ(r.unexpected, std::vector<std::string>{"decoder.extra.weight"});
    EXPECT_EQ(r.mismatched.size(), 1u);
    EXPECT_TRUE(all_close(net.features->named_parameters()[0].tensor, Tensor::zeros({4, 3, 3, 3})));
}

// A whole network missing lists its first names and a count, and names found under a prefix
// (weights saved inside a wrapper) say so.
TEST(Module, LoadReportCutsLongListsAndNamesAPrefix) {
    LoadReport r;
    for (int i = 0; i < 30; i++) {
        r.missing.push_back("layer" + std::to_string(i) + ".weight");
        r.unexpected.push_back("module.layer" + std::to_string(i) + ".weight");
    }
    const std::string m = r.to_string();
    EXPECT_NE(m.find("missing in file:     layer7.weight\n"), std::string::npos) << m;
    EXPECT_EQ(m.find("layer8.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("missing in file:     ... and 22 more\n"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected in file:  ... and 22 more\n"), std::string::npos) << m;
    EXPECT_NE(m.find("the file holds every missing name with 'module.' in front"),
              std::string::npos)
        << m;
    // Up to 12 names are listed whole; a name not under the prefix means no hint.
    r.missing.resize(12);
    r.unexpected.resize(11);
    const std::string short_list = r.to_string();
    EXPECT_NE(short_list.find("missing in file:     layer11.weight"), std::string::npos);
    EXPECT_EQ(short_list.find("more"), std::string::npos);
    EXPECT_EQ(short_list.find("in front"), std::string::npos);
}

TEST(Module, ConvWeightsArePermutedToTorchLayoutAndBack) {
    Generator gen(4);
    Conv2d conv(Conv2dOptions{3, 2, 3, 1, 1, 1, 1, false}, gen);
    Tensor torch_w = conv.state_dict()["weight"]; // (K, C, R, S)
    ASSERT_EQ(torch_w.shape(), (Shape{2, 3, 3, 3}));
    std::vector<float> krsc = conv.weight.to_f32_vector(), kcrs = torch_w.to_f32_vector();
    // (k, r, s, c) = (1, 2, 0, 1) internally is (k, c, r, s) = (1, 1, 2, 0) in PyTorch.
    EXPECT_EQ(krsc[((1 * 3 + 2) * 3 + 0) * 3 + 1], kcrs[((1 * 3 + 1) * 3 + 2) * 3 + 0]);
    Generator other(5);
    Conv2d copy(Conv2dOptions{3, 2, 3, 1, 1, 1, 1, false}, other);
    copy.load_state_dict(conv.state_dict());
    EXPECT_TRUE(all_close(copy.weight, conv.weight, 0.f, 0.f));
}

TEST(Checkpoint, RoundTripAndClearErrorsForBadFiles) {
    std::string path = ::testing::TempDir() + "pg_small.safetensors";
    Generator gen(6), other(7);
    Small a(gen), b(other);
    save_weights(a, path, "small");
    load_weights(b, path, true, "small");
    for (size_t i = 0; i < a.named_parameters().size(); i++)
        EXPECT_TRUE(
            all_close(a.named_parameters()[i].tensor, b.named_parameters()[i].tensor, 0, 0));
    // Another model's file.
    try {
        load_weights(b, path, true, "deeplabv2");
        FAIL() << "loading another model's weights must throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("holds weights of model 'small'"), std::string::npos);
    }
    // Another architecture without metadata: the report names the file and the keys.
    Conv2d conv(Conv2dOptions{3, 2, 3}, gen);
    save_weights(conv, path);
    try {
        load_weights(b, path);
        FAIL() << "strict load of a conv's weights into Small must throw";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find(path), std::string::npos) << m;
        EXPECT_NE(m.find("missing in file:     features.0.weight"), std::string::npos) << m;
    }
    // Truncated file.
    save_weights(a, path);
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
    EXPECT_THROW(load_weights(b, path), Error);
    std::remove(path.c_str());
    EXPECT_THROW(load_weights(b, path), Error);
}

TEST(BatchNormModes, FrozenAndFrozenAffine) {
    Generator gen(8);
    Tensor x = test::random_tensor({2, 3, 3, 4}, gen);
    BatchNorm2d trainable(4), frozen_affine(4, 1e-5f, 0.1f, BatchNormMode::frozen_affine),
        frozen(4, 1e-5f, 0.1f, BatchNormMode::frozen);
    EXPECT_EQ(trainable.trainable_parameters().size(), 2u);
    EXPECT_EQ(frozen_affine.trainable_parameters().size(), 0u);
    EXPECT_EQ(frozen.trainable_parameters().size(), 0u);
    // frozen_affine: batch statistics in training, running stats move.
    Tensor y = frozen_affine.forward(x);
    EXPECT_TRUE(all_close(y, trainable.forward(x), 1e-6f, 1e-5f));
    EXPECT_FALSE(all_close(frozen_affine.running_mean, Tensor::zeros({4})));
    // frozen: eval normalisation even in training mode, statistics untouched.
    y = frozen.forward(x);
    EXPECT_TRUE(all_close(y, mul(x, Tensor::scalar(1.f / std::sqrt(1.f + 1e-5f))), 1e-6f, 1e-5f));
    EXPECT_TRUE(all_close(frozen.running_mean, Tensor::zeros({4}), 0.f, 0.f));
    EXPECT_EQ(frozen.num_batches_tracked.item(), 0.f);
}

TEST(BatchNormModes, OneValuePerChannelInTrainingNamesTheSettingsThatHelp) {
    BatchNorm2d bn(4);
    Tensor pooled = Tensor::ones({1, 1, 1, 4}); // one image's image-pooling output
    test::expect_error([&] { bn.forward(pooled); },
                       "BatchNorm2d: training on (1, 1, 1, 4) normalises one value per channel");
    test::expect_error([&] { bn.forward(pooled); }, "net.sync_bn: true");
    bn.eval(); // running statistics: fine
    EXPECT_EQ(bn.forward(pooled).numel(), 4);
    bn.train();
    EXPECT_EQ(bn.forward(Tensor::ones({2, 1, 1, 4})).numel(), 8); // two images: fine
}

TEST(Sequential, BatchNormThenReluRunsFusedWithTheSameNumbersAndNames) {
    // Sequential fuses a BatchNorm2d followed by a ReLU (BatchNorm2d::forward_relu): the output,
    // the gradients, the running statistics and the state-dict keys are those of the two layers.
    Generator gen(9);
    Tensor x0 = test::random_tensor({2, 3, 3, 4}, gen);
    auto bn = std::make_shared<BatchNorm2d>(4), bn_alone = std::make_shared<BatchNorm2d>(4);
    Sequential seq({bn, std::make_shared<ReLU>()});
    Tensor x = x0.clone().set_requires_grad(true), x_alone = x0.clone().set_requires_grad(true);
    Tensor y = seq.forward(x), y_alone = relu(bn_alone->forward(x_alone));
    EXPECT_EQ(y.grad_fn()->name(), std::string("batch_norm_relu"));
    EXPECT_TRUE(test::all_equal(y, y_alone));
    backward(sum(y * y)), backward(sum(y_alone * y_alone));
    EXPECT_TRUE(test::all_equal(x.grad(), x_alone.grad()));
    EXPECT_TRUE(test::all_equal(bn->weight.grad(), bn_alone->weight.grad()));
    EXPECT_TRUE(test::all_equal(bn->running_var, bn_alone->running_var));
    std::vector<std::string> keys;
    for (const auto& [name, t] : seq.state_dict()) keys.push_back(name);
    EXPECT_EQ(keys, (std::vector<std::string>{"0.bias", "0.num_batches_tracked", "0.running_mean",
                                              "0.running_var", "0.weight"})); // sorted (a map)
}

TEST(Dropout, NeedsAGeneratorOnlyWhenItDropsAndIsIdentityInEval) {
    Dropout2d drop(0.5f);
    Tensor x = Tensor::ones({1, 2, 2, 8});
    EXPECT_THROW(drop.forward(x), Error);
    drop.eval();
    EXPECT_TRUE(drop.forward(x).same_storage(x));
    drop.train();
    Generator gen(9);
    drop.set_generator(&gen);
    std::vector<float> y = drop.forward(x).to_f32_vector();
    // Whole channels: each of the 8 channels is 0 or 2 at all four pixels.
    for (int c = 0; c < 8; c++)
        for (int p = 1; p < 4; p++) EXPECT_EQ(y[p * 8 + c], y[c]);
}

TEST(Init, PyTorchDefaultBoundsAndKaiming) {
    Generator gen(10);
    Conv2d conv(Conv2dOptions{16, 64, 3}, gen);
    float bound = 1.f / std::sqrt(16.f * 9.f);
    std::vector<float> w = conv.weight.to_f32_vector();
    double sum_sq = 0;
    for (float v : w) {
        EXPECT_LE(std::fabs(v), bound);
        sum_sq += double(v) * v;
    }
    // U(-b, b) has variance b^2 / 3.
    EXPECT_NEAR(sum_sq / double(w.size()), bound * bound / 3, 0.1 * bound * bound / 3);
    init_kaiming_normal_fan_out(conv.weight, gen);
    sum_sq = 0;
    for (float v : conv.weight.to_f32_vector()) sum_sq += double(v) * v;
    EXPECT_NEAR(sum_sq / double(w.size()), 2.0 / (64 * 9), 0.1 * 2.0 / (64 * 9));
}

TEST(FlopCounter, CountsConvAndLinearMultiplyAccumulates) {
    Generator gen(11);
    Small net(gen);
    net.eval();
    NoGradGuard no_grad;
    FlopCounter outer;
    {
        FlopCounter inner;
        Tensor f;
        net.forward(Tensor::zeros({1, 13, 11, 3}), &f);
        // conv0 13x11x4 outputs of 27 MACs; pool -> 7x6; conv4 (groups 2) 4x3x6 outputs of 18
        // MACs; linear 5 outputs of 6 MACs.
        EXPECT_EQ(inner.total(), 2 * (13 * 11 * 4 * 27 + 4 * 3 * 6 * 18 + 5 * 6));
    }
    EXPECT_EQ(outer.total(), 2 * (13 * 11 * 4 * 27 + 4 * 3 * 6 * 18 + 5 * 6));
}

class ModuleDevice : public test::DeviceTest {};

TEST_P(ModuleDevice, MovedModuleGivesTheSameOutputsAndGradients) {
    Generator gen(12);
    Small net(gen);
    Tensor x = test::random_tensor({2, 13, 11, 3}, gen);
    Tensor f;
    Tensor loss_cpu =
        cross_entropy(net.forward(x, &f), Tensor::from_vector(std::vector<int32_t>{1, 3}, {2}));
    backward(loss_cpu);
    std::vector<Tensor> grads_cpu;
    for (const Tensor& p : net.parameters()) grads_cpu.push_back(p.grad());
    net.zero_grad();
    net.to(device());
    EXPECT_EQ(net.device(), device());
    EXPECT_EQ(net.trainable_parameters().size(), 7u);
    Tensor loss = cross_entropy(net.forward(x.to(device()), &f),
                                Tensor::from_vector(std::vector<int32_t>{1, 3}, {2}).to(device()));
    backward(loss);
    EXPECT_TRUE(all_close(loss, loss_cpu, 1e-5f, 1e-4f));
    auto params = net.parameters();
    for (size_t i = 0; i < params.size(); i++)
        EXPECT_TRUE(all_close(params[i].grad(), grads_cpu[i], 1e-5f, 1e-3f)) << i;
}

PG_INSTANTIATE_DEVICE_SUITE(ModuleDevice);

} // namespace
} // namespace pg::nn
