// pixelgrad forward --model net.yaml --weights w.safetensors --input x.safetensors
//                   --output y.safetensors [--device cuda:0] [--set net.key=value ...]
//                   [--save-weights w2.safetensors] [--allow-nonfinite]
// The input file holds one f32 tensor (N, 3, H, W) (key "input", or its only tensor). The output
// holds "logits" (N, C, H/s, W/s) at the network's own stride s, and "rep" / "aux" where the
// network has them, all NCHW like PyTorch's. With net.arch: fc_discriminator (AdvSemiSeg's D:
// net.num_classes, net.ndf [64], net.stride [32]) the input is a class map (N, C, H, W) and
// "logits" D's raw scores (N, 1, H/stride, W/stride), as the original FCDiscriminator returns.
#include "seg/cli/forward_command.h"

#include <chrono>
#include <cmath>
#include <iostream>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/discriminator.h"
#include "seg/config_keys.h"
#include "seg/model_config.h"
#include "tensor/error.h"
#include "tensor/file_io.h"
#include "tensor/safetensors.h"

namespace pg::seg {

static Tensor read_input(const std::string& path, int64_t channels, bool allow_nonfinite) {
    std::map<std::string, Tensor> tensors = load_safetensors(path);
    Tensor x;
    if (tensors.count("input")) {
        x = tensors["input"];
    } else {
        PG_CHECK(tensors.size() == 1, path, ": holds ", tensors.size(),
                 " tensors; expected one, or one named 'input'");
        x = tensors.begin()->second;
    }
    PG_CHECK(x.dim() == 4 && x.size(1) == channels, path, ": input has shape ",
             shape_str(x.shape()), ", expected (N, ", channels, ", H, W)");
    x = x.dtype() == DType::f32 ? x : cast(x, DType::f32);
    if (!allow_nonfinite) {
        const std::vector<float> values = x.to_f32_vector();
        for (size_t i = 0; i < values.size(); i++)
            PG_CHECK(std::isfinite(values[i]), path, ": input value ", i, " is ", values[i],
                     "; expected finite numbers (--allow-nonfinite to run it anyway)");
    }
    return x;
}

static void write_outputs(const ForwardArgs& a, const std::string& name, const Tensor& x,
                          std::map<std::string, Tensor>& result, double ms) {
    save_safetensors(a.output, result);
    std::cout << name << ": " << shape_str(x.shape()) << " -> logits "
              << shape_str(result["logits"].shape()) << " in " << ms << " ms on " << a.device
              << "; wrote " << a.output << "\n";
}

static double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

static void run_discriminator(const ForwardArgs& a, const Config& config) {
    nn::FCDiscriminatorOptions o{config.get_int("net.num_classes"), config.get_int("net.ndf", 64),
                                 config.get_int("net.stride", 32)};
    Generator gen(0);
    nn::FCDiscriminator d(o, gen);
    const std::string name = "fc_discriminator-ndf" + std::to_string(o.ndf);
    nn::load_weights(d, a.weights, /*strict=*/true, name, a.allow_nonfinite);
    if (!a.save_weights.empty()) nn::save_weights(d, a.save_weights, name);
    Device device = parse_device(a.device);
    d.to(device);
    Tensor x = nchw_to_nhwc(read_input(a.input, o.num_classes, a.allow_nonfinite)).to(device);
    auto start = std::chrono::steady_clock::now();
    NoGradGuard no_grad;
    std::map<std::string, Tensor> result = {{"logits", nhwc_to_nchw(d.forward(x))}};
    write_outputs(a, name, x, result, ms_since(start));
}

void run_forward(const ForwardArgs& a) {
    // The outputs may replace earlier outputs, never the input, the weights or each other.
    std::vector<std::string> outputs{a.output};
    if (!a.save_weights.empty()) outputs.push_back(a.save_weights);
    check_outputs("forward", outputs, {a.input, a.weights, a.model}, /*force=*/true);
    Config config = Config::load(a.model, a.overrides);
    check_config_keys(config);
    if (config.get_string("net.arch", "") == "fc_discriminator")
        return run_discriminator(a, config);
    nn::SegmenterOptions options = segmenter_options(config.section("net"));
    Generator gen(0);
    std::shared_ptr<nn::SegmentationNet> net = nn::build_segmenter(options, gen);
    nn::load_weights(*net, a.weights, /*strict=*/true, nn::segmenter_name(options),
                     a.allow_nonfinite);
    if (!a.save_weights.empty())
        nn::save_weights(*net, a.save_weights, nn::segmenter_name(options));
    Device device = parse_device(a.device);
    net->to(device);
    net->eval();
    Tensor x = nchw_to_nhwc(read_input(a.input, 3, a.allow_nonfinite)).to(device);
    auto start = std::chrono::steady_clock::now();
    NoGradGuard no_grad;
    nn::SegOutput out = net->forward(x);
    std::map<std::string, Tensor> result = {{"logits", nhwc_to_nchw(out.logits)}};
    if (out.rep.defined()) result["rep"] = nhwc_to_nchw(out.rep);
    if (out.aux.defined()) result["aux"] = nhwc_to_nchw(out.aux);
    write_outputs(a, nn::segmenter_name(options), x, result, ms_since(start));
}

std::function<void()> add_forward_command(CLI::App& app) {
    auto args = std::make_shared<ForwardArgs>();
    CLI::App* cmd = app.add_subcommand(
        "forward", "run a network (eval mode; a segmenter or AdvSemiSeg's discriminator) on an "
                   "NCHW tensor file and write its outputs");
    cmd->add_option("--model", args->model, "YAML config with a `net` section")->required();
    cmd->add_option("--weights", args->weights, "weights (.safetensors, PyTorch names)")
        ->required();
    cmd->add_flag("--allow-nonfinite", args->allow_nonfinite,
                  "accept weights and an input that hold NaN / Inf (an error otherwise)");
    cmd->add_option("--input", args->input,
                    "input tensor file, f32: images (N, 3, H, W), or class maps (N, C, H, W) for a "
                    "discriminator")
        ->required();
    cmd->add_option("--output", args->output, "where to write the outputs")->required();
    cmd->add_option("--device", args->device, "cpu or cuda:0");
    cmd->add_option("--set", args->overrides, "config override key=value (repeatable)");
    cmd->add_option("--save-weights", args->save_weights,
                    "also write the loaded weights back out (checks the round trip to PyTorch)");
    return [cmd, args] {
        if (cmd->parsed()) run_forward(*args);
    };
}

} // namespace pg::seg
