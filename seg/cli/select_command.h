// `pixelgrad select`: one RIPU acquisition round from a checkpoint, outside training (an
// annotation tool's workflow: pick the regions, hand them to annotators). Reads the previous
// round's maps from the output folder, runs round N over every image of dataset.target
// (seg/train/ripu_rounds.h) and writes OUT/round_<N>/ (masks, active / selected maps, overlays,
// summary.json). An existing round folder is refused unless --force.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pg::seg {

struct SelectArgs {
    std::string config, weights, device = "cpu";
    int64_t round = 1;
    std::string out; // empty: <saver.snapshot_dir>/ripu, where the training run keeps its rounds
    int overlays = 6;
    bool force = false;
    std::vector<std::string> overrides;
};

// Returns the round's summary JSON.
std::string run_select(const SelectArgs& args);

std::function<void()> add_select_command(CLI::App& app);

} // namespace pg::seg
