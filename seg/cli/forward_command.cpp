// pixelgrad forward --model net.yaml --weights w.safetensors --input x.safetensors
//                   --output y.safetensors [--device cuda:0] [--set net.key=value ...]
//                   [--save-weights w2.safetensors]
// The input file holds one f32 tensor (N, 3, H, W) (key "input", or its only tensor). The output
// holds "logits" (N, C, H/s, W/s) at the network's own stride s, and "rep" / "aux" where the
// network has them, all NCHW like PyTorch's.
#include "seg/cli/forward_command.h"

#include <chrono>
#include <iostream>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "seg/config_keys.h"
#include "seg/model_config.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace pg::seg {

static Tensor read_input(const std::string& path) {
    std::map<std::string, Tensor> tensors = load_safetensors(path);
    Tensor x;
    if (tensors.count("input")) {
        x = tensors["input"];
    } else {
        PG_CHECK(tensors.size() == 1, path, ": holds ", tensors.size(),
                 " tensors; expected one, or one named 'input'");
        x = tensors.begin()->second;
    }
    PG_CHECK(x.dim() == 4 && x.size(1) == 3, path, ": input has shape ", shape_str(x.shape()),
             ", expected (N, 3, H, W)");
    return x.dtype() == DType::f32 ? x : cast(x, DType::f32);
}

void run_forward(const ForwardArgs& a) {
    Config config = Config::load(a.model, a.overrides);
    check_config_keys(config);
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
    Tensor x = nchw_to_nhwc(read_input(a.input)).to(device);
    auto start = std::chrono::steady_clock::now();
    NoGradGuard no_grad;
    nn::SegOutput out = net->forward(x);
    std::map<std::string, Tensor> result = {{"logits", nhwc_to_nchw(out.logits)}};
    if (out.rep.defined()) result["rep"] = nhwc_to_nchw(out.rep);
    if (out.aux.defined()) result["aux"] = nhwc_to_nchw(out.aux);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    save_safetensors(a.output, result);
    std::cout << nn::segmenter_name(options) << ": " << shape_str(x.shape()) << " -> logits "
              << shape_str(result["logits"].shape()) << " in " << ms << " ms on " << a.device
              << "; wrote " << a.output << "\n";
}

std::function<void()> add_forward_command(CLI::App& app) {
    auto args = std::make_shared<ForwardArgs>();
    CLI::App* cmd = app.add_subcommand(
        "forward", "run a network (eval mode) on an NCHW tensor file and write its outputs");
    cmd->add_option("--model", args->model, "YAML config with a `net` section")->required();
    cmd->add_option("--weights", args->weights, "weights (.safetensors, PyTorch names)")
        ->required();
    cmd->add_flag("--allow-nonfinite", args->allow_nonfinite,
                  "load weights that hold NaN / Inf (an error otherwise)");
    cmd->add_option("--input", args->input, "input tensor file (N, 3, H, W) f32")->required();
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
