// Arithmetic, math functions and activations with their backward (autograd/elementwise.h).
// Comparisons, logic, where and the broadcasting ops are in autograd/select.cpp.
#include "autograd/elementwise.h"

#include <cmath>

#include "autograd/op_util.h"

namespace pg {

// ---- unary ops: y = f(x; alpha, beta) ----

// Which of x and y = f(x) the derivative reads; only those are saved for backward.
static bool backward_reads_x(UnaryOp op) {
    switch (op) {
    case UnaryOp::pow:
    case UnaryOp::log:
    case UnaryOp::abs:
    case UnaryOp::clamp:
    case UnaryOp::leaky_relu:
    case UnaryOp::elu:
    case UnaryOp::reciprocal:
        return true;
    default:
        return false;
    }
}

static bool backward_reads_y(UnaryOp op) {
    switch (op) {
    case UnaryOp::sqrt:
    case UnaryOp::exp:
    case UnaryOp::relu:
    case UnaryOp::elu:
    case UnaryOp::sigmoid:
    case UnaryOp::tanh:
        return true;
    default:
        return false;
    }
}

static Tensor unary(const char* name, UnaryOp op, const Tensor& x, float alpha = 0.f,
                    float beta = 0.f) {
    check_dtype(name, "input", x, DType::f32);
    Tensor y = empty_like(x, x.shape());
    backend_of(x).unary_forward(op, y.f32(), x.f32(), x.numel(), alpha, beta);
    if (any_requires_grad({x})) {
        SavedTensor saved_x(backward_reads_x(op) ? x : Tensor());
        SavedTensor saved_y(backward_reads_y(op) ? y : Tensor());
        record(name, {x}, {y}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
            const float* xs = saved_x.defined() ? saved_x.get().f32() : nullptr;
            const float* ys = saved_y.defined() ? saved_y.get().f32() : nullptr;
            Tensor dx = gradient_like(g[0]);
            backend_of(dx).unary_backward(op, dx.f32(), g[0].f32(), xs, ys, dx.numel(), alpha,
                                          beta);
            return std::vector<Tensor>{dx};
        });
    }
    return y;
}

Tensor affine(const Tensor& x, float scale, float shift) {
    return unary("affine", UnaryOp::affine, x, scale, shift);
}
Tensor add(const Tensor& a, float b) { return affine(a, 1.f, b); }
Tensor sub(const Tensor& a, float b) { return affine(a, 1.f, -b); }
Tensor mul(const Tensor& a, float b) { return affine(a, b, 0.f); }
Tensor div(const Tensor& a, float b) { return affine(a, 1.f / b, 0.f); }
Tensor rsub(float a, const Tensor& b) { return affine(b, -1.f, a); }
Tensor rdiv(float a, const Tensor& b) { return unary("rdiv", UnaryOp::reciprocal, b, a); }

Tensor neg(const Tensor& x) { return unary("neg", UnaryOp::neg, x); }
Tensor pow(const Tensor& x, float exponent) { return unary("pow", UnaryOp::pow, x, exponent); }
Tensor sqrt(const Tensor& x) { return unary("sqrt", UnaryOp::sqrt, x); }
Tensor exp(const Tensor& x) { return unary("exp", UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary("log", UnaryOp::log, x); }
Tensor abs(const Tensor& x) { return unary("abs", UnaryOp::abs, x); }
Tensor clamp(const Tensor& x, float low, float high) {
    PG_CHECK(!(low > high), "clamp: low ", low, " is greater than high ", high);
    return unary("clamp", UnaryOp::clamp, x, low, high);
}
Tensor relu(const Tensor& x) { return unary("relu", UnaryOp::relu, x); }
Tensor leaky_relu(const Tensor& x, float negative_slope) {
    return unary("leaky_relu", UnaryOp::leaky_relu, x, negative_slope);
}
Tensor elu(const Tensor& x, float alpha) { return unary("elu", UnaryOp::elu, x, alpha); }
Tensor sigmoid(const Tensor& x) { return unary("sigmoid", UnaryOp::sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary("tanh", UnaryOp::tanh, x); }

// ---- binary ops with broadcasting ----

static Tensor binary_raw(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
    check_dtype(name, "a", a, DType::f32);
    check_dtype(name, "b", b, DType::f32);
    check_same_device(name, {a, b});
    Shape out_shape = broadcast_shapes(name, a.shape(), b.shape());
    Tensor out = empty_like(a, out_shape);
    BroadcastGeometry g = broadcast_geometry(a.shape(), b.shape(), out_shape);
    backend_of(a).binary_forward(op, out.f32(), a.f32(), b.f32(), g);
    return out;
}

// The gradient of a broadcast operand is the output gradient summed over the broadcast dims.
static Tensor reduce_grad(const Tensor& grad, const Shape& shape) {
    return grad.shape() == shape ? grad : sum_to_shape(grad, shape);
}

Tensor add(const Tensor& a, const Tensor& b) {
    Tensor out = binary_raw("add", BinaryOp::add, a, b);
    Shape sa = a.shape(), sb = b.shape();
    record("add", {a, b}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
        return std::vector<Tensor>{needs[0] ? reduce_grad(g[0], sa) : Tensor(),
                                   needs[1] ? reduce_grad(g[0], sb) : Tensor()};
    });
    return out;
}

Tensor add_relu(const Tensor& a, const Tensor& b) {
    Tensor out = binary_raw("add_relu", BinaryOp::add_relu, a, b);
    if (any_requires_grad({a, b})) {
        // relu's backward on the output (dy where out > 0), then add's: the same to both.
        SavedTensor saved_out(out);
        Shape sa = a.shape(), sb = b.shape();
        record("add_relu", {a, b}, {out},
               [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
                   Tensor d = gradient_like(g[0]);
                   backend_of(d).unary_backward(UnaryOp::relu, d.f32(), g[0].f32(), nullptr,
                                                saved_out.get().f32(), d.numel(), 0.f, 0.f);
                   return std::vector<Tensor>{needs[0] ? reduce_grad(d, sa) : Tensor(),
                                              needs[1] ? reduce_grad(d, sb) : Tensor()};
               });
    }
    return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
    Tensor out = binary_raw("sub", BinaryOp::sub, a, b);
    Shape sa = a.shape(), sb = b.shape();
    record("sub", {a, b}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
        return std::vector<Tensor>{needs[0] ? reduce_grad(g[0], sa) : Tensor(),
                                   needs[1] ? reduce_grad(neg(g[0]), sb) : Tensor()};
    });
    return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
    Tensor out = binary_raw("mul", BinaryOp::mul, a, b);
    if (any_requires_grad({a, b})) {
        // d(ab)/da = b, d(ab)/db = a: each side saves the other operand, only if it is needed.
        SavedTensor saved_a(b.requires_grad() ? a : Tensor());
        SavedTensor saved_b(a.requires_grad() ? b : Tensor());
        Shape sa = a.shape(), sb = b.shape();
        record("mul", {a, b}, {out},
               [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
                   return std::vector<Tensor>{
                       needs[0] ? reduce_grad(mul(g[0], saved_b.get()), sa) : Tensor(),
                       needs[1] ? reduce_grad(mul(g[0], saved_a.get()), sb) : Tensor()};
               });
    }
    return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
    Tensor out = binary_raw("div", BinaryOp::div, a, b);
    if (any_requires_grad({a, b})) {
        // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b.
        SavedTensor saved_b(b), saved_out(b.requires_grad() ? out : Tensor());
        Shape sa = a.shape(), sb = b.shape();
        record("div", {a, b}, {out},
               [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
                   Tensor g_over_b = div(g[0], saved_b.get());
                   return std::vector<Tensor>{
                       needs[0] ? reduce_grad(g_over_b, sa) : Tensor(),
                       needs[1] ? reduce_grad(neg(mul(g_over_b, saved_out.get())), sb) : Tensor()};
               });
    }
    return out;
}

// maximum / minimum route the gradient to the operand that was selected (a on ties).
static Tensor select_binary(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
    Tensor out = binary_raw(name, op, a, b);
    if (any_requires_grad({a, b})) {
        SavedTensor saved_a(a), saved_b(b);
        Shape sa = a.shape(), sb = b.shape();
        record(
            name, {a, b}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
                Tensor a_full = broadcast_to(saved_a.get(), g[0].shape());
                Tensor b_full = broadcast_to(saved_b.get(), g[0].shape());
                Tensor took_a = op == BinaryOp::maximum ? ge(a_full, b_full) : le(a_full, b_full);
                return std::vector<Tensor>{
                    needs[0] ? reduce_grad(where(took_a, g[0], 0.f), sa) : Tensor(),
                    needs[1] ? reduce_grad(where(took_a, 0.f, g[0]), sb) : Tensor()};
            });
    }
    return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) {
    return select_binary("maximum", BinaryOp::maximum, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
    return select_binary("minimum", BinaryOp::minimum, a, b);
}

// ---- operators ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, float b) { return add(a, b); }
Tensor operator-(const Tensor& a, float b) { return sub(a, b); }
Tensor operator*(const Tensor& a, float b) { return mul(a, b); }
Tensor operator/(const Tensor& a, float b) { return div(a, b); }
Tensor operator+(float a, const Tensor& b) { return add(b, a); }
Tensor operator-(float a, const Tensor& b) { return rsub(a, b); }
Tensor operator*(float a, const Tensor& b) { return mul(b, a); }
Tensor operator/(float a, const Tensor& b) { return rdiv(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }

} // namespace pg
