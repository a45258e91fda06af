// The CUDA backend's public controls, as plain C++ (no CUDA types): registration at start-up,
// numerics settings, and allocator statistics. Everything else in cuda/ is internal.
#pragma once

#include <cstddef>
#include <string>

#include "cuda/caching_allocator.h"

namespace pg::cuda {

struct Settings {
    bool allow_tf32 = true;     // TF32 tensor cores for f32 convs / GEMMs (off in the tests)
    bool deterministic = false; // only deterministic cuDNN algorithms and kernels
    bool exhaustive_search =
        false; // time every cuDNN algorithm once per shape instead of heuristics
    size_t workspace_cap = size_t(1) << 30; // most bytes a cuDNN algorithm may ask for
};

// Global settings for every CUDA op; change them before running ops (the algorithm cache keys on them).
Settings& settings();

// Installs the CUDA backend for DeviceType::cuda when a GPU is present. Returns false (and leaves a
// reason in *why) when the driver or the GPU is missing; asking for cuda then is a clear error.
bool register_backend(std::string* why = nullptr);

AllocatorStats allocator_stats();
AllocatorStats pinned_allocator_stats(); // page-locked host memory (Tensor::empty_pinned)
// Returns the cached free blocks of both allocators (device and pinned host) to CUDA.
void empty_cache();

} // namespace pg::cuda
