// batch_norm (autograd/batch_norm.h): argument checks, the training / eval forward kernels, the
// in-place running-statistics update and the backward for x, weight and bias.
// Kernels: tensor/cpu/batch_norm.cpp (and cuda/ later), declared in tensor/backend.h.
#include "autograd/batch_norm.h"

#include "autograd/elementwise.h"
#include "autograd/op_util.h"

namespace pg {

namespace {

// A per-channel parameter or buffer: undefined, or f32 of shape (C,) on x's device.
void check_channel_vector(const Tensor& x, const Tensor& t, const char* what, int64_t C) {
    if (!t.defined()) return;
    check_dtype("batch_norm", what, t, DType::f32);
    PG_CHECK(t.dim() == 1 && t.numel() == C, "batch_norm: ", what, " has shape ",
             shape_str(t.shape()), ", input ", shape_str(x.shape()), " has ", C, " channels");
    PG_CHECK(t.device() == x.device(), "batch_norm: ", what, " is on ", t.device(),
             ", input is on ", x.device());
}

void check_arguments(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, bool training) {
    check_dtype("batch_norm", "input", x, DType::f32);
    PG_CHECK(x.dim() == 2 || x.dim() == 4,
             "batch_norm: input must be (N, C) or (N, H, W, C), got shape ", shape_str(x.shape()));
    const int64_t C = x.shape().back();
    check_channel_vector(x, weight, "weight", C);
    check_channel_vector(x, bias, "bias", C);
    check_channel_vector(x, running_mean, "running_mean", C);
    check_channel_vector(x, running_var, "running_var", C);
    PG_CHECK(running_mean.defined() == running_var.defined(),
             "batch_norm: running_mean and running_var must be given together");
    PG_CHECK(training || running_mean.defined(),
             "batch_norm: eval mode needs running_mean and running_var");
    for (const Tensor* t : {&running_mean, &running_var})
        PG_CHECK(!t->defined() || !t->requires_grad(),
                 "batch_norm: running statistics are buffers updated in place and must not "
                 "require grad");
    const int64_t rows = C > 0 ? x.numel() / C : 0;
    PG_CHECK(!training || rows > 1,
             "batch_norm: expected more than 1 value per channel when training, got input of "
             "shape ",
             shape_str(x.shape()));
}

const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.f32() : nullptr; }

} // namespace

static Tensor batch_norm_op(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Tensor& running_mean, const Tensor& running_var, bool training,
                            float momentum, float eps, bool relu) {
    check_arguments(x, weight, bias, running_mean, running_var, training);
    const int64_t C = x.shape().back(), rows = C > 0 ? x.numel() / C : 0;
    Tensor y = empty_like(x, x.shape());
    Tensor mean, invstd; // (C,): what backward normalises with
    if (training) {
        mean = empty_like(x, {C});
        invstd = empty_like(x, {C});
        float* rm = running_mean.defined() ? running_mean.f32() : nullptr;
        float* rv = running_var.defined() ? running_var.f32() : nullptr;
        backend_of(x).batch_norm_forward_train(y.f32(), mean.f32(), invstd.f32(), rm, rv, x.f32(),
                                               ptr_or_null(weight), ptr_or_null(bias), rows, C,
                                               momentum, eps, relu);
        if (rm) running_mean.bump_version(), running_var.bump_version();
    } else {
        backend_of(x).batch_norm_forward_eval(y.f32(), x.f32(), ptr_or_null(weight),
                                              ptr_or_null(bias), running_mean.f32(),
                                              running_var.f32(), rows, C, eps, relu);
        if (any_requires_grad({x, weight, bias})) {
            NoGradGuard no_grad;
            mean = running_mean; // saved below: a later in-place update is caught at backward
            invstd = rdiv(1.f, sqrt(add(running_var, eps)));
        }
    }
    if (!any_requires_grad({x, weight, bias})) return y;
    SavedTensor saved_x(x), saved_w(weight), saved_mean(mean), saved_invstd(invstd);
    SavedTensor saved_y = relu ? SavedTensor(y) : SavedTensor(); // what ReLU's backward reads
    record(
        relu ? "batch_norm_relu" : "batch_norm", {x, weight, bias}, {y},
        [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
            // Gradients of xhat = (x - mean) invstd, y = w xhat + b; see batch_norm_backward.
            // dx may take dy's memory: the kernel's last pass reads dy and writes dx per element.
            Tensor dx = needs[0] ? gradient_like(g[0]) : Tensor();
            Tensor dw = needs[1] ? empty_like(g[0], {C}) : Tensor();
            Tensor db = needs[2] ? empty_like(g[0], {C}) : Tensor();
            backend_of(g[0]).batch_norm_backward(
                dx.defined() ? dx.f32() : nullptr, dw.defined() ? dw.f32() : nullptr,
                db.defined() ? db.f32() : nullptr, g[0].f32(), saved_x.get().f32(),
                saved_w.defined() ? saved_w.get().f32() : nullptr, saved_mean.get().f32(),
                saved_invstd.get().f32(), rows, C, training,
                saved_y.defined() ? saved_y.get().f32() : nullptr);
            return std::vector<Tensor>{dx, dw, db};
        });
    return y;
}

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum, float eps) {
    return batch_norm_op(x, weight, bias, running_mean, running_var, training, momentum, eps,
                         false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       float momentum, float eps) {
    return batch_norm_op(x, weight, bias, running_mean, running_var, training, momentum, eps, true);
}

} // namespace pg
