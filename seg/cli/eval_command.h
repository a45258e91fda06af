// `pixelgrad eval`: evaluates a checkpoint on a split of a run config's dataset (seg/evaluate.h)
// and prints the per-class IoU table; --out writes the result JSON. Also the steps that
// `pixelgrad predict` (predict_command.h) shares: config + network + weights, checked up front.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/seg_net.h"
#include "seg/config.h"
#include "seg/evaluate.h"

namespace pg::seg {

struct EvalArgs {
    std::string config, weights, split = "val", device = "cpu";
    std::string mode;                   // whole | center_crop | pad | sliding; empty: the config's
    int64_t crop = 0;                   // > 0: overrides dataset.<split>.crop.size (square)
    int64_t stride = 0;                 // > 0: overrides dataset.<split>.stride
    bool flip = false;                  // true: overrides dataset.<split>.flip
    int64_t limit = 0;                  // > 0: only the first `limit` images
    std::string out;                    // result JSON; empty: none written
    bool force = false;                 // out may replace an existing file (never an input)
    bool allow_nonfinite = false;       // load weights holding NaN / Inf (with a warning)
    std::vector<std::string> overrides; // --set key=value
};

// Loads the config (with overrides), builds the network of its `net` section, loads `weights`
// strictly (a file of another model is refused by name) and evaluates dataset.<split>. The
// command-line mode / crop / stride / flip are applied to the config as overrides of
// dataset.<split>.*. Prints the IoU table; returns the result JSON (eval_json plus checkpoint,
// split, pixels and the confusion matrix, rows = truth) and writes it to args.out when set.
std::string run_eval(const EvalArgs& args);

// Adds the subcommand to `app`; the returned callback runs it once parsing has succeeded.
std::function<void()> add_eval_command(CLI::App& app);

// ---- shared with `pixelgrad predict` ----

// A run config and its network, weights loaded, on the device in eval mode.
struct LoadedNet {
    Config config;
    std::shared_ptr<nn::SegmentationNet> net;
};
// `command` prefixes the errors ("eval", "predict"): a missing config file, a config without a
// `net` or `dataset` section, no dataset.<split> section (when `split` is given; checked before
// the weights are read), weights that do not load.
LoadedNet load_net(const std::string& command, const std::string& config_path,
                   const std::vector<std::string>& overrides, const std::string& weights,
                   const Device& device, const std::string& split = "",
                   bool allow_nonfinite = false);
// Errors unless `path` is an existing regular file: "<what> 'path' does not exist / is a folder".
void check_input_file(const std::string& what, const std::string& path);
// Prints "<command>: 40% (4/10 images)" to stderr each time another tenth is done (only when
// there are at least 10 images).
std::function<void(const EvalProgress&)> progress_printer(const std::string& command);

} // namespace pg::seg
