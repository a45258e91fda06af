// Dropout and Dropout2d (autograd/random.h), composed from existing ops: a keep-mask from
// Tensor::uniform, ge and cast, scaled and multiplied in. No kernel of their own, so the mask is
// the same on every device for the same generator state, and mul gives the backward for free.
#include "autograd/random.h"

#include <cmath>

#include "autograd/elementwise.h"
#include "autograd/layout.h"
#include "autograd/op_util.h"

namespace pg {

namespace {

// Checks p and the input; true when the op draws a mask (training with p > 0).
bool wants_mask(const char* op, const Tensor& x, float p, bool training) {
    check_dtype(op, "input", x, DType::f32);
    PG_CHECK(p >= 0.f && p <= 1.f, op, ": p = ", p, " is outside [0, 1]"); // NaN fails too
    return training && p > 0.f;
}

// y = x * keep / (1 - p), keep = (u >= p) for u uniform in [0, 1) of `mask_shape` (which
// broadcasts against x). P(u >= p) = 1 - p up to the 2^-24 grid of the uniforms. At p = 1 no
// element is kept and the scale is dropped: y = x * 0 (zeros, NaN staying NaN, as in PyTorch).
Tensor apply_mask(const Tensor& x, const Shape& mask_shape, float p, Generator& gen) {
    Tensor u = Tensor::uniform(mask_shape, gen, 0.f, 1.f, x.device());
    Tensor keep = cast(ge(u, p), DType::f32); // 1 kept, 0 dropped
    if (p < 1.f) keep = mul(keep, 1.f / (1.f - p));
    return mul(x, keep); // backward: dx = dy * keep / (1 - p)
}

} // namespace

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
    if (!wants_mask("dropout", x, p, training)) return x;
    return apply_mask(x, x.shape(), p, gen);
}

Tensor dropout2d(const Tensor& x, float p, bool training, Generator& gen) {
    PG_CHECK(x.defined() && x.dim() == 4, "dropout2d: input must be (N, H, W, C), got shape ",
             x.defined() ? shape_str(x.shape()) : std::string("undefined"));
    if (!wants_mask("dropout2d", x, p, training)) return x;
    return apply_mask(x, {x.size(0), 1, 1, x.size(3)}, p, gen); // one draw per (n, c)
}

} // namespace pg
