// What the CUDA side of this build sees: runtime/driver/cuDNN/cuBLAS versions and the GPUs.
// A plain C++ header (no CUDA types) so that `pixelgrad info` can print it.
#pragma once

#include <string>
#include <vector>

namespace pg::cuda {

struct GpuInfo {
    std::string name;
    int compute_major = 0, compute_minor = 0;
    size_t total_memory = 0;
};

struct RuntimeInfo {
    int runtime_version = 0; // e.g. 13000 for CUDA 13.0
    int driver_version = 0;  // 0 when no driver is installed
    size_t cudnn_version = 0;
    int cublas_version = 0;   // 0 when cuBLAS cannot be opened (cuda/cublas_library.h)
    std::string cublas_error; // why not
    std::string error;        // why no GPU is usable, if none is
    std::vector<GpuInfo> gpus;
};

RuntimeInfo runtime_info();

} // namespace pg::cuda
