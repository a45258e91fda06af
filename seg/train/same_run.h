// The processes of a data-parallel run must train one run: the same configuration and the same
// samples. Checked once at the start, so that a process given another --set (an MPMD command line)
// or another copy of the dataset stops the run with a clear error instead of training it wrong or
// waiting for the others forever.
#pragma once

#include "seg/config.h"
#include "seg/data/dataset.h"

namespace pg::seg {

// Every process compares its effective configuration (section by section) and its training and
// validation sample lists (the ids, in order) with process 0's; an error on every process names
// the first that differs. Per-machine settings (dataset.root on local disks, dataset.workers) are
// part of the configuration too: a run is one configuration.
void check_processes_agree(const Config& config, const Dataset& train, const Dataset& val);

} // namespace pg::seg
