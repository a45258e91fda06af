// max_pool2d, avg_pool2d and global_avg_pool (autograd/pool.h): PyTorch's output-size rule and
// argument checks, the forward kernels, and the backward beside each forward.
// Kernels: tensor/cpu/pool.cpp (and cuda/ later), declared in tensor/backend.h.
#include "autograd/pool.h"

#include <limits>

#include "autograd/layout.h"
#include "autograd/op_util.h"
#include "autograd/reduce.h"

namespace pg {

namespace {

// PyTorch's pooling_output_shape: floor((in + 2 pad - k) / s) + 1 (ceil with ceil_mode), and in
// ceil_mode the last window must start inside the input or its left padding, else it is dropped.
int64_t pool_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode) {
    int64_t span = in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0);
    int64_t out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

PoolGeometry pool_geometry(const char* op, const Tensor& x, int64_t kernel, int64_t stride,
                           int64_t padding, bool ceil_mode, bool count_include_pad) {
    check_dtype(op, "input", x, DType::f32);
    PG_CHECK(x.dim() == 4, op, ": input must be (N, H, W, C) with 4 dimensions, got shape ",
             shape_str(x.shape()));
    PG_CHECK(kernel > 0 && stride > 0 && padding >= 0, op, ": kernel ", kernel, " and stride ",
             stride, " must be positive and padding ", padding, " non-negative");
    PG_CHECK(padding <= kernel / 2, op, ": padding ", padding,
             " must be at most half the kernel size ", kernel);
    const Shape& s = x.shape();
    PoolGeometry g{};
    g.N = s[0], g.H = s[1], g.W = s[2], g.C = s[3];
    g.P = pool_out_size(g.H, kernel, stride, padding, ceil_mode);
    g.Q = pool_out_size(g.W, kernel, stride, padding, ceil_mode);
    PG_CHECK(g.P > 0 && g.Q > 0, op, ": input ", shape_str(s), " is too small for kernel ", kernel,
             ", stride ", stride, ", padding ", padding, " (output ", g.P, "x", g.Q, ")");
    PG_CHECK(g.H * g.W <= std::numeric_limits<int32_t>::max(), op, ": image of ", g.H, "x", g.W,
             " pixels is too large for i32 argmax indices");
    g.kernel_h = g.kernel_w = kernel;
    g.stride_h = g.stride_w = stride;
    g.pad_h = g.pad_w = padding;
    g.count_include_pad = count_include_pad;
    return g;
}

} // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding,
                  bool ceil_mode) {
    PoolGeometry g = pool_geometry("max_pool2d", x, kernel, stride, padding, ceil_mode, false);
    Tensor y = empty_like(x, {g.N, g.P, g.Q, g.C});
    Tensor argmax = empty_like(x, {g.N, g.P, g.Q, g.C}, DType::i32); // h * W + w of each max
    backend_of(x).max_pool2d_forward(y.f32(), argmax.i32(), x.f32(), g);
    // The gradient of a max is routed to its argmax; argmax is never exposed, so not modified.
    record("max_pool2d", {x}, {y}, [=](const std::vector<Tensor>& grad, const std::vector<bool>&) {
        Tensor dx = empty_like(grad[0], {g.N, g.H, g.W, g.C});
        backend_of(dx).max_pool2d_backward(dx.f32(), grad[0].f32(), argmax.i32(), g);
        return std::vector<Tensor>{dx};
    });
    return y;
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode,
                  bool count_include_pad) {
    PoolGeometry g =
        pool_geometry("avg_pool2d", x, kernel, stride, padding, ceil_mode, count_include_pad);
    Tensor y = empty_like(x, {g.N, g.P, g.Q, g.C});
    backend_of(x).avg_pool2d_forward(y.f32(), x.f32(), g);
    // y = sum(window) / divisor is linear: each covered pixel gets dy / divisor.
    record("avg_pool2d", {x}, {y}, [=](const std::vector<Tensor>& grad, const std::vector<bool>&) {
        Tensor dx = empty_like(grad[0], {g.N, g.H, g.W, g.C});
        backend_of(dx).avg_pool2d_backward(dx.f32(), grad[0].f32(), g);
        return std::vector<Tensor>{dx};
    });
    return y;
}

Tensor global_avg_pool(const Tensor& x) {
    check_dtype("global_avg_pool", "input", x, DType::f32);
    PG_CHECK(x.dim() == 4,
             "global_avg_pool: input must be (N, H, W, C) with 4 dimensions, got shape ",
             shape_str(x.shape()));
    const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    PG_CHECK(H * W > 0, "global_avg_pool: empty image ", shape_str(x.shape()));
    // (N, H, W, C) -> (N, H*W, C) -> mean over pixels -> (N, 1, 1, C); gradients come for free.
    return reshape(mean(reshape(x, {N, H * W, C}), 1, true), {N, 1, 1, C});
}

} // namespace pg
