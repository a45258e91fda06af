// The batch of a resumed training run: the global batch it was trained with, split over this
// run's processes (which may be more or fewer than before).
#pragma once

#include <string>

#include "nn/train_state.h"
#include "seg/config.h"

namespace pg::seg {

// A resumed run keeps its global batch (all processes' batches together), with the same number of
// processes or another: an epoch's batches depend on the global batch alone (seg/data/loader.h),
// so the steps, epochs, schedule, U2PL's warm-up and every stream's position go on as they were,
// each global batch only split another way. A count that does not divide it gives the processes
// shares that differ by one (dataset.global_batch_size), each gradient weighted by its share. The
// batch comes from the state, not config.yaml (a resumed run may have rewritten that before its
// first checkpoint). Sets dataset.batch_size or dataset.global_batch_size in `config`, before the
// loaders are built; a --set of either key may not change the batch. `path`: the state file, for
// messages.
void keep_global_batch(Config& config, const nn::TrainState& s, const std::string& path);

} // namespace pg::seg
