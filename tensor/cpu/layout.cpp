// CPU layout kernels for any dtype: permute (a strided gather), window (crop / pad with a fill
// value converted to the dtype) and flip_width (mirror W of an NHWC image). Elements and pixels are
// moved as machine words (tensor/cpu/words.h), so the copies are bit-exact for every dtype.
// concat / split / narrow need no kernel of their own: autograd/layout.cpp runs them on copy_2d.
#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/words.h"

namespace pg::cpu {

// parallel_for's grain for a loop over rows: how many rows are worth a thread (~kChunk words).
static int64_t rows_grain(int64_t row_words) {
    return std::max<int64_t>(1, kChunk / std::max<int64_t>(1, row_words));
}

// ---- permute ----

// out dim i = in dim perm[i]. Trailing dims that stay in place are first folded into the element
// (NHWC -> NWHC moves whole C-vectors). Each task then writes one run along the output's last dim,
// reading the input with that dim's stride; the run's start comes from its multi-index.
void permute(void* out, const void* in, size_t elem_size, int ndim, const int64_t* in_shape,
             const int* perm) {
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= in_shape[d];
    if (numel == 0) return;
    int64_t elem = int64_t(elem_size);
    while (ndim > 1 && perm[ndim - 1] == ndim - 1) elem *= in_shape[--ndim];

    int64_t in_stride[kMaxDims] = {}, out_shape[kMaxDims] = {}, src_stride[kMaxDims] = {};
    for (int d = ndim - 1; d >= 0; d--)
        in_stride[d] = d == ndim - 1 ? 1 : in_stride[d + 1] * in_shape[d + 1];
    for (int d = 0; d < ndim; d++) {
        out_shape[d] = in_shape[perm[d]];
        src_stride[d] = in_stride[perm[d]];
    }
    const int64_t len = ndim > 0 ? out_shape[ndim - 1] : 1;   // (folded) elements per run
    const int64_t step = ndim > 0 ? src_stride[ndim - 1] : 1; // their input stride
    int64_t runs = 1;
    for (int d = 0; d < ndim - 1; d++) runs *= out_shape[d];

    with_word(elem, in, out, [&](auto word) {
        using Word = decltype(word);
        const int64_t E = elem / int64_t(sizeof(Word)); // words per element
        const Word* src = static_cast<const Word*>(in);
        Word* dst = static_cast<Word*>(out);
        parallel_for(runs, rows_grain(len * E), [&](int64_t run) {
            int64_t rest = run, offset = 0;
            for (int d = ndim - 2; d >= 0; d--) {
                offset += (rest % out_shape[d]) * src_stride[d];
                rest /= out_shape[d];
            }
            Word* o = dst + run * len * E;
            const Word* s = src + offset * E;
            for (int64_t i = 0; i < len; i++)
                for (int64_t k = 0; k < E; k++) o[i * E + k] = s[i * step * E + k];
        });
    });
}

// ---- window: crop and pad ----

// out[n, i, j, :] = in[n, i + offset_h, j + offset_w, :] inside the input, else fill. Each output
// row is [fill | copied span | fill]; the fill pattern is converted to the dtype once (by the fill
// kernel, so 255 becomes a u8 255 and 0.5 an f32 0.5) and the row pieces are memcpy'd.
void window(void* out, const void* in, DType dtype, const WindowGeometry& g, double fill_value) {
    const int64_t pixel = g.C * int64_t(dtype_size(dtype)); // bytes per pixel
    if (g.N * g.out_h * g.out_w * pixel == 0) return;
    std::vector<uint8_t> fill_row(size_t(g.out_w * pixel));
    fill(fill_row.data(), dtype, g.out_w * g.C, fill_value);
    // Output columns [j0, j1) read input columns [j0 + offset_w, j1 + offset_w) inside [0, W).
    const int64_t j0 = std::clamp<int64_t>(-g.offset_w, 0, g.out_w);
    const int64_t j1 = std::clamp<int64_t>(g.W - g.offset_w, j0, g.out_w);
    const auto* src = static_cast<const uint8_t*>(in); // (N, H, W, C)
    auto* dst = static_cast<uint8_t*>(out);            // (N, out_h, out_w, C)
    parallel_for(g.N * g.out_h, rows_grain(g.out_w * pixel / 4), [&](int64_t row) {
        int64_t n = row / g.out_h, i = row % g.out_h + g.offset_h;
        uint8_t* o = dst + row * g.out_w * pixel;
        if (i < 0 || i >= g.H || j1 == j0) {
            std::memcpy(o, fill_row.data(), size_t(g.out_w * pixel));
            return;
        }
        const uint8_t* s = src + ((n * g.H + i) * g.W + j0 + g.offset_w) * pixel;
        std::memcpy(o, fill_row.data(), size_t(j0 * pixel));
        std::memcpy(o + j0 * pixel, s, size_t((j1 - j0) * pixel));
        std::memcpy(o + j1 * pixel, fill_row.data(), size_t((g.out_w - j1) * pixel));
    });
}

// ---- flip ----

// out[n, h, w, :] = in[n, h, W - 1 - w, :], pixels copied as words.
void flip_width(void* out, const void* in, size_t elem_size, int64_t N, int64_t H, int64_t W,
                int64_t C) {
    with_word(C * int64_t(elem_size), in, out, [&](auto word) {
        using Word = decltype(word);
        const int64_t P = C * int64_t(elem_size) / int64_t(sizeof(Word)); // words per pixel
        const Word* src = static_cast<const Word*>(in);                   // (N, H, W, P)
        Word* dst = static_cast<Word*>(out);                              // (N, H, W, P)
        parallel_for(N * H, rows_grain(W * P), [&](int64_t row) {
            const Word* s = src + row * W * P;
            Word* o = dst + row * W * P;
            for (int64_t w = 0; w < W; w++) {
                const Word* p = s + (W - 1 - w) * P;
                for (int64_t k = 0; k < P; k++) o[w * P + k] = p[k];
            }
        });
    });
}

} // namespace pg::cpu
