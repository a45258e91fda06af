// CUDA indexing kernels: one-hot, row gather (index_select_rows) and its adjoint the row scatter-add
// (index_add_rows), and the CSR segment kernels of graph attention. CPU twin: tensor/cpu/index.cpp
// (same formulas and precisions). Bad labels / indices are found with an atomicMin of their position
// into a device flag, so the smallest (first) one is reported, as on the CPU. Nothing here uses
// float atomics: the scatter-add sorts its entries by destination (stable) and sums them in order.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <climits>
#include <cmath>

#include "cuda/context.h"
#include "cuda/kernels.h"

namespace pg::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kFullMask = 0xFFFFFFFFu;
constexpr unsigned long long kNoBad = ~0ull; // "no bad position": the flag's initial value

// A device-side "first bad position" flag: positions are >= 0, so an unsigned atomicMin from
// all-ones (one memset) finds the smallest. read() waits for the stream.
class FirstBad {
  public:
    FirstBad() : flag_(sizeof(unsigned long long)) {
        CUDA_CHECK(cudaMemsetAsync(flag_.data(), 0xFF, sizeof(unsigned long long), stream()));
    }
    unsigned long long* device() const { return flag_.as<unsigned long long>(); }
    int64_t read() const {
        unsigned long long v = kNoBad;
        CUDA_CHECK(cudaMemcpyAsync(&v, flag_.data(), sizeof(v), cudaMemcpyDeviceToHost, stream()));
        CUDA_CHECK(cudaStreamSynchronize(stream()));
        return v == kNoBad ? -1 : int64_t(v);
    }

  private:
    Workspace flag_;
};

__device__ __forceinline__ int64_t global_thread() {
    return blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

// ---- one-hot ----

// out (n, classes) = [label_i == c], zero rows for ignore_index and bad labels; the first element
// of each row reports its label if bad. One thread per output element, grid-stride, blockDim 256.
template <typename Label>
__global__ void one_hot_kernel(float* out, unsigned long long* bad, const Label* labels, int64_t n,
                               int64_t classes, int64_t ignore_index) {
    for (int64_t i = global_thread(); i < n * classes; i += grid_threads()) {
        const int64_t row = i / classes, c = i % classes;
        const int64_t l = int64_t(labels[row]);
        const bool valid = l >= 0 && l < classes;
        out[i] = valid && l != ignore_index && l == c ? 1.f : 0.f;
        if (c == 0 && !valid && l != ignore_index) atomicMin(bad, (unsigned long long)row);
    }
}

// ---- row gather and scatter-add ----

// Flags every index (count,) outside [0, rows). One thread per entry, grid-stride, blockDim 256.
__global__ void check_index_kernel(unsigned long long* bad, const int32_t* index, int64_t count,
                                   int64_t rows) {
    for (int64_t e = global_thread(); e < count; e += grid_threads())
        if (index[e] < 0 || index[e] >= rows) atomicMin(bad, (unsigned long long)e);
}

// out (count, cols) = x (rows, cols)[index]. One thread per output element, grid-stride.
__global__ void gather_rows_kernel(float* out, const float* x, const int32_t* index, int64_t count,
                                   int64_t cols) {
    for (int64_t i = global_thread(); i < count * cols; i += grid_threads())
        out[i] = x[int64_t(index[i / cols]) * cols + i % cols];
}

// positions (count,) = 0, 1, ..., count - 1: the values the sort carries along with the keys.
__global__ void iota_kernel(int32_t* positions, int64_t count) {
    for (int64_t i = global_thread(); i < count; i += grid_threads()) positions[i] = int32_t(i);
}

// From the sorted destination rows keys (count,): destination row r owns sorted entries
// [begin[r], end[r]) (both zero-initialised, so rows no entry hits stay empty). One thread per
// sorted entry, grid-stride; each boundary is written by exactly one thread.
__global__ void row_ranges_kernel(int32_t* begin, int32_t* end, const uint32_t* keys,
                                  int64_t count) {
    for (int64_t i = global_thread(); i < count; i += grid_threads()) {
        const uint32_t k = keys[i];
        if (i == 0 || keys[i - 1] != k) begin[k] = int32_t(i);
        if (i == count - 1 || keys[i + 1] != k) end[k] = int32_t(i + 1);
    }
}

// out (rows, cols) += src (count, cols) rows positions[begin[r] .. end[r]) for each row r, in
// entry order (the sort is stable), as float adds onto out: the CPU's exact sequence of adds.
// One thread per output element, grid-stride, blockDim 256 (coalesced over columns).
__global__ void add_sorted_rows_kernel(float* out, const float* src, const int32_t* positions,
                                       const int32_t* begin, const int32_t* end, int64_t rows,
                                       int64_t cols) {
    for (int64_t i = global_thread(); i < rows * cols; i += grid_threads()) {
        const int64_t r = i / cols, c = i % cols;
        const int32_t b = begin[r], e = end[r];
        if (b == e) continue;
        float acc = out[i];
        for (int32_t j = b; j < e; j++) acc += src[int64_t(positions[j]) * cols + c];
        out[i] = acc;
    }
}

// ---- CSR segments: one warp per segment ----

// How the 32 lanes of a segment's warp share its (entries, cols) block. With cols >= 32 each lane
// owns the columns lane, lane + 32, ... and walks all entries in order (groups == 1). With fewer
// columns the lanes form groups = 32 / cols groups of cols lanes: lane (g, c) walks entries
// b + g, b + g + groups, ... of column c, and combine() merges the groups' partials in group order.
// Either way the split depends only on cols, so results are deterministic.
struct SegmentLanes {
    int64_t c0; // this lane's first column; the next is c0 + 32 (only when cols > 32)
    int g;      // this lane's entry group; lanes with g >= groups are idle
    int groups;

    __device__ explicit SegmentLanes(int64_t cols) {
        const int lane = int(threadIdx.x);
        if (cols >= 32) {
            c0 = lane, g = 0, groups = 1;
        } else {
            c0 = lane % cols, g = int(lane / cols), groups = int(32 / cols);
        }
    }
    // The first entry of this lane in [b, e); the stride is `groups`.
    __device__ int64_t first(int64_t b, int64_t e) const { return g < groups ? b + g : e; }

    // Merges the partials of the groups for each column, in group order; every lane gets its
    // column's total. Warp-uniform: with groups > 1 every lane has exactly one column.
    template <typename T, typename Op>
    __device__ T combine(T v, int64_t cols, Op op) const {
        if (groups == 1) return v;
        T total = __shfl_sync(kFullMask, v, int(c0));
        for (int k = 1; k < groups; k++)
            total = op(total, __shfl_sync(kFullMask, v, int(c0 + k * cols)));
        return total;
    }
};

// The CPU's std::max(m, v) = m < v ? v : m: a NaN v never replaces m.
struct MaxKeep {
    __device__ float operator()(float m, float v) const { return m < v ? v : m; }
};
struct Add {
    __device__ double operator()(double a, double b) const { return a + b; }
};

// The segments of this warp: blockDim (32, 8), eight segments per block, grid-stride.
__device__ __forceinline__ int64_t first_segment() {
    return int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
}
__device__ __forceinline__ int64_t segment_stride() { return int64_t(gridDim.x) * blockDim.y; }

// y (E, cols) = per segment and column exp(x - m) / sum exp(x - m), m the column max (NaN skipped),
// the sum in double, then y = float(double(y) * (1 / sum)) as on the CPU. Empty segments skip.
__global__ void segment_softmax_forward_kernel(float* y, const float* x, const int32_t* row_ptr,
                                               int64_t segments, int64_t cols) {
    const SegmentLanes lanes(cols);
    for (int64_t s = first_segment(); s < segments; s += segment_stride()) {
        const int64_t b = row_ptr[s], e = row_ptr[s + 1];
        if (b == e) continue; // warp-uniform
        for (int64_t c = lanes.c0; c < cols; c += 32) {
            float m = -INFINITY;
            for (int64_t r = lanes.first(b, e); r < e; r += lanes.groups)
                m = MaxKeep()(m, x[r * cols + c]);
            m = lanes.combine(m, cols, MaxKeep());
            double sum = 0.0;
            for (int64_t r = lanes.first(b, e); r < e; r += lanes.groups) {
                const float v = expf(x[r * cols + c] - m);
                y[r * cols + c] = v;
                sum += v;
            }
            const double inv = 1.0 / lanes.combine(sum, cols, Add());
            for (int64_t r = lanes.first(b, e); r < e; r += lanes.groups)
                y[r * cols + c] = float(double(y[r * cols + c]) * inv); // entries this lane wrote
        }
    }
}

// dx = y (dy - sum_seg(dy y)) per segment and column; the dot in double. Same geometry.
__global__ void segment_softmax_backward_kernel(float* dx, const float* dy, const float* y,
                                                const int32_t* row_ptr, int64_t segments,
                                                int64_t cols) {
    const SegmentLanes lanes(cols);
    for (int64_t s = first_segment(); s < segments; s += segment_stride()) {
        const int64_t b = row_ptr[s], e = row_ptr[s + 1];
        if (b == e) continue;
        for (int64_t c = lanes.c0; c < cols; c += 32) {
            double dot = 0.0; // products of two floats are exact in double, so FMA changes nothing
            for (int64_t r = lanes.first(b, e); r < e; r += lanes.groups)
                dot += double(dy[r * cols + c]) * double(y[r * cols + c]);
            const float d = float(lanes.combine(dot, cols, Add()));
            for (int64_t r = lanes.first(b, e); r < e; r += lanes.groups) {
                const int64_t i = r * cols + c;
                dx[i] = y[i] * (dy[i] - d);
            }
        }
    }
}

// out (segments, cols) = per-segment sum of x (E, cols) in double; 0 for an empty segment.
__global__ void segment_sum_kernel(float* out, const float* x, const int32_t* row_ptr,
                                   int64_t segments, int64_t cols) {
    const SegmentLanes lanes(cols);
    for (int64_t s = first_segment(); s < segments; s += segment_stride()) {
        const int64_t b = row_ptr[s], e = row_ptr[s + 1];
        for (int64_t c = lanes.c0; c < cols; c += 32) {
            double acc = 0.0;
            for (int64_t r = lanes.first(b, e); r < e; r += lanes.groups) acc += x[r * cols + c];
            acc = lanes.combine(acc, cols, Add());
            if (lanes.g == 0) out[s * cols + c] = float(acc);
        }
    }
}

// out (E, cols): every entry of segment s gets x[s] (segments, cols). Same geometry, no reduction.
__global__ void segment_expand_kernel(float* out, const float* x, const int32_t* row_ptr,
                                      int64_t segments, int64_t cols) {
    const SegmentLanes lanes(cols);
    for (int64_t s = first_segment(); s < segments; s += segment_stride()) {
        const int64_t b = row_ptr[s], e = row_ptr[s + 1];
        for (int64_t c = lanes.c0; c < cols; c += 32) {
            const float v = x[s * cols + c];
            for (int64_t r = lanes.first(b, e); r < e; r += lanes.groups) out[r * cols + c] = v;
        }
    }
}

constexpr int kSegmentsPerBlock = 8;

// Launches a segment kernel: blockDim (32, 8), one warp per segment.
template <typename... Params, typename... Args>
void launch_segments(void (*kernel)(Params...), int64_t segments, Args... args) {
    if (segments <= 0) return;
    kernel<<<grid_for(segments, kSegmentsPerBlock), dim3(32, kSegmentsPerBlock), 0, stream()>>>(
        args...);
    CUDA_CHECK_LAUNCH();
}

} // namespace

// ---- one-hot ----

int64_t one_hot(float* out, const void* labels, DType label_dtype, int64_t n, int64_t classes,
                int64_t ignore_index) {
    // classes >= 1 (autograd/index.cpp checks it): the bad check rides on column 0 of each row.
    if (n == 0 || classes == 0) return -1;
    FirstBad bad;
    const unsigned grid = grid_for(n * classes, kThreads);
    if (label_dtype == DType::u8)
        one_hot_kernel<<<grid, kThreads, 0, stream()>>>(
            out, bad.device(), static_cast<const uint8_t*>(labels), n, classes, ignore_index);
    else
        one_hot_kernel<<<grid, kThreads, 0, stream()>>>(
            out, bad.device(), static_cast<const int32_t*>(labels), n, classes, ignore_index);
    CUDA_CHECK_LAUNCH();
    return bad.read();
}

// ---- row gather and scatter-add ----

// The first index (count,) outside [0, rows), or -1; waits for the stream.
static int64_t first_bad_index(const int32_t* index, int64_t count, int64_t rows) {
    if (count == 0) return -1;
    FirstBad bad;
    check_index_kernel<<<grid_for(count, kThreads), kThreads, 0, stream()>>>(bad.device(), index,
                                                                             count, rows);
    CUDA_CHECK_LAUNCH();
    return bad.read();
}

int64_t index_select_rows(float* out, const float* x, const int32_t* index, int64_t count,
                          int64_t rows, int64_t cols) {
    // Checked first, as on the CPU: nothing is read out of range.
    const int64_t bad = first_bad_index(index, count, rows);
    if (bad >= 0 || count * cols == 0) return bad;
    gather_rows_kernel<<<grid_for(count * cols, kThreads), kThreads, 0, stream()>>>(out, x, index,
                                                                                    count, cols);
    CUDA_CHECK_LAUNCH();
    return -1;
}

// out (rows, cols) += src (count, cols) at rows index (count,). A stable radix sort of (index,
// position) pairs groups the entries by destination row in entry order (a temporary CSR), then
// each output element adds its row's entries in that order: the same float adds as the CPU's
// edge-order walk, with no atomics. Checked first: on a bad index out is left untouched.
int64_t index_add_rows(float* out, const float* src, const int32_t* index, int64_t count,
                       int64_t rows, int64_t cols) {
    const int64_t bad = first_bad_index(index, count, rows);
    if (bad >= 0 || count * cols == 0) return bad;
    PG_CHECK(count <= INT32_MAX && rows <= INT32_MAX, "index_add_rows: ", count, " entries into ",
             rows, " rows exceed the CUDA kernel's 32-bit positions");
    // Indices are valid, so as unsigned keys they sort like the ints; only their bits are sorted.
    int end_bit = 1;
    while (end_bit < 32 && (uint64_t(rows - 1) >> end_bit) != 0) end_bit++;
    const uint32_t* keys = reinterpret_cast<const uint32_t*>(index);
    Workspace keys_sorted(size_t(count) * 4), positions(size_t(count) * 4),
        positions_sorted(size_t(count) * 4), ranges(size_t(rows) * 8);
    iota_kernel<<<grid_for(count, kThreads), kThreads, 0, stream()>>>(positions.as<int32_t>(),
                                                                      count);
    CUDA_CHECK_LAUNCH();
    size_t temp_bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        nullptr, temp_bytes, keys, keys_sorted.as<uint32_t>(), positions.as<int32_t>(),
        positions_sorted.as<int32_t>(), count, 0, end_bit, stream()));
    Workspace temp(std::max<size_t>(temp_bytes, 1)); // a null pointer would mean "size query"
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        temp.data(), temp_bytes, keys, keys_sorted.as<uint32_t>(), positions.as<int32_t>(),
        positions_sorted.as<int32_t>(), count, 0, end_bit, stream()));
    int32_t* begin = ranges.as<int32_t>(); // (rows,)
    int32_t* end = begin + rows;           // (rows,)
    CUDA_CHECK(cudaMemsetAsync(ranges.data(), 0, size_t(rows) * 8, stream()));
    row_ranges_kernel<<<grid_for(count, kThreads), kThreads, 0, stream()>>>(
        begin, end, keys_sorted.as<uint32_t>(), count);
    CUDA_CHECK_LAUNCH();
    add_sorted_rows_kernel<<<grid_for(rows * cols, kThreads), kThreads, 0, stream()>>>(
        out, src, positions_sorted.as<int32_t>(), begin, end, rows, cols);
    CUDA_CHECK_LAUNCH();
    return -1;
}

// ---- CSR segments ----

void segment_softmax_forward(float* y, const float* x, const int32_t* row_ptr, int64_t segments,
                             int64_t cols) {
    if (cols == 0) return;
    launch_segments(segment_softmax_forward_kernel, segments, y, x, row_ptr, segments, cols);
}

void segment_softmax_backward(float* dx, const float* dy, const float* y, const int32_t* row_ptr,
                              int64_t segments, int64_t cols) {
    if (cols == 0) return;
    launch_segments(segment_softmax_backward_kernel, segments, dx, dy, y, row_ptr, segments, cols);
}

void segment_sum(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                 int64_t cols) {
    if (cols == 0) return;
    launch_segments(segment_sum_kernel, segments, out, x, row_ptr, segments, cols);
}

void segment_expand(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                    int64_t cols) {
    if (cols == 0) return;
    launch_segments(segment_expand_kernel, segments, out, x, row_ptr, segments, cols);
}

} // namespace pg::cuda
