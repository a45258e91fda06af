// CPU reductions over the middle axis of x viewed as (outer, len, inner), and the scatter-add
// that is their adjoint for max / min. Sums accumulate in double; every split of the work is fixed
// by the shape alone, so results do not depend on the thread count.
#include <cmath>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"

namespace pg::cpu {

constexpr int64_t kInnerBlock = 256; // columns reduced together by one task when inner > 1

static void sum_axis(float* out, const float* x, int64_t outer, int64_t len, int64_t inner,
                     double scale) {
    if (inner == 1 && outer < 8 && len >= 4 * kChunk) {
        // Few long rows (a sum over everything): fixed chunks of partial sums per row.
        for (int64_t o = 0; o < outer; o++) {
            const float* row = x + o * len;
            int64_t chunks = (len + kChunk - 1) / kChunk;
            std::vector<double> partial(size_t(chunks), 0.0);
            parallel_chunks(len, kChunk, [&](int64_t begin, int64_t end) {
                double s = 0.0;
                for (int64_t l = begin; l < end; l++) s += row[l];
                partial[size_t(begin / kChunk)] = s;
            });
            double total = 0.0;
            for (double p : partial) total += p;
            out[o] = float(total * scale);
        }
    } else if (inner == 1) {
        parallel_for(outer, 16, [&](int64_t o) {
            double s = 0.0;
            for (int64_t l = 0; l < len; l++) s += x[o * len + l];
            out[o] = float(s * scale);
        });
    } else {
        int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
        parallel_for(outer * blocks, 1, [&](int64_t task) {
            int64_t o = task / blocks, i0 = (task % blocks) * kInnerBlock;
            int64_t i1 = std::min(inner, i0 + kInnerBlock);
            double acc[kInnerBlock] = {};
            for (int64_t l = 0; l < len; l++) {
                const float* row = x + (o * len + l) * inner;
                for (int64_t i = i0; i < i1; i++) acc[i - i0] += row[i];
            }
            for (int64_t i = i0; i < i1; i++) out[o * inner + i] = float(acc[i - i0] * scale);
        });
    }
}

// Is v a better extreme than best? NaN wins (and propagates), like PyTorch's max / min.
static inline bool beats(bool want_max, float v, float best) {
    if (std::isnan(v)) return !std::isnan(best);
    return want_max ? v > best : v < best;
}

static void extreme_axis(bool want_max, float* out, int32_t* index, const float* x, int64_t outer,
                         int64_t len, int64_t inner) {
    parallel_for(outer * inner, 64, [&](int64_t t) {
        int64_t o = t / inner, i = t % inner;
        const float* column = x + o * len * inner + i;
        float best = column[0];
        int32_t best_l = 0;
        for (int64_t l = 1; l < len; l++) {
            float v = column[l * inner];
            if (beats(want_max, v, best)) best = v, best_l = int32_t(l);
        }
        out[t] = best;
        if (index) index[t] = best_l;
    });
}

void reduce(ReduceOp op, float* out, int32_t* index, const float* x, int64_t outer, int64_t len,
            int64_t inner) {
    switch (op) {
    case ReduceOp::sum:
        sum_axis(out, x, outer, len, inner, 1.0);
        break;
    case ReduceOp::mean:
        sum_axis(out, x, outer, len, inner, 1.0 / double(len));
        break;
    case ReduceOp::max:
        extreme_axis(true, out, index, x, outer, len, inner);
        break;
    case ReduceOp::min:
        extreme_axis(false, out, index, x, outer, len, inner);
        break;
    }
}

void scatter_add_axis(float* out, const float* src, const int32_t* index, int64_t outer,
                      int64_t count, int64_t len, int64_t inner) {
    // One task per outer slice: the writes of different slices never meet.
    parallel_for(outer, 4, [&](int64_t o) {
        for (int64_t c = 0; c < count; c++) {
            const int64_t s = (o * count + c) * inner;
            for (int64_t i = 0; i < inner; i++)
                out[(o * len + index[s + i]) * inner + i] += src[s + i];
        }
    });
}

} // namespace pg::cpu
