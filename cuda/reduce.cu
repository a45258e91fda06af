// CUDA reductions over the middle axis of x viewed as (outer, len, inner) (sum / mean / max / min,
// optional i32 index of the extreme) and scatter_add_axis, their adjoint. CPU twin:
// tensor/cpu/reduce.cpp. Long axes are split into chunks fixed by the shape alone and the chunk
// partials combined in order, so every result is deterministic; sums accumulate in double.
#include <cmath>

#include "cuda/context.h"
#include "cuda/kernels.h"
#include "cuda/reduce_util.cuh"

namespace pg::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kRowChunk = 4096; // elements of a contiguous row reduced by one warp
constexpr int64_t kColChunk = 256;  // steps along the axis walked by one thread (inner > 1)
// Outputs from which one warp / thread per output is already parallel enough: no chunking.
constexpr int64_t kEnoughRows = 4096;
constexpr int64_t kEnoughColumns = 65536;

// ---- the two reductions, as accumulators with an order-free merge ----

struct SumPolicy {
    using Acc = double;
    __device__ static Acc empty() { return 0.0; }
    __device__ static Acc merge(Acc a, Acc b) { return a + b; }
    __device__ static Acc step(Acc a, float v, int64_t) { return a + double(v); }
    __device__ static Acc warp_merge(Acc a) { return warp_reduce(a, SumOp()); }
    __device__ static void write(float* out, int32_t*, int64_t j, Acc a, double scale) {
        out[j] = float(a * scale);
    }
};

struct Extreme {
    float v;
    int32_t l; // position along the axis; -1 for "nothing seen yet"
};

// Max (kMax) or min with the CPU's rule: the first extreme wins ties and a NaN beats any number
// (so the first NaN wins). merge() is symmetric (ties go to the lower position), so any merge tree
// gives the sequential answer.
template <bool kMax>
struct ExtremePolicy {
    using Acc = Extreme;
    __device__ static bool beats(float v, float best) {
        if (isnan(v)) return !isnan(best);
        return kMax ? v > best : v < best;
    }
    __device__ static Acc empty() { return {0.f, -1}; }
    __device__ static Acc merge(Acc a, Acc b) {
        if (a.l < 0) return b;
        if (b.l < 0) return a;
        if (beats(b.v, a.v)) return b;
        if (beats(a.v, b.v)) return a;
        return b.l < a.l ? b : a;
    }
    __device__ static Acc step(Acc a, float v, int64_t l) { return merge(a, {v, int32_t(l)}); }
    __device__ static Acc warp_merge(Acc a) {
        for (int offset = 16; offset > 0; offset >>= 1) {
            Acc other{__shfl_xor_sync(kFullMask, a.v, offset),
                      __shfl_xor_sync(kFullMask, a.l, offset)};
            a = merge(a, other);
        }
        return a; // merge is a total order on (v, l), so every lane holds the same pair
    }
    __device__ static void write(float* out, int32_t* index, int64_t j, Acc a, double) {
        out[j] = a.v;
        if (index) index[j] = a.l;
    }
};

// ---- kernels ----

// inner == 1: x (outer, len). One warp per (row o, chunk c) of kRowChunk elements, lanes strided
// over the chunk (coalesced), warp-shuffle tree; grid-stride over the outer * chunks units. With
// one chunk the result goes to out / index, else to partial (chunks, outer).
template <typename P>
__global__ void reduce_rows_kernel(float* out, int32_t* index, typename P::Acc* partial,
                                   const float* x, int64_t outer, int64_t len, int64_t chunks,
                                   double scale) {
    const int lane = threadIdx.x & 31;
    const int64_t first = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
    const int64_t warps = (int64_t(gridDim.x) * blockDim.x) >> 5;
    for (int64_t u = first; u < outer * chunks; u += warps) { // uniform across the warp
        const int64_t c = u / outer, o = u % outer;
        const int64_t begin = c * kRowChunk, end = min(len, begin + kRowChunk);
        const float* row = x + o * len; // (len,)
        typename P::Acc acc = P::empty();
        for (int64_t l = begin + lane; l < end; l += 32) acc = P::step(acc, row[l], l);
        acc = P::warp_merge(acc);
        if (lane == 0) {
            if (partial)
                partial[u] = acc;
            else
                P::write(out, index, o, acc, scale);
        }
    }
}

// inner > 1: x (outer, len, inner). One thread per (chunk c, o, i) walking kColChunk steps of its
// column in order (adjacent threads read adjacent i: coalesced); grid-stride. With one chunk the
// result goes to out / index, else to partial (chunks, outer * inner).
template <typename P>
__global__ void reduce_columns_kernel(float* out, int32_t* index, typename P::Acc* partial,
                                      const float* x, int64_t outer, int64_t len, int64_t inner,
                                      int64_t chunks, double scale) {
    const int64_t columns = outer * inner;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < chunks * columns;
         t += stride) {
        const int64_t c = t / columns, j = t % columns, o = j / inner, i = j % inner;
        const int64_t begin = c * kColChunk, end = min(len, begin + kColChunk);
        const float* column = x + o * len * inner + i; // (len,) at stride inner
        typename P::Acc acc = P::empty();
        for (int64_t l = begin; l < end; l++) acc = P::step(acc, column[l * inner], l);
        if (partial)
            partial[t] = acc;
        else
            P::write(out, index, j, acc, scale);
    }
}

// out / index (outputs,) from partial (chunks, outputs): one thread per output merging its chunks
// in order, grid-stride.
template <typename P>
__global__ void combine_chunks_kernel(float* out, int32_t* index, const typename P::Acc* partial,
                                      int64_t outputs, int64_t chunks, double scale) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < outputs; j += stride) {
        typename P::Acc acc = partial[j];
        for (int64_t c = 1; c < chunks; c++) acc = P::merge(acc, partial[c * outputs + j]);
        P::write(out, index, j, acc, scale);
    }
}

template <typename P>
void reduce_axis(float* out, int32_t* index, const float* x, int64_t outer, int64_t len,
                 int64_t inner, double scale) {
    const int64_t outputs = outer * inner;
    if (outputs == 0) return;
    using Acc = typename P::Acc;
    int64_t chunks = 1;
    if (inner == 1 && outer < kEnoughRows) chunks = (len + kRowChunk - 1) / kRowChunk;
    if (inner > 1 && outputs < kEnoughColumns) chunks = (len + kColChunk - 1) / kColChunk;
    if (chunks < 1) chunks = 1; // len == 0: a sum of nothing is 0
    Workspace partial(chunks > 1 ? size_t(chunks * outputs) * sizeof(Acc) : 0);
    Acc* partial_ptr = chunks > 1 ? partial.as<Acc>() : nullptr;
    if (inner == 1) {
        reduce_rows_kernel<P><<<grid_for(outer * chunks * 32, kThreads), kThreads, 0, stream()>>>(
            out, index, partial_ptr, x, outer, len, chunks, scale);
    } else {
        reduce_columns_kernel<P><<<grid_for(outputs * chunks, kThreads), kThreads, 0, stream()>>>(
            out, index, partial_ptr, x, outer, len, inner, chunks, scale);
    }
    CUDA_CHECK_LAUNCH();
    if (chunks > 1) {
        combine_chunks_kernel<P><<<grid_for(outputs, kThreads), kThreads, 0, stream()>>>(
            out, index, partial_ptr, outputs, chunks, scale);
        CUDA_CHECK_LAUNCH();
    }
}

// out (outer, len, inner) += src (outer, count, inner) at positions index: one thread per
// (o, i) column walking c in order, so each output element is owned by one thread and its adds
// happen in the CPU's order (deterministic, no atomics); grid-stride.
__global__ void scatter_add_axis_kernel(float* out, const float* src, const int32_t* index,
                                        int64_t outer, int64_t count, int64_t len, int64_t inner) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < outer * inner;
         t += stride) {
        const int64_t o = t / inner, i = t % inner;
        for (int64_t c = 0; c < count; c++) {
            const int64_t s = (o * count + c) * inner + i;
            out[(o * len + index[s]) * inner + i] += src[s];
        }
    }
}

} // namespace

void sum_axis(float* out, const float* x, int64_t outer, int64_t len, int64_t inner, double scale) {
    reduce_axis<SumPolicy>(out, nullptr, x, outer, len, inner, scale);
}

void reduce(ReduceOp op, float* out, int32_t* index, const float* x, int64_t outer, int64_t len,
            int64_t inner) {
    switch (op) {
    case ReduceOp::sum:
        reduce_axis<SumPolicy>(out, nullptr, x, outer, len, inner, 1.0);
        break;
    case ReduceOp::mean:
        reduce_axis<SumPolicy>(out, nullptr, x, outer, len, inner, 1.0 / double(len));
        break;
    case ReduceOp::max:
        reduce_axis<ExtremePolicy<true>>(out, index, x, outer, len, inner, 1.0);
        break;
    case ReduceOp::min:
        reduce_axis<ExtremePolicy<false>>(out, index, x, outer, len, inner, 1.0);
        break;
    }
}

void scatter_add_axis(float* out, const float* src, const int32_t* index, int64_t outer,
                      int64_t count, int64_t len, int64_t inner) {
    if (outer * inner == 0 || count == 0) return;
    scatter_add_axis_kernel<<<grid_for(outer * inner), 256, 0, stream()>>>(out, src, index, outer,
                                                                           count, len, inner);
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
