// CPU top-k / sort along the last axis of (rows, cols) and order statistics of a whole vector
// (select_ranks: std::nth_element on a copy). Orders are total and deterministic: ties go to the
// lower index, NaN counts as larger than every number (PyTorch's sort order). Ops: autograd/sort.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"

namespace pg::cpu {

// a < b with NaN above +inf and all NaNs equal: a strict weak order, so the std algorithms are safe.
static inline bool less_nan_last(float a, float b) {
    return std::isnan(b) ? !std::isnan(a) : a < b;
}

// An unsigned key with the order of less_nan_last: flip every bit of a negative float, only the
// sign bit of a positive one; -0 counts as +0 and every NaN as the largest key.
static inline uint32_t order_key(float v) {
    if (std::isnan(v)) return 0xFFFFFFFFu;
    uint32_t bits = 0;
    if (v != 0.f) std::memcpy(&bits, &v, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

void topk(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols, int64_t k,
          bool largest) {
    // Each entry packs (key, column) into one uint64: sorting these ascending orders by value
    // (descending when largest, by inverting the key) and then by column, so ties keep their order.
    int64_t chunk = std::max<int64_t>(1, kChunk / std::max<int64_t>(cols, 1));
    parallel_chunks(rows, chunk, [&](int64_t begin, int64_t end) {
        std::vector<uint64_t> row(static_cast<size_t>(cols)); // scratch for one row
        for (int64_t r = begin; r < end; r++) {
            const float* xr = x + r * cols; // (cols,)
            for (int64_t c = 0; c < cols; c++) {
                uint32_t key = largest ? ~order_key(xr[c]) : order_key(xr[c]);
                row[size_t(c)] = uint64_t(key) << 32 | uint64_t(c);
            }
            if (k == cols)
                std::sort(row.begin(), row.end());
            else
                std::partial_sort(row.begin(), row.begin() + k, row.end());
            for (int64_t j = 0; j < k; j++) {
                int32_t c = int32_t(row[size_t(j)] & 0xFFFFFFFFu);
                values[r * k + j] = xr[c];
                indices[r * k + j] = c;
            }
        }
    });
}

void select_ranks(float* out, const float* x, int64_t n, const int64_t* ranks, int64_t count) {
    // Visit the ranks in ascending order: after nth_element places rank r, everything to its
    // right is >= it, so the next (larger) rank only needs to search [r + 1, n).
    std::vector<float> v(x, x + n); // (n,) the copy we partition
    std::vector<int64_t> order(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; i++) order[size_t(i)] = i;
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return ranks[a] < ranks[b]; });
    int64_t searched_from = 0;
    for (int64_t i : order) {
        int64_t r = ranks[i];
        if (r >= searched_from) {
            std::nth_element(v.begin() + searched_from, v.begin() + r, v.end(), less_nan_last);
            searched_from = r + 1;
        }
        out[i] = v[size_t(r)];
    }
}

} // namespace pg::cpu
