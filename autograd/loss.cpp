// cross_entropy and bce_with_logits (autograd/loss.h). Each computes per-row / per-element losses
// with one fused kernel (tensor/cpu/loss.cpp) whose backward sits beside it, then reduces them with
// the differentiable sum / div ops, so the reductions need no gradient code of their own.
#include "autograd/loss.h"

#include <cfloat>
#include <cmath>

#include "autograd/elementwise.h"
#include "autograd/layout.h"
#include "autograd/op_util.h"
#include "autograd/reduce.h"

namespace pg {

namespace {

void check_ce_args(const Tensor& logits, const Tensor& target, const Tensor& weight) {
    check_dtype("cross_entropy", "logits", logits, DType::f32);
    PG_CHECK(logits.dim() >= 1, "cross_entropy: logits must have a class axis, got shape ",
             shape_str(logits.shape()));
    PG_CHECK(target.defined(), "cross_entropy: target is an undefined tensor");
    PG_CHECK(target.dtype() == DType::i32 || target.dtype() == DType::u8,
             "cross_entropy: target must be i32 or u8, got ", dtype_name(target.dtype()), " ",
             shape_str(target.shape()));
    Shape expected(logits.shape().begin(), logits.shape().end() - 1);
    PG_CHECK(target.shape() == expected, "cross_entropy: target shape ", shape_str(target.shape()),
             " does not match logits ", shape_str(logits.shape()), " without its class axis ",
             shape_str(expected));
    int64_t classes = logits.shape().back();
    if (weight.defined()) {
        check_dtype("cross_entropy", "weight", weight, DType::f32);
        PG_CHECK(weight.shape() == Shape{classes}, "cross_entropy: weight has shape ",
                 shape_str(weight.shape()), ", expected (", classes, ",) for ", classes,
                 " classes");
    }
    check_same_device("cross_entropy", {logits, target, weight});
}

// The label at flat position i of an i32 / u8 target, read from any device.
int64_t label_at(const Tensor& target, int64_t i) {
    size_t size = dtype_size(target.dtype());
    int32_t i32 = 0;
    uint8_t u8 = 0;
    void* host = target.dtype() == DType::u8 ? static_cast<void*>(&u8) : static_cast<void*>(&i32);
    backend_of(target).copy_to_host(host, static_cast<const char*>(target.raw()) + size_t(i) * size,
                                    size);
    return target.dtype() == DType::u8 ? int64_t(u8) : int64_t(i32);
}

// mean = sum(loss) / count, with count clamped away from 0 so an empty selection gives 0, not NaN.
Tensor safe_mean(const Tensor& loss, const Tensor& count) {
    return div(sum(loss), clamp(count, FLT_MIN, INFINITY));
}

} // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options) {
    const Tensor& weight = options.weight;
    check_ce_args(logits, target, weight);
    int64_t classes = logits.shape().back(), rows = target.numel();
    int64_t ignore = options.ignore_index;
    Tensor loss = empty_like(logits, target.shape());        // (...) w[y] * nll, 0 where ignored
    Tensor weight_used = empty_like(logits, target.shape()); // (...) w[y], 0 where ignored
    const float* w = weight.defined() ? weight.f32() : nullptr;
    int64_t bad = backend_of(logits).cross_entropy_forward(
        loss.f32(), weight_used.f32(), logits.f32(), target.raw(), target.dtype(), w, rows, classes,
        ignore);
    PG_CHECK(bad == -1, "cross_entropy: target label ", label_at(target, bad), " (element ", bad,
             ") is out of range [0, ", classes, ") and is not ignore_index ", ignore);
    if (any_requires_grad({logits})) {
        // d loss_r / d x_r = w[y] (softmax(x_r) - onehot(y)), times the row's incoming gradient.
        SavedTensor saved_logits(logits), saved_target(target), saved_weight(weight);
        record("cross_entropy", {logits}, {loss},
               [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
                   const Tensor& x = saved_logits.get();
                   const Tensor& y = saved_target.get();
                   const float* wv = saved_weight.defined() ? saved_weight.get().f32() : nullptr;
                   Tensor dx = empty_like(x, x.shape());
                   backend_of(x).cross_entropy_backward(dx.f32(), g[0].f32(), x.f32(), y.raw(),
                                                        y.dtype(), wv, rows, classes, ignore);
                   return std::vector<Tensor>{dx};
               });
    }
    switch (options.reduction) {
    case Reduction::none:
        return loss;
    case Reduction::sum:
        return sum(loss);
    case Reduction::mean:
        // PyTorch's weighted mean: sum_r w[y_r] nll_r / sum_r w[y_r] (weight_used is a constant).
        return safe_mean(loss, sum(weight_used));
    }
    PG_FAIL("cross_entropy: unknown reduction");
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& target, const Tensor& valid,
                       Reduction reduction) {
    check_dtype("bce_with_logits", "logits", logits, DType::f32);
    check_dtype("bce_with_logits", "target", target, DType::f32);
    PG_CHECK(target.shape() == logits.shape(), "bce_with_logits: target shape ",
             shape_str(target.shape()), " does not match logits ", shape_str(logits.shape()));
    if (valid.defined()) {
        check_dtype("bce_with_logits", "valid", valid, DType::u8);
        PG_CHECK(valid.shape() == logits.shape(), "bce_with_logits: valid shape ",
                 shape_str(valid.shape()), " does not match logits ", shape_str(logits.shape()));
    }
    check_same_device("bce_with_logits", {logits, target, valid});
    int64_t n = logits.numel();
    const uint8_t* v = valid.defined() ? valid.u8() : nullptr;
    Tensor loss = empty_like(logits, logits.shape()); // 0 where not valid
    backend_of(logits).bce_with_logits_forward(loss.f32(), logits.f32(), target.f32(), v, n);
    if (any_requires_grad({logits, target})) {
        // d/dx = sigmoid(x) - t and d/dt = -x, both 0 where not valid.
        SavedTensor saved_x(logits), saved_t(target), saved_valid(valid);
        record("bce_with_logits", {logits, target}, {loss},
               [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
                   const Tensor& x = saved_x.get();
                   Tensor mask = saved_valid.defined() ? saved_valid.get() : Tensor();
                   Tensor dx, dt;
                   if (needs[0]) {
                       dx = empty_like(x, x.shape());
                       backend_of(x).bce_with_logits_backward(
                           dx.f32(), g[0].f32(), x.f32(), saved_t.get().f32(),
                           mask.defined() ? mask.u8() : nullptr, n);
                   }
                   if (needs[1]) {
                       dt = neg(mul(g[0], x));
                       if (mask.defined()) dt = where(mask, dt, 0.f);
                   }
                   return std::vector<Tensor>{dx, dt};
               });
    }
    switch (reduction) {
    case Reduction::none:
        return loss;
    case Reduction::sum:
        return sum(loss);
    case Reduction::mean:
        if (!valid.defined()) return safe_mean(loss, Tensor::scalar(float(n), logits.device()));
        // Any non-zero byte is valid: count clamp(valid, 0, 1).
        return safe_mean(loss, sum(clamp(cast(valid, DType::f32), 0.f, 1.f)));
    }
    PG_FAIL("bce_with_logits: unknown reduction");
}

} // namespace pg
