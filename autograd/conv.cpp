// conv2d with its backward (autograd/conv.h). The kernels are Backend::conv2d_* (CPU:
// tensor/cpu/conv.cpp, im2col + GEMM); this file checks arguments, sizes the output and records
// the backward, which computes only the gradients that are needed.
#include "autograd/conv.h"

#include "autograd/op_util.h"

namespace pg {

// Output size along one axis; 0 when the dilated kernel does not fit in the padded input.
static int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                             int64_t dilation) {
    const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1; // last valid start offset
    return span < 0 ? 0 : span / stride + 1;
}

// Validates the arguments and returns the geometry (one stride / padding / dilation for both axes).
static ConvGeometry conv_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  int64_t stride, int64_t padding, int64_t dilation,
                                  int64_t groups) {
    check_dtype("conv2d", "input", x, DType::f32);
    check_dtype("conv2d", "weight", weight, DType::f32);
    if (bias.defined()) check_dtype("conv2d", "bias", bias, DType::f32);
    check_same_device("conv2d", {x, weight, bias});
    PG_CHECK(x.dim() == 4, "conv2d: input must be 4-D (N, H, W, C), got shape ",
             shape_str(x.shape()));
    PG_CHECK(weight.dim() == 4, "conv2d: weight must be 4-D (K, R, S, C / groups), got shape ",
             shape_str(weight.shape()));
    PG_CHECK(stride >= 1 && dilation >= 1 && padding >= 0 && groups >= 1,
             "conv2d: need stride >= 1, dilation >= 1, padding >= 0 and groups >= 1, got stride ",
             stride, ", dilation ", dilation, ", padding ", padding, ", groups ", groups);
    ConvGeometry g{};
    g.N = x.size(0), g.H = x.size(1), g.W = x.size(2), g.C = x.size(3);
    g.K = weight.size(0), g.R = weight.size(1), g.S = weight.size(2);
    PG_CHECK(g.C % groups == 0, "conv2d: input has ", g.C, " channels, not divisible by groups ",
             groups);
    PG_CHECK(g.K % groups == 0, "conv2d: weight has ", g.K,
             " output channels, not divisible by groups ", groups);
    PG_CHECK(weight.size(3) * groups == g.C, "conv2d: input has ", g.C,
             " channels, weight expects ", weight.size(3) * groups, " (groups ", groups, ")");
    PG_CHECK(g.K >= 1 && g.R >= 1 && g.S >= 1, "conv2d: weight ", shape_str(weight.shape()),
             " is empty");
    PG_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == g.K), "conv2d: bias has shape ",
             shape_str(bias.defined() ? bias.shape() : Shape{}), ", expected (", g.K, ",)");
    g.stride_h = g.stride_w = stride;
    g.pad_h = g.pad_w = padding;
    g.dilation_h = g.dilation_w = dilation;
    g.groups = groups;
    g.P = conv_out_size(g.H, g.R, stride, padding, dilation);
    g.Q = conv_out_size(g.W, g.S, stride, padding, dilation);
    PG_CHECK(g.P >= 1 && g.Q >= 1, "conv2d: output would be ", g.P, "x", g.Q, ": input ", g.H, "x",
             g.W, " is smaller than the ", g.R, "x", g.S, " kernel with dilation ", dilation,
             " and padding ", padding);
    return g;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding, int64_t dilation, int64_t groups) {
    const ConvGeometry g = conv_geometry(x, weight, bias, stride, padding, dilation, groups);
    Tensor y = empty_like(x, {g.N, g.P, g.Q, g.K});
    backend_of(x).conv2d_forward(y.f32(), x.f32(), weight.f32(),
                                 bias.defined() ? bias.f32() : nullptr, g);
    if (!any_requires_grad({x, weight, bias})) return y;
    // y = conv(x, w) + b is linear in each argument: dx = conv^T(dy, w) (backward_input),
    // dw = correlation of dy with x (backward_weight), db = dy summed over every pixel.
    SavedTensor saved_x(weight.requires_grad() ? x : Tensor());
    SavedTensor saved_w(x.requires_grad() ? weight : Tensor());
    const Shape x_shape = x.shape(), w_shape = weight.shape();
    record("conv2d", {x, weight, bias}, {y},
           [=](const std::vector<Tensor>& grads, const std::vector<bool>& needs) {
               const Tensor& dy = grads[0]; // (N, P, Q, K)
               Backend& be = backend_of(dy);
               Tensor dx, dw, db;
               if (needs[0]) {
                   dx = empty_like(dy, x_shape);
                   be.conv2d_backward_input(dx.f32(), dy.f32(), saved_w.get().f32(), g);
               }
               if (needs[1]) {
                   dw = empty_like(dy, w_shape);
                   be.conv2d_backward_weight(dw.f32(), dy.f32(), saved_x.get().f32(), g);
               }
               if (needs[2]) {
                   db = empty_like(dy, {g.K});
                   be.reduce(ReduceOp::sum, db.f32(), nullptr, dy.f32(), 1, g.N * g.P * g.Q, g.K);
               }
               return std::vector<Tensor>{dx, dw, db};
           });
    return y;
}

} // namespace pg
