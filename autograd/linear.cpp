// matmul and linear with their backward (autograd/linear.h). Both are one (batched) call of
// Backend::gemm (CPU: OpenBLAS, tensor/cpu/gemm.cpp); the backward uses the GEMM's transpose flags
// instead of materialising transposed copies.
#include "autograd/linear.h"

#include "autograd/op_util.h"

namespace pg {

// ---- matmul ----

// A product as `batch` GEMMs of (M, K) x (K, N). (B, M, K) x (K, N) is folded into a single
// (B*M, K) x (K, N) GEMM (a is contiguous), which also sums b's gradient over the batch for free.
struct MatmulDims {
    int64_t batch = 1, M = 0, K = 0, N = 0;
    bool b_batched = false;
    Shape out_shape;
};

static MatmulDims matmul_dims(const Tensor& a, const Tensor& b) {
    const Shape &sa = a.shape(), &sb = b.shape();
    const std::string shapes = shape_str(sa) + " x " + shape_str(sb);
    MatmulDims d;
    if (a.dim() == 2 && b.dim() == 2) {
        d.M = sa[0], d.K = sa[1], d.N = sb[1];
        d.out_shape = {d.M, d.N};
    } else if (a.dim() == 3 && b.dim() == 3) {
        PG_CHECK(sa[0] == sb[0], "matmul: ", shapes, ": batch sizes ", sa[0], " and ", sb[0],
                 " differ");
        d.batch = sa[0], d.M = sa[1], d.K = sa[2], d.N = sb[2], d.b_batched = true;
        d.out_shape = {d.batch, d.M, d.N};
    } else if (a.dim() == 3 && b.dim() == 2) {
        d.M = sa[0] * sa[1], d.K = sa[2], d.N = sb[1];
        d.out_shape = {sa[0], sa[1], d.N};
    } else {
        PG_FAIL("matmul: unsupported shapes ", shapes,
                ": expected (M, K) x (K, N), (B, M, K) x (B, K, N) or (B, M, K) x (K, N)");
    }
    const int64_t b_rows = sb[size_t(b.dim() - 2)];
    PG_CHECK(d.K == b_rows, "matmul: ", shapes, ": inner dimensions ", d.K, " and ", b_rows,
             " differ");
    return d;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
    check_dtype("matmul", "a", a, DType::f32);
    check_dtype("matmul", "b", b, DType::f32);
    check_same_device("matmul", {a, b});
    const MatmulDims d = matmul_dims(a, b);
    const int64_t M = d.M, K = d.K, N = d.N, batch = d.batch;
    const int64_t stride_b = d.b_batched ? K * N : 0;
    Tensor c = empty_like(a, d.out_shape); // (batch, M, N)
    backend_of(a).gemm(false, false, M, N, K, 1.f, a.f32(), K, M * K, b.f32(), N, stride_b, 0.f,
                       c.f32(), N, M * N, batch);
    if (!any_requires_grad({a, b})) return c;
    // C = A B: dA = dC B^T (M, K), dB = A^T dC (K, N), per batch entry.
    SavedTensor saved_a(b.requires_grad() ? a : Tensor());
    SavedTensor saved_b(a.requires_grad() ? b : Tensor());
    const Shape a_shape = a.shape(), b_shape = b.shape();
    record("matmul", {a, b}, {c},
           [=](const std::vector<Tensor>& grads, const std::vector<bool>& needs) {
               const Tensor& dc = grads[0]; // (batch, M, N)
               Tensor da, db;
               if (needs[0]) {
                   da = empty_like(dc, a_shape);
                   backend_of(dc).gemm(false, true, M, K, N, 1.f, dc.f32(), N, M * N,
                                       saved_b.get().f32(), N, stride_b, 0.f, da.f32(), K, M * K,
                                       batch);
               }
               if (needs[1]) {
                   db = empty_like(dc, b_shape);
                   backend_of(dc).gemm(true, false, K, N, M, 1.f, saved_a.get().f32(), K, M * K,
                                       dc.f32(), N, M * N, 0.f, db.f32(), N, stride_b, batch);
               }
               return std::vector<Tensor>{da, db};
           });
    return c;
}

// ---- linear ----

static void check_linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    check_dtype("linear", "input", x, DType::f32);
    check_dtype("linear", "weight", weight, DType::f32);
    if (bias.defined()) check_dtype("linear", "bias", bias, DType::f32);
    check_same_device("linear", {x, weight, bias});
    PG_CHECK(x.dim() >= 1, "linear: input must have at least 1 dimension, got a scalar");
    PG_CHECK(weight.dim() == 2, "linear: weight must be 2-D (out, in), got shape ",
             shape_str(weight.shape()));
    PG_CHECK(x.size(-1) == weight.size(1), "linear: input ", shape_str(x.shape()), " has ",
             x.size(-1), " features, weight ", shape_str(weight.shape()), " expects ",
             weight.size(1));
    PG_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)),
             "linear: bias has shape ", shape_str(bias.defined() ? bias.shape() : Shape{}),
             ", expected (", weight.size(0), ",)");
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    check_linear(x, weight, bias);
    const int64_t in = weight.size(1), out = weight.size(0);
    int64_t rows = 1; // every leading dimension of x is a batch dimension
    for (int d = 0; d + 1 < x.dim(); d++) rows *= x.size(d);
    Shape y_shape = x.shape();
    y_shape.back() = out;
    Tensor y = empty_like(x, y_shape); // (rows, out)
    Backend& be = backend_of(x);
    // y (rows, out) = x (rows, in) x W^T, W stored (out, in); then y += b on every row. (The bias
    // goes second: on the CPU an OpenMP loop right before an OpenBLAS GEMM slows the GEMM down.)
    be.gemm(false, true, rows, out, in, 1.f, x.f32(), in, 0, weight.f32(), in, 0, 0.f, y.f32(), out,
            0, 1);
    if (bias.defined()) {
        const BroadcastGeometry g = broadcast_geometry({rows, out}, bias.shape(), {rows, out});
        be.binary_forward(BinaryOp::add, y.f32(), y.f32(), bias.f32(), g);
    }
    if (!any_requires_grad({x, weight, bias})) return y;
    // dx = dy W (rows, in), dW = dy^T x (out, in), db = dy summed over the rows.
    SavedTensor saved_x(weight.requires_grad() ? x : Tensor());
    SavedTensor saved_w(x.requires_grad() ? weight : Tensor());
    const Shape x_shape = x.shape(), w_shape = weight.shape();
    record("linear", {x, weight, bias}, {y},
           [=](const std::vector<Tensor>& grads, const std::vector<bool>& needs) {
               const Tensor& dy = grads[0]; // (rows, out)
               Backend& be = backend_of(dy);
               Tensor dx, dw, db;
               if (needs[0]) {
                   dx = empty_like(dy, x_shape);
                   be.gemm(false, false, rows, in, out, 1.f, dy.f32(), out, 0, saved_w.get().f32(),
                           in, 0, 0.f, dx.f32(), in, 0, 1);
               }
               if (needs[1]) {
                   dw = empty_like(dy, w_shape);
                   be.gemm(true, false, out, in, rows, 1.f, dy.f32(), out, 0, saved_x.get().f32(),
                           in, 0, 0.f, dw.f32(), in, 0, 1);
               }
               if (needs[2]) {
                   db = empty_like(dy, {out});
                   be.reduce(ReduceOp::sum, db.f32(), nullptr, dy.f32(), 1, rows, out);
               }
               return std::vector<Tensor>{dx, dw, db};
           });
    return y;
}

} // namespace pg
