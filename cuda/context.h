// The CUDA context of the process: one GPU (device 0), one stream on which every kernel, copy and
// library call is queued in order, the cuBLAS / cuDNN handles bound to that stream, the
// caching allocator, and a second one for pinned host memory. Internal to cuda/; created by
// register_backend().
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>

#include "cuda/caching_allocator.h"
#include "cuda/check.h"

namespace pg::cuda {

struct Context {
    int device = 0;
    int sm_count = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    cudnnHandle_t cudnn = nullptr;
    CachingAllocator* allocator = nullptr;
    // Page-locked host memory (cudaHostAlloc) for Tensor::empty_pinned and PinnedStaging.
    // cudaHostAlloc costs milliseconds and cudaFreeHost synchronises the device, so blocks are
    // cached like device memory; Storage waits for a block's last copy before freeing it.
    CachingAllocator* pinned_allocator = nullptr;
};

// The context; throws if the backend was never registered.
Context& context();
inline cudaStream_t stream() { return context().stream; }

// Scratch device memory from the caching allocator for the duration of a scope
// (cuDNN workspaces, partial sums). Stream-ordered reuse makes the free immediately safe.
class Workspace {
  public:
    explicit Workspace(size_t nbytes);
    ~Workspace();
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
    void* data() const { return ptr_; }
    size_t size() const { return nbytes_; }
    template <typename T>
    T* as() const {
        return static_cast<T*>(ptr_);
    }

  private:
    void* ptr_ = nullptr;
    size_t nbytes_ = 0;
};

// Grid-stride launch geometry: enough blocks of `threads` to cover n, capped so that small grids
// stay small and huge ones loop (every kernel here is written as a grid-stride loop).
inline unsigned grid_for(int64_t n, int threads = 256) {
    int64_t blocks = (n + threads - 1) / threads;
    int64_t cap = int64_t(context().sm_count) * 32;
    if (blocks > cap) blocks = cap;
    return unsigned(blocks < 1 ? 1 : blocks);
}

} // namespace pg::cuda
