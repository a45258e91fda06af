// `pixelgrad synth`: writes the synthetic benchmark world (seg/synth/world.h) to a directory.
// Registered like every verb (main.cpp): add_synth_command returns the callback that runs it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pg::seg {

// The command line of `pixelgrad synth`; -1 / empty means "the layout's default".
struct SynthArgs {
    std::string out, layout = "voc", style = "source", size;
    int train = -1, val = -1, classes = 9, max_objects = 6, void_width = 1, clutter = -1;
    std::vector<float> object_size; // {min, max} radius as a fraction of the image side
    uint64_t seed = 0;
    std::vector<int> splits;
    bool force = false, train_ids = false;
};

// Adds the subcommand to `app`; the returned callback runs it once parsing has succeeded.
std::function<void()> add_synth_command(CLI::App& app);

// Generates the world and prints one summary line with the time taken. Throws pg::Error.
void run_synth(const SynthArgs& args);

} // namespace pg::seg
