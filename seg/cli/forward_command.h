// `pixelgrad forward`: runs a network in eval mode on an NCHW input tensor file and writes its
// outputs in NCHW, so a converted checkpoint can be checked against PyTorch number for number.
#pragma once

#include <CLI/CLI.hpp>

namespace pg::seg {

// Adds the subcommand to `app`; the returned callback runs it once parsing has succeeded.
std::function<void()> add_forward_command(CLI::App& app);

} // namespace pg::seg
