// ProfilingBackend (tensor/profiling_backend.h): each kernel is forwarded to the real backend
// between two synchronize() calls and steady_clock readings, and recorded under a readable name
// with its work: FLOPs for convolution and GEMM, bytes moved for everything else.
// Bytes are the least traffic the kernel could do: every tensor argument read or written once
// (f32 = 4 bytes); host <-> device copies count the bytes carried once (the bus rate).
#include "tensor/profiling_backend.h"

#include <chrono>

#include "tensor/profiler.h"

namespace pg {
namespace {

double f32_bytes(int64_t n) { return 4.0 * double(n); }

// Elements of a broadcast operand: the product of the output extents where its stride is not 0.
int64_t operand_numel(const BroadcastGeometry& g, const int64_t* stride) {
    int64_t n = 1;
    for (int d = 0; d < g.ndim; d++)
        if (stride[d] != 0) n *= g.shape[d];
    return n;
}

// 2 x multiply-adds of a convolution; the same count for forward and both backwards, which are
// the same products summed along different axes.
double conv_flops(const ConvGeometry& g) {
    return 2.0 * double(g.N * g.P * g.Q) * double(g.K * g.R * g.S) * double(g.C / g.groups);
}

// x (N, H, W, C) + w (K, R, S, C / groups) + y (N, P, Q, K): each once.
double conv_bytes(const ConvGeometry& g) {
    return f32_bytes(g.N * g.H * g.W * g.C + g.K * g.R * g.S * (g.C / g.groups) +
                     g.N * g.P * g.Q * g.K);
}

// Input rows (or columns) of a window that fall inside the input: [max(0, -off), min(out, in - off)).
int64_t window_overlap(int64_t out, int64_t in, int64_t offset) {
    int64_t lo = offset < 0 ? -offset : 0, hi = in - offset < out ? in - offset : out;
    return hi > lo ? hi - lo : 0;
}

// Names in enum order, so that a kernel's name is a static string (the profiler keys on it).
const char* const kUnaryForward[] = {
    "affine_forward",     "reciprocal_forward", "pow_forward",     "neg_forward",   "sqrt_forward",
    "exp_forward",        "log_forward",        "abs_forward",     "clamp_forward", "relu_forward",
    "leaky_relu_forward", "elu_forward",        "sigmoid_forward", "tanh_forward"};
const char* const kUnaryBackward[] = {"affine_backward",  "reciprocal_backward", "pow_backward",
                                      "neg_backward",     "sqrt_backward",       "exp_backward",
                                      "log_backward",     "abs_backward",        "clamp_backward",
                                      "relu_backward",    "leaky_relu_backward", "elu_backward",
                                      "sigmoid_backward", "tanh_backward"};
static_assert(sizeof(kUnaryForward) / sizeof(kUnaryForward[0]) == size_t(UnaryOp::tanh) + 1);
static_assert(sizeof(kUnaryBackward) / sizeof(kUnaryBackward[0]) == size_t(UnaryOp::tanh) + 1);
const char* const kBinary[] = {"add", "sub", "mul", "div", "maximum", "minimum", "add_relu"};
static_assert(sizeof(kBinary) / sizeof(kBinary[0]) == size_t(BinaryOp::add_relu) + 1);
const char* const kCompare[] = {"eq", "ne", "lt", "le", "gt", "ge"};
const char* const kCompareScalar[] = {"eq_scalar", "ne_scalar", "lt_scalar",
                                      "le_scalar", "gt_scalar", "ge_scalar"};
static_assert(sizeof(kCompare) / sizeof(kCompare[0]) == size_t(CompareOp::ge) + 1);
const char* const kLogical[] = {"logical_and", "logical_or", "logical_xor", "logical_not"};
static_assert(sizeof(kLogical) / sizeof(kLogical[0]) == size_t(LogicalOp::not_) + 1);
const char* const kReduce[] = {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min"};
static_assert(sizeof(kReduce) / sizeof(kReduce[0]) == size_t(ReduceOp::min) + 1);

class ProfilingBackend final : public Backend {
  public:
    explicit ProfilingBackend(Backend& inner) : inner_(inner) {}

    // ---- not kernels: forwarded untimed ----
    std::string name() const override { return inner_.name(); }
    int device_count() const override { return inner_.device_count(); }
    Allocator& allocator() override { return inner_.allocator(); }
    void synchronize() override { inner_.synchronize(); }
    Allocator& pinned_allocator() override { return inner_.pinned_allocator(); }
    void* create_event() override { return inner_.create_event(); }
    void destroy_event(void* event) override { inner_.destroy_event(event); }
    void record_event(void* event) override { inner_.record_event(event); }
    void wait_event(void* event) override { inner_.wait_event(event); }

    // ---- memory ----
    void copy(void* dst, const void* src, size_t nbytes) override {
        timed("copy", 0, 2.0 * double(nbytes), [&] { inner_.copy(dst, src, nbytes); });
    }
    void copy_from_host(void* dst, const void* host_src, size_t nbytes) override {
        timed("copy_from_host", 0, double(nbytes),
              [&] { inner_.copy_from_host(dst, host_src, nbytes); });
    }
    void copy_to_host(void* host_dst, const void* src, size_t nbytes) override {
        timed("copy_to_host", 0, double(nbytes),
              [&] { inner_.copy_to_host(host_dst, src, nbytes); });
    }
    void copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t rows,
                 int64_t row_bytes) override {
        timed("copy_2d", 0, 2.0 * double(rows * row_bytes),
              [&] { inner_.copy_2d(dst, dst_pitch, src, src_pitch, rows, row_bytes); });
    }

    // ---- fill and cast ----
    void fill(void* out, DType dtype, int64_t n, double value) override {
        timed("fill", 0, double(n) * double(dtype_size(dtype)),
              [&] { inner_.fill(out, dtype, n, value); });
    }
    void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low,
                      float high) override {
        timed("fill_uniform", 0, f32_bytes(n),
              [&] { inner_.fill_uniform(out, n, seed, offset, low, high); });
    }
    void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean,
                     float std) override {
        timed("fill_normal", 0, f32_bytes(n),
              [&] { inner_.fill_normal(out, n, seed, offset, mean, std); });
    }
    void cast(void* out, DType out_dtype, const void* in, DType in_dtype, int64_t n) override {
        const double bytes = double(n) * double(dtype_size(out_dtype) + dtype_size(in_dtype));
        timed("cast", 0, bytes, [&] { inner_.cast(out, out_dtype, in, in_dtype, n); });
    }

    // ---- elementwise ----
    void unary_forward(UnaryOp op, float* y, const float* x, int64_t n, float alpha,
                       float beta) override {
        timed(kUnaryForward[int(op)], 0, f32_bytes(2 * n),
              [&] { inner_.unary_forward(op, y, x, n, alpha, beta); });
    }
    // dy, one of x / y (each op reads the one it needs), dx.
    void unary_backward(UnaryOp op, float* dx, const float* dy, const float* x, const float* y,
                        int64_t n, float alpha, float beta) override {
        timed(kUnaryBackward[int(op)], 0, f32_bytes(3 * n),
              [&] { inner_.unary_backward(op, dx, dy, x, y, n, alpha, beta); });
    }
    void binary_forward(BinaryOp op, float* out, const float* a, const float* b,
                        const BroadcastGeometry& g) override {
        const double bytes =
            f32_bytes(g.numel + operand_numel(g, g.a_stride) + operand_numel(g, g.b_stride));
        timed(kBinary[int(op)], 0, bytes, [&] { inner_.binary_forward(op, out, a, b, g); });
    }
    void compare(CompareOp op, uint8_t* out, const float* a, const float* b,
                 const BroadcastGeometry& g) override {
        const double bytes = double(g.numel) +
                             f32_bytes(operand_numel(g, g.a_stride) + operand_numel(g, g.b_stride));
        timed(kCompare[int(op)], 0, bytes, [&] { inner_.compare(op, out, a, b, g); });
    }
    void compare_scalar(CompareOp op, uint8_t* out, const float* a, float b, int64_t n) override {
        timed(kCompareScalar[int(op)], 0, f32_bytes(n) + double(n),
              [&] { inner_.compare_scalar(op, out, a, b, n); });
    }
    void logical(LogicalOp op, uint8_t* out, const uint8_t* a, const uint8_t* b,
                 int64_t n) override {
        const double bytes = double(n) * (op == LogicalOp::not_ ? 2 : 3);
        timed(kLogical[int(op)], 0, bytes, [&] { inner_.logical(op, out, a, b, n); });
    }
    // mask (u8), out, and a / b where they are tensors rather than scalars.
    void where(float* out, const uint8_t* mask, const float* a, float a_value, const float* b,
               float b_value, int64_t n) override {
        const double bytes = double(n) + f32_bytes(n * (1 + (a ? 1 : 0) + (b ? 1 : 0)));
        timed("where", 0, bytes, [&] { inner_.where(out, mask, a, a_value, b, b_value, n); });
    }
    void broadcast_to(float* out, const float* in, const BroadcastGeometry& g) override {
        timed("broadcast_to", 0, f32_bytes(g.numel + operand_numel(g, g.a_stride)),
              [&] { inner_.broadcast_to(out, in, g); });
    }
    void reduce_to_shape(float* out, const float* in, const BroadcastGeometry& g) override {
        timed("reduce_to_shape", 0, f32_bytes(g.numel + operand_numel(g, g.a_stride)),
              [&] { inner_.reduce_to_shape(out, in, g); });
    }

    // ---- reductions, scatter, sorting ----
    void reduce(ReduceOp op, float* out, int32_t* index, const float* x, int64_t outer, int64_t len,
                int64_t inner) override {
        const int64_t n_out = outer * inner * (index ? 2 : 1); // out, and index (i32, 4 bytes)
        timed(kReduce[int(op)], 0, f32_bytes(outer * len * inner + n_out),
              [&] { inner_.reduce(op, out, index, x, outer, len, inner); });
    }
    // src and index read; out read and written at each scattered position.
    void scatter_add_axis(float* out, const float* src, const int32_t* index, int64_t outer,
                          int64_t count, int64_t len, int64_t inner) override {
        timed("scatter_add_axis", 0, f32_bytes(4 * outer * count * inner),
              [&] { inner_.scatter_add_axis(out, src, index, outer, count, len, inner); });
    }
    void topk(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols,
              int64_t k, bool largest) override {
        timed("topk", 0, f32_bytes(rows * cols + 2 * rows * k),
              [&] { inner_.topk(values, indices, x, rows, cols, k, largest); });
    }
    void select_ranks(float* out, const float* x, int64_t n, const int64_t* ranks,
                      int64_t count) override {
        timed("select_ranks", 0, f32_bytes(n + count),
              [&] { inner_.select_ranks(out, x, n, ranks, count); });
    }

    // ---- softmax family: (rows, cols) ----
    void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) override {
        timed("softmax_forward", 0, f32_bytes(2 * rows * cols),
              [&] { inner_.softmax_forward(y, x, rows, cols); });
    }
    void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows,
                          int64_t cols) override {
        timed("softmax_backward", 0, f32_bytes(3 * rows * cols),
              [&] { inner_.softmax_backward(dx, dy, y, rows, cols); });
    }
    void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) override {
        timed("log_softmax_forward", 0, f32_bytes(2 * rows * cols),
              [&] { inner_.log_softmax_forward(y, x, rows, cols); });
    }
    void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows,
                              int64_t cols) override {
        timed("log_softmax_backward", 0, f32_bytes(3 * rows * cols),
              [&] { inner_.log_softmax_backward(dx, dy, y, rows, cols); });
    }
    void entropy_forward(float* out, const float* p, int64_t rows, int64_t cols,
                         float eps) override {
        timed("entropy_forward", 0, f32_bytes(rows * cols + rows),
              [&] { inner_.entropy_forward(out, p, rows, cols, eps); });
    }
    void entropy_backward(float* dp, const float* dout, const float* p, int64_t rows, int64_t cols,
                          float eps) override {
        timed("entropy_backward", 0, f32_bytes(2 * rows * cols + rows),
              [&] { inner_.entropy_backward(dp, dout, p, rows, cols, eps); });
    }

    // ---- GEMM and convolution: FLOPs ----
    // 2 m n k per batch entry; bytes: A, B, C written (and read when beta != 0).
    void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
              int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
              int64_t batch) override {
        const double flops = 2.0 * double(m) * double(n) * double(k) * double(batch);
        const double bytes = f32_bytes(batch * (m * k + k * n + m * n * (beta != 0.f ? 2 : 1)));
        timed("gemm", flops, bytes, [&] {
            inner_.gemm(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta,
                        c, ldc, stride_c, batch);
        });
    }
    void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                        const ConvGeometry& g) override {
        timed("conv2d_forward", conv_flops(g), conv_bytes(g),
              [&] { inner_.conv2d_forward(y, x, w, bias, g); });
    }
    void conv2d_backward_input(float* dx, const float* dy, const float* w,
                               const ConvGeometry& g) override {
        timed("conv2d_backward_input", conv_flops(g), conv_bytes(g),
              [&] { inner_.conv2d_backward_input(dx, dy, w, g); });
    }
    void conv2d_backward_weight(float* dw, const float* dy, const float* x,
                                const ConvGeometry& g) override {
        timed("conv2d_backward_weight", conv_flops(g), conv_bytes(g),
              [&] { inner_.conv2d_backward_weight(dw, dy, x, g); });
    }

    // ---- batch norm: x (rows, C) ----
    void batch_norm_forward_train(float* y, float* save_mean, float* save_invstd,
                                  float* running_mean, float* running_var, const float* x,
                                  const float* weight, const float* bias, int64_t rows, int64_t C,
                                  float momentum, float eps, bool relu) override {
        timed(relu ? "batch_norm_relu_forward_train" : "batch_norm_forward_train", 0,
              f32_bytes(2 * rows * C + 6 * C), [&] {
                  inner_.batch_norm_forward_train(y, save_mean, save_invstd, running_mean,
                                                  running_var, x, weight, bias, rows, C, momentum,
                                                  eps, relu);
              });
    }
    void batch_norm_forward_eval(float* y, const float* x, const float* weight, const float* bias,
                                 const float* running_mean, const float* running_var, int64_t rows,
                                 int64_t C, float eps, bool relu) override {
        timed(relu ? "batch_norm_relu_forward_eval" : "batch_norm_forward_eval", 0,
              f32_bytes(2 * rows * C + 4 * C), [&] {
                  inner_.batch_norm_forward_eval(y, x, weight, bias, running_mean, running_var,
                                                 rows, C, eps, relu);
              });
    }
    // dy, x (and the fused ReLU's output) read, dx written when asked for; the per-channel vectors
    // are negligible.
    void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy,
                             const float* x, const float* weight, const float* mean,
                             const float* invstd, int64_t rows, int64_t C, bool training,
                             const float* relu_y) override {
        const int64_t passes = (dx ? 3 : 2) + (relu_y ? 1 : 0);
        timed(relu_y ? "batch_norm_relu_backward" : "batch_norm_backward", 0,
              f32_bytes(rows * C * passes + 5 * C), [&] {
                  inner_.batch_norm_backward(dx, dweight, dbias, dy, x, weight, mean, invstd, rows,
                                             C, training, relu_y);
              });
    }

    // ---- pooling: x (N, H, W, C), y (N, P, Q, C) ----
    void max_pool2d_forward(float* y, int32_t* argmax, const float* x,
                            const PoolGeometry& g) override {
        timed("max_pool2d_forward", 0, f32_bytes(g.N * g.H * g.W * g.C + 2 * g.N * g.P * g.Q * g.C),
              [&] { inner_.max_pool2d_forward(y, argmax, x, g); });
    }
    void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax,
                             const PoolGeometry& g) override {
        timed("max_pool2d_backward", 0,
              f32_bytes(g.N * g.H * g.W * g.C + 2 * g.N * g.P * g.Q * g.C),
              [&] { inner_.max_pool2d_backward(dx, dy, argmax, g); });
    }
    void avg_pool2d_forward(float* y, const float* x, const PoolGeometry& g) override {
        timed("avg_pool2d_forward", 0, f32_bytes(g.N * g.C * (g.H * g.W + g.P * g.Q)),
              [&] { inner_.avg_pool2d_forward(y, x, g); });
    }
    void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g) override {
        timed("avg_pool2d_backward", 0, f32_bytes(g.N * g.C * (g.H * g.W + g.P * g.Q)),
              [&] { inner_.avg_pool2d_backward(dx, dy, g); });
    }

    // ---- resize: (N, H, W, C) <-> (N, out_h, out_w, C) ----
    void resize_bilinear_forward(float* y, const float* x, const ResizeGeometry& g) override {
        timed("resize_bilinear_forward", 0, resize_bytes(g, 4),
              [&] { inner_.resize_bilinear_forward(y, x, g); });
    }
    void resize_bilinear_backward(float* dx, const float* dy, const ResizeGeometry& g) override {
        timed("resize_bilinear_backward", 0, resize_bytes(g, 4),
              [&] { inner_.resize_bilinear_backward(dx, dy, g); });
    }
    void resize_nearest(void* y, const void* x, size_t elem_size,
                        const ResizeGeometry& g) override {
        timed("resize_nearest", 0, resize_bytes(g, elem_size),
              [&] { inner_.resize_nearest(y, x, elem_size, g); });
    }

    // ---- layout ----
    void permute(void* out, const void* in, size_t elem_size, int ndim, const int64_t* in_shape,
                 const int* perm) override {
        int64_t n = 1;
        for (int d = 0; d < ndim; d++) n *= in_shape[d];
        timed("permute", 0, 2.0 * double(n) * double(elem_size),
              [&] { inner_.permute(out, in, elem_size, ndim, in_shape, perm); });
    }
    // Every output element written; only the input that the window covers read.
    void window(void* out, const void* in, DType dtype, const WindowGeometry& g,
                double fill) override {
        const int64_t inside =
            window_overlap(g.out_h, g.H, g.offset_h) * window_overlap(g.out_w, g.W, g.offset_w);
        const double bytes =
            double(g.N * g.C * (g.out_h * g.out_w + inside)) * double(dtype_size(dtype));
        timed("window", 0, bytes, [&] { inner_.window(out, in, dtype, g, fill); });
    }
    void flip_width(void* out, const void* in, size_t elem_size, int64_t N, int64_t H, int64_t W,
                    int64_t C) override {
        timed("flip_width", 0, 2.0 * double(N * H * W * C) * double(elem_size),
              [&] { inner_.flip_width(out, in, elem_size, N, H, W, C); });
    }

    // ---- indexing ----
    int64_t one_hot(float* out, const void* labels, DType label_dtype, int64_t n, int64_t classes,
                    int64_t ignore_index) override {
        int64_t bad = -1;
        const double bytes = double(n) * double(dtype_size(label_dtype)) + f32_bytes(n * classes);
        timed("one_hot", 0, bytes,
              [&] { bad = inner_.one_hot(out, labels, label_dtype, n, classes, ignore_index); });
        return bad;
    }
    int64_t index_select_rows(float* out, const float* x, const int32_t* index, int64_t count,
                              int64_t rows, int64_t cols) override {
        int64_t bad = -1;
        timed("index_select_rows", 0, f32_bytes(count + 2 * count * cols),
              [&] { bad = inner_.index_select_rows(out, x, index, count, rows, cols); });
        return bad;
    }
    int64_t index_add_rows(float* out, const float* src, const int32_t* index, int64_t count,
                           int64_t rows, int64_t cols) override {
        int64_t bad = -1;
        timed("index_add_rows", 0, f32_bytes(count + 3 * count * cols),
              [&] { bad = inner_.index_add_rows(out, src, index, count, rows, cols); });
        return bad;
    }
    // The segment kernels' edge count E = row_ptr[segments] lives in device memory, which the
    // host cannot read without a copy: their bytes are left unknown (0).
    void segment_softmax_forward(float* y, const float* x, const int32_t* row_ptr, int64_t segments,
                                 int64_t cols) override {
        timed("segment_softmax_forward", 0, 0,
              [&] { inner_.segment_softmax_forward(y, x, row_ptr, segments, cols); });
    }
    void segment_softmax_backward(float* dx, const float* dy, const float* y,
                                  const int32_t* row_ptr, int64_t segments, int64_t cols) override {
        timed("segment_softmax_backward", 0, 0,
              [&] { inner_.segment_softmax_backward(dx, dy, y, row_ptr, segments, cols); });
    }
    void segment_sum(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                     int64_t cols) override {
        timed("segment_sum", 0, 0, [&] { inner_.segment_sum(out, x, row_ptr, segments, cols); });
    }
    void segment_expand(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                        int64_t cols) override {
        timed("segment_expand", 0, 0,
              [&] { inner_.segment_expand(out, x, row_ptr, segments, cols); });
    }

    // ---- losses: logits (rows, classes), targets (rows,) ----
    int64_t cross_entropy_forward(float* loss, float* weight_used, const float* logits,
                                  const void* target, DType target_dtype, const float* class_weight,
                                  int64_t rows, int64_t classes, int64_t ignore_index) override {
        int64_t bad = -1;
        const double bytes =
            f32_bytes(rows * classes + 2 * rows) + double(rows) * double(dtype_size(target_dtype));
        timed("cross_entropy_forward", 0, bytes, [&] {
            bad = inner_.cross_entropy_forward(loss, weight_used, logits, target, target_dtype,
                                               class_weight, rows, classes, ignore_index);
        });
        return bad;
    }
    void cross_entropy_backward(float* dlogits, const float* dloss, const float* logits,
                                const void* target, DType target_dtype, const float* class_weight,
                                int64_t rows, int64_t classes, int64_t ignore_index) override {
        const double bytes =
            f32_bytes(2 * rows * classes + rows) + double(rows) * double(dtype_size(target_dtype));
        timed("cross_entropy_backward", 0, bytes, [&] {
            inner_.cross_entropy_backward(dlogits, dloss, logits, target, target_dtype,
                                          class_weight, rows, classes, ignore_index);
        });
    }
    void bce_with_logits_forward(float* loss, const float* x, const float* target,
                                 const uint8_t* valid, int64_t n) override {
        timed("bce_with_logits_forward", 0, f32_bytes(3 * n) + (valid ? double(n) : 0),
              [&] { inner_.bce_with_logits_forward(loss, x, target, valid, n); });
    }
    void bce_with_logits_backward(float* dx, const float* dloss, const float* x,
                                  const float* target, const uint8_t* valid, int64_t n) override {
        timed("bce_with_logits_backward", 0, f32_bytes(4 * n) + (valid ? double(n) : 0),
              [&] { inner_.bce_with_logits_backward(dx, dloss, x, target, valid, n); });
    }
    void sgd_update(float* param, float* momentum_buffer, const float* grad, int64_t n,
                    const SgdStep& step) override {
        // param read and written, grad read, the buffer written (and read after the first step)
        const int64_t buffer = momentum_buffer ? (step.first ? 1 : 2) : 0;
        timed("sgd_update", 0, f32_bytes((3 + buffer) * n),
              [&] { inner_.sgd_update(param, momentum_buffer, grad, n, step); });
    }

  private:
    // Runs kernel(); when this thread is being profiled, times it from the host with the device
    // idle on both sides (synchronize() waits for the CUDA stream; it is free on the CPU), so that
    // an asynchronous GPU kernel is charged its real duration and nothing queued before it.
    template <typename Kernel>
    void timed(const char* name, double flops, double bytes, Kernel&& kernel) {
        if (!profiler::recording_on_this_thread()) {
            kernel();
            return;
        }
        using Clock = std::chrono::steady_clock;
        inner_.synchronize();
        const Clock::time_point start = Clock::now();
        kernel();
        inner_.synchronize();
        const int64_t ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
        profiler::record(name, ns, flops, bytes);
    }

    // Input and output of a resize, elem_size bytes per element.
    static double resize_bytes(const ResizeGeometry& g, size_t elem_size) {
        return double(g.N * g.C * (g.H * g.W + g.out_h * g.out_w)) * double(elem_size);
    }

    Backend& inner_;
};

} // namespace

Backend& profiling_backend(DeviceType type, Backend& inner) {
    // Allocated once and never deleted: destroying them at exit could leave a pinned Storage
    // (or a Tensor in a static) pointing at a dead backend.
    if (type == DeviceType::cpu) {
        static ProfilingBackend* cpu_wrapper = new ProfilingBackend(inner);
        return *cpu_wrapper;
    }
    static ProfilingBackend* cuda_wrapper = new ProfilingBackend(inner);
    return *cuda_wrapper;
}

} // namespace pg
