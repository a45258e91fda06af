// `pixelgrad forward`: runs a network in eval mode on an NCHW input tensor file and writes its
// outputs in NCHW, so a converted checkpoint can be checked against PyTorch number for number.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace pg::seg {

struct ForwardArgs {
    std::string model, weights, input, output, device = "cpu";
    std::vector<std::string> overrides; // --set net.key=value
    std::string save_weights;     // also write the loaded weights back out (pixelgrad's writer)
    bool allow_nonfinite = false; // load weights holding NaN / Inf (with a warning)
};

// What `pixelgrad forward` does: builds the network of `model`, loads `weights` strictly (a file
// of another model, a missing or misshapen key is a pg::Error naming the file), runs it in eval
// mode on `input` and writes `output`.
void run_forward(const ForwardArgs& args);

// Adds the subcommand to `app`; the returned callback runs it once parsing has succeeded.
std::function<void()> add_forward_command(CLI::App& app);

} // namespace pg::seg
