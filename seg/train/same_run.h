// The processes of a data-parallel run must train one run: the same configuration and the same
// samples. Checked once at the start, so that a process given another --set (an MPMD command line)
// or another copy of the dataset stops the run with a clear error instead of training it wrong or
// waiting for the others forever.
#pragma once

#include "seg/config.h"
#include "seg/data/dataset.h"

namespace pg::seg {

// Every process compares its effective configuration and its training and validation samples (the
// ids, in order) with process 0's; an error on every process names the first that differs.
void check_processes_agree(const Config& config, const Dataset& train, const Dataset& val);

} // namespace pg::seg
