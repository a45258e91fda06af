// `pixelgrad train`: trains a segmenter from a YAML config (seg/train/trainer.h).
//   pixelgrad train --config configs/synth/supervised_32.yaml [--run-dir DIR] [--set k=v ...]
//   pixelgrad train --resume --run-dir DIR          (continues exactly where DIR stopped)
//   pixelgrad train --config C --profile 20         (per-kernel time table over 20 steps)
#pragma once

#include <functional>

#include "seg/train/trainer.h"

namespace CLI {
class App;
}

namespace pg::seg {

// Adds the subcommand to `app`; the returned callback runs it once parsing has succeeded.
std::function<void()> add_train_command(CLI::App& app);

} // namespace pg::seg
