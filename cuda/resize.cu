// CUDA resize kernels on NHWC images: bilinear forward and its adjoint (PyTorch's
// F.interpolate(mode='bilinear'), both align_corners modes) and 'nearest' for any element type.
// CPU twin: tensor/cpu/resize.cpp. The per-axis taps (and, for the backward, the range of outputs
// reading each input position) are computed on the device in the CPU's arithmetic, and every
// float product and sum is rounded separately (__fmul_rn / __fadd_rn: no FMA contraction) in the
// CPU's order, so the GPU reproduces the CPU's results bit for bit.
#include <cmath>

#include "cuda/context.h"
#include "cuda/kernels.h"
#include "cuda/words.cuh"

namespace pg::cuda {
namespace {

constexpr int kThreads = 256;

// Output coordinate d along an axis reads input positions i0 and i1 with weights l0 and l1.
struct Tap {
    int32_t i0, i1;
    float l0, l1;
};

// The outputs that read input position p along an axis: [lo, hi), those with i0(d) in {p - 1, p}.
struct Range {
    int32_t lo, hi;
};

// The CPU's linear_taps scale (read its comment): in double, stored as float. Host code.
float linear_scale(int64_t in, int64_t out, bool align_corners) {
    return align_corners ? (out > 1 ? float(double(in - 1) / double(out - 1)) : 0.f)
                         : float(double(in) / double(out));
}

// Tap d of an axis, in the CPU's linear_taps arithmetic: the source index in double from the float
// scale, only the weights rounded to float. Every double operation is an explicitly rounded
// intrinsic (no FMA contraction) and max / min are std::max / std::min's comparisons, so the taps
// are bit-identical to the CPU's.
__device__ __forceinline__ Tap linear_tap(int64_t d, int64_t in, float scale, bool align_corners) {
    const double s = double(scale), dd = double(d);
    double src =
        align_corners ? __dmul_rn(s, dd) : __dadd_rn(__dmul_rn(s, __dadd_rn(dd, 0.5)), -0.5);
    if (!align_corners && src < 0.0) src = 0.0; // std::max(src, 0.0)
    const int64_t i0 = min(int64_t(src), in - 1);
    double frac = __dsub_rn(src, double(i0));
    if (frac < 0.0) frac = 0.0; // std::max(frac, 0.0)
    if (1.0 < frac) frac = 1.0; // std::min(frac, 1.0)
    const float l1 = float(frac);
    return Tap{int32_t(i0), int32_t(i0 < in - 1 ? i0 + 1 : i0), 1.f - l1, l1};
}

// The taps of one axis (in -> out) and, when ranges is not null, the reader range of each input
// position: i0(d) is non-decreasing in d, so [lo, hi) = [first d with i0 >= p - 1, first d with
// i0 >= p + 1) holds every d with i0 == p or i1 == p (i1 == p implies i0 is p - 1 or p).
struct Axis {
    int64_t in, out;
    float scale;
    Tap* taps;     // (out,)
    Range* ranges; // (in,) or null
};

// The first d in [0, out) with i0(d) >= target, or out.
__device__ int32_t first_tap_at_least(const Axis& a, bool align_corners, int64_t target) {
    int64_t lo = 0, hi = a.out;
    while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (linear_tap(mid, a.in, a.scale, align_corners).i0 >= target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return int32_t(lo);
}

// Fills the tap tables (and reader ranges) of both axes. One thread per table entry of the two
// axes together, grid-stride, blockDim 256: out_h + out_w taps, then H + W ranges.
__global__ void axis_tables_kernel(Axis ah, Axis aw, bool align_corners) {
    const int64_t taps = ah.out + aw.out;
    const int64_t total = taps + (ah.ranges ? ah.in + aw.in : 0);
    for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
         t += int64_t(gridDim.x) * blockDim.x) {
        if (t < taps) {
            const Axis a = t < ah.out ? ah : aw;
            const int64_t d = t < ah.out ? t : t - ah.out;
            a.taps[d] = linear_tap(d, a.in, a.scale, align_corners);
        } else {
            const Axis a = t - taps < ah.in ? ah : aw;
            const int64_t p = t - taps < ah.in ? t - taps : t - taps - ah.in;
            a.ranges[p] = Range{first_tap_at_least(a, align_corners, p - 1),
                                first_tap_at_least(a, align_corners, p + 1)};
        }
    }
}

// Device tables of both axes in one Workspace, filled by one launch of axis_tables_kernel (no
// host upload, so the ops stay asynchronous and capturable in a CUDA graph).
class AxisTables {
  public:
    AxisTables(const ResizeGeometry& g, bool with_ranges)
        : memory_(size_t(g.out_h + g.out_w) * sizeof(Tap) +
                  (with_ranges ? size_t(g.H + g.W) * sizeof(Range) : 0)) {
        Tap* taps = memory_.as<Tap>();
        Range* ranges = with_ranges ? reinterpret_cast<Range*>(taps + g.out_h + g.out_w) : nullptr;
        h_ = Axis{g.H, g.out_h, linear_scale(g.H, g.out_h, g.align_corners), taps, ranges};
        w_ = Axis{g.W, g.out_w, linear_scale(g.W, g.out_w, g.align_corners), taps + g.out_h,
                  ranges ? ranges + g.H : nullptr};
        const int64_t total = g.out_h + g.out_w + (with_ranges ? g.H + g.W : 0);
        axis_tables_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(h_, w_,
                                                                                 g.align_corners);
        CUDA_CHECK_LAUNCH();
    }
    const Axis& h() const { return h_; }
    const Axis& w() const { return w_; }

  private:
    Workspace memory_;
    Axis h_{}, w_{};
};

__device__ __forceinline__ int64_t global_thread() {
    return blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

// y (N, out_h, out_w, C) = l0(i) (l0(j) x[h0, w0] + l1(j) x[h0, w1])
//                        + l1(i) (l0(j) x[h1, w0] + l1(j) x[h1, w1])  from x (N, H, W, C),
// width first, then height, as the CPU (and PyTorch). One thread per output element, grid-stride,
// blockDim 256 (consecutive threads take consecutive channels: loads and stores coalesce).
__global__ void bilinear_forward_kernel(float* y, const float* x, const Tap* th, const Tap* tw,
                                        ResizeGeometry g) {
    const int64_t total = g.N * g.out_h * g.out_w * g.C;
    for (int64_t idx = global_thread(); idx < total; idx += grid_threads()) {
        const int64_t k = idx % g.C, j = (idx / g.C) % g.out_w;
        const int64_t i = (idx / (g.C * g.out_w)) % g.out_h, n = idx / (g.C * g.out_w * g.out_h);
        const Tap h = th[i], w = tw[j];
        const float* top = x + (n * g.H + h.i0) * g.W * g.C + k;    // (W,) at channel k, stride C
        const float* bottom = x + (n * g.H + h.i1) * g.W * g.C + k; // (W,) at channel k, stride C
        const float upper =
            __fadd_rn(__fmul_rn(w.l0, top[w.i0 * g.C]), __fmul_rn(w.l1, top[w.i1 * g.C]));
        const float lower =
            __fadd_rn(__fmul_rn(w.l0, bottom[w.i0 * g.C]), __fmul_rn(w.l1, bottom[w.i1 * g.C]));
        y[idx] = __fadd_rn(__fmul_rn(h.l0, upper), __fmul_rn(h.l1, lower));
    }
}

// Backward pass 1, the transpose of the height blend: col (N, H, out_w, C) = sum over the output
// rows i reading input row h (the range rh[h]), in the CPU's order (ascending i, for one i its l0
// term before its l1 term), of lh * dy[n, i] (dy (N, out_h, out_w, C)); 0 for rows nothing reads.
// One thread per col element, grid-stride, blockDim 256.
__global__ void bilinear_backward_rows_kernel(float* col, const float* dy, const Tap* th,
                                              const Range* rh, ResizeGeometry g) {
    const int64_t total = g.N * g.H * g.out_w * g.C;
    for (int64_t idx = global_thread(); idx < total; idx += grid_threads()) {
        const int64_t jk = idx % (g.out_w * g.C); // j * C + k
        const int64_t h = (idx / (g.out_w * g.C)) % g.H, n = idx / (g.out_w * g.C * g.H);
        const Range r = rh[h];
        float acc = 0.f;
        for (int32_t i = r.lo; i < r.hi; i++) {
            const Tap t = th[i];
            const float d = dy[(n * g.out_h + i) * g.out_w * g.C + jk];
            if (t.i0 == h) acc = __fadd_rn(acc, __fmul_rn(t.l0, d));
            if (t.i1 == h) acc = __fadd_rn(acc, __fmul_rn(t.l1, d));
        }
        col[idx] = acc;
    }
}

// Backward pass 2, the transpose of the width blend: dx (N, H, W, C) = sum over the output columns
// j reading input column w (the range rw[w]), in the same order, of lw * col[n, h, j]. Overwrites
// dx (0 where nothing reads). One thread per dx element, grid-stride, blockDim 256.
__global__ void bilinear_backward_cols_kernel(float* dx, const float* col, const Tap* tw,
                                              const Range* rw, ResizeGeometry g) {
    const int64_t total = g.N * g.H * g.W * g.C;
    for (int64_t idx = global_thread(); idx < total; idx += grid_threads()) {
        const int64_t k = idx % g.C, w = (idx / g.C) % g.W, nh = idx / (g.C * g.W);
        const float* colr = col + nh * g.out_w * g.C + k; // (out_w,) at channel k, stride C
        const Range r = rw[w];
        float acc = 0.f;
        for (int32_t j = r.lo; j < r.hi; j++) {
            const Tap t = tw[j];
            const float c = colr[int64_t(j) * g.C];
            if (t.i0 == w) acc = __fadd_rn(acc, __fmul_rn(t.l0, c));
            if (t.i1 == w) acc = __fadd_rn(acc, __fmul_rn(t.l1, c));
        }
        dx[idx] = acc;
    }
}

// PyTorch's 'nearest': src = min(floor(dst * scale), in - 1) with scale = (float)in / out and the
// product in float. y (N, out_h, out_w, P words) <- x (N, H, W, P words): one thread per output
// word, grid-stride, blockDim 256.
template <typename Word>
__global__ void nearest_kernel(Word* y, const Word* x, int64_t P, ResizeGeometry g, float scale_h,
                               float scale_w) {
    const int64_t total = g.N * g.out_h * g.out_w * P;
    for (int64_t idx = global_thread(); idx < total; idx += grid_threads()) {
        const int64_t k = idx % P, j = (idx / P) % g.out_w;
        const int64_t i = (idx / (P * g.out_w)) % g.out_h, n = idx / (P * g.out_w * g.out_h);
        const int64_t si = min(int64_t(floorf(__fmul_rn(float(i), scale_h))), g.H - 1);
        const int64_t sj = min(int64_t(floorf(__fmul_rn(float(j), scale_w))), g.W - 1);
        y[idx] = x[((n * g.H + si) * g.W + sj) * P + k];
    }
}

} // namespace

void resize_bilinear_forward(float* y, const float* x, const ResizeGeometry& g) {
    const int64_t total = g.N * g.out_h * g.out_w * g.C;
    if (total == 0) return;
    const AxisTables tables(g, false);
    bilinear_forward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(
        y, x, tables.h().taps, tables.w().taps, g);
    CUDA_CHECK_LAUNCH();
}

// The adjoint of the separable blend is separable too: pass 1 sums, for each input row, the output
// rows that read it (the CPU's `col`), pass 2 sends those sums to the input columns. Each output
// element is owned by one thread that adds its terms in the CPU's order: no atomics, bit-exact.
void resize_bilinear_backward(float* dx, const float* dy, const ResizeGeometry& g) {
    const int64_t total = g.N * g.H * g.W * g.C;
    if (total == 0) return;
    if (g.out_h * g.out_w == 0) {
        CUDA_CHECK(cudaMemsetAsync(dx, 0, size_t(total) * sizeof(float), stream()));
        return;
    }
    const AxisTables tables(g, true);
    const int64_t col_elems = g.N * g.H * g.out_w * g.C;
    Workspace col(size_t(col_elems) * sizeof(float)); // (N, H, out_w, C)
    bilinear_backward_rows_kernel<<<grid_for(col_elems, kThreads), kThreads, 0, stream()>>>(
        col.as<float>(), dy, tables.h().taps, tables.h().ranges, g);
    CUDA_CHECK_LAUNCH();
    bilinear_backward_cols_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(
        dx, col.as<float>(), tables.w().taps, tables.w().ranges, g);
    CUDA_CHECK_LAUNCH();
}

// Copies whole pixels (C elements of elem_size bytes) as machine words: any dtype, bit-exact.
void resize_nearest(void* y, const void* x, size_t elem_size, const ResizeGeometry& g) {
    const int64_t pixel_bytes = g.C * int64_t(elem_size);
    if (g.N * g.out_h * g.out_w * pixel_bytes == 0) return;
    const float scale_h = float(g.H) / float(g.out_h), scale_w = float(g.W) / float(g.out_w);
    with_word(pixel_bytes, x, y, [&](auto word) {
        using Word = decltype(word);
        const int64_t P = pixel_bytes / int64_t(sizeof(Word)); // words per pixel
        const int64_t total = g.N * g.out_h * g.out_w * P;
        nearest_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(
            static_cast<Word*>(y), static_cast<const Word*>(x), P, g, scale_h, scale_w);
    });
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
