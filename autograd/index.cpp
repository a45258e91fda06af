// Indexing ops (autograd/index.h): one_hot, index_select / scatter_add (each other's adjoint) and
// the CSR segment ops segment_softmax / segment_sum of graph attention. Indices and labels are
// checked by the kernels (they report the first bad position, read back here for the message);
// row_ptr is checked on the host before any kernel runs. Kernels: tensor/cpu/index.cpp.
#include "autograd/index.h"

#include "autograd/op_util.h"

namespace pg {

namespace {

// The integer at `position` of an i32 or u8 tensor on any device (for error messages only).
int64_t value_at(const Tensor& t, int64_t position) {
    if (t.dtype() == DType::u8) {
        uint8_t v = 0;
        backend_of(t).copy_to_host(&v, t.u8() + position, 1);
        return v;
    }
    int32_t v = 0;
    backend_of(t).copy_to_host(&v, t.i32() + position, sizeof(v));
    return v;
}

// Elements per leading-axis row of x (E, F...): the product of F..., 1 for a 1-D x.
int64_t row_size(const Tensor& x) {
    int64_t n = 1;
    for (int d = 1; d < x.dim(); d++) n *= x.shape()[size_t(d)];
    return n;
}

// The shape of x with its leading axis replaced by `rows`.
Shape with_rows(const Shape& shape, int64_t rows) {
    Shape out = shape;
    out[0] = rows;
    return out;
}

void check_index(const char* op, const Tensor& index) {
    check_dtype(op, "index", index, DType::i32);
    check_dim(op, "index", index, 1);
}

// Fails when the kernel reported a bad index at `bad` (>= 0).
void check_index_result(const char* op, const Tensor& index, int64_t bad, int64_t rows) {
    PG_CHECK(bad < 0, op, ": index ", value_at(index, bad), " at position ", bad,
             " is out of range for ", rows, " rows");
}

// row_ptr (V + 1,) i32 with row_ptr[0] = 0, non-decreasing, row_ptr[V] = E = x.size(0).
// Checked on the host (a copy from the device when there), naming the first bad position.
int64_t check_row_ptr(const char* op, const Tensor& x, const Tensor& row_ptr) {
    check_dtype(op, "input", x, DType::f32);
    check_dtype(op, "row_ptr", row_ptr, DType::i32);
    check_dim(op, "row_ptr", row_ptr, 1);
    PG_CHECK(x.dim() >= 1, op, ": input must have an entry axis, got shape ", shape_str(x.shape()));
    check_same_device(op, {x, row_ptr});
    std::vector<int32_t> ptr = row_ptr.to_i32_vector();
    PG_CHECK(!ptr.empty(), op, ": row_ptr must have at least one entry (V + 1 with V >= 0)");
    PG_CHECK(ptr[0] == 0, op, ": row_ptr[0] = ", ptr[0], " must be 0");
    for (size_t v = 1; v < ptr.size(); v++)
        PG_CHECK(ptr[v] >= ptr[v - 1], op, ": row_ptr[", v, "] = ", ptr[v],
                 " is less than row_ptr[", v - 1, "] = ", ptr[v - 1], " (must be non-decreasing)");
    PG_CHECK(ptr.back() == x.size(0), op, ": row_ptr[", ptr.size() - 1, "] = ", ptr.back(),
             " must equal the number of entries ", x.size(0), " of input ", shape_str(x.shape()));
    return int64_t(ptr.size()) - 1;
}

} // namespace

// ---- one-hot ----

Tensor one_hot(const Tensor& labels, int64_t num_classes, int64_t ignore_index) {
    PG_CHECK(labels.defined(), "one_hot: labels is an undefined tensor");
    PG_CHECK(labels.dtype() == DType::i32 || labels.dtype() == DType::u8,
             "one_hot: labels must be i32 or u8, got ", dtype_name(labels.dtype()), " ",
             shape_str(labels.shape()));
    PG_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes);
    Shape shape = labels.shape();
    shape.push_back(num_classes);
    Tensor out = empty_like(labels, shape); // (..., C)
    int64_t bad = backend_of(labels).one_hot(out.f32(), labels.raw(), labels.dtype(),
                                             labels.numel(), num_classes, ignore_index);
    PG_CHECK(bad < 0, "one_hot: label ", value_at(labels, bad), " at position ", bad,
             " is outside [0, ", num_classes, ") and is not ignore_index ", ignore_index);
    return out; // not differentiable: labels are integers
}

// ---- gather / scatter-add of rows ----

Tensor index_select(const Tensor& x, const Tensor& index) {
    check_dtype("index_select", "input", x, DType::f32);
    check_index("index_select", index);
    PG_CHECK(x.dim() >= 1, "index_select: input must have a row axis, got shape ",
             shape_str(x.shape()));
    check_same_device("index_select", {x, index});
    int64_t rows = x.size(0), cols = row_size(x), count = index.size(0);
    Tensor out = empty_like(x, with_rows(x.shape(), count)); // (E, F...)
    int64_t bad =
        backend_of(x).index_select_rows(out.f32(), x.f32(), index.i32(), count, rows, cols);
    check_index_result("index_select", index, bad, rows);
    SavedTensor saved_index(index);
    // out_e = x[index_e]: each x row collects the gradients of the entries that picked it.
    record("index_select", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{scatter_add(g[0], saved_index.get(), rows)};
    });
    return out;
}

Tensor scatter_add(const Tensor& src, const Tensor& index, int64_t num_rows) {
    check_dtype("scatter_add", "src", src, DType::f32);
    check_index("scatter_add", index);
    PG_CHECK(src.dim() >= 1 && src.size(0) == index.size(0), "scatter_add: src ",
             shape_str(src.shape()), " must have one row per index entry, index has ",
             index.size(0));
    PG_CHECK(num_rows >= 0, "scatter_add: num_rows must be >= 0, got ", num_rows);
    check_same_device("scatter_add", {src, index});
    int64_t cols = row_size(src), count = index.size(0);
    Tensor out = Tensor::zeros(with_rows(src.shape(), num_rows), DType::f32, src.device());
    int64_t bad =
        backend_of(src).index_add_rows(out.f32(), src.f32(), index.i32(), count, num_rows, cols);
    check_index_result("scatter_add", index, bad, num_rows);
    SavedTensor saved_index(index);
    // out[index_e] += src_e: each src row receives the gradient of the row it was added to.
    record("scatter_add", {src}, {out},
           [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
               return std::vector<Tensor>{index_select(g[0], saved_index.get())};
           });
    return out;
}

// ---- CSR segments ----

Tensor segment_softmax(const Tensor& x, const Tensor& row_ptr) {
    int64_t segments = check_row_ptr("segment_softmax", x, row_ptr);
    int64_t cols = row_size(x);
    Tensor y = empty_like(x, x.shape()); // (E, H)
    backend_of(x).segment_softmax_forward(y.f32(), x.f32(), row_ptr.i32(), segments, cols);
    if (any_requires_grad({x})) {
        SavedTensor saved_y(y), saved_ptr(row_ptr);
        // Softmax within each segment and column: dx = y (dy - sum_seg(dy y)).
        record("segment_softmax", {x}, {y},
               [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
                   Tensor dx = empty_like(g[0], g[0].shape());
                   backend_of(dx).segment_softmax_backward(dx.f32(), g[0].f32(),
                                                           saved_y.get().f32(),
                                                           saved_ptr.get().i32(), segments, cols);
                   return std::vector<Tensor>{dx};
               });
    }
    return y;
}

Tensor segment_sum(const Tensor& x, const Tensor& row_ptr) {
    int64_t segments = check_row_ptr("segment_sum", x, row_ptr);
    int64_t cols = row_size(x);
    Tensor out = empty_like(x, with_rows(x.shape(), segments)); // (V, F...)
    backend_of(x).segment_sum(out.f32(), x.f32(), row_ptr.i32(), segments, cols);
    if (any_requires_grad({x})) {
        SavedTensor saved_ptr(row_ptr);
        Shape in_shape = x.shape();
        // out_v = sum of v's entries: every entry of segment v receives dout_v.
        record("segment_sum", {x}, {out},
               [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
                   Tensor dx = empty_like(g[0], in_shape);
                   backend_of(dx).segment_expand(dx.f32(), g[0].f32(), saved_ptr.get().i32(),
                                                 segments, cols);
                   return std::vector<Tensor>{dx};
               });
    }
    return out;
}

} // namespace pg
