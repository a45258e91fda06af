// softmax, log_softmax and entropy along the last axis (autograd/softmax.h), each with its backward.
// x (..., C) is viewed as (rows, C); the kernels are in tensor/cpu/softmax.cpp (and cuda/).
#include "autograd/softmax.h"

#include "autograd/op_util.h"

namespace pg {

namespace {

// (rows, cols) view of (..., C): cols = the last axis, rows = the product of the others.
struct RowView {
    int64_t rows = 1, cols = 0;
};

RowView rows_of(const char* op, const Tensor& x) {
    check_dtype(op, "input", x, DType::f32);
    PG_CHECK(x.dim() >= 1, op, ": input must have at least 1 dimension (the class axis), got ",
             shape_str(x.shape()));
    RowView v;
    v.cols = x.shape().back();
    for (int d = 0; d + 1 < x.dim(); d++) v.rows *= x.shape()[size_t(d)];
    return v;
}

} // namespace

Tensor softmax(const Tensor& x) {
    RowView v = rows_of("softmax", x);
    Tensor y = empty_like(x, x.shape());
    backend_of(x).softmax_forward(y.f32(), x.f32(), v.rows, v.cols);
    if (any_requires_grad({x})) {
        // dx = y (dy - sum(dy y)) per row: the Jacobian diag(y) - y y^T applied to dy.
        SavedTensor saved_y(y);
        record("softmax", {x}, {y}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
            Tensor dx = empty_like(g[0], g[0].shape());
            backend_of(dx).softmax_backward(dx.f32(), g[0].f32(), saved_y.get().f32(), v.rows,
                                            v.cols);
            return std::vector<Tensor>{dx};
        });
    }
    return y;
}

Tensor log_softmax(const Tensor& x) {
    RowView v = rows_of("log_softmax", x);
    Tensor y = empty_like(x, x.shape());
    backend_of(x).log_softmax_forward(y.f32(), x.f32(), v.rows, v.cols);
    if (any_requires_grad({x})) {
        // dx = dy - softmax(x) sum(dy) per row, with softmax(x) = exp(y).
        SavedTensor saved_y(y);
        record("log_softmax", {x}, {y},
               [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
                   Tensor dx = empty_like(g[0], g[0].shape());
                   backend_of(dx).log_softmax_backward(dx.f32(), g[0].f32(), saved_y.get().f32(),
                                                       v.rows, v.cols);
                   return std::vector<Tensor>{dx};
               });
    }
    return y;
}

Tensor entropy(const Tensor& p, float eps) {
    RowView v = rows_of("entropy", p);
    PG_CHECK(eps >= 0.f, "entropy: eps must be >= 0, got ", eps);
    Shape out_shape(p.shape().begin(), p.shape().end() - 1); // (...)
    Tensor h = empty_like(p, out_shape);
    backend_of(p).entropy_forward(h.f32(), p.f32(), v.rows, v.cols, eps);
    if (any_requires_grad({p})) {
        // dH/dp_c = -(log(p_c + eps) + p_c / (p_c + eps)), scaled by each row's dH.
        SavedTensor saved_p(p);
        record("entropy", {p}, {h}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
            const Tensor& pv = saved_p.get();
            Tensor dp = empty_like(pv, pv.shape());
            backend_of(dp).entropy_backward(dp.f32(), g[0].f32(), pv.f32(), v.rows, v.cols, eps);
            return std::vector<Tensor>{dp};
        });
    }
    return h;
}

} // namespace pg
