// CUDA elementwise kernels: unary ops and their derivatives, broadcast binary ops and comparisons,
// logic on masks, where, broadcast_to and its adjoint reduce_to_shape. CPU twin:
// tensor/cpu/elementwise.cpp (same formulas, same NaN behaviour). Every kernel is a grid-stride
// loop with one thread per output element; the op is a template argument, not a runtime switch.
#include <cmath>
#include <cstdint>

#include "cuda/context.h"
#include "cuda/kernels.h"
#include "cuda/reduce_util.cuh"
#include "tensor/error.h"

namespace pg::cuda {
namespace {

constexpr int kThreads = 256;

// One thread per element i of [0, n), grid-stride: f(i).
template <typename F>
__global__ void map_kernel(int64_t n, F f) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

template <typename F>
void launch_map(int64_t n, F f) {
    if (n <= 0) return;
    map_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, f);
    CUDA_CHECK_LAUNCH();
}

// ---- unary ----

template <UnaryOp kOp>
__device__ __forceinline__ float unary_value(float v, float alpha, float beta) {
    if constexpr (kOp == UnaryOp::affine) return alpha * v + beta;
    if constexpr (kOp == UnaryOp::reciprocal) return alpha / v;
    if constexpr (kOp == UnaryOp::pow) return powf(v, alpha);
    if constexpr (kOp == UnaryOp::neg) return -v;
    if constexpr (kOp == UnaryOp::sqrt) return sqrtf(v);
    if constexpr (kOp == UnaryOp::exp) return expf(v);
    if constexpr (kOp == UnaryOp::log) return logf(v);
    if constexpr (kOp == UnaryOp::abs) return fabsf(v);
    if constexpr (kOp == UnaryOp::clamp) return v < alpha ? alpha : (v > beta ? beta : v);
    if constexpr (kOp == UnaryOp::relu) return v < 0.f ? 0.f : v; // NaN stays NaN
    if constexpr (kOp == UnaryOp::leaky_relu) return v > 0.f ? v : alpha * v;
    if constexpr (kOp == UnaryOp::elu) return v > 0.f ? v : alpha * expm1f(v);
    if constexpr (kOp == UnaryOp::sigmoid) return 1.f / (1.f + expf(-v));
    if constexpr (kOp == UnaryOp::tanh) return tanhf(v);
    return 0.f;
}

// f'(x), written in whichever of x and y = f(x) the CPU uses.
template <UnaryOp kOp>
__device__ __forceinline__ float unary_derivative(float x, float y, float alpha, float beta) {
    if constexpr (kOp == UnaryOp::affine) return alpha;
    if constexpr (kOp == UnaryOp::reciprocal) return -alpha / (x * x); // d(a/x) = -a / x^2
    if constexpr (kOp == UnaryOp::pow) return alpha * powf(x, alpha - 1.f);
    if constexpr (kOp == UnaryOp::neg) return -1.f;
    if constexpr (kOp == UnaryOp::sqrt) return 0.5f / y;
    if constexpr (kOp == UnaryOp::exp) return y;
    if constexpr (kOp == UnaryOp::log) return 1.f / x;
    if constexpr (kOp == UnaryOp::abs) return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    if constexpr (kOp == UnaryOp::clamp) return x >= alpha && x <= beta ? 1.f : 0.f;
    if constexpr (kOp == UnaryOp::relu) return y > 0.f ? 1.f : 0.f;
    if constexpr (kOp == UnaryOp::leaky_relu) return x > 0.f ? 1.f : alpha;
    if constexpr (kOp == UnaryOp::elu) return x > 0.f ? 1.f : y + alpha; // a e^x = y + a
    if constexpr (kOp == UnaryOp::sigmoid) return y * (1.f - y);
    if constexpr (kOp == UnaryOp::tanh) return 1.f - y * y;
    (void)beta;
    return 0.f;
}

template <UnaryOp kOp>
struct UnaryForward {
    float* y;
    const float* x;
    float alpha, beta;
    __device__ void operator()(int64_t i) const { y[i] = unary_value<kOp>(x[i], alpha, beta); }
};

// dx = dy * f'(x). x or y may be null when the op does not read it (the autograd passes both).
template <UnaryOp kOp>
struct UnaryBackward {
    float* dx;
    const float* dy;
    const float* x;
    const float* y;
    float alpha, beta;
    __device__ void operator()(int64_t i) const {
        constexpr bool reads_x = kOp == UnaryOp::reciprocal || kOp == UnaryOp::pow ||
                                 kOp == UnaryOp::log || kOp == UnaryOp::abs ||
                                 kOp == UnaryOp::clamp || kOp == UnaryOp::leaky_relu ||
                                 kOp == UnaryOp::elu;
        constexpr bool reads_y = kOp == UnaryOp::sqrt || kOp == UnaryOp::exp ||
                                 kOp == UnaryOp::relu || kOp == UnaryOp::elu ||
                                 kOp == UnaryOp::sigmoid || kOp == UnaryOp::tanh;
        const float xi = reads_x ? x[i] : 0.f, yi = reads_y ? y[i] : 0.f;
        dx[i] = dy[i] * unary_derivative<kOp>(xi, yi, alpha, beta);
    }
};

template <template <UnaryOp> class F, typename... Args>
void dispatch_unary(UnaryOp op, int64_t n, Args... args) {
    switch (op) {
    case UnaryOp::affine:
        return launch_map(n, F<UnaryOp::affine>{args...});
    case UnaryOp::reciprocal:
        return launch_map(n, F<UnaryOp::reciprocal>{args...});
    case UnaryOp::pow:
        return launch_map(n, F<UnaryOp::pow>{args...});
    case UnaryOp::neg:
        return launch_map(n, F<UnaryOp::neg>{args...});
    case UnaryOp::sqrt:
        return launch_map(n, F<UnaryOp::sqrt>{args...});
    case UnaryOp::exp:
        return launch_map(n, F<UnaryOp::exp>{args...});
    case UnaryOp::log:
        return launch_map(n, F<UnaryOp::log>{args...});
    case UnaryOp::abs:
        return launch_map(n, F<UnaryOp::abs>{args...});
    case UnaryOp::clamp:
        return launch_map(n, F<UnaryOp::clamp>{args...});
    case UnaryOp::relu:
        return launch_map(n, F<UnaryOp::relu>{args...});
    case UnaryOp::leaky_relu:
        return launch_map(n, F<UnaryOp::leaky_relu>{args...});
    case UnaryOp::elu:
        return launch_map(n, F<UnaryOp::elu>{args...});
    case UnaryOp::sigmoid:
        return launch_map(n, F<UnaryOp::sigmoid>{args...});
    case UnaryOp::tanh:
        return launch_map(n, F<UnaryOp::tanh>{args...});
    }
}

// ---- broadcast walking ----

// One thread per output element i, grid-stride: f(i, ia, ib) with the offsets of a and b found by
// dividing i by the (collapsed) extents. Index is uint32_t when numel fits: 32-bit division is
// several times cheaper than 64-bit on the GPU.
template <typename Index, typename F>
__global__ void broadcast_kernel(BroadcastGeometry g, F f) {
    const Index n = Index(g.numel), stride = Index(gridDim.x) * blockDim.x;
    for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        Index rem = i, ia = 0, ib = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            const Index extent = Index(g.shape[d]), idx = rem % extent;
            rem /= extent;
            ia += idx * Index(g.a_stride[d]);
            ib += idx * Index(g.b_stride[d]);
        }
        f(int64_t(i), int64_t(ia), int64_t(ib));
    }
}

template <typename F>
struct SameShape {
    F f;
    __device__ void operator()(int64_t i) const { f(i, i, i); }
};

template <typename F>
void broadcast_for(const BroadcastGeometry& g, F f) {
    if (g.numel <= 0) return;
    if (g.ndim == 1 && g.a_stride[0] == 1 && g.b_stride[0] == 1) { // same shape: the common case
        launch_map(g.numel, SameShape<F>{f});
        return;
    }
    if (g.numel <= INT32_MAX)
        broadcast_kernel<uint32_t><<<grid_for(g.numel, kThreads), kThreads, 0, stream()>>>(g, f);
    else
        broadcast_kernel<int64_t><<<grid_for(g.numel, kThreads), kThreads, 0, stream()>>>(g, f);
    CUDA_CHECK_LAUNCH();
}

template <BinaryOp kOp>
struct Binary {
    float* out;
    const float* a;
    const float* b;
    __device__ void operator()(int64_t i, int64_t ia, int64_t ib) const {
        const float u = a[ia], v = b[ib];
        if constexpr (kOp == BinaryOp::add) out[i] = u + v;
        if constexpr (kOp == BinaryOp::sub) out[i] = u - v;
        if constexpr (kOp == BinaryOp::mul) out[i] = u * v;
        if constexpr (kOp == BinaryOp::div) out[i] = u / v;
        if constexpr (kOp == BinaryOp::maximum)
            out[i] = u >= v || u != u ? u : v; // NaN in either wins, as on the CPU
        if constexpr (kOp == BinaryOp::minimum) out[i] = u <= v || u != u ? u : v;
        if constexpr (kOp == BinaryOp::add_relu) { // as add, then relu: bit for bit
            const float s = u + v;
            out[i] = s < 0.f ? 0.f : s;
        }
    }
};

__device__ __forceinline__ bool compare_one(CompareOp op, float u, float v) {
    switch (op) {
    case CompareOp::eq:
        return u == v;
    case CompareOp::ne:
        return u != v;
    case CompareOp::lt:
        return u < v;
    case CompareOp::le:
        return u <= v;
    case CompareOp::gt:
        return u > v;
    case CompareOp::ge:
        return u >= v;
    }
    return false;
}

// The compare op is a runtime value: the branch is uniform across the grid and the kernel is
// memory bound, so one instantiation serves all six.
struct Compare {
    CompareOp op;
    uint8_t* out;
    const float* a;
    const float* b;
    __device__ void operator()(int64_t i, int64_t ia, int64_t ib) const {
        out[i] = compare_one(op, a[ia], b[ib]);
    }
};

struct CompareScalar {
    CompareOp op;
    uint8_t* out;
    const float* a;
    float b;
    __device__ void operator()(int64_t i) const { out[i] = compare_one(op, a[i], b); }
};

struct Logical {
    LogicalOp op;
    uint8_t* out;
    const uint8_t* a;
    const uint8_t* b; // null for not_
    __device__ void operator()(int64_t i) const {
        const bool u = a[i] != 0, v = op == LogicalOp::not_ ? false : b[i] != 0;
        switch (op) {
        case LogicalOp::and_:
            out[i] = u && v;
            break;
        case LogicalOp::or_:
            out[i] = u || v;
            break;
        case LogicalOp::xor_:
            out[i] = u != v;
            break;
        case LogicalOp::not_:
            out[i] = !u;
            break;
        }
    }
};

struct Where {
    float* out;
    const uint8_t* mask;
    const float* a; // null: a_value
    float a_value;
    const float* b; // null: b_value
    float b_value;
    __device__ void operator()(int64_t i) const {
        out[i] = mask[i] ? (a ? a[i] : a_value) : (b ? b[i] : b_value);
    }
};

struct BroadcastTo {
    float* out;
    const float* in;
    __device__ void operator()(int64_t i, int64_t ia, int64_t) const { out[i] = in[ia]; }
};

// ---- reduce_to_shape: the general case ----

// The dims of a BroadcastGeometry split into kept (a_stride != 0) and reduced (a_stride == 0) ones,
// each with its stride in the big, contiguous input.
struct SplitGeometry {
    int kept = 0, reduced = 0;
    int64_t kept_shape[kMaxDims], kept_in_stride[kMaxDims], kept_out_stride[kMaxDims];
    int64_t reduced_shape[kMaxDims], reduced_in_stride[kMaxDims];
    int64_t out_n = 1, reduced_n = 1;
};

// out (out_n,) in the small layout: one thread per output element summing its reduced_n inputs in
// row-major order in double (an odometer over the reduced dims), grid-stride. Used only for
// patterns that are not (outer, len, inner) with one reduced axis (two or more reduced axes).
__global__ void reduce_to_shape_gather_kernel(float* out, const float* in, SplitGeometry s) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < s.out_n; j += stride) {
        int64_t rem = j, base = 0, out_offset = 0;
        for (int d = s.kept - 1; d >= 0; d--) {
            const int64_t idx = rem % s.kept_shape[d];
            rem /= s.kept_shape[d];
            base += idx * s.kept_in_stride[d];
            out_offset += idx * s.kept_out_stride[d];
        }
        int64_t idx[kMaxDims] = {}, offset = 0;
        double acc = 0.0;
        for (int64_t r = 0; r < s.reduced_n; r++) {
            acc += in[base + offset];
            for (int d = s.reduced - 1; d >= 0; d--) {
                offset += s.reduced_in_stride[d];
                if (++idx[d] < s.reduced_shape[d]) break;
                offset -= s.reduced_in_stride[d] * s.reduced_shape[d];
                idx[d] = 0;
            }
        }
        out[out_offset] = float(acc);
    }
}

SplitGeometry split_geometry(const BroadcastGeometry& g) {
    SplitGeometry s;
    int64_t in_stride[kMaxDims], running = 1;
    for (int d = g.ndim - 1; d >= 0; d--) in_stride[d] = running, running *= g.shape[d];
    for (int d = 0; d < g.ndim; d++) {
        if (g.a_stride[d] != 0) {
            s.kept_shape[s.kept] = g.shape[d];
            s.kept_in_stride[s.kept] = in_stride[d];
            s.kept_out_stride[s.kept++] = g.a_stride[d];
            s.out_n *= g.shape[d];
        } else {
            s.reduced_shape[s.reduced] = g.shape[d];
            s.reduced_in_stride[s.reduced++] = in_stride[d];
            s.reduced_n *= g.shape[d];
        }
    }
    return s;
}

// True when the kept dims' output strides are the row-major strides of the kept shape, i.e. the
// small tensor is (outer, inner) around the reduced axis.
bool kept_is_contiguous(const SplitGeometry& s) {
    int64_t running = 1;
    for (int d = s.kept - 1; d >= 0; d--) {
        if (s.kept_out_stride[d] != running) return false;
        running *= s.kept_shape[d];
    }
    return true;
}

} // namespace

void unary_forward(UnaryOp op, float* y, const float* x, int64_t n, float alpha, float beta) {
    dispatch_unary<UnaryForward>(op, n, y, x, alpha, beta);
}

void unary_backward(UnaryOp op, float* dx, const float* dy, const float* x, const float* y,
                    int64_t n, float alpha, float beta) {
    dispatch_unary<UnaryBackward>(op, n, dx, dy, x, y, alpha, beta);
}

void binary_forward(BinaryOp op, float* out, const float* a, const float* b,
                    const BroadcastGeometry& g) {
    switch (op) {
    case BinaryOp::add:
        return broadcast_for(g, Binary<BinaryOp::add>{out, a, b});
    case BinaryOp::sub:
        return broadcast_for(g, Binary<BinaryOp::sub>{out, a, b});
    case BinaryOp::mul:
        return broadcast_for(g, Binary<BinaryOp::mul>{out, a, b});
    case BinaryOp::div:
        return broadcast_for(g, Binary<BinaryOp::div>{out, a, b});
    case BinaryOp::maximum:
        return broadcast_for(g, Binary<BinaryOp::maximum>{out, a, b});
    case BinaryOp::minimum:
        return broadcast_for(g, Binary<BinaryOp::minimum>{out, a, b});
    case BinaryOp::add_relu:
        return broadcast_for(g, Binary<BinaryOp::add_relu>{out, a, b});
    }
}

void compare(CompareOp op, uint8_t* out, const float* a, const float* b,
             const BroadcastGeometry& g) {
    broadcast_for(g, Compare{op, out, a, b});
}

void compare_scalar(CompareOp op, uint8_t* out, const float* a, float b, int64_t n) {
    launch_map(n, CompareScalar{op, out, a, b});
}

void logical(LogicalOp op, uint8_t* out, const uint8_t* a, const uint8_t* b, int64_t n) {
    launch_map(n, Logical{op, out, a, b});
}

void where(float* out, const uint8_t* mask, const float* a, float a_value, const float* b,
           float b_value, int64_t n) {
    launch_map(n, Where{out, mask, a, a_value, b, b_value});
}

void broadcast_to(float* out, const float* in, const BroadcastGeometry& g) {
    broadcast_for(g, BroadcastTo{out, in});
}

// out (small) = sum of in over the dims where g.a_stride is 0, in double, deterministic. One
// reduced axis (every bias / per-channel / per-pixel / scalar gradient) is sum_axis over
// (outer, len, inner) (cuda/reduce.cu); anything else takes the one-thread-per-output gather.
void reduce_to_shape(float* out, const float* in, const BroadcastGeometry& g) {
    const SplitGeometry s = split_geometry(g);
    if (s.out_n == 0) return;
    if (g.numel == 0) { // nothing to sum: every output is 0
        CUDA_CHECK(cudaMemsetAsync(out, 0, size_t(s.out_n) * sizeof(float), stream()));
        return;
    }
    if (s.reduced == 0 && kept_is_contiguous(s)) { // nothing is broadcast: a copy
        CUDA_CHECK(cudaMemcpyAsync(out, in, size_t(s.out_n) * sizeof(float),
                                   cudaMemcpyDeviceToDevice, stream()));
        return;
    }
    if (s.reduced == 1 && kept_is_contiguous(s)) {
        int64_t outer = 1, inner = 1;
        bool before = true;
        for (int d = 0; d < g.ndim; d++) {
            if (g.a_stride[d] == 0)
                before = false;
            else
                (before ? outer : inner) *= g.shape[d];
        }
        sum_axis(out, in, outer, s.reduced_n, inner, 1.0);
        return;
    }
    reduce_to_shape_gather_kernel<<<grid_for(s.out_n, kThreads), kThreads, 0, stream()>>>(out, in,
                                                                                          s);
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
