// `pixelgrad correct`: the GAT label-noise correction pipeline (seg/correct/pipeline.h) from a
// run config: CAM labels for the weak images, noise detection by the clean model, superpixel
// graphs, one GAT per image, dense CRF; writes the corrected labels, lists for the final training
// and the label quality per stage.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace pg::seg {

std::function<void()> add_correct_command(CLI::App& app);

} // namespace pg::seg
