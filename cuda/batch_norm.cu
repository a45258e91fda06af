// CUDA batch normalisation over x viewed as (rows = N*H*W, C), with the optional fused ReLU: the
// GPU twins of tensor/cpu/batch_norm.cpp (read that first; the formulas and the double-precision
// per-channel arithmetic are the same; the CPU feeds its double sums with float sums of 8 rows,
// which moves results by about 1e-7 relative). Own kernels rather than cuDNN: cuDNN's NHWC batch
// norm has layout and size restrictions, saves its own statistics (and running variance
// conventions) rather than our mean / invstd, and its reductions are not guaranteed to be
// run-to-run deterministic.
// Each op is: per-channel sums (fixed chunks of rows, fixed trees: deterministic), a per-channel
// finalise, and one elementwise pass.
#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "cuda/context.h"
#include "cuda/kernels.h"

namespace pg::cuda {
namespace {

constexpr int kTile = 32;       // channels per block: a warp reads 128 contiguous bytes of a row
constexpr int kSumRows = 8;     // blockDim.y of the sums kernel
constexpr int kFinalRows = 32;  // blockDim.y of the finalise kernels
constexpr int kMaxChunks = 256; // row chunks of the sums (partials per channel)

// How the rows are cut for the sums: fixed by (rows, C) alone, never by the GPU, so a result is
// the same on every run and every device. About 2048 blocks, at least 32 rows per chunk.
struct SumPlan {
    int64_t rows_per_chunk, chunks;
};
SumPlan plan_sums(int64_t rows, int64_t C) {
    if (rows == 0) return {1, 1};
    const int64_t channel_blocks = (C + kTile - 1) / kTile;
    int64_t chunks = std::max<int64_t>(1, 2048 / channel_blocks);
    chunks = std::min({chunks, int64_t(kMaxChunks), (rows + 31) / 32});
    const int64_t per = (rows + chunks - 1) / chunks;
    return {per, (rows + per - 1) / per};
}

// partial (2, chunks, C): for channel c and row chunk k (blockIdx.y), the double sums
//   forward  (kBackward false): a = sum (x - x[0, c]),  b = sum (x - x[0, c])^2   (center = x)
//   backward (kBackward true):  a = sum dy,             b = sum dy (x - mean[c])  (center = mean)
// The shift by the channel's first sample keeps E[d^2] - E[d]^2 from losing digits when the mean
// is large against the spread (as on the CPU). Launch: grid (ceil(C / 32), chunks), block (32, 8);
// thread (tx, ty) sums rows ty, ty + 8, ... of the chunk, then a fixed shared-memory tree over ty.
template <bool kBackward>
__global__ void channel_sums_kernel(double* partial, const float* x, const float* dy,
                                    const float* relu_y, const float* center, int64_t rows,
                                    int64_t C, int64_t rows_per_chunk, int64_t chunks) {
    __shared__ double sa[kSumRows][kTile], sb[kSumRows][kTile];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t c = blockIdx.x * int64_t(kTile) + tx, k = blockIdx.y;
    double a = 0.0, b = 0.0;
    if (c < C && rows > 0) {
        const double m = double(center[c]);
        const int64_t end = std::min(rows, (k + 1) * rows_per_chunk);
#pragma unroll 4
        for (int64_t r = k * rows_per_chunk + ty; r < end; r += kSumRows) {
            const double xv = double(x[r * C + c]);
            if (kBackward) {
                // A fused ReLU's backward first: dy where its output is positive, else 0.
                const float dyv = dy[r * C + c];
                const double g = double(relu_y && !(relu_y[r * C + c] > 0.f) ? 0.f : dyv);
                a += g;
                b += g * (xv - m);
            } else {
                const double d = xv - m;
                a += d;
                b += d * d;
            }
        }
    }
    sa[ty][tx] = a;
    sb[ty][tx] = b;
    __syncthreads();
    for (int s = kSumRows / 2; s > 0; s >>= 1) {
        if (ty < s) {
            sa[ty][tx] += sa[ty + s][tx];
            sb[ty][tx] += sb[ty + s][tx];
        }
        __syncthreads();
    }
    if (ty == 0 && c < C) {
        partial[k * C + c] = sa[0][tx];
        partial[(chunks + k) * C + c] = sb[0][tx];
    }
}

// The totals over the chunks of partial (2, chunks, C) for channel c, in block (32, 32): thread
// (tx, ty) adds chunks ty, ty + 32, ... in order, then a fixed tree over ty. Every thread of the
// block must call it; the totals are valid in the threads with ty == 0. partial null = zero sums.
__device__ void total_over_chunks(const double* partial, int64_t chunks, int64_t C, int64_t c,
                                  double& a, double& b) {
    __shared__ double sa[kFinalRows][kTile], sb[kFinalRows][kTile];
    const int tx = threadIdx.x, ty = threadIdx.y;
    double pa = 0.0, pb = 0.0;
    if (partial && c < C)
        for (int64_t k = ty; k < chunks; k += kFinalRows) {
            pa += partial[k * C + c];
            pb += partial[(chunks + k) * C + c];
        }
    sa[ty][tx] = pa;
    sb[ty][tx] = pb;
    __syncthreads();
    for (int s = kFinalRows / 2; s > 0; s >>= 1) {
        if (ty < s) {
            sa[ty][tx] += sa[ty + s][tx];
            sb[ty][tx] += sb[ty + s][tx];
        }
        __syncthreads();
    }
    a = sa[0][tx];
    b = sb[0][tx];
}

// Per channel: batch mean, biased variance, invstd = 1 / sqrt(var + eps), the saved statistics,
// the folded affine y = x scale + shift, and the running-stat update with the unbiased variance.
// The double arithmetic is the CPU's, operation for operation; the _rn intrinsics stop nvcc from
// contracting a * b + c into an FMA, which would round differently. Launch: grid ceil(C / 32),
// block (32, 32), see total_over_chunks.
__global__ void forward_finalize_kernel(float* scale, float* shift, float* save_mean,
                                        float* save_invstd, float* running_mean, float* running_var,
                                        const double* partial, int64_t chunks, const float* x,
                                        const float* weight, const float* bias, int64_t rows,
                                        int64_t C, float momentum, float eps) {
    const int64_t c = blockIdx.x * int64_t(kTile) + threadIdx.x;
    double s1, s2;
    total_over_chunks(partial, chunks, C, c, s1, s2);
    if (threadIdx.y != 0 || c >= C) return;
    const double n = double(rows), k0 = rows > 0 ? double(x[c]) : 0.0;
    const double md = rows > 0 ? s1 / n : 0.0;
    const double var = rows > 0 ? fmax(0.0, __dsub_rn(s2 / n, __dmul_rn(md, md))) : 0.0;
    const double mean = __dadd_rn(k0, md), invstd = 1.0 / sqrt(__dadd_rn(var, double(eps)));
    const double w = weight ? double(weight[c]) : 1.0, b = bias ? double(bias[c]) : 0.0;
    save_mean[c] = float(mean);
    save_invstd[c] = float(invstd);
    scale[c] = float(__dmul_rn(w, invstd));
    shift[c] = float(__dsub_rn(b, __dmul_rn(__dmul_rn(mean, w), invstd)));
    if (running_mean) {
        const double m = double(momentum), keep = 1.0 - m;
        const double unbiased = rows > 1 ? var * n / double(rows - 1) : var;
        running_mean[c] = float(__dadd_rn(__dmul_rn(keep, double(running_mean[c])), m * mean));
        running_var[c] = float(__dadd_rn(__dmul_rn(keep, double(running_var[c])), m * unbiased));
    }
}

// Eval: scale = w / sqrt(rv + eps), shift = b - rm scale (in double, like the CPU). One thread
// per channel, grid-stride, blockDim 256.
__global__ void eval_coefficients_kernel(float* scale, float* shift, const float* weight,
                                         const float* bias, const float* running_mean,
                                         const float* running_var, int64_t C, float eps) {
    for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
         c += int64_t(gridDim.x) * blockDim.x) {
        const double invstd = 1.0 / sqrt(__dadd_rn(double(running_var[c]), double(eps)));
        const double w = weight ? double(weight[c]) : 1.0, b = bias ? double(bias[c]) : 0.0;
        scale[c] = float(__dmul_rn(w, invstd));
        shift[c] = float(__dsub_rn(b, __dmul_rn(__dmul_rn(double(running_mean[c]), w), invstd)));
    }
}

// Backward per channel: dbias = sum dy, dweight = sum dy (x - mean) * invstd, and the
// coefficients of dx = coef_dy dy + coef_x (x - mean) + offset:
//   training: coef_dy = w is, coef_x = -w is^3 mean(dy (x - mean)), offset = -w is mean(dy);
//   eval:     coef_dy = w is, coef_x = offset = 0.
// dweight / dbias / coef_dy null = not wanted. Launch: grid ceil(C / 32), block (32, 32).
__global__ void backward_finalize_kernel(float* dweight, float* dbias, float* coef_dy,
                                         float* coef_x, float* offset, const double* partial,
                                         int64_t chunks, const float* weight, const float* invstd,
                                         int64_t rows, int64_t C, bool training) {
    const int64_t c = blockIdx.x * int64_t(kTile) + threadIdx.x;
    double sum_dy, sum_dy_xmu;
    total_over_chunks(partial, chunks, C, c, sum_dy, sum_dy_xmu);
    if (threadIdx.y != 0 || c >= C) return;
    const double is = double(invstd[c]);
    if (dbias) dbias[c] = float(sum_dy);
    if (dweight) dweight[c] = float(sum_dy_xmu * is);
    if (!coef_dy) return;
    const double w = weight ? double(weight[c]) : 1.0;
    coef_dy[c] = float(w * is);
    if (training && rows > 0) {
        const double mean_dy = sum_dy / double(rows), mean_dy_xmu = sum_dy_xmu / double(rows);
        coef_x[c] = float(-w * is * is * is * mean_dy_xmu);
        offset[c] = float(-w * is * mean_dy);
    } else {
        coef_x[c] = 0.f;
        offset[c] = 0.f;
    }
}

// ---- elementwise passes over (rows, C) ----
// Each thread handles V consecutive elements (V = 4 when C % 4 == 0: float4 loads, all in one
// channel group), grid-stride, blockDim 256. The channel of a thread's element is carried
// incrementally (the grid stride moves it by a fixed amount mod C): no 64-bit division per element.

template <int V>
struct Vec;
template <>
struct Vec<1> {
    using T = float;
};
template <>
struct Vec<4> {
    using T = float4;
};

template <int V>
__device__ inline void load(float (&out)[V], const float* p) {
    const typename Vec<V>::T v = *reinterpret_cast<const typename Vec<V>::T*>(p);
    static_assert(sizeof(v) == V * sizeof(float), "vector width");
    memcpy(out, &v, sizeof(v));
}
template <int V>
__device__ inline void store(float* p, const float (&in)[V]) {
    typename Vec<V>::T v;
    memcpy(&v, in, sizeof(v));
    *reinterpret_cast<typename Vec<V>::T*>(p) = v;
}

// y = x * scale[c] + shift[c], rounded like the CPU (no FMA); with kRelu, max(that, 0) as ReLU
// computes it (NaN stays NaN). x, y (rows, C).
template <int V, bool kRelu>
__global__ void scale_shift_kernel(float* y, const float* x, const float* scale, const float* shift,
                                   int64_t n, int64_t C) {
    const int64_t n_vec = n / V, stride = int64_t(gridDim.x) * blockDim.x;
    int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    int64_t c = (v * V) % C;
    const int64_t step = (stride * V) % C;
    for (; v < n_vec; v += stride) {
        float xv[V], yv[V];
        load<V>(xv, x + v * V);
#pragma unroll
        for (int j = 0; j < V; j++) {
            const float v = __fadd_rn(__fmul_rn(xv[j], scale[c + j]), shift[c + j]);
            yv[j] = kRelu && v < 0.f ? 0.f : v;
        }
        store<V>(y + v * V, yv);
        c += step;
        if (c >= C) c -= C;
    }
}

// dx = coef_dy[c] dy + coef_x[c] (x - mean[c]) + offset[c], in the CPU's order of operations;
// relu_y (nullable): a fused ReLU's output, dy counting only where it is positive.
template <int V>
__global__ void backward_dx_kernel(float* dx, const float* dy, const float* relu_y, const float* x,
                                   const float* coef_dy, const float* coef_x, const float* mean,
                                   const float* offset, int64_t n, int64_t C) {
    const int64_t n_vec = n / V, stride = int64_t(gridDim.x) * blockDim.x;
    int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    int64_t c = (v * V) % C;
    const int64_t step = (stride * V) % C;
    for (; v < n_vec; v += stride) {
        float xv[V], gv[V], out[V];
        load<V>(xv, x + v * V);
        load<V>(gv, dy + v * V);
        if (relu_y) {
            float yv[V];
            load<V>(yv, relu_y + v * V);
#pragma unroll
            for (int j = 0; j < V; j++) gv[j] = yv[j] > 0.f ? gv[j] : 0.f;
        }
#pragma unroll
        for (int j = 0; j < V; j++) {
            const float t = __fadd_rn(__fmul_rn(coef_dy[c + j], gv[j]),
                                      __fmul_rn(coef_x[c + j], __fsub_rn(xv[j], mean[c + j])));
            out[j] = __fadd_rn(t, offset[c + j]);
        }
        store<V>(dx + v * V, out);
        c += step;
        if (c >= C) c -= C;
    }
}

// float4 needs C % 4 == 0 (a vector never straddles two rows' channel sets) and 16-byte alignment.
bool use_vec4(int64_t C, std::initializer_list<const void*> ptrs) {
    if (C % 4 != 0) return false;
    for (const void* p : ptrs)
        if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
    return true;
}

template <bool kRelu>
void scale_shift(float* y, const float* x, const float* scale, const float* shift, int64_t rows,
                 int64_t C) {
    const int64_t n = rows * C;
    if (n == 0) return;
    if (use_vec4(C, {y, x}))
        scale_shift_kernel<4, kRelu>
            <<<grid_for(n / 4), 256, 0, stream()>>>(y, x, scale, shift, n, C);
    else
        scale_shift_kernel<1, kRelu><<<grid_for(n), 256, 0, stream()>>>(y, x, scale, shift, n, C);
    CUDA_CHECK_LAUNCH();
}

void scale_shift(float* y, const float* x, const float* scale, const float* shift, int64_t rows,
                 int64_t C, bool relu) {
    if (relu)
        scale_shift<true>(y, x, scale, shift, rows, C);
    else
        scale_shift<false>(y, x, scale, shift, rows, C);
}

// The per-channel sums of one op into a fresh partial buffer (2, chunks, C) of ws.
template <bool kBackward>
void channel_sums(double* partial, const SumPlan& plan, const float* x, const float* dy,
                  const float* relu_y, const float* center, int64_t rows, int64_t C) {
    const dim3 grid(unsigned((C + kTile - 1) / kTile), unsigned(plan.chunks)),
        block(kTile, kSumRows);
    channel_sums_kernel<kBackward><<<grid, block, 0, stream()>>>(
        partial, x, dy, relu_y, center, rows, C, plan.rows_per_chunk, plan.chunks);
    CUDA_CHECK_LAUNCH();
}

} // namespace

// ---- the Backend entry points ----

void batch_norm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                              float* running_var, const float* x, const float* weight,
                              const float* bias, int64_t rows, int64_t C, float momentum, float eps,
                              bool relu) {
    if (C == 0) return;
    const SumPlan plan = plan_sums(rows, C);
    Workspace partial(size_t(2 * plan.chunks * C) * sizeof(double)); // (2, chunks, C)
    Workspace coef(size_t(2 * C) * sizeof(float));                   // scale, shift (C,)
    float* scale = coef.as<float>();
    float* shift = scale + C;
    channel_sums<false>(partial.as<double>(), plan, x, nullptr, nullptr, x, rows, C);
    forward_finalize_kernel<<<unsigned((C + kTile - 1) / kTile), dim3(kTile, kFinalRows), 0,
                              stream()>>>(scale, shift, save_mean, save_invstd, running_mean,
                                          running_var, partial.as<double>(), plan.chunks, x, weight,
                                          bias, rows, C, momentum, eps);
    CUDA_CHECK_LAUNCH();
    scale_shift(y, x, scale, shift, rows, C, relu);
}

void batch_norm_forward_eval(float* y, const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, int64_t rows,
                             int64_t C, float eps, bool relu) {
    if (C == 0) return;
    Workspace coef(size_t(2 * C) * sizeof(float)); // scale, shift (C,)
    float* scale = coef.as<float>();
    float* shift = scale + C;
    eval_coefficients_kernel<<<grid_for(C), 256, 0, stream()>>>(scale, shift, weight, bias,
                                                                running_mean, running_var, C, eps);
    CUDA_CHECK_LAUNCH();
    scale_shift(y, x, scale, shift, rows, C, relu);
}

void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* invstd, int64_t rows,
                         int64_t C, bool training, const float* relu_y) {
    if (C == 0 || (!dx && !dweight && !dbias)) return;
    const bool need_sums = dweight || dbias || (dx && training);
    const SumPlan plan = plan_sums(rows, C);
    Workspace partial(need_sums ? size_t(2 * plan.chunks * C) * sizeof(double) : 0);
    Workspace coef(dx ? size_t(3 * C) * sizeof(float) : 0); // coef_dy, coef_x, offset (C,)
    float* coef_dy = dx ? coef.as<float>() : nullptr;
    float* coef_x = dx ? coef_dy + C : nullptr;
    float* offset = dx ? coef_dy + 2 * C : nullptr;
    if (need_sums) channel_sums<true>(partial.as<double>(), plan, x, dy, relu_y, mean, rows, C);
    backward_finalize_kernel<<<unsigned((C + kTile - 1) / kTile), dim3(kTile, kFinalRows), 0,
                               stream()>>>(dweight, dbias, coef_dy, coef_x, offset,
                                           need_sums ? partial.as<double>() : nullptr, plan.chunks,
                                           weight, invstd, rows, C, training);
    CUDA_CHECK_LAUNCH();
    const int64_t n = rows * C;
    if (!dx || n == 0) return;
    if (use_vec4(C, {dx, dy, x, relu_y}))
        backward_dx_kernel<4><<<grid_for(n / 4), 256, 0, stream()>>>(dx, dy, relu_y, x, coef_dy,
                                                                     coef_x, mean, offset, n, C);
    else
        backward_dx_kernel<1><<<grid_for(n), 256, 0, stream()>>>(dx, dy, relu_y, x, coef_dy, coef_x,
                                                                 mean, offset, n, C);
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
