// In-place writes: version bump, and the requires-grad guard (autograd/inplace.h).
#include "autograd/inplace.h"

#include "autograd/op_util.h"

namespace pg {

static void check_writable(const char* op, const Tensor& t) {
    PG_CHECK(t.defined(), op, ": undefined tensor");
    PG_CHECK(!(grad_mode_enabled() && t.requires_grad()), op,
             ": in-place write to a tensor of shape ", shape_str(t.shape()),
             " that requires grad while grad mode is on; use NoGradGuard "
             "(optimizer steps) or write to a copy");
    t.wait_async_copies(); // a pinned tensor may still be read by a copy to the GPU
}

void add_(const Tensor& t, const Tensor& other, float alpha) {
    check_writable("add_", t);
    check_dtype("add_", "tensor", t, DType::f32);
    check_dtype("add_", "other", other, DType::f32);
    check_same_device("add_", {t, other});
    PG_CHECK(broadcast_shapes("add_", t.shape(), other.shape()) == t.shape(),
             "add_: ", shape_str(other.shape()), " does not broadcast to ", shape_str(t.shape()));
    Tensor scaled = other;
    if (alpha != 1.f) {
        scaled = empty_like(other, other.shape());
        backend_of(other).unary_forward(UnaryOp::affine, scaled.f32(), other.f32(), other.numel(),
                                        alpha, 0.f);
    }
    // Elementwise kernels may write over their first operand: out[i] reads only a[i].
    BroadcastGeometry g = broadcast_geometry(t.shape(), other.shape(), t.shape());
    backend_of(t).binary_forward(BinaryOp::add, t.f32(), t.f32(), scaled.f32(), g);
    t.bump_version();
}

void mul_(const Tensor& t, float value) {
    check_writable("mul_", t);
    check_dtype("mul_", "tensor", t, DType::f32);
    backend_of(t).unary_forward(UnaryOp::affine, t.f32(), t.f32(), t.numel(), value, 0.f);
    t.bump_version();
}

void mul_(const Tensor& t, const Tensor& other) {
    check_writable("mul_", t);
    check_dtype("mul_", "tensor", t, DType::f32);
    check_dtype("mul_", "other", other, DType::f32);
    check_same_device("mul_", {t, other});
    PG_CHECK(broadcast_shapes("mul_", t.shape(), other.shape()) == t.shape(),
             "mul_: ", shape_str(other.shape()), " does not broadcast to ", shape_str(t.shape()));
    BroadcastGeometry g = broadcast_geometry(t.shape(), other.shape(), t.shape());
    backend_of(t).binary_forward(BinaryOp::mul, t.f32(), t.f32(), other.f32(), g);
    t.bump_version();
}

void fill_(const Tensor& t, double value) {
    check_writable("fill_", t);
    backend_of(t).fill(t.raw(), t.dtype(), t.numel(), value);
    t.bump_version();
}

void zero_(const Tensor& t) { fill_(t, 0.0); }

void copy_(const Tensor& dst, const Tensor& src) {
    check_writable("copy_", dst);
    PG_CHECK(src.defined(), "copy_: undefined source");
    PG_CHECK(dst.shape() == src.shape() && dst.dtype() == src.dtype(), "copy_: source ",
             shape_str(src.shape()), " ", dtype_name(src.dtype()), " does not match destination ",
             shape_str(dst.shape()), " ", dtype_name(dst.dtype()));
    if (dst.device() == src.device()) {
        backend_of(dst).copy(dst.raw(), src.raw(), dst.nbytes());
    } else {
        Tensor moved = src.to(dst.device());
        backend_of(dst).copy(dst.raw(), moved.raw(), dst.nbytes());
    }
    dst.bump_version();
}

void sgd_update_(const Tensor& param, const Tensor& momentum_buffer, const Tensor& grad,
                 const SgdStep& step) {
    check_writable("sgd_update_", param);
    PG_CHECK(grad.defined(), "sgd_update_: undefined gradient");
    std::vector<Tensor> operands{param, grad};
    if (momentum_buffer.defined()) {
        check_writable("sgd_update_", momentum_buffer);
        operands.push_back(momentum_buffer);
    }
    for (const Tensor& t : operands) {
        check_dtype("sgd_update_", "operand", t, DType::f32);
        PG_CHECK(t.shape() == param.shape(), "sgd_update_: operand of shape ", shape_str(t.shape()),
                 " does not match the parameter's ", shape_str(param.shape()));
    }
    check_same_device("sgd_update_", operands);
    float* buffer = momentum_buffer.defined() ? momentum_buffer.f32() : nullptr;
    backend_of(param).sgd_update(param.f32(), buffer, grad.f32(), param.numel(), step);
    param.bump_version();
    if (momentum_buffer.defined()) momentum_buffer.bump_version();
}

} // namespace pg
