// CUDA top-k / sort along the last axis of (rows, cols) and order statistics of a whole vector.
// CPU twin: tensor/cpu/sort.cpp. Both sort packed (order key, column) integers, so the order is the
// CPU's exactly: ties by lower index, NaN above every number, -0 equal to +0. Rows of up to
// kWarpSortCols columns (the class axis) take one warp each; longer rows and select_ranks use CUB's
// radix sort, which is stable.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <cmath>

#include "cuda/context.h"
#include "cuda/kernels.h"

namespace pg::cuda {
namespace {

constexpr int64_t kWarpSortCols = 1024; // longest row sorted in one warp's shared memory
constexpr size_t kWarpSortSmem = 48 * 1024;

// An unsigned key with the CPU's less_nan_last order: flip every bit of a negative float, only the
// sign bit of a positive one; -0 counts as +0 and every NaN as the largest key.
__device__ __forceinline__ uint32_t order_key(float v) {
    if (isnan(v)) return 0xFFFFFFFFu;
    const uint32_t bits = v != 0.f ? __float_as_uint(v) : 0u;
    return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

// The float of a key (the inverse of order_key, up to -0 -> +0 and NaN -> the quiet NaN).
__device__ __forceinline__ float key_value(uint32_t key) {
    if (key == 0xFFFFFFFFu) return __uint_as_float(0x7FC00000u);
    return __uint_as_float((key & 0x80000000u) ? key & 0x7FFFFFFFu : ~key);
}

// Packs (key, column): sorting these ascending orders by value (descending when largest, by
// inverting the key) and then by column, as the CPU does.
__device__ __forceinline__ uint64_t packed_key(float v, int64_t c, bool largest) {
    const uint32_t key = largest ? ~order_key(v) : order_key(v);
    return uint64_t(key) << 32 | uint64_t(c);
}

// values / indices (rows, k) <- the first k of each row of x (rows, cols) sorted. One warp per
// row (blockDim (32, warps)), grid-stride over rows: the row's packed keys, padded to p (a power
// of two >= 32) with the largest uint64, are bitonic-sorted in the warp's p * 8 bytes of shared
// memory; __syncwarp between the steps.
__global__ void topk_warp_kernel(float* values, int32_t* indices, const float* x, int64_t rows,
                                 int64_t cols, int64_t k, bool largest, int p) {
    extern __shared__ uint64_t smem[];
    uint64_t* keys = smem + int64_t(threadIdx.y) * p; // (p,) this warp's row
    const int lane = threadIdx.x;
    for (int64_t r = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; r < rows;
         r += int64_t(gridDim.x) * blockDim.y) {
        const float* xr = x + r * cols; // (cols,)
        for (int i = lane; i < p; i += 32)
            keys[i] = i < cols ? packed_key(xr[i], i, largest) : ~0ull;
        __syncwarp();
        for (int size = 2; size <= p; size <<= 1) {
            for (int stride = size >> 1; stride > 0; stride >>= 1) {
                for (int i = lane; i < p; i += 32) {
                    const int partner = i ^ stride; // each pair is handled by its lower member
                    if (partner > i) {
                        const bool ascending = (i & size) == 0;
                        const uint64_t a = keys[i], b = keys[partner];
                        if ((a > b) == ascending) keys[i] = b, keys[partner] = a;
                    }
                }
                __syncwarp();
            }
        }
        for (int64_t j = lane; j < k; j += 32) {
            const int32_t c = int32_t(keys[j] & 0xFFFFFFFFu);
            values[r * k + j] = xr[c];
            indices[r * k + j] = c;
        }
        __syncwarp(); // the next row overwrites keys
    }
}

// keys (rows * cols) = (row << 32 | order key), columns = c: sorting these pairs stably sorts every
// row on its own, ties keeping column order. One thread per element, grid-stride.
__global__ void topk_keys_kernel(uint64_t* keys, int32_t* columns, const float* x, int64_t rows,
                                 int64_t cols, bool largest) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < rows * cols; t += stride) {
        const int64_t r = t / cols;
        const uint32_t key = largest ? ~order_key(x[t]) : order_key(x[t]);
        keys[t] = uint64_t(r) << 32 | key;
        columns[t] = int32_t(t - r * cols);
    }
}

// values / indices (rows, k) <- the first k sorted columns of each row. One thread per output.
__global__ void topk_gather_kernel(float* values, int32_t* indices, const float* x,
                                   const int32_t* sorted_columns, int64_t rows, int64_t cols,
                                   int64_t k) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < rows * k; t += stride) {
        const int64_t r = t / k, j = t % k;
        const int32_t c = sorted_columns[r * cols + j];
        values[t] = x[r * cols + c];
        indices[t] = c;
    }
}

// Rows too long for a warp's shared memory: one stable radix sort of every row at once (the row
// in the high key bits keeps rows apart), then the first k columns of each row are gathered.
void topk_radix(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols,
                int64_t k, bool largest) {
    const int64_t n = rows * cols;
    int end_bit = 32;
    while (end_bit < 64 && (uint64_t(rows - 1) >> (end_bit - 32)) != 0) end_bit++;
    Workspace keys(size_t(n) * 8), keys_sorted(size_t(n) * 8);
    Workspace columns(size_t(n) * 4), columns_sorted(size_t(n) * 4);
    topk_keys_kernel<<<grid_for(n), 256, 0, stream()>>>(keys.as<uint64_t>(), columns.as<int32_t>(),
                                                        x, rows, cols, largest);
    CUDA_CHECK_LAUNCH();
    size_t temp_bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        nullptr, temp_bytes, keys.as<uint64_t>(), keys_sorted.as<uint64_t>(), columns.as<int32_t>(),
        columns_sorted.as<int32_t>(), n, 0, end_bit, stream()));
    Workspace temp(temp_bytes);
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        temp.data(), temp_bytes, keys.as<uint64_t>(), keys_sorted.as<uint64_t>(),
        columns.as<int32_t>(), columns_sorted.as<int32_t>(), n, 0, end_bit, stream()));
    topk_gather_kernel<<<grid_for(rows * k), 256, 0, stream()>>>(
        values, indices, x, columns_sorted.as<int32_t>(), rows, cols, k);
    CUDA_CHECK_LAUNCH();
}

// keys (n,) = order_key(x). One thread per element, grid-stride.
__global__ void order_keys_kernel(uint32_t* keys, const float* x, int64_t n) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        keys[i] = order_key(x[i]);
}

// out (count,) = the values of sorted keys at ranks (count,). One thread per rank.
__global__ void gather_ranks_kernel(float* out, const uint32_t* sorted, const int64_t* ranks,
                                    int64_t count) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        out[i] = key_value(sorted[ranks[i]]);
}

} // namespace

void topk(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols, int64_t k,
          bool largest) {
    if (rows == 0 || k == 0) return;
    if (cols > kWarpSortCols) return topk_radix(values, indices, x, rows, cols, k, largest);
    int p = 32;
    while (p < cols) p <<= 1;
    const size_t row_bytes = size_t(p) * sizeof(uint64_t);
    const int warps = int(std::min<size_t>(8, kWarpSortSmem / row_bytes)); // >= 6 for p <= 1024
    const dim3 block(32, unsigned(warps));
    topk_warp_kernel<<<grid_for(rows, warps), block, row_bytes * warps, stream()>>>(
        values, indices, x, rows, cols, k, largest, p);
    CUDA_CHECK_LAUNCH();
}

// Sorts the order keys of a copy of x with CUB (the CPU partitions with nth_element; both give the
// element of each rank), then gathers the requested ranks. The returned value is rebuilt from its
// key: identical to the element of x except that -0 comes back as +0 and a NaN as the quiet NaN.
void select_ranks(float* out, const float* x, int64_t n, const int64_t* ranks, int64_t count) {
    if (count == 0) return;
    Workspace keys(size_t(n) * 4), sorted(size_t(n) * 4), device_ranks(size_t(count) * 8);
    order_keys_kernel<<<grid_for(n), 256, 0, stream()>>>(keys.as<uint32_t>(), x, n);
    CUDA_CHECK_LAUNCH();
    size_t temp_bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, temp_bytes, keys.as<uint32_t>(),
                                              sorted.as<uint32_t>(), n, 0, 32, stream()));
    Workspace temp(temp_bytes);
    CUDA_CHECK(cub::DeviceRadixSort::SortKeys(temp.data(), temp_bytes, keys.as<uint32_t>(),
                                              sorted.as<uint32_t>(), n, 0, 32, stream()));
    // ranks is pageable host memory: the copy has staged it when cudaMemcpyAsync returns.
    CUDA_CHECK(cudaMemcpyAsync(device_ranks.data(), ranks, size_t(count) * 8,
                               cudaMemcpyHostToDevice, stream()));
    gather_ranks_kernel<<<grid_for(count), 256, 0, stream()>>>(out, sorted.as<uint32_t>(),
                                                               device_ranks.as<int64_t>(), count);
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
