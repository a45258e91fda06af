// CPU indexing kernels: one-hot encoding, row gather (index_select_rows) and its adjoint the row
// scatter-add (index_add_rows), and the CSR segment kernels of graph attention (segment softmax,
// segment sum and its adjoint segment_expand). Every output element is computed by one task in a
// fixed order, so results do not depend on the thread count (no atomics, no racing adds).
// Ops: autograd/index.cpp.
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"

namespace pg::cpu {

constexpr int64_t kColBlock = 16;     // columns (one 64-byte line) owned by one scatter-add task
constexpr int64_t kSegmentChunk = 64; // CSR segments per parallel task

// Rows per parallel chunk: about kChunk elements, at least one row.
static int64_t rows_per_chunk(int64_t cols) {
    return std::max<int64_t>(1, kChunk / std::max<int64_t>(cols, 1));
}

// The first position p in [0, n) with bad(p), or -1. Chunks scan in parallel; the lowest chunk
// with a hit wins, so the answer is the same for any thread count.
template <typename Bad>
static int64_t first_bad_position(int64_t n, Bad bad) {
    int64_t chunks = (n + kChunk - 1) / kChunk;
    std::vector<int64_t> first(size_t(chunks), -1);
    parallel_chunks(n, kChunk, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; i++) {
            if (bad(i)) {
                first[size_t(begin / kChunk)] = i;
                break;
            }
        }
    });
    for (int64_t p : first)
        if (p >= 0) return p;
    return -1;
}

// ---- one-hot ----

int64_t one_hot(float* out, const void* labels, DType label_dtype, int64_t n, int64_t classes,
                int64_t ignore_index) {
    // out (n, classes), labels (n,) i32 or u8. Bad labels leave their row zero.
    auto label = [&](int64_t i) {
        return label_dtype == DType::u8 ? int64_t(static_cast<const uint8_t*>(labels)[i])
                                        : int64_t(static_cast<const int32_t*>(labels)[i]);
    };
    parallel_chunks(n, rows_per_chunk(classes), [&](int64_t begin, int64_t end) {
        std::memset(out + begin * classes, 0, size_t((end - begin) * classes) * sizeof(float));
        for (int64_t i = begin; i < end; i++) {
            int64_t l = label(i);
            if (l >= 0 && l < classes && l != ignore_index) out[i * classes + l] = 1.f;
        }
    });
    return first_bad_position(n, [&](int64_t i) {
        int64_t l = label(i);
        return l != ignore_index && (l < 0 || l >= classes);
    });
}

// ---- row gather and scatter-add ----

int64_t index_select_rows(float* out, const float* x, const int32_t* index, int64_t count,
                          int64_t rows, int64_t cols) {
    // out (count, cols), x (rows, cols), index (count,). Checked first: nothing is read out of range.
    int64_t bad =
        first_bad_position(count, [&](int64_t e) { return index[e] < 0 || index[e] >= rows; });
    if (bad >= 0) return bad;
    parallel_for(count, rows_per_chunk(cols), [&](int64_t e) {
        std::memcpy(out + e * cols, x + int64_t(index[e]) * cols, size_t(cols) * sizeof(float));
    });
    return -1;
}

int64_t index_add_rows(float* out, const float* src, const int32_t* index, int64_t count,
                       int64_t rows, int64_t cols) {
    // out (rows, cols) += src (count, cols) at rows index (count,). Repeated indices make
    // different edges hit the same output row, so tasks own column blocks instead of edges: each
    // walks every edge in order for its columns, and every output element gets its adds in edge
    // order whatever the thread count. Checked first: on a bad index out is left untouched.
    int64_t bad =
        first_bad_position(count, [&](int64_t e) { return index[e] < 0 || index[e] >= rows; });
    if (bad >= 0) return bad;
    int64_t blocks = (cols + kColBlock - 1) / kColBlock;
    parallel_for(blocks, 1, [&](int64_t b) {
        int64_t c0 = b * kColBlock, c1 = std::min(cols, c0 + kColBlock);
        for (int64_t e = 0; e < count; e++) {
            const float* s = src + e * cols;           // (cols,)
            float* o = out + int64_t(index[e]) * cols; // (cols,)
            for (int64_t c = c0; c < c1; c++) o[c] += s[c];
        }
    });
    return -1;
}

// ---- CSR segments ----

// Calls body(s, buffers) for every segment; segments are independent, so chunking is free.
// Each task gets its own scratch of `scratch` doubles, reused across its segments.
template <typename Body>
static void for_each_segment(int64_t segments, int64_t scratch, Body body) {
    parallel_chunks(segments, kSegmentChunk, [&](int64_t begin, int64_t end) {
        std::vector<double> buffer(static_cast<size_t>(scratch));
        for (int64_t s = begin; s < end; s++) body(s, buffer.data());
    });
}

void segment_softmax_forward(float* y, const float* x, const int32_t* row_ptr, int64_t segments,
                             int64_t cols) {
    // y (E, cols), x (E, cols). Per segment and column: y_e = exp(x_e - m) / sum_e' exp(x_e' - m),
    // m the segment's column max so exp() <= 1; the sums accumulate in double.
    for_each_segment(segments, 2 * cols, [&](int64_t s, double* buffer) {
        double* m = buffer;          // (cols,) column max
        double* sum = buffer + cols; // (cols,) sum of exponentials
        int64_t b = row_ptr[s], e = row_ptr[s + 1];
        if (b == e) return;
        for (int64_t c = 0; c < cols; c++) m[c] = -INFINITY, sum[c] = 0.0;
        for (int64_t r = b; r < e; r++)
            for (int64_t c = 0; c < cols; c++) m[c] = std::max(m[c], double(x[r * cols + c]));
        for (int64_t r = b; r < e; r++) {
            for (int64_t c = 0; c < cols; c++) {
                float v = std::exp(x[r * cols + c] - float(m[c]));
                y[r * cols + c] = v;
                sum[c] += v;
            }
        }
        for (int64_t c = 0; c < cols; c++) sum[c] = 1.0 / sum[c];
        for (int64_t r = b; r < e; r++)
            for (int64_t c = 0; c < cols; c++) y[r * cols + c] = float(y[r * cols + c] * sum[c]);
    });
}

void segment_softmax_backward(float* dx, const float* dy, const float* y, const int32_t* row_ptr,
                              int64_t segments, int64_t cols) {
    // dx, dy, y (E, cols). Within a segment and column, dy_j/dx_i = y_j ([i == j] - y_i), so
    // dx_i = y_i (dy_i - sum_j dy_j y_j): the plain softmax backward over the segment's entries.
    for_each_segment(segments, cols, [&](int64_t s, double* dot) { // dot (cols,)
        int64_t b = row_ptr[s], e = row_ptr[s + 1];
        if (b == e) return;
        for (int64_t c = 0; c < cols; c++) dot[c] = 0.0;
        for (int64_t r = b; r < e; r++)
            for (int64_t c = 0; c < cols; c++) dot[c] += double(dy[r * cols + c]) * y[r * cols + c];
        for (int64_t r = b; r < e; r++) {
            for (int64_t c = 0; c < cols; c++) {
                int64_t i = r * cols + c;
                dx[i] = y[i] * (dy[i] - float(dot[c]));
            }
        }
    });
}

void segment_sum(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                 int64_t cols) {
    // out (segments, cols) = sum over the segment's entries of x (E, cols), in double, in order;
    // an empty segment gives 0.
    for_each_segment(segments, cols, [&](int64_t s, double* acc) { // acc (cols,)
        for (int64_t c = 0; c < cols; c++) acc[c] = 0.0;
        for (int64_t r = row_ptr[s]; r < row_ptr[s + 1]; r++) {
            const float* xr = x + r * cols; // (cols,)
            for (int64_t c = 0; c < cols; c++) acc[c] += xr[c];
        }
        for (int64_t c = 0; c < cols; c++) out[s * cols + c] = float(acc[c]);
    });
}

void segment_expand(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                    int64_t cols) {
    // out (E, cols): entry r of segment s gets x[s] (segments, cols). d(segment_sum)/dx is this.
    for_each_segment(segments, 0, [&](int64_t s, double*) {
        for (int64_t r = row_ptr[s]; r < row_ptr[s + 1]; r++)
            std::memcpy(out + r * cols, x + s * cols, size_t(cols) * sizeof(float));
    });
}

} // namespace pg::cpu
