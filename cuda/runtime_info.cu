// Queries the CUDA runtime, the driver, cuDNN and cuBLAS for `pixelgrad info`.
#include "cuda/runtime_info.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include "cuda/cublas_library.h"

namespace pg::cuda {

RuntimeInfo runtime_info() {
    RuntimeInfo info;
    cudaRuntimeGetVersion(&info.runtime_version);
    cudaDriverGetVersion(&info.driver_version);
    info.cudnn_version = cudnnGetVersion();
    if (cublas_library_available(&info.cublas_error)) {
        int major = 0, minor = 0, patch = 0;
        cublas_library().get_property(MAJOR_VERSION, &major);
        cublas_library().get_property(MINOR_VERSION, &minor);
        cublas_library().get_property(PATCH_LEVEL, &patch);
        info.cublas_version = major * 10000 + minor * 100 + patch;
    }
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        info.error = cudaGetErrorString(status);
        cudaGetLastError(); // clear the sticky error so later calls start clean
        return info;
    }
    for (int i = 0; i < count; i++) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
        info.gpus.push_back(GpuInfo{prop.name, prop.major, prop.minor, prop.totalGlobalMem});
    }
    return info;
}

} // namespace pg::cuda
