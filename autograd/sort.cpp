// topk and sort along the last axis (differentiable values, i32 indices), and the order statistics
// kthvalue / percentile over all elements (host floats), declared in autograd/reduce.h.
// Kernels: Backend::topk and Backend::select_ranks (tensor/cpu/sort.cpp).
#include <cmath>
#include <cstdint>

#include "autograd/op_util.h"
#include "autograd/reduce.h"

namespace pg {

namespace {

// The k first entries of the last axis in the requested order. `op` names the caller in errors.
TopK topk_impl(const char* op, const Tensor& x, int64_t k, bool largest) {
    check_dtype(op, "input", x, DType::f32);
    PG_CHECK(x.dim() >= 1, op, ": input must have at least 1 dimension, got ",
             shape_str(x.shape()));
    int64_t cols = x.shape().back(), rows = 1;
    for (int d = 0; d + 1 < x.dim(); d++) rows *= x.shape()[size_t(d)];
    PG_CHECK(cols <= INT32_MAX, op, ": the last axis (", cols, ") is too long for i32 indices");
    PG_CHECK(k >= 1 && k <= cols, op, ": k = ", k, " is out of range [1, ", cols,
             "] for the last axis of ", shape_str(x.shape()));
    Shape out_shape = x.shape();
    out_shape.back() = k; // (..., k)
    TopK out{empty_like(x, out_shape), empty_like(x, out_shape, DType::i32)};
    backend_of(x).topk(out.values.f32(), out.indices.i32(), x.f32(), rows, cols, k, largest);
    Shape in_shape = x.shape();
    SavedTensor index(out.indices); // returned to the caller: an in-place edit is caught
    // values = x[indices]: the gradient scatters back to the chosen positions (zeros elsewhere).
    record(op, {x}, {out.values}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        Tensor dx = Tensor::zeros(in_shape, DType::f32, g[0].device());
        backend_of(dx).scatter_add_axis(dx.f32(), g[0].f32(), index.get().i32(), rows, k, cols, 1);
        return std::vector<Tensor>{dx};
    });
    return out;
}

// Elements of the given 0-based ascending ranks, copied to the host.
std::vector<float> select_ranks(const Tensor& x, const std::vector<int64_t>& ranks) {
    Tensor out = empty_like(x, {int64_t(ranks.size())});
    backend_of(x).select_ranks(out.f32(), x.f32(), x.numel(), ranks.data(), int64_t(ranks.size()));
    return out.to_f32_vector();
}

} // namespace

TopK topk(const Tensor& x, int64_t k, bool largest) { return topk_impl("topk", x, k, largest); }

TopK sort(const Tensor& x, bool descending) {
    check_dtype("sort", "input", x, DType::f32);
    PG_CHECK(x.dim() >= 1, "sort: input must have at least 1 dimension, got ",
             shape_str(x.shape()));
    if (x.shape().back() == 0) // nothing to order (topk would reject k = 0)
        return TopK{empty_like(x, x.shape()), empty_like(x, x.shape(), DType::i32)};
    return topk_impl("sort", x, x.shape().back(), descending);
}

float kthvalue(const Tensor& x, int64_t k) {
    check_dtype("kthvalue", "input", x, DType::f32);
    PG_CHECK(x.numel() > 0, "kthvalue: empty tensor ", shape_str(x.shape()));
    PG_CHECK(k >= 1 && k <= x.numel(), "kthvalue: k = ", k, " is out of range [1, ", x.numel(),
             "] for ", shape_str(x.shape()));
    return select_ranks(x, {k - 1})[0];
}

float percentile(const Tensor& x, double q) {
    check_dtype("percentile", "input", x, DType::f32);
    PG_CHECK(x.numel() > 0, "percentile: empty tensor ", shape_str(x.shape()));
    PG_CHECK(q >= 0.0 && q <= 100.0, "percentile: q = ", q, " is outside [0, 100]");
    // NumPy's 'linear' method: position q / 100 * (n - 1) between the two neighbouring ranks.
    double pos = q / 100.0 * double(x.numel() - 1);
    int64_t lo = int64_t(std::floor(pos));
    int64_t hi = std::min<int64_t>(lo + 1, x.numel() - 1);
    double t = pos - double(lo);
    std::vector<float> v = select_ranks(x, {lo, hi});
    double a = v[0], b = v[1];
    // Interpolate from the nearer end, as NumPy's _lerp does (exact at t = 0 and t = 1).
    return float(t >= 0.5 ? b - (b - a) * (1.0 - t) : a + (b - a) * t);
}

} // namespace pg
