// Comparisons and logic (u8 masks), where / masked_fill, broadcast_to / sum_to_shape
// (declared in autograd/elementwise.h).
#include "autograd/elementwise.h"
#include "autograd/op_util.h"

namespace pg {

// ---- comparisons ----

static Tensor compare_tensors(const char* name, CompareOp op, const Tensor& a, const Tensor& b) {
    check_dtype(name, "a", a, DType::f32);
    check_dtype(name, "b", b, DType::f32);
    check_same_device(name, {a, b});
    Shape out_shape = broadcast_shapes(name, a.shape(), b.shape());
    Tensor out = empty_like(a, out_shape, DType::u8);
    BroadcastGeometry g = broadcast_geometry(a.shape(), b.shape(), out_shape);
    backend_of(a).compare(op, out.u8(), a.f32(), b.f32(), g);
    return out;
}

static Tensor compare_scalar(const char* name, CompareOp op, const Tensor& a, float b) {
    check_dtype(name, "a", a, DType::f32);
    Tensor out = empty_like(a, a.shape(), DType::u8);
    backend_of(a).compare_scalar(op, out.u8(), a.f32(), b, a.numel());
    return out;
}

Tensor eq(const Tensor& a, const Tensor& b) { return compare_tensors("eq", CompareOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare_tensors("ne", CompareOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare_tensors("lt", CompareOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare_tensors("le", CompareOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare_tensors("gt", CompareOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare_tensors("ge", CompareOp::ge, a, b); }
Tensor eq(const Tensor& a, float b) { return compare_scalar("eq", CompareOp::eq, a, b); }
Tensor ne(const Tensor& a, float b) { return compare_scalar("ne", CompareOp::ne, a, b); }
Tensor lt(const Tensor& a, float b) { return compare_scalar("lt", CompareOp::lt, a, b); }
Tensor le(const Tensor& a, float b) { return compare_scalar("le", CompareOp::le, a, b); }
Tensor gt(const Tensor& a, float b) { return compare_scalar("gt", CompareOp::gt, a, b); }
Tensor ge(const Tensor& a, float b) { return compare_scalar("ge", CompareOp::ge, a, b); }

// ---- logic ----

static Tensor logical(const char* name, LogicalOp op, const Tensor& a, const Tensor& b) {
    check_dtype(name, "a", a, DType::u8);
    if (op != LogicalOp::not_) {
        check_dtype(name, "b", b, DType::u8);
        check_same_device(name, {a, b});
        PG_CHECK(a.shape() == b.shape(), name, ": masks have different shapes ",
                 shape_str(a.shape()), " and ", shape_str(b.shape()));
    }
    Tensor out = empty_like(a, a.shape(), DType::u8);
    backend_of(a).logical(op, out.u8(), a.u8(), b.defined() ? b.u8() : nullptr, a.numel());
    return out;
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
    return logical("logical_and", LogicalOp::and_, a, b);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
    return logical("logical_or", LogicalOp::or_, a, b);
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
    return logical("logical_xor", LogicalOp::xor_, a, b);
}
Tensor logical_not(const Tensor& a) { return logical("logical_not", LogicalOp::not_, a, Tensor()); }

// ---- where ----

// out = mask ? a : b with a or b possibly a scalar (undefined tensor + value).
static Tensor where_impl(const Tensor& mask, const Tensor& a, float a_value, const Tensor& b,
                         float b_value) {
    check_dtype("where", "mask", mask, DType::u8);
    for (const Tensor* t : {&a, &b}) {
        if (!t->defined()) continue;
        check_dtype("where", "values", *t, DType::f32);
        PG_CHECK(t->shape() == mask.shape(), "where: values of shape ", shape_str(t->shape()),
                 " do not match the mask's shape ", shape_str(mask.shape()));
    }
    check_same_device("where", {mask, a, b});
    Tensor out = empty_like(mask, mask.shape());
    backend_of(mask).where(out.f32(), mask.u8(), a.defined() ? a.f32() : nullptr, a_value,
                           b.defined() ? b.f32() : nullptr, b_value, mask.numel());
    if (any_requires_grad({a, b})) {
        Tensor m = mask.detach(); // masks are never written by ops, only read
        // d/da = 1 where the mask chose a, d/db = 1 where it chose b.
        record("where", {a, b}, {out},
               [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
                   return std::vector<Tensor>{
                       needs[0] ? where_impl(m, g[0], 0.f, Tensor(), 0.f) : Tensor(),
                       needs[1] ? where_impl(m, Tensor(), 0.f, g[0], 0.f) : Tensor()};
               });
    }
    return out;
}

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
    PG_CHECK(a.defined() && b.defined(), "where: undefined value tensor");
    return where_impl(mask, a, 0.f, b, 0.f);
}
Tensor where(const Tensor& mask, float a, const Tensor& b) {
    PG_CHECK(b.defined(), "where: undefined value tensor");
    return where_impl(mask, Tensor(), a, b, 0.f);
}
Tensor where(const Tensor& mask, const Tensor& a, float b) {
    PG_CHECK(a.defined(), "where: undefined value tensor");
    return where_impl(mask, a, 0.f, Tensor(), b);
}
Tensor masked_fill(const Tensor& x, const Tensor& mask, float value) {
    return where(mask, value, x);
}

// ---- broadcasting ----

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
    check_dtype("broadcast_to", "input", x, DType::f32);
    Shape out_shape = broadcast_shapes("broadcast_to", x.shape(), shape);
    PG_CHECK(out_shape == shape, "broadcast_to: cannot broadcast ", shape_str(x.shape()), " to ",
             shape_str(shape));
    Tensor out = empty_like(x, shape);
    BroadcastGeometry g = broadcast_geometry(x.shape(), shape, shape);
    backend_of(x).broadcast_to(out.f32(), x.f32(), g);
    Shape in_shape = x.shape();
    record("broadcast_to", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{sum_to_shape(g[0], in_shape)};
    });
    return out;
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
    check_dtype("sum_to_shape", "input", x, DType::f32);
    PG_CHECK(broadcast_shapes("sum_to_shape", shape, x.shape()) == x.shape(),
             "sum_to_shape: ", shape_str(shape), " does not broadcast to the input's shape ",
             shape_str(x.shape()));
    Tensor out = empty_like(x, shape);
    // Same geometry as broadcast_to(out -> x): a_stride walks the small shape.
    BroadcastGeometry g = broadcast_geometry(shape, x.shape(), x.shape());
    backend_of(x).reduce_to_shape(out.f32(), x.f32(), g);
    Shape in_shape = x.shape();
    record("sum_to_shape", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{broadcast_to(g[0], in_shape)};
    });
    return out;
}

} // namespace pg
