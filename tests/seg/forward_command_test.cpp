// `pixelgrad forward` (seg/cli/forward_command.h) through run_forward on the tiny configs of
// configs/nets: outputs equal the network's own NCHW outputs, --save-weights writes back the
// file it loaded, and weights of another model, a misshapen key, a truncated file or a wrong
// input are clear errors naming the file and the problem. The PyTorch side of the same path is
// tools/check_forward.py (ctest Tools.CheckForwardSelfTest).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/discriminator.h"
#include "seg/cli/forward_command.h"
#include "seg/model_config.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

using test::error_of;

using test::all_close;

const std::string kConfigs = std::string(PG_TEST_DATA_DIR) + "/../../configs/nets/";
const std::string kV3Tiny = kConfigs + "deeplabv3plus_tiny.yaml";
const std::string kV2Tiny = kConfigs + "deeplabv2_tiny.yaml";

// Per test: ctest runs the tests of this file as concurrent processes.
std::string temp(const std::string& name) {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    return ::testing::TempDir() + "pg_fwd_" + test + "_" + name;
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "'" << part << "' not in: " << text;
}

// The network of a config file, as run_forward builds it, with its own (seeded) init.
std::shared_ptr<nn::SegmentationNet> build(const std::string& config, uint64_t seed,
                                           nn::SegmenterOptions* options = nullptr) {
    nn::SegmenterOptions o = segmenter_options(Config::load(config).section("net"));
    if (options) *options = o;
    Generator gen(seed);
    return nn::build_segmenter(o, gen);
}

// A (2, 3, 37, 29) NCHW input file; returns the tensor.
Tensor write_input(const std::string& path, int64_t channels = 3) {
    Generator gen(11);
    Tensor x = test::random_tensor({2, channels, 37, 29}, gen);
    save_safetensors(path, {{"input", x}});
    return x;
}

ForwardArgs args_for(const std::string& config, const std::string& weights) {
    ForwardArgs a;
    a.model = config;
    a.weights = weights;
    a.input = temp("x.safetensors");
    a.output = temp("y.safetensors");
    return a;
}

TEST(ForwardCommand, WritesTheNetworksOutputsAndSavesWhatItLoaded) {
    nn::SegmenterOptions options;
    auto net = build(kV3Tiny, 5, &options);
    EXPECT_EQ(nn::segmenter_name(options), "deeplabv3plus-resnet20-C-w0.0625");
    nn::save_weights(*net, temp("v3.safetensors"), nn::segmenter_name(options));
    Tensor x = write_input(temp("x.safetensors"));
    ForwardArgs a = args_for(kV3Tiny, temp("v3.safetensors"));
    a.save_weights = temp("v3_again.safetensors");
    run_forward(a);

    net->eval();
    NoGradGuard no_grad;
    nn::SegOutput expected = net->forward(nchw_to_nhwc(x));
    std::map<std::string, Tensor> got = load_safetensors(a.output);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got.at("logits").shape(), (Shape{2, 5, 10, 8})); // stride 4: 37 -> 19 -> 10
    EXPECT_TRUE(all_close(got.at("logits"), nhwc_to_nchw(expected.logits), 0.f, 0.f));
    EXPECT_TRUE(all_close(got.at("rep"), nhwc_to_nchw(expected.rep), 0.f, 0.f));
    EXPECT_TRUE(all_close(got.at("aux"), nhwc_to_nchw(expected.aux), 0.f, 0.f));

    std::map<std::string, Tensor> original = net->state_dict();
    std::map<std::string, Tensor> again = load_safetensors(a.save_weights);
    ASSERT_EQ(again.size(), original.size());
    for (const auto& [key, value] : original) {
        SCOPED_TRACE(key);
        ASSERT_TRUE(again.count(key));
        EXPECT_TRUE(test::all_equal(again.at(key), value));
    }
}

TEST(ForwardCommand, DeepLabV2HasLogitsOnly) {
    nn::SegmenterOptions options;
    auto net = build(kV2Tiny, 6, &options);
    nn::save_weights(*net, temp("v2.safetensors"), nn::segmenter_name(options));
    write_input(temp("x.safetensors"));
    run_forward(args_for(kV2Tiny, temp("v2.safetensors")));
    std::map<std::string, Tensor> got = load_safetensors(temp("y.safetensors"));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got.at("logits").shape(), (Shape{2, 5, 5, 4})); // stride 8: 37 -> 19 -> 10 -> 5
}

// net.arch: fc_discriminator: a class map in, D's raw scores out (stride 8 here: 37 -> 18 -> 9 ->
// 4 -> 3 -> 2, 29 -> 14 -> 7 -> 3 -> 2 -> 1); an image-shaped input is refused.
TEST(ForwardCommand, DiscriminatorReadsClassMapsAndWritesItsScores) {
    const std::string config = kConfigs + "fc_discriminator_tiny.yaml";
    Generator gen(8);
    nn::FCDiscriminator d(nn::FCDiscriminatorOptions{5, 8, 8}, gen);
    nn::save_weights(d, temp("d.safetensors"), "fc_discriminator-ndf8");
    Tensor x = write_input(temp("x.safetensors"), 5);
    run_forward(args_for(config, temp("d.safetensors")));
    std::map<std::string, Tensor> got = load_safetensors(temp("y.safetensors"));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got.at("logits").shape(), (Shape{2, 1, 2, 1}));
    NoGradGuard no_grad;
    EXPECT_TRUE(all_close(got.at("logits"), nhwc_to_nchw(d.forward(nchw_to_nhwc(x))), 0.f, 0.f));
    write_input(temp("x.safetensors"), 3);
    std::string msg = error_of([&] { run_forward(args_for(config, temp("d.safetensors"))); });
    EXPECT_TRUE(contains(msg, "expected (N, 5, H, W)"));
}

TEST(ForwardCommand, WeightsOfAnotherModelAreRefusedClearly) {
    write_input(temp("x.safetensors"));
    // DeepLab-v2 weights (named in the file) for a DeepLabV3+ config.
    nn::SegmenterOptions v2;
    auto other = build(kV2Tiny, 7, &v2);
    nn::save_weights(*other, temp("v2.safetensors"), nn::segmenter_name(v2));
    std::string msg = error_of([&] { run_forward(args_for(kV3Tiny, temp("v2.safetensors"))); });
    EXPECT_TRUE(contains(msg, temp("v2.safetensors")));
    EXPECT_TRUE(contains(msg, "holds weights of model 'deeplabv2-resnet17-A-w0.0625', expected "
                              "'deeplabv3plus-resnet20-C-w0.0625'"));

    // The same weights as PyTorch would write them (no model name): the strict load lists keys.
    save_safetensors(temp("v2_torch.safetensors"), other->state_dict());
    msg = error_of([&] { run_forward(args_for(kV3Tiny, temp("v2_torch.safetensors"))); });
    EXPECT_TRUE(contains(msg, temp("v2_torch.safetensors")));
    EXPECT_TRUE(contains(msg, "do not match the model"));
    EXPECT_TRUE(contains(msg, "missing in file:     encoder.conv1.0.weight"));
    EXPECT_TRUE(contains(msg, "unexpected in file:  bn1.bias"));
    // A whole network's names are cut to the first 8 of each kind and a count.
    EXPECT_TRUE(contains(msg, "missing in file:     ... and 189 more")) << msg;
    EXPECT_TRUE(contains(msg, "unexpected in file:  ... and ")) << msg;
    EXPECT_FALSE(contains(msg, "layer5.conv2d_list.0.weight")) << msg;

    // Same architecture name, another class count: the shapes say what is wrong.
    nn::SegmenterOptions v3;
    auto net = build(kV3Tiny, 8, &v3); // (options filled before they are named)
    nn::save_weights(*net, temp("v3.safetensors"), nn::segmenter_name(v3));
    ForwardArgs a = args_for(kV3Tiny, temp("v3.safetensors"));
    a.overrides = {"net.num_classes=7"};
    msg = error_of([&] { run_forward(a); });
    EXPECT_TRUE(contains(msg, "decoder.classifier.8.weight: file (5, 256, 1, 1) vs module (7, 256, "
                              "1, 1)"));
}

TEST(ForwardCommand, BadFilesAndInputsAreErrors) {
    nn::SegmenterOptions v3;
    auto net = build(kV3Tiny, 9, &v3); // (options filled before they are named)
    nn::save_weights(*net, temp("v3.safetensors"), nn::segmenter_name(v3));
    // A truncated weight file.
    {
        std::ifstream in(temp("v3.safetensors"), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream out(temp("cut.safetensors"), std::ios::binary);
        out.write(bytes.data(), std::streamsize(bytes.size() / 2));
    }
    write_input(temp("x.safetensors"));
    std::string msg = error_of([&] { run_forward(args_for(kV3Tiny, temp("cut.safetensors"))); });
    EXPECT_TRUE(contains(msg, temp("cut.safetensors")));
    // A one-channel input.
    write_input(temp("x.safetensors"), 1);
    msg = error_of([&] { run_forward(args_for(kV3Tiny, temp("v3.safetensors"))); });
    EXPECT_TRUE(contains(msg, "expected (N, 3, H, W)"));
    // A missing weight file.
    msg = error_of([&] { run_forward(args_for(kV3Tiny, temp("absent.safetensors"))); });
    EXPECT_TRUE(contains(msg, temp("absent.safetensors")));
    // An output that is the input: refused before anything is written.
    ForwardArgs same = args_for(kV3Tiny, temp("v3.safetensors"));
    same.output = same.input;
    msg = error_of([&] { run_forward(same); });
    EXPECT_TRUE(contains(msg, "would replace the input")) << msg;
    // A NaN in the input: named, unless allowed (then its logits are NaN, as the user asked).
    std::vector<float> values = write_input(temp("x.safetensors")).to_f32_vector();
    values[5] = std::nanf("");
    save_safetensors(temp("nan.safetensors"),
                     {{"input", Tensor::from_vector(values, {2, 3, 37, 29})}});
    ForwardArgs nan_input = args_for(kV3Tiny, temp("v3.safetensors"));
    nan_input.input = temp("nan.safetensors");
    msg = error_of([&] { run_forward(nan_input); });
    EXPECT_TRUE(contains(msg, "nan.safetensors: input value 5 is nan")) << msg;
    nan_input.allow_nonfinite = true;
    EXPECT_EQ(error_of([&] { run_forward(nan_input); }), "");
}

} // namespace
} // namespace pg::seg
