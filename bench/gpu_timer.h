// GPU timing for the benchmarks: a pair of CUDA events recorded on the backend's stream, so a
// measurement covers exactly the device work queued between start() and stop(), not the host's
// launch overhead or other streams. Used by bench/gpu_bench.cpp (CUDA builds only).
#pragma once

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/context.h"

namespace pg::bench {

class GpuTimer {
  public:
    GpuTimer() {
        CUDA_CHECK(cudaEventCreate(&start_));
        CUDA_CHECK(cudaEventCreate(&stop_));
    }
    ~GpuTimer() {
        cudaEventDestroy(start_);
        cudaEventDestroy(stop_);
    }
    GpuTimer(const GpuTimer&) = delete;
    GpuTimer& operator=(const GpuTimer&) = delete;

    void start() { CUDA_CHECK(cudaEventRecord(start_, cuda::stream())); }
    // Seconds of device time since start(); waits for the stream to reach the stop event.
    double stop() {
        CUDA_CHECK(cudaEventRecord(stop_, cuda::stream()));
        CUDA_CHECK(cudaEventSynchronize(stop_));
        float ms = 0.f;
        CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
        return double(ms) * 1e-3;
    }

  private:
    cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

} // namespace pg::bench
