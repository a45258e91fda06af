// `pixelgrad synth`: writes the synthetic benchmark world (seg/synth/world.h) to a directory.
// main.cpp registers it with add_synth_command and calls run_synth when it was chosen.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pg::cli {

// The command line of `pixelgrad synth`; -1 / empty means "the layout's default".
struct SynthArgs {
    std::string out, layout = "voc", style = "source", size;
    int train = -1, val = -1, classes = 9, max_objects = 6, void_width = 1, clutter = -1;
    std::vector<float> object_size; // {min, max} radius as a fraction of the image side
    uint64_t seed = 0;
    std::vector<int> splits;
    bool force = false, train_ids = false;
};

// Adds the subcommand and its options (bound to `args`) to `app`; returns the subcommand.
CLI::App* add_synth_command(CLI::App& app, SynthArgs& args);

// Generates the world and prints one summary line with the time taken. Throws pg::Error.
void run_synth(const SynthArgs& args);

} // namespace pg::cli
