// CUDA layout kernels for any dtype: permute (a strided gather, or a shared-memory tiled transpose
// for the batched-transpose case such as NHWC <-> NCHW), window (crop / pad with a fill value
// converted to the dtype by the CPU's own conversion) and flip_width (mirror W of an NHWC image).
// CPU twin: tensor/cpu/layout.cpp. Elements and pixels move as machine words (cuda/words.cuh), so
// every copy is bit-exact.
#include <cstring>

#include "cuda/context.h"
#include "cuda/kernels.h"
#include "cuda/words.cuh"
#include "tensor/cpu/kernels.h"

namespace pg::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 32; // transpose tile edge; blockDim (32, 8)
constexpr int kTileRows = 8;

__device__ __forceinline__ int64_t global_thread() {
    return blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

// ---- permute ----

// The output of a permute as ndim dims of `shape`, each with its element stride in the input;
// an element is E words.
struct PermuteGeometry {
    int ndim;
    int64_t E;
    int64_t shape[kMaxDims];
    int64_t stride[kMaxDims];
};

// out (shape..., E words) = in at the strided offsets. One thread per output word, grid-stride,
// blockDim 256: writes coalesce, reads coalesce when the last dim (or E) is contiguous.
template <typename Word>
__global__ void permute_gather_kernel(Word* out, const Word* in, PermuteGeometry g, int64_t total) {
    for (int64_t idx = global_thread(); idx < total; idx += grid_threads()) {
        int64_t rest = idx / g.E, offset = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            offset += (rest % g.shape[d]) * g.stride[d];
            rest /= g.shape[d];
        }
        out[idx] = in[offset * g.E + idx % g.E];
    }
}

// out (B, Y, X) = in (B, X, Y) transposed, one-word elements. One block per 32 x 32 tile
// (grid-stride over B * tiles), blockDim (32, 8): the tile is read along Y and written along X
// through shared memory (padded to 33 columns against bank conflicts), so both sides coalesce.
template <typename Word>
__global__ void transpose_kernel(Word* out, const Word* in, int64_t B, int64_t X, int64_t Y) {
    __shared__ Word tile[kTile][kTile + 1];
    const int64_t tiles_x = (X + kTile - 1) / kTile, tiles_y = (Y + kTile - 1) / kTile;
    for (int64_t t = blockIdx.x; t < B * tiles_x * tiles_y; t += gridDim.x) {
        const int64_t b = t / (tiles_x * tiles_y);
        const int64_t x0 = (t / tiles_y) % tiles_x * kTile, y0 = t % tiles_y * kTile;
        const Word* src = in + b * X * Y; // (X, Y)
        Word* dst = out + b * X * Y;      // (Y, X)
        for (int r = threadIdx.y; r < kTile; r += kTileRows) {
            const int64_t x = x0 + r, y = y0 + threadIdx.x;
            if (x < X && y < Y) tile[r][threadIdx.x] = src[x * Y + y];
        }
        __syncthreads();
        for (int r = threadIdx.y; r < kTile; r += kTileRows) {
            const int64_t y = y0 + r, x = x0 + threadIdx.x;
            if (x < X && y < Y) dst[y * X + x] = tile[threadIdx.x][r];
        }
        __syncthreads(); // the tile is refilled by the next iteration
    }
}

// The output dims of permute with size-1 dims dropped and neighbours merged when they are also
// neighbours in the input (stride[i] == stride[i + 1] * shape[i + 1]): NHWC -> NCHW becomes
// (N, C, HW) with strides (HWC, 1, C). Strides and sizes count elements.
PermuteGeometry simplify(int ndim, const int64_t* in_shape, const int* perm) {
    int64_t in_stride[kMaxDims];
    for (int d = ndim - 1; d >= 0; d--)
        in_stride[d] = d == ndim - 1 ? 1 : in_stride[d + 1] * in_shape[d + 1];
    PermuteGeometry g{};
    for (int d = 0; d < ndim; d++) {
        const int64_t size = in_shape[perm[d]], stride = in_stride[perm[d]];
        if (size == 1) continue;
        if (g.ndim > 0 && g.stride[g.ndim - 1] == stride * size) {
            g.shape[g.ndim - 1] *= size;
            g.stride[g.ndim - 1] = stride;
        } else {
            g.shape[g.ndim] = size, g.stride[g.ndim] = stride, g.ndim++;
        }
    }
    if (g.ndim == 0) g.ndim = 1, g.shape[0] = 1, g.stride[0] = 1; // a single element
    return g;
}

// ---- window and flip ----

// out (N, out_h, out_w, P words) = in (N, H, W, P words) at (i + offset_h, j + offset_w), or the
// fill where that is outside. pattern holds the converted fill element repeated over 8 bytes, so
// word k of a pixel is its bytes [k * sizeof(Word) % 8, ...). One thread per output word,
// grid-stride, blockDim 256.
template <typename Word>
__global__ void window_kernel(Word* out, const Word* in, int64_t P, WindowGeometry g,
                              uint64_t pattern) {
    const int64_t total = g.N * g.out_h * g.out_w * P;
    for (int64_t idx = global_thread(); idx < total; idx += grid_threads()) {
        const int64_t k = idx % P, j = (idx / P) % g.out_w;
        const int64_t i = (idx / (P * g.out_w)) % g.out_h, n = idx / (P * g.out_w * g.out_h);
        const int64_t si = i + g.offset_h, sj = j + g.offset_w;
        if (si >= 0 && si < g.H && sj >= 0 && sj < g.W)
            out[idx] = in[((n * g.H + si) * g.W + sj) * P + k];
        else
            out[idx] = Word(pattern >> (8 * ((k * int64_t(sizeof(Word))) % 8)));
    }
}

// out[n, h, w] = in[n, h, W - 1 - w], pixels of P words. One thread per output word, grid-stride.
template <typename Word>
__global__ void flip_width_kernel(Word* out, const Word* in, int64_t rows, int64_t W, int64_t P) {
    for (int64_t idx = global_thread(); idx < rows * W * P; idx += grid_threads()) {
        const int64_t k = idx % P, w = (idx / P) % W, row = idx / (P * W);
        out[idx] = in[(row * W + (W - 1 - w)) * P + k];
    }
}

} // namespace

// out dim i = in dim perm[i]. Trailing dims that stay in place are folded into the element as on
// the CPU (NHWC -> NWHC moves whole C-vectors); the rest is simplified, then copied by the tiled
// transpose when it is a (batched) 2-D transpose of one-word elements, else by the gather.
void permute(void* out, const void* in, size_t elem_size, int ndim, const int64_t* in_shape,
             const int* perm) {
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= in_shape[d];
    if (numel == 0) return;
    int64_t elem = int64_t(elem_size);
    while (ndim > 1 && perm[ndim - 1] == ndim - 1) elem *= in_shape[--ndim];
    PermuteGeometry g = simplify(ndim, in_shape, perm);
    if (g.ndim == 1 && g.stride[0] == 1) return copy(out, in, size_t(numel) * elem_size);
    with_word(elem, in, out, [&](auto word) {
        using Word = decltype(word);
        g.E = elem / int64_t(sizeof(Word));
        const int64_t* s = g.shape;
        const bool transpose2 = g.ndim == 2 && g.stride[0] == 1 && g.stride[1] == s[0];
        const bool transpose3 =
            g.ndim == 3 && g.stride[1] == 1 && g.stride[2] == s[1] && g.stride[0] == s[1] * s[2];
        if (g.E == 1 && (transpose2 || transpose3)) {
            // out (B, Y, X) from in (B, X, Y): out shape is (Y, X) or (B, Y, X).
            const int64_t B = transpose3 ? s[0] : 1, Y = s[g.ndim - 2], X = s[g.ndim - 1];
            const int64_t tiles = B * ((X + kTile - 1) / kTile) * ((Y + kTile - 1) / kTile);
            transpose_kernel<<<grid_for(tiles, 1), dim3(kTile, kTileRows), 0, stream()>>>(
                static_cast<Word*>(out), static_cast<const Word*>(in), B, X, Y);
        } else {
            const int64_t total = numel * int64_t(elem_size) / int64_t(sizeof(Word));
            permute_gather_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(
                static_cast<Word*>(out), static_cast<const Word*>(in), g, total);
        }
    });
    CUDA_CHECK_LAUNCH();
}

void window(void* out, const void* in, DType dtype, const WindowGeometry& g, double fill_value) {
    const int64_t elem = int64_t(dtype_size(dtype));
    const int64_t pixel = g.C * elem; // bytes per pixel
    if (g.N * g.out_h * g.out_w * pixel == 0) return;
    // The fill element converted exactly as the CPU's window does (by the CPU fill kernel: 255 is
    // a u8 255, 0.5 an f32 0.5), repeated over 8 bytes (every element size divides 8).
    uint64_t pattern = 0;
    cpu::fill(&pattern, dtype, int64_t(sizeof(pattern)) / elem, fill_value);
    with_word(pixel, in, out, [&](auto word) {
        using Word = decltype(word);
        const int64_t P = pixel / int64_t(sizeof(Word)); // words per pixel
        const int64_t total = g.N * g.out_h * g.out_w * P;
        window_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(
            static_cast<Word*>(out), static_cast<const Word*>(in), P, g, pattern);
    });
    CUDA_CHECK_LAUNCH();
}

void flip_width(void* out, const void* in, size_t elem_size, int64_t N, int64_t H, int64_t W,
                int64_t C) {
    const int64_t pixel = C * int64_t(elem_size);
    if (N * H * W * pixel == 0) return;
    with_word(pixel, in, out, [&](auto word) {
        using Word = decltype(word);
        const int64_t P = pixel / int64_t(sizeof(Word)); // words per pixel
        flip_width_kernel<<<grid_for(N * H * W * P, kThreads), kThreads, 0, stream()>>>(
            static_cast<Word*>(out), static_cast<const Word*>(in), N * H, W, P);
    });
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
