// Resize ops on NHWC images (autograd/resize.h): bilinear (differentiable, PyTorch semantics for
// both align_corners modes) and nearest for label maps of any dtype (not differentiable).
// The kernels are tensor/cpu/resize.cpp (CPU) and their CUDA twins.
#include "autograd/resize.h"

#include "autograd/op_util.h"

namespace pg {

static void check_output_size(const char* op, int64_t out_h, int64_t out_w) {
    PG_CHECK(out_h >= 1 && out_w >= 1, op, ": output size ", out_h, "x", out_w,
             " must be at least 1x1");
}

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
    check_dtype("resize_bilinear", "input", x, DType::f32);
    check_dim("resize_bilinear", "input", x, 4);
    check_output_size("resize_bilinear", out_h, out_w);
    const Shape& s = x.shape(); // (N, H, W, C)
    PG_CHECK(s[1] >= 1 && s[2] >= 1, "resize_bilinear: input ", shape_str(s),
             " has an empty spatial dimension");
    ResizeGeometry g{s[0], s[1], s[2], s[3], out_h, out_w, align_corners};
    Tensor y = empty_like(x, {s[0], out_h, out_w, s[3]});
    backend_of(x).resize_bilinear_forward(y.f32(), x.f32(), g);
    // y = A x with A a fixed sparse interpolation matrix (4 taps per output pixel), so dx = A^T dy:
    // each output gradient goes back to its 4 sources with the forward's weights.
    Shape in_shape = s;
    record("resize_bilinear", {x}, {y},
           [=](const std::vector<Tensor>& grad, const std::vector<bool>&) {
               Tensor dx = empty_like(grad[0], in_shape);
               backend_of(dx).resize_bilinear_backward(dx.f32(), grad[0].f32(), g);
               return std::vector<Tensor>{dx};
           });
    return y;
}

Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
    PG_CHECK(x.defined(), "resize_nearest: undefined tensor");
    PG_CHECK(x.dim() == 3 || x.dim() == 4, "resize_nearest: expected an (N, H, W, C) image or an ",
             "(N, H, W) label map, got shape ", shape_str(x.shape()));
    check_output_size("resize_nearest", out_h, out_w);
    // Nearest is piecewise constant in the input positions; a silently missing gradient would be
    // worse than an error.
    PG_CHECK(!any_requires_grad({x}), "resize_nearest: the input ", shape_str(x.shape()),
             " requires grad, but nearest resize is not differentiable; use resize_bilinear for ",
             "features, or detach() the input (or run under NoGradGuard) for label maps");
    const Shape& s = x.shape();
    PG_CHECK(s[1] >= 1 && s[2] >= 1, "resize_nearest: input ", shape_str(s),
             " has an empty spatial dimension");
    int64_t C = x.dim() == 4 ? s[3] : 1;
    ResizeGeometry g{s[0], s[1], s[2], C, out_h, out_w, false};
    Shape out_shape = s;
    out_shape[1] = out_h;
    out_shape[2] = out_w;
    Tensor y = empty_like(x, out_shape, x.dtype());
    backend_of(x).resize_nearest(y.raw(), x.raw(), dtype_size(x.dtype()), g);
    return y;
}

} // namespace pg
