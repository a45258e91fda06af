// The per-kernel profiler behind `pixelgrad train --profile` (DESIGN.md section 7): calls, time,
// share and GFLOP/s or GB/s of every Backend kernel. While it is enabled, backend_for() hands the
// enabling thread a timing wrapper around the real backend (tensor/profiling_backend.h), so no op
// in autograd/ or nn/ knows about profiling. Usage:
//
//     train_step();                                   // warm-up, not profiled (see below)
//     pg::profiler::enable(true);
//     for (int i = 0; i < steps; i++) train_step();   // anything that runs ops
//     pg::profiler::enable(false);
//     std::cout << pg::profiler::format_table(pg::profiler::snapshot());
//
// What is measured: each kernel call alone, from the host, between two synchronize() calls of its
// backend (a CUDA stream sync), so GPU times are real but the GPU no longer overlaps with the host
// while profiling; step times under the profiler are therefore longer than without it.
// Which thread: only the thread that called enable(true) (the trainer) is recorded. Data-loader
// workers keep the plain backend: their CPU kernels run concurrently with the trainer's, so adding
// their wall time would make shares meaningless, and they must not synchronise the GPU.
// Warm up first: a first step also pays cuDNN's algorithm search per conv shape (charged to the
// conv kernels) and the first cudaMallocs of the caching allocator.
// Cost when disabled: one relaxed atomic load and a branch in backend_for().
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace pg::profiler {

// Totals of one kernel over every call since the last reset(). flops / bytes are 0 when unknown.
struct OpStat {
    std::string name; // "conv2d_forward", "gemm", "relu_backward", ...
    int64_t calls = 0;
    int64_t total_ns = 0;
    double flops = 0; // floating-point operations (conv and GEMM: 2 x multiply-adds)
    double bytes = 0; // bytes read + written (each tensor argument once; see profiling_backend.cpp)
};

// Starts (true) or stops (false) recording. enable(true) makes the calling thread the recorded
// one (from another thread it moves the recording there). Stats are kept until reset().
void enable(bool on);

namespace detail {
extern std::atomic<bool> enabled_flag;
} // namespace detail

inline bool enabled() { return detail::enabled_flag.load(std::memory_order_relaxed); }

// True when enabled and the caller is the thread that enabled it: the wrapper records only then.
bool recording_on_this_thread();

// Forgets every recorded call (does not change enabled()).
void reset();

// One stat per kernel name, most total time first (ties by name).
std::vector<OpStat> snapshot();

// A fixed-width table: kernel, calls, total ms, ms/call, share % of the kernels' total time,
// and GFLOP/s when flops are known or GB/s when bytes are, then a total line.
// max_rows > 0 keeps the slowest max_rows kernels and sums the rest into one "(N others)" row.
// wall_ms > 0 (the wall time of the profiled steps) adds a line saying how much of it the
// kernels account for; the rest is host work (autograd, allocation, waiting for data).
std::string format_table(const std::vector<OpStat>& stats, int max_rows = 0, double wall_ms = 0);

// Called by the wrapper: adds one call of `name` (a string literal or other static string; it is
// remembered by address) that took `ns` nanoseconds and did `flops` / moved `bytes`.
void record(const char* name, int64_t ns, double flops, double bytes);

} // namespace pg::profiler
