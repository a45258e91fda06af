// Helpers for the CPU kernels: a parallel loop over [0, n) that stays serial for small n, and
// per-thread scratch memory.
// Work is split into fixed-size chunks, so any per-chunk result (partial sums) does not depend on
// the thread count: the CPU backend gives bit-identical results with 1 or 16 threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace pg::cpu {

constexpr int64_t kChunk = 16384; // elements per parallel chunk of a cheap elementwise loop

// Calls body(begin, end) for consecutive chunks of [0, n), chunks run in parallel.
template <typename Body>
void parallel_chunks(int64_t n, int64_t chunk, Body body) {
    int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t c = 0; c < chunks; c++) body(c * chunk, std::min(n, (c + 1) * chunk));
}

// Calls body(i) for every i in [0, n), in parallel when there are enough iterations.
// `grain` is roughly how many iterations are worth one thread.
template <typename Body>
void parallel_for(int64_t n, int64_t grain, Body body) {
#pragma omp parallel for schedule(static) if (n > grain)
    for (int64_t i = 0; i < n; i++) body(i);
}

// Per-thread scratch memory reused across calls: a fresh allocation of a convolution's 16 MB column
// buffer would cost a page fault per 4 KB on every call. One buffer per slot; buffers that are in
// use at the same time take different slots. Grows, never shrinks; the contents are garbage.
enum class Scratch { columns, live_weight, packed_taps, direct_weight, region, count };

inline float* scratch(Scratch slot, int64_t n) {
    thread_local std::vector<float> buffers[int(Scratch::count)];
    std::vector<float>& buffer = buffers[int(slot)];
    if (int64_t(buffer.size()) < n) buffer.resize(size_t(n));
    return buffer.data();
}

} // namespace pg::cpu
