// `pixelgrad predict`: runs a checkpoint on a split of a run config's dataset or on a folder of
// images and writes each prediction as a palette PNG of train ids (palette_for), optionally with
// an overlay row (image | truth | prediction; seg/visualize.h) beside it.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pg::seg {

struct PredictArgs {
    std::string config, weights, device = "cpu";
    std::string split;  // a dataset subsection ("val" when neither split nor images is given)
    std::string images; // a folder: every .jpg / .jpeg / .png in it, sorted, no labels
    std::string out;    // output folder (created)
    bool overlay = false;
    bool force = false;                 // replace outputs that exist (never an input)
    bool allow_nonfinite = false;       // load weights holding NaN / Inf (with a warning)
    int64_t limit = 0;                  // > 0: only the first `limit` images
    std::vector<std::string> overrides; // --set key=value
};

// Writes out/<safe id>.png (predicted train ids, palette PNG) and with overlay
// out/<safe id>_overlay.png per image, predicted at full resolution: whole image, or the sliding
// window when the split's eval mode (dataset.val's for --images) is sliding. Returns the number
// of images predicted.
int64_t run_predict(const PredictArgs& args);

// Adds the subcommand to `app`; the returned callback runs it once parsing has succeeded.
std::function<void()> add_predict_command(CLI::App& app);

} // namespace pg::seg
