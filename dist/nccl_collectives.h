// NCCL's collectives on CUDA memory (tensor/collectives.h's DeviceCollectives) for data-parallel
// runs on GPUs: a communicator over all processes of the run, one GPU each, its unique id sent from
// rank 0 through the host collectives (MPI). Its calls are queued on the CUDA backend's stream, in
// order with the kernels before and after them; gradient buckets (start_all_reduce_sum) go on a
// second communicator and stream. The hang watchdog (dist/watchdog.h) covers both.
#pragma once

#include <memory>
#include <string>

#include "tensor/collectives.h"

namespace pg::dist {

// A communicator over every process of collectives() (with one process, a communicator of one:
// its collectives are copies). Needs the CUDA backend registered.
std::unique_ptr<DeviceCollectives> make_nccl_collectives();
// "NCCL 2.27.7": the library this process loaded.
std::string nccl_version();

} // namespace pg::dist
