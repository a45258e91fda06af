// Internal helpers for the CUDA reduction kernels: warp / block reductions with a fixed tree (so
// results are deterministic), the row-group launch shape shared by the softmax family and the
// cross-entropy, and sum_axis (cuda/reduce.cu), which elementwise.cu's reduce_to_shape reuses.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "cuda/context.h"

namespace pg::cuda {

constexpr unsigned kFullMask = 0xFFFFFFFFu;

// out (outer, inner) = scale * sum over l of x (outer, len, inner), accumulated in double in a
// split fixed by the shape alone (deterministic). Defined in cuda/reduce.cu.
void sum_axis(float* out, const float* x, int64_t outer, int64_t len, int64_t inner, double scale);

// The larger of m and v as the CPU's std::max(m, v) = m < v ? v : m: a NaN v never replaces m.
__device__ __forceinline__ float max_keep(float m, float v) { return m < v ? v : m; }

// Combines v across the 32 lanes of a warp with a xor butterfly (a fixed tree), then hands every
// lane lane 0's result, so all lanes agree bit for bit whatever op does with -0 / +0.
template <typename T, typename Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
    for (int offset = 16; offset > 0; offset >>= 1)
        v = op(v, __shfl_xor_sync(kFullMask, v, offset));
    return __shfl_sync(kFullMask, v, 0);
}

// Rows are processed by groups of kThreads threads: a warp (kThreads == 32, blockDim (32, 8): eight
// rows per block) or a whole block (kThreads == 256, blockDim (256, 1): one row per block).
// group_reduce combines one value per thread of the group; every thread gets the same result.
// smem must hold kThreads / 32 values; it is only touched (and __syncthreads only called) when the
// group is a whole block, so a warp group never waits on the other rows of its block.
template <int kThreads, typename T, typename Op>
__device__ __forceinline__ T group_reduce(T v, Op op, T* smem) {
    v = warp_reduce(v, op);
    if constexpr (kThreads > 32) {
        constexpr int kWarps = kThreads / 32;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        if (lane == 0) smem[warp] = v;
        __syncthreads();
        T total = smem[0];
        for (int w = 1; w < kWarps; w++) total = op(total, smem[w]); // same order in every thread
        __syncthreads(); // smem may be reused by the next reduction
        return total;
    } else {
        (void)smem;
        return v;
    }
}

struct SumOp {
    template <typename T>
    __device__ __forceinline__ T operator()(T a, T b) const {
        return a + b;
    }
};

struct MaxKeepOp {
    __device__ __forceinline__ float operator()(float a, float b) const { return max_keep(a, b); }
};

// Rows per block and threads per row of a row-group kernel launched with kThreads.
template <int kThreads>
constexpr int rows_per_block() {
    return kThreads >= 256 ? 1 : 256 / kThreads;
}

// The rows of this thread's group: blockDim (kThreads, rows_per_block), grid-stride. The loop is
// uniform across a group, so a block group may __syncthreads inside it.
__device__ __forceinline__ int64_t first_row() {
    return int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
}
__device__ __forceinline__ int64_t row_stride() { return int64_t(gridDim.x) * blockDim.y; }

// Short rows (the class axis: 19, 21 entries) take a warp each; long rows a block each.
constexpr int64_t kWarpRowMaxCols = 1024;

// The row max as the CPU's loop of std::max from -inf (NaN entries are skipped), in every thread.
template <int kThreads>
__device__ __forceinline__ float row_max(const float* xr, int64_t cols, float* smem) {
    float m = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += kThreads) m = max_keep(m, xr[c]);
    return group_reduce<kThreads>(m, MaxKeepOp(), smem);
}

// sum over c of term(c) in double, the same value in every thread of the group.
template <int kThreads, typename Term>
__device__ __forceinline__ double row_sum(int64_t cols, Term term, double* smem) {
    double s = 0.0;
    for (int64_t c = threadIdx.x; c < cols; c += kThreads) s += term(c);
    return group_reduce<kThreads>(s, SumOp(), smem);
}

// Launches the warp-per-row instantiation for short rows, the block-per-row one for long rows.
template <typename... Params, typename... Args>
void launch_rows(int64_t rows, int64_t cols, void (*warp_kernel)(Params...),
                 void (*block_kernel)(Params...), Args... args) {
    if (rows <= 0) return;
    if (cols <= kWarpRowMaxCols) {
        constexpr int kRows = rows_per_block<32>();
        warp_kernel<<<grid_for(rows, kRows), dim3(32, kRows), 0, stream()>>>(args...);
    } else {
        block_kernel<<<grid_for(rows, 1), dim3(256, 1), 0, stream()>>>(args...);
    }
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
