// sum, mean, max, min over all elements or one axis, argmax / argmin (autograd/reduce.h).
// Top-k, sort and order statistics are in autograd/sort.cpp.
#include "autograd/reduce.h"

#include "autograd/elementwise.h"
#include "autograd/layout.h"
#include "autograd/op_util.h"

namespace pg {

namespace {

// x viewed as (outer, len, inner) around `axis`, and the shapes of the result.
struct AxisView {
    int64_t outer = 1, len = 1, inner = 1;
    Shape kept;    // axis replaced by 1
    Shape dropped; // axis removed
};

AxisView view_axis(const char* op, const Tensor& x, int64_t axis) {
    int a = normalize_axis(op, axis, x.dim());
    AxisView v;
    for (int d = 0; d < x.dim(); d++) {
        int64_t n = x.shape()[size_t(d)];
        if (d < a) v.outer *= n;
        if (d > a) v.inner *= n;
        v.kept.push_back(d == a ? 1 : n);
        if (d != a) v.dropped.push_back(n);
    }
    v.len = x.shape()[size_t(a)];
    return v;
}

AxisView view_all(const Tensor& x) {
    AxisView v;
    v.len = x.numel();
    v.kept = Shape(size_t(x.dim()), 1);
    return v; // dropped = () : a scalar
}

// sum / mean: the gradient spreads the output gradient over the reduced positions (x 1/len for mean).
Tensor sum_like(const char* name, ReduceOp op, const Tensor& x, const AxisView& v, bool keepdim) {
    check_dtype(name, "input", x, DType::f32);
    Tensor out = empty_like(x, keepdim ? v.kept : v.dropped);
    backend_of(x).reduce(op, out.f32(), nullptr, x.f32(), v.outer, v.len, v.inner);
    Shape in_shape = x.shape(), kept = v.kept;
    float scale = op == ReduceOp::mean ? 1.f / float(v.len) : 1.f;
    record(name, {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        Tensor spread = broadcast_to(reshape(g[0], kept), in_shape);
        return std::vector<Tensor>{scale == 1.f ? spread : mul(spread, scale)};
    });
    return out;
}

// max / min: the gradient goes to the recorded position of the extreme.
Tensor extreme(const char* name, ReduceOp op, const Tensor& x, const AxisView& v, bool keepdim,
               bool want_index) {
    check_dtype(name, "input", x, DType::f32);
    PG_CHECK(v.len > 0, name, ": cannot reduce an empty axis of ", shape_str(x.shape()));
    Tensor values = empty_like(x, keepdim ? v.kept : v.dropped);
    Tensor index = empty_like(x, keepdim ? v.kept : v.dropped, DType::i32);
    backend_of(x).reduce(op, values.f32(), index.i32(), x.f32(), v.outer, v.len, v.inner);
    if (want_index) return index;
    Shape in_shape = x.shape();
    AxisView view = v;
    Tensor saved_index = index; // produced here and never exposed: cannot be modified
    record(name, {x}, {values}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        Tensor dx = Tensor::zeros(in_shape, DType::f32, g[0].device());
        backend_of(dx).scatter_add_axis(dx.f32(), g[0].f32(), saved_index.i32(), view.outer, 1,
                                        view.len, view.inner);
        return std::vector<Tensor>{dx};
    });
    return values;
}

} // namespace

Tensor sum(const Tensor& x) { return sum_like("sum", ReduceOp::sum, x, view_all(x), false); }
Tensor sum(const Tensor& x, int64_t axis, bool keepdim) {
    return sum_like("sum", ReduceOp::sum, x, view_axis("sum", x, axis), keepdim);
}
Tensor mean(const Tensor& x) {
    PG_CHECK(x.numel() > 0, "mean: empty tensor ", shape_str(x.shape()));
    return sum_like("mean", ReduceOp::mean, x, view_all(x), false);
}
Tensor mean(const Tensor& x, int64_t axis, bool keepdim) {
    AxisView v = view_axis("mean", x, axis);
    PG_CHECK(v.len > 0, "mean: cannot average an empty axis of ", shape_str(x.shape()));
    return sum_like("mean", ReduceOp::mean, x, v, keepdim);
}
Tensor max(const Tensor& x) { return extreme("max", ReduceOp::max, x, view_all(x), false, false); }
Tensor max(const Tensor& x, int64_t axis, bool keepdim) {
    return extreme("max", ReduceOp::max, x, view_axis("max", x, axis), keepdim, false);
}
Tensor min(const Tensor& x) { return extreme("min", ReduceOp::min, x, view_all(x), false, false); }
Tensor min(const Tensor& x, int64_t axis, bool keepdim) {
    return extreme("min", ReduceOp::min, x, view_axis("min", x, axis), keepdim, false);
}
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
    return extreme("argmax", ReduceOp::max, x, view_axis("argmax", x, axis), keepdim, true);
}
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim) {
    return extreme("argmin", ReduceOp::min, x, view_axis("argmin", x, axis), keepdim, true);
}

} // namespace pg
