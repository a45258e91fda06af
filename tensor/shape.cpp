// Shape helpers and the broadcast geometry (with dimension collapsing) used by elementwise kernels.
#include "tensor/shape.h"

#include "tensor/error.h"

namespace pg {

int64_t numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shape_str(const Shape& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

int normalize_axis(const char* op, int64_t axis, int ndim) {
    PG_CHECK(axis >= -ndim && axis < ndim, op, ": axis ", axis,
             " is out of range for a tensor with ", ndim, " dimensions");
    return int(axis < 0 ? axis + ndim : axis);
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
    size_t ndim = std::max(a.size(), b.size());
    Shape out(ndim);
    for (size_t i = 0; i < ndim; i++) {
        // Align from the right: a missing leading dimension counts as 1.
        int64_t da = i < ndim - a.size() ? 1 : a[i - (ndim - a.size())];
        int64_t db = i < ndim - b.size() ? 1 : b[i - (ndim - b.size())];
        PG_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ",
                 shape_str(b), " cannot be broadcast together");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

// Strides of `shape` viewed inside `out_shape` (right-aligned), 0 along broadcast dimensions.
static std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out_shape) {
    size_t ndim = out_shape.size(), lead = ndim - shape.size();
    std::vector<int64_t> strides(ndim, 0);
    int64_t running = 1;
    for (size_t i = ndim; i-- > lead;) {
        int64_t d = shape[i - lead];
        strides[i] = d == 1 ? 0 : running;
        running *= d;
    }
    return strides;
}

BroadcastGeometry broadcast_geometry(const Shape& a, const Shape& b, const Shape& out_shape) {
    std::vector<int64_t> sa = broadcast_strides(a, out_shape), sb = broadcast_strides(b, out_shape);
    BroadcastGeometry g;
    g.numel = numel(out_shape);
    // Walk dimensions left to right, merging a dimension into the previous one when both operands
    // stay contiguous across the boundary (or stay broadcast across it). Size-1 dims are dropped.
    std::vector<int64_t> shape, stride_a, stride_b;
    for (size_t i = 0; i < out_shape.size(); i++) {
        int64_t d = out_shape[i];
        if (d == 1) continue;
        if (!shape.empty()) {
            int64_t prev = shape.back();
            bool merge_a = stride_a.back() == sa[i] * d;
            bool merge_b = stride_b.back() == sb[i] * d;
            if (merge_a && merge_b) {
                shape.back() = prev * d;
                stride_a.back() = sa[i];
                stride_b.back() = sb[i];
                continue;
            }
        }
        shape.push_back(d);
        stride_a.push_back(sa[i]);
        stride_b.push_back(sb[i]);
    }
    if (shape.empty()) { // a scalar result
        shape = {1};
        stride_a = {0};
        stride_b = {0};
    }
    PG_CHECK(shape.size() <= size_t(kMaxDims), "broadcast: ", shape_str(out_shape),
             " needs more than ", kMaxDims, " dimensions after collapsing");
    g.ndim = int(shape.size());
    for (int i = 0; i < g.ndim; i++) {
        g.shape[i] = shape[i];
        g.a_stride[i] = stride_a[i];
        g.b_stride[i] = stride_b[i];
    }
    return g;
}

} // namespace pg
