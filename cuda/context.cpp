// Context creation (stream, library handles, allocator), registration of the CUDA backend,
// the device memory source, workspaces and settings.
#include "cuda/context.h"

#include <cstdlib>
#include <memory>

#include "cuda/cublas_library.h"
#include "cuda/settings.h"
#include "tensor/backend.h"

namespace pg::cuda {

Backend& backend(); // cuda/cuda_backend.cpp

namespace {

// cudaMalloc / cudaFree; an out-of-memory result is reported as nullptr so the allocator can retry.
class DeviceMemory final : public MemorySource {
  public:
    void* allocate(size_t nbytes) override {
        void* ptr = nullptr;
        cudaError_t status = cudaMalloc(&ptr, nbytes);
        if (status == cudaErrorMemoryAllocation) {
            cudaGetLastError(); // clear the error: the allocator frees its cache and retries
            return nullptr;
        }
        CUDA_CHECK(status);
        return ptr;
    }
    void free(void* ptr) override { CUDA_CHECK(cudaFree(ptr)); }
};

// cudaHostAlloc / cudaFreeHost: page-locked host memory, which the copy engine reads directly, so
// copies from it are asynchronous. Out of memory is nullptr, as for DeviceMemory.
class PinnedHostMemory final : public MemorySource {
  public:
    void* allocate(size_t nbytes) override {
        void* ptr = nullptr;
        cudaError_t status = cudaHostAlloc(&ptr, nbytes, cudaHostAllocDefault);
        if (status == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            return nullptr;
        }
        CUDA_CHECK(status);
        return ptr;
    }
    void free(void* ptr) override { CUDA_CHECK(cudaFreeHost(ptr)); }
};

std::unique_ptr<Context> the_context;

} // namespace

const char* cublas_status_name(cublasStatus_t status) {
    switch (status) {
    case CUBLAS_STATUS_SUCCESS:
        return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
        return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
        return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
        return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
        return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
        return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
        return "CUBLAS_STATUS_NOT_SUPPORTED";
    default:
        return "unknown cuBLAS status";
    }
}

Settings& settings() {
    static Settings s;
    return s;
}

Context& context() {
    PG_CHECK(the_context != nullptr,
             "cuda: the backend is not registered (call pg::init_backends())");
    return *the_context;
}

Workspace::Workspace(size_t nbytes) : nbytes_(nbytes) {
    if (nbytes) ptr_ = context().allocator->allocate(nbytes);
}

Workspace::~Workspace() {
    if (ptr_) context().allocator->deallocate(ptr_, nbytes_);
}

bool register_backend(std::string* why) {
    if (the_context) return true;
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) {
        if (why) *why = status != cudaSuccess ? cudaGetErrorString(status) : "no CUDA device";
        cudaGetLastError();
        return false;
    }
    // A GPU without cuBLAS beside it stays unused, with the reason, and the CPU still runs.
    std::string no_cublas;
    if (!cublas_library_available(&no_cublas)) {
        if (why) *why = no_cublas;
        return false;
    }
    auto ctx = std::make_unique<Context>();
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaDeviceGetAttribute(&ctx->sm_count, cudaDevAttrMultiProcessorCount, 0));
    CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    const CublasLibrary& cublas = cublas_library(); // opened above, by the first GPU context
    CUBLAS_CHECK(cublas.create(&ctx->cublas));
    CUBLAS_CHECK(cublas.set_stream(ctx->cublas, ctx->stream));
    CUDNN_CHECK(cudnnCreate(&ctx->cudnn));
    CUDNN_CHECK(cudnnSetStream(ctx->cudnn, ctx->stream));
    const char* mode = std::getenv("PG_CUDA_ALLOC");
    bool direct = mode != nullptr && std::string(mode) == "direct";
    static DeviceMemory device_memory;
    ctx->allocator = new CachingAllocator(device_memory, direct); // lives as long as the process
    static PinnedHostMemory pinned_memory;
    ctx->pinned_allocator = new CachingAllocator(pinned_memory, direct, "CUDA pinned host");
    the_context = std::move(ctx);
    pg::register_backend(DeviceType::cuda, &cuda::backend());
    return true;
}

AllocatorStats allocator_stats() { return context().allocator->stats(); }
AllocatorStats pinned_allocator_stats() { return context().pinned_allocator->stats(); }
void empty_cache() {
    context().allocator->empty_cache();
    context().pinned_allocator->empty_cache();
}

} // namespace pg::cuda
