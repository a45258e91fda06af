// Data-parallel training over the processes of a run (tensor/collectives.h), as PyTorch's
// DistributedDataParallel: every process holds the whole model, trains on its share of each batch
// (seg/data/loader.h's rank / world), and before every optimizer step the gradients are averaged
// over processes, so every process takes the same step. Parameters and buffers start equal by a
// broadcast from rank 0. With one process every function here returns at once.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace pg::nn {

// DDP's default bucket_cap_mb (25 MB of f32 gradients).
constexpr int64_t kGradientBucketBytes = int64_t(25) << 20;

// Replaces each gradient of `params` by its mean over the processes. Gradients are packed into
// flat buckets of about bucket_bytes, each summed over processes by one all-reduce (fewer, larger
// messages than one per tensor; the sums are the same), divided by the world size and unpacked.
// A parameter without a gradient here but with one on another process gets the mean of theirs
// (its own counts as zeros); one that no process has a gradient for stays without, so the
// optimizer skips it everywhere alike.
void average_gradients(const std::vector<Tensor>& params,
                       int64_t bucket_bytes = kGradientBucketBytes);

// Copies rank `root`'s parameters and buffers (BN running statistics) of `module` to every process.
void broadcast_module(Module& module, int root = 0);
// Copies rank `root`'s f32 buffers of `module` to every process in one message (PyTorch DDP's
// broadcast_buffers, before every step).
void broadcast_buffers(Module& module, int root = 0);

} // namespace pg::nn
