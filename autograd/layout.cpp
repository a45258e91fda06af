// Layout ops (autograd/layout.h) other than reshape / cast / to (autograd/convert.cpp): permute,
// concat / split / narrow along any axis (backend copy_2d on (outer, axis * inner) rows), and the
// spatial crop / pad / flip of NHWC images and (N, H, W) label maps (backend window / flip_width).
// Any dtype goes forward; f32 (and bf16) inputs that require grad get a backward.
#include <cmath>

#include "autograd/layout.h"
#include "autograd/op_util.h"

namespace pg {

namespace {

// ---- axis helpers: a tensor viewed as (outer, len, inner) around an axis ----

struct AxisView {
    int64_t outer = 1, len = 1, inner = 1;
};

AxisView view_axis(const Shape& shape, int axis) {
    AxisView v;
    for (int d = 0; d < int(shape.size()); d++) {
        if (d < axis) v.outer *= shape[size_t(d)];
        if (d > axis) v.inner *= shape[size_t(d)];
    }
    v.len = shape[size_t(axis)];
    return v;
}

// dst[o, dst_start + l, i] = src[o, src_start + l, i] for l < count: rows of count * inner
// elements, one per outer index, at each tensor's own pitch (len * inner elements).
void copy_along_axis(const Tensor& dst, int64_t dst_start, const Tensor& src, int64_t src_start,
                     int64_t count, int axis) {
    AxisView d = view_axis(dst.shape(), axis), s = view_axis(src.shape(), axis);
    if (count == 0 || d.outer == 0 || d.inner == 0) return;
    int64_t unit = d.inner * int64_t(dtype_size(dst.dtype())); // bytes per axis position
    backend_of(dst).copy_2d(static_cast<uint8_t*>(dst.raw()) + dst_start * unit, d.len * unit,
                            static_cast<const uint8_t*>(src.raw()) + src_start * unit, s.len * unit,
                            d.outer, count * unit);
}

std::string ints_str(const std::vector<int>& v) { return shape_str(Shape(v.begin(), v.end())); }

// ---- spatial helpers: (N, H, W, C) images and (N, H, W) label maps (C = 1) ----

struct Spatial {
    int64_t N, H, W, C;
};

Spatial spatial_dims(const char* op, const Tensor& x) {
    PG_CHECK(x.defined(), op, ": undefined tensor");
    PG_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected an (N, H, W, C) image or an (N, H, W) ",
             "label map, got shape ", shape_str(x.shape()));
    return Spatial{x.size(0), x.size(1), x.size(2), x.dim() == 4 ? x.size(3) : 1};
}

// out = x viewed through an out_h x out_w window at (offset_h, offset_w), fill outside.
Tensor run_window(const Tensor& x, const Spatial& s, int64_t out_h, int64_t out_w, int64_t offset_h,
                  int64_t offset_w, double fill) {
    Shape shape = x.shape();
    shape[1] = out_h;
    shape[2] = out_w;
    Tensor out = empty_like(x, shape, x.dtype());
    WindowGeometry g{s.N, s.H, s.W, s.C, out_h, out_w, offset_h, offset_w};
    backend_of(x).window(out.raw(), x.raw(), x.dtype(), g, fill);
    return out;
}

// A fill value must be representable in the dtype: padding u8 labels with -1 or 256 would wrap.
void check_fill(const char* op, double value, DType dtype) {
    bool integral = std::isfinite(value) && value == std::floor(value);
    if (dtype == DType::u8)
        PG_CHECK(integral && value >= 0 && value <= 255, op, ": fill value ", value,
                 " is not representable in u8 (integers 0..255)");
    if (dtype == DType::i32)
        PG_CHECK(integral && value >= -2147483648.0 && value <= 2147483647.0, op, ": fill value ",
                 value, " is not representable in i32");
}

} // namespace

// ---- permute ----

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
    PG_CHECK(x.defined(), "permute: undefined tensor");
    PG_CHECK(int(dims.size()) == x.dim(), "permute: ", dims.size(), " dims ", ints_str(dims),
             " given for a tensor of shape ", shape_str(x.shape()));
    PG_CHECK(x.dim() <= kMaxDims, "permute: at most ", kMaxDims, " dims, got shape ",
             shape_str(x.shape()));
    int perm[kMaxDims] = {};
    bool seen[kMaxDims] = {};
    Shape out_shape(dims.size());
    for (size_t i = 0; i < dims.size(); i++) {
        int d = normalize_axis("permute", dims[i], x.dim());
        PG_CHECK(!seen[d], "permute: dimension ", d, " appears twice in ", ints_str(dims));
        seen[d] = true;
        perm[i] = d;
        out_shape[i] = x.shape()[size_t(d)];
    }
    Tensor out = empty_like(x, out_shape, x.dtype());
    backend_of(x).permute(out.raw(), x.raw(), dtype_size(x.dtype()), x.dim(), x.shape().data(),
                          perm);
    // A permutation is orthogonal: the gradient goes back through the inverse permutation.
    std::vector<int> inverse(dims.size());
    for (size_t i = 0; i < dims.size(); i++) inverse[size_t(perm[i])] = int(i);
    record("permute", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{permute(g[0], inverse)};
    });
    return out;
}

Tensor nchw_to_nhwc(const Tensor& x) {
    PG_CHECK(x.defined(), "nchw_to_nhwc: undefined tensor");
    check_dim("nchw_to_nhwc", "input", x, 4);
    return permute(x, {0, 2, 3, 1});
}

Tensor nhwc_to_nchw(const Tensor& x) {
    PG_CHECK(x.defined(), "nhwc_to_nchw: undefined tensor");
    check_dim("nhwc_to_nchw", "input", x, 4);
    return permute(x, {0, 3, 1, 2});
}

// ---- concat / split / narrow ----

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
    PG_CHECK(!xs.empty(), "concat: no tensors to join");
    for (size_t i = 0; i < xs.size(); i++)
        PG_CHECK(xs[i].defined(), "concat: tensor ", i, " is undefined");
    const Tensor& first = xs[0];
    int a = normalize_axis("concat", axis, first.dim());
    Shape out_shape = first.shape();
    out_shape[size_t(a)] = 0;
    std::vector<int64_t> sizes;
    for (size_t i = 0; i < xs.size(); i++) {
        const Tensor& t = xs[i];
        PG_CHECK(t.dtype() == first.dtype(), "concat: tensor ", i, " is ", dtype_name(t.dtype()),
                 " but tensor 0 is ", dtype_name(first.dtype()));
        PG_CHECK(t.device() == first.device(), "concat: tensor ", i, " is on ", t.device(),
                 " but tensor 0 is on ", first.device());
        Shape other = t.shape(), expect = first.shape();
        if (t.dim() == first.dim()) other[size_t(a)] = expect[size_t(a)] = 0;
        PG_CHECK(other == expect, "concat: tensor ", i, " has shape ", shape_str(t.shape()),
                 " and tensor 0 has ", shape_str(first.shape()),
                 "; they must agree except on axis ", a);
        sizes.push_back(t.size(a));
        out_shape[size_t(a)] += t.size(a);
    }
    Tensor out = empty_like(first, out_shape, first.dtype());
    for (size_t i = 0, offset = 0; i < xs.size(); offset += size_t(sizes[i]), i++)
        copy_along_axis(out, int64_t(offset), xs[i], 0, sizes[i], a);
    // Each input's gradient is its own slice of the output gradient.
    record("concat", xs, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
        std::vector<Tensor> grads(sizes.size());
        for (size_t i = 0, offset = 0; i < sizes.size(); offset += size_t(sizes[i]), i++)
            if (needs[i]) grads[i] = narrow(g[0], a, int64_t(offset), sizes[i]);
        return grads;
    });
    return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis) {
    PG_CHECK(x.defined(), "split: undefined tensor");
    int a = normalize_axis("split", axis, x.dim());
    PG_CHECK(!sizes.empty(), "split: no sizes given");
    int64_t total = 0;
    for (size_t i = 0; i < sizes.size(); i++) {
        PG_CHECK(sizes[i] >= 0, "split: negative size ", sizes[i], " at position ", i, " of ",
                 shape_str(sizes));
        total += sizes[i];
    }
    PG_CHECK(total == x.size(a), "split: sizes ", shape_str(sizes), " add up to ", total,
             " but axis ", a, " of ", shape_str(x.shape()), " has ", x.size(a));
    std::vector<Tensor> pieces;
    int64_t offset = 0;
    for (int64_t n : sizes) {
        Shape shape = x.shape();
        shape[size_t(a)] = n;
        Tensor piece = empty_like(x, shape, x.dtype());
        copy_along_axis(piece, 0, x, offset, n, a);
        pieces.push_back(piece);
        offset += n;
    }
    // The gradient is the pieces' gradients joined again (the engine gives zeros for pieces that
    // got none; they are f32, so cast them to x's dtype for a bf16 x).
    DType dtype = x.dtype();
    record("split", {x}, pieces, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        std::vector<Tensor> parts;
        for (const Tensor& t : g) parts.push_back(cast(t, dtype));
        return std::vector<Tensor>{concat(parts, a)};
    });
    return pieces;
}

Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length) {
    PG_CHECK(x.defined(), "narrow: undefined tensor");
    int a = normalize_axis("narrow", axis, x.dim());
    PG_CHECK(start >= 0 && length >= 0 && start + length <= x.size(a), "narrow: start ", start,
             " and length ", length, " do not fit axis ", a, " of ", shape_str(x.shape()),
             " (size ", x.size(a), ")");
    Shape shape = x.shape();
    shape[size_t(a)] = length;
    Tensor out = empty_like(x, shape, x.dtype());
    copy_along_axis(out, 0, x, start, length, a);
    // The gradient is the output gradient placed back at [start, start + length), zeros elsewhere.
    Shape in_shape = x.shape();
    record("narrow", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        Tensor dx = Tensor::zeros(in_shape, g[0].dtype(), g[0].device());
        copy_along_axis(dx, start, g[0], 0, length, a);
        return std::vector<Tensor>{dx};
    });
    return out;
}

// ---- crop / pad / flip ----

Tensor crop(const Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width) {
    Spatial s = spatial_dims("crop", x);
    PG_CHECK(height >= 0 && width >= 0, "crop: negative size ", height, "x", width);
    PG_CHECK(top >= 0 && left >= 0 && top + height <= s.H && left + width <= s.W,
             "crop: window rows [", top, ", ", top + height, ") x columns [", left, ", ",
             left + width, ") is not inside the ", s.H, "x", s.W, " image of shape ",
             shape_str(x.shape()));
    Tensor out = run_window(x, s, height, width, top, left, 0.0);
    // Adjoint of taking a window: the gradient padded back with zeros to the input size.
    int64_t bottom = s.H - top - height, right = s.W - left - width;
    record("crop", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{pad(g[0], top, bottom, left, right, 0.0)};
    });
    return out;
}

Tensor pad(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right,
           double value) {
    Spatial s = spatial_dims("pad", x);
    PG_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "pad: negative padding (top ", top,
             ", bottom ", bottom, ", left ", left, ", right ", right,
             "); use crop to remove rows or columns");
    check_fill("pad", value, x.dtype());
    Tensor out = run_window(x, s, s.H + top + bottom, s.W + left + right, -top, -left, value);
    // The fill is a constant: only the copied interior carries gradient, so dx = crop(dy).
    int64_t H = s.H, W = s.W;
    record("pad", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{crop(g[0], top, left, H, W)};
    });
    return out;
}

Tensor flip_horizontal(const Tensor& x) {
    Spatial s = spatial_dims("flip_horizontal", x);
    Tensor out = empty_like(x, x.shape(), x.dtype());
    backend_of(x).flip_width(out.raw(), x.raw(), dtype_size(x.dtype()), s.N, s.H, s.W, s.C);
    // A mirror is its own inverse (and transpose).
    record("flip_horizontal", {x}, {out},
           [](const std::vector<Tensor>& g, const std::vector<bool>&) {
               return std::vector<Tensor>{flip_horizontal(g[0])};
           });
    return out;
}

} // namespace pg
