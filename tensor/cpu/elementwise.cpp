// CPU elementwise kernels: unary ops and their derivatives, broadcast binary ops and comparisons,
// logic on masks, where, broadcast_to and its adjoint reduce_to_shape.
#include <cmath>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/error.h"

namespace pg::cpu {

// ---- unary ----

template <typename F>
static void map(float* y, const float* x, int64_t n, F f) {
    parallel_for(n, kChunk, [&](int64_t i) { y[i] = f(x[i]); });
}

void unary_forward(UnaryOp op, float* y, const float* x, int64_t n, float alpha, float beta) {
    switch (op) {
    case UnaryOp::affine:
        map(y, x, n, [=](float v) { return alpha * v + beta; });
        break;
    case UnaryOp::reciprocal:
        map(y, x, n, [=](float v) { return alpha / v; });
        break;
    case UnaryOp::pow:
        map(y, x, n, [=](float v) { return std::pow(v, alpha); });
        break;
    case UnaryOp::neg:
        map(y, x, n, [](float v) { return -v; });
        break;
    case UnaryOp::sqrt:
        map(y, x, n, [](float v) { return std::sqrt(v); });
        break;
    case UnaryOp::exp:
        map(y, x, n, [](float v) { return std::exp(v); });
        break;
    case UnaryOp::log:
        map(y, x, n, [](float v) { return std::log(v); });
        break;
    case UnaryOp::abs:
        map(y, x, n, [](float v) { return std::fabs(v); });
        break;
    case UnaryOp::clamp:
        map(y, x, n, [=](float v) { return v < alpha ? alpha : (v > beta ? beta : v); });
        break;
    case UnaryOp::relu:
        map(y, x, n, [](float v) { return v < 0.f ? 0.f : v; }); // NaN stays NaN, as in PyTorch
        break;
    case UnaryOp::leaky_relu: // both arms computed, then a select (see relu's backward below)
        parallel_for(n, kChunk, [&](int64_t i) {
            const float v = x[i], scaled = alpha * v;
            y[i] = v > 0.f ? v : scaled;
        });
        break;
    case UnaryOp::elu:
        map(y, x, n, [=](float v) { return v > 0.f ? v : alpha * std::expm1(v); });
        break;
    case UnaryOp::sigmoid:
        map(y, x, n, [](float v) { return 1.f / (1.f + std::exp(-v)); });
        break;
    case UnaryOp::tanh:
        map(y, x, n, [](float v) { return std::tanh(v); });
        break;
    }
}

// dx = dy * f'(x), with f' written in whichever of x and y = f(x) is at hand.
template <typename F>
static void map_grad(float* dx, const float* dy, int64_t n, F fprime) {
    parallel_for(n, kChunk, [&](int64_t i) { dx[i] = dy[i] * fprime(i); });
}

void unary_backward(UnaryOp op, float* dx, const float* dy, const float* x, const float* y,
                    int64_t n, float alpha, float beta) {
    switch (op) {
    case UnaryOp::affine:
        map_grad(dx, dy, n, [=](int64_t) { return alpha; });
        break;
    case UnaryOp::reciprocal: // d(a/x) = -a / x^2
        map_grad(dx, dy, n, [=](int64_t i) { return -alpha / (x[i] * x[i]); });
        break;
    case UnaryOp::pow: // d(x^a) = a x^(a-1)
        map_grad(dx, dy, n, [=](int64_t i) { return alpha * std::pow(x[i], alpha - 1.f); });
        break;
    case UnaryOp::neg:
        map_grad(dx, dy, n, [](int64_t) { return -1.f; });
        break;
    case UnaryOp::sqrt:
        map_grad(dx, dy, n, [=](int64_t i) { return 0.5f / y[i]; });
        break;
    case UnaryOp::exp:
        map_grad(dx, dy, n, [=](int64_t i) { return y[i]; });
        break;
    case UnaryOp::log:
        map_grad(dx, dy, n, [=](int64_t i) { return 1.f / x[i]; });
        break;
    case UnaryOp::abs:
        map_grad(dx, dy, n,
                 [=](int64_t i) { return x[i] > 0.f ? 1.f : (x[i] < 0.f ? -1.f : 0.f); });
        break;
    case UnaryOp::clamp: // gradient passes where the input was inside [alpha, beta]
        map_grad(dx, dy, n, [=](int64_t i) { return x[i] >= alpha && x[i] <= beta ? 1.f : 0.f; });
        break;
    case UnaryOp::relu: // a select, not dy * (0 or 1), and dy read unconditionally: GCC does not
        // speculate a load that only one arm makes, so `y > 0 ? dy[i] : 0` kept a branch, which
        // ReLU's mixed signs mispredict half the time (3.9 GB/s; as a select, see BM_ReluBackward).
        parallel_for(n, kChunk, [&](int64_t i) {
            const float g = dy[i];
            dx[i] = y[i] > 0.f ? g : 0.f;
        });
        break;
    case UnaryOp::leaky_relu: // dy or alpha dy by a select, as relu's
        parallel_for(n, kChunk, [&](int64_t i) {
            const float g = dy[i], scaled = alpha * g;
            dx[i] = x[i] > 0.f ? g : scaled;
        });
        break;
    case UnaryOp::elu: // for x <= 0: d(a (e^x - 1)) = a e^x = y + a
        map_grad(dx, dy, n, [=](int64_t i) { return x[i] > 0.f ? 1.f : y[i] + alpha; });
        break;
    case UnaryOp::sigmoid:
        map_grad(dx, dy, n, [=](int64_t i) { return y[i] * (1.f - y[i]); });
        break;
    case UnaryOp::tanh:
        map_grad(dx, dy, n, [=](int64_t i) { return 1.f - y[i] * y[i]; });
        break;
    }
    (void)beta;
}

// ---- broadcast walking ----

// Calls f(i, ia, ib) for every output index i with the matching element offsets of a and b.
// When the innermost dimension is long (a channel row: Dropout2d's (N, H, W, C) * (N, 1, 1, C), a
// per-channel bias), rows go through whole: each row finds its offsets once, and its loop, with
// the operands' steps (0 or 1) fixed per case, vectorises. Otherwise each chunk finds its starting
// multi-index once, then steps it like an odometer. Either way f sees every i once.
constexpr int64_t kMinRow = 16; // innermost length from which rows go through whole

template <typename F>
static void broadcast_rows(const BroadcastGeometry& g, F f) {
    const int nd = g.ndim;
    const int64_t len = g.shape[nd - 1], sa = g.a_stride[nd - 1], sb = g.b_stride[nd - 1];
    const int64_t rows = g.numel / len;
    parallel_for(rows, std::max<int64_t>(1, kChunk / len), [&](int64_t row) {
        int64_t ia = 0, ib = 0, rem = row;
        for (int d = nd - 2; d >= 0; d--) {
            const int64_t idx = rem % g.shape[d];
            rem /= g.shape[d];
            ia += idx * g.a_stride[d];
            ib += idx * g.b_stride[d];
        }
        const int64_t i = row * len;
        if (sa == 1 && sb == 1)
            for (int64_t j = 0; j < len; j++) f(i + j, ia + j, ib + j);
        else if (sa == 1 && sb == 0)
            for (int64_t j = 0; j < len; j++) f(i + j, ia + j, ib);
        else if (sa == 0 && sb == 1)
            for (int64_t j = 0; j < len; j++) f(i + j, ia, ib + j);
        else
            for (int64_t j = 0; j < len; j++) f(i + j, ia + j * sa, ib + j * sb);
    });
}

template <typename F>
static void broadcast_for(const BroadcastGeometry& g, F f) {
    if (g.ndim == 1 && g.a_stride[0] == 1 && g.b_stride[0] == 1) { // same shape: the common case
        parallel_for(g.numel, kChunk, [&](int64_t i) { f(i, i, i); });
        return;
    }
    const int nd = g.ndim;
    if (nd >= 1 && g.shape[nd - 1] >= kMinRow && g.numel > 0) return broadcast_rows(g, f);
    parallel_chunks(g.numel, kChunk, [&](int64_t begin, int64_t end) {
        int64_t idx[kMaxDims], ia = 0, ib = 0, rem = begin;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = rem % g.shape[d];
            rem /= g.shape[d];
            ia += idx[d] * g.a_stride[d];
            ib += idx[d] * g.b_stride[d];
        }
        for (int64_t i = begin; i < end; i++) {
            f(i, ia, ib);
            for (int d = nd - 1; d >= 0; d--) {
                ia += g.a_stride[d];
                ib += g.b_stride[d];
                if (++idx[d] < g.shape[d]) break;
                ia -= g.a_stride[d] * g.shape[d];
                ib -= g.b_stride[d] * g.shape[d];
                idx[d] = 0;
            }
        }
    });
}

template <typename F>
static void binary_map(float* out, const float* a, const float* b, const BroadcastGeometry& g,
                       F f) {
    broadcast_for(g, [&](int64_t i, int64_t ia, int64_t ib) { out[i] = f(a[ia], b[ib]); });
}

void binary_forward(BinaryOp op, float* out, const float* a, const float* b,
                    const BroadcastGeometry& g) {
    switch (op) {
    case BinaryOp::add:
        binary_map(out, a, b, g, [](float u, float v) { return u + v; });
        break;
    case BinaryOp::sub:
        binary_map(out, a, b, g, [](float u, float v) { return u - v; });
        break;
    case BinaryOp::mul:
        binary_map(out, a, b, g, [](float u, float v) { return u * v; });
        break;
    case BinaryOp::div:
        binary_map(out, a, b, g, [](float u, float v) { return u / v; });
        break;
    case BinaryOp::maximum:
        // NaN in either operand wins, as torch.maximum / minimum
        binary_map(out, a, b, g, [](float u, float v) { return u >= v || u != u ? u : v; });
        break;
    case BinaryOp::minimum:
        binary_map(out, a, b, g, [](float u, float v) { return u <= v || u != u ? u : v; });
        break;
    case BinaryOp::add_relu: // relu's own select on the sum: bit-identical to add then relu
        binary_map(out, a, b, g, [](float u, float v) {
            const float s = u + v;
            return s < 0.f ? 0.f : s;
        });
        break;
    }
}

static bool compare_one(CompareOp op, float u, float v) {
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

void compare(CompareOp op, uint8_t* out, const float* a, const float* b,
             const BroadcastGeometry& g) {
    broadcast_for(
        g, [&](int64_t i, int64_t ia, int64_t ib) { out[i] = compare_one(op, a[ia], b[ib]); });
}

void compare_scalar(CompareOp op, uint8_t* out, const float* a, float b, int64_t n) {
    parallel_for(n, kChunk, [&](int64_t i) { out[i] = compare_one(op, a[i], b); });
}

void logical(LogicalOp op, uint8_t* out, const uint8_t* a, const uint8_t* b, int64_t n) {
    parallel_for(n, kChunk, [&](int64_t i) {
        bool u = a[i] != 0, v = op == LogicalOp::not_ ? false : b[i] != 0;
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
    });
}

void where(float* out, const uint8_t* mask, const float* a, float a_value, const float* b,
           float b_value, int64_t n) {
    parallel_for(n, kChunk, [&](int64_t i) {
        out[i] = mask[i] ? (a ? a[i] : a_value) : (b ? b[i] : b_value);
    });
}

void broadcast_to(float* out, const float* in, const BroadcastGeometry& g) {
    broadcast_for(g, [&](int64_t i, int64_t ia, int64_t) { out[i] = in[ia]; });
}

// acc[j] += in[i] for i in [begin, end), j the offset of i in the small shape (g.a_stride).
static void accumulate_range(double* acc, const float* in, const BroadcastGeometry& g,
                             int64_t begin, int64_t end) {
    int64_t idx[kMaxDims], ia = 0, rem = begin;
    for (int d = g.ndim - 1; d >= 0; d--) {
        idx[d] = rem % g.shape[d];
        rem /= g.shape[d];
        ia += idx[d] * g.a_stride[d];
    }
    for (int64_t i = begin; i < end; i++) {
        acc[ia] += in[i];
        for (int d = g.ndim - 1; d >= 0; d--) {
            ia += g.a_stride[d];
            if (++idx[d] < g.shape[d]) break;
            ia -= g.a_stride[d] * g.shape[d];
            idx[d] = 0;
        }
    }
}

// out (small) = sum of in over the dims where g.a_stride is 0. Sums are taken in double over
// fixed-size chunks combined in order, so the result does not depend on the thread count.
void reduce_to_shape(float* out, const float* in, const BroadcastGeometry& g) {
    int64_t out_n = 1;
    for (int d = 0; d < g.ndim; d++)
        if (g.a_stride[d] != 0) out_n *= g.shape[d];
    const int64_t chunk = 1 << 16;
    int64_t chunks = (g.numel + chunk - 1) / chunk;
    // Per-chunk partial sums pay off only when the output is small (bias-like gradients).
    if (chunks <= 1 || out_n > 4096) chunks = 1;
    std::vector<double> partial(size_t(chunks * out_n), 0.0);
    if (chunks == 1) {
        accumulate_range(partial.data(), in, g, 0, g.numel);
    } else {
        parallel_chunks(g.numel, chunk, [&](int64_t begin, int64_t end) {
            accumulate_range(partial.data() + (begin / chunk) * out_n, in, g, begin, end);
        });
    }
    for (int64_t j = 0; j < out_n; j++) {
        double s = 0.0;
        for (int64_t c = 0; c < chunks; c++) s += partial[size_t(c * out_n + j)];
        out[j] = float(s);
    }
}

} // namespace pg::cpu
