// Start-up for programs built on pixelgrad: registers the CUDA backend when this build has one
// and a GPU is present, and describes the build for `pixelgrad info`.
#pragma once

#include <string>

#include "tensor/dtype.h"

namespace pg {

// Call once at start-up (the CLI, the test and benchmark mains do). Safe without a GPU.
void init_backends();
// Why the CUDA backend is not registered (empty when it is).
std::string& cuda_unavailable_reason();
// A multi-line description: version, compiler, BLAS, OpenMP threads, CUDA/cuDNN/cuBLAS, devices.
std::string build_info();

// Memory held on `device`, in MiB: the CUDA caching allocator's allocated bytes (and its peak), or
// on the CPU the process's resident set (VmRSS / VmHWM).
double memory_in_use_mib(const Device& device);
double peak_memory_mib(const Device& device);

} // namespace pg
