// Backend: the list of every kernel pixelgrad has, as one interface per device type.
// The CPU backend (tensor/cpu/) is the reference; the CUDA backend (cuda/) implements the same
// methods and registers itself explicitly at start-up (cuda::register_backend()). Kernels take
// raw pointers to contiguous data plus dimensions; shapes are given in the comments, NHWC for images.
// Ops (autograd/) check arguments, allocate outputs and call these; kernels never validate user input
// except where a value only the kernel sees can be wrong (labels, indices: they return the bad one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace pg {

// ---- geometry structs shared by both backends ----

enum class UnaryOp : uint8_t {
    affine,     // y = alpha * x + beta           (scalar add / sub / mul / div)
    reciprocal, // y = alpha / x                  (scalar / tensor)
    pow,        // y = x ^ alpha
    neg,
    sqrt,
    exp,
    log,
    abs,
    clamp, // y = min(max(x, alpha), beta)
    relu,
    leaky_relu, // y = x > 0 ? x : alpha * x
    elu,        // y = x > 0 ? x : alpha * (exp(x) - 1)
    sigmoid,
    tanh,
};

// add_relu: max(a + b, 0) (NaN stays NaN), the ReLU after a residual add, fused.
enum class BinaryOp : uint8_t { add, sub, mul, div, maximum, minimum, add_relu };
enum class CompareOp : uint8_t { eq, ne, lt, le, gt, ge };
enum class LogicalOp : uint8_t { and_, or_, xor_, not_ };
enum class ReduceOp : uint8_t { sum, mean, max, min };

// 2-D convolution over NHWC input with a (K, R, S, C / groups) filter.
struct ConvGeometry {
    int64_t N, H, W, C; // input
    int64_t K, R, S;    // output channels, filter height and width
    int64_t P, Q;       // output height and width
    int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
};

// One SGD step of one parameter (torch.optim.SGD's formulas, see Backend::sgd_update).
struct SgdStep {
    float lr, weight_decay, momentum;
    float undamped; // 1 - dampening, rounded once from double as the unfused add_ would
    bool nesterov;
    bool first; // the momentum buffer is new: it starts as the first d (no dampening)
};

// Max / average pooling over NHWC input, output (N, P, Q, C).
struct PoolGeometry {
    int64_t N, H, W, C, P, Q;
    int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
    bool count_include_pad; // average pooling: divide by the full window (PyTorch's default)
};

// Resize (N, H, W, C) -> (N, out_h, out_w, C).
struct ResizeGeometry {
    int64_t N, H, W, C, out_h, out_w;
    bool align_corners;
};

// out[n, i, j, :] = in[n, i + offset_h, j + offset_w, :] when inside the input, else fill.
// A crop has offsets >= 0; a pad has offsets <= 0.
struct WindowGeometry {
    int64_t N, H, W, C, out_h, out_w, offset_h, offset_w;
};

// ---- the interface ----

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    virtual int device_count() const = 0;
    virtual Allocator& allocator() = 0;
    virtual void synchronize() = 0;

    // Memory: same-device copy, host -> device, device -> host.
    virtual void copy(void* dst, const void* src, size_t nbytes) = 0;
    // From pageable host memory host_src may be reused as soon as this returns. From this
    // backend's pinned memory (below) the copy is asynchronous: host_src must stay unchanged until
    // an event recorded after the copy has completed (Storage::record_copy / wait_copies do it).
    virtual void copy_from_host(void* dst, const void* host_src, size_t nbytes) = 0;
    virtual void copy_to_host(void* host_dst, const void* src, size_t nbytes) = 0;
    // dst rows of row_bytes at dst_pitch <- src rows at src_pitch (concat, split, narrow).
    virtual void copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch,
                         int64_t rows, int64_t row_bytes) = 0;

    // Pinned staging (Tensor::empty_pinned, PinnedStaging): host memory from which copies to this
    // device run asynchronously (page-locked on CUDA; plain memory on the CPU, where every copy is
    // synchronous). Free a block only once no copy reads it: Storage waits for its copy event.
    virtual Allocator& pinned_allocator() = 0;
    // Copy events: opaque handles marking a point in this backend's queue of work. record_event
    // marks everything queued so far; wait_event blocks the host until that work has finished.
    // The CPU does its work before returning, so its events are null and these return at once.
    virtual void* create_event() = 0;
    virtual void destroy_event(void* event) = 0; // never throws (called from destructors)
    virtual void record_event(void* event) = 0;
    virtual void wait_event(void* event) = 0;

    // Fill, random fill (Philox counters from `offset`, see generator.h), dtype conversion.
    virtual void fill(void* out, DType dtype, int64_t n, double value) = 0;
    virtual void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low,
                              float high) = 0;
    virtual void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean,
                             float std) = 0;
    virtual void cast(void* out, DType out_dtype, const void* in, DType in_dtype, int64_t n) = 0;

    // Elementwise. unary_backward gets both x and y = f(x); each op uses whichever is cheaper.
    virtual void unary_forward(UnaryOp op, float* y, const float* x, int64_t n, float alpha,
                               float beta) = 0;
    virtual void unary_backward(UnaryOp op, float* dx, const float* dy, const float* x,
                                const float* y, int64_t n, float alpha, float beta) = 0;
    virtual void binary_forward(BinaryOp op, float* out, const float* a, const float* b,
                                const BroadcastGeometry& g) = 0;
    virtual void compare(CompareOp op, uint8_t* out, const float* a, const float* b,
                         const BroadcastGeometry& g) = 0;
    virtual void compare_scalar(CompareOp op, uint8_t* out, const float* a, float b, int64_t n) = 0;
    virtual void logical(LogicalOp op, uint8_t* out, const uint8_t* a, const uint8_t* b,
                         int64_t n) = 0;
    // out = mask ? a : b, where a null a (or b) means the scalar a_value (or b_value). (n,)
    virtual void where(float* out, const uint8_t* mask, const float* a, float a_value,
                       const float* b, float b_value, int64_t n) = 0;
    // out (g.shape with 0-strides as given by g.a_stride) <- in broadcast: out[i] = in[stride_a . i].
    virtual void broadcast_to(float* out, const float* in, const BroadcastGeometry& g) = 0;
    // The adjoint of broadcast_to: out (the small shape) = sum of in over broadcast dimensions.
    virtual void reduce_to_shape(float* out, const float* in, const BroadcastGeometry& g) = 0;

    // Reductions of x viewed as (outer, len, inner) over the middle axis; out and index (outer, inner).
    // index (nullable) receives the position of the max/min along the axis (first one on ties).
    virtual void reduce(ReduceOp op, float* out, int32_t* index, const float* x, int64_t outer,
                        int64_t len, int64_t inner) = 0;
    // out (outer, len, inner) += src (outer, count, inner) scattered to positions index (outer, count, inner).
    virtual void scatter_add_axis(float* out, const float* src, const int32_t* index, int64_t outer,
                                  int64_t count, int64_t len, int64_t inner) = 0;
    // The k largest (or smallest) of each row of x (rows, cols), sorted, ties by lower index first.
    virtual void topk(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols,
                      int64_t k, bool largest) = 0;
    // out[i] = the element of rank ranks[i] (0-based, ascending) of x (n,); ranks is a host array.
    virtual void select_ranks(float* out, const float* x, int64_t n, const int64_t* ranks,
                              int64_t count) = 0;

    // Softmax family along the last axis of (rows, cols); entropy = -sum p log(p + eps) -> (rows,).
    virtual void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) = 0;
    virtual void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows,
                                  int64_t cols) = 0;
    virtual void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) = 0;
    virtual void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows,
                                      int64_t cols) = 0;
    virtual void entropy_forward(float* out, const float* p, int64_t rows, int64_t cols,
                                 float eps) = 0;
    virtual void entropy_backward(float* dp, const float* dout, const float* p, int64_t rows,
                                  int64_t cols, float eps) = 0;

    // Row-major batched GEMM: C_b = alpha * op(A_b) op(B_b) + beta * C_b, op(A) (m, k), op(B) (k, n).
    virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                      int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
                      int64_t batch) = 0;

    // Convolution: y (N, P, Q, K), x (N, H, W, C), w (K, R, S, C / groups), bias (K,) or null.
    // The backward kernels overwrite dx / dw (no accumulation); an empty batch gives dw = 0.
    virtual void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                                const ConvGeometry& g) = 0;
    virtual void conv2d_backward_input(float* dx, const float* dy, const float* w,
                                       const ConvGeometry& g) = 0;
    virtual void conv2d_backward_weight(float* dw, const float* dy, const float* x,
                                        const ConvGeometry& g) = 0;

    // Batch norm over x (rows = N*H*W, C). weight / bias nullable (= 1 / 0).
    // Training: normalise with batch statistics, save mean and 1/sqrt(var + eps) (C,), and when
    // running_mean is not null update running stats with momentum and the unbiased variance.
    // relu: y = max(BN(x), 0) instead (NaN stays NaN), the ReLU that follows most BNs, fused.
    virtual void batch_norm_forward_train(float* y, float* save_mean, float* save_invstd,
                                          float* running_mean, float* running_var, const float* x,
                                          const float* weight, const float* bias, int64_t rows,
                                          int64_t C, float momentum, float eps, bool relu) = 0;
    virtual void batch_norm_forward_eval(float* y, const float* x, const float* weight,
                                         const float* bias, const float* running_mean,
                                         const float* running_var, int64_t rows, int64_t C,
                                         float eps, bool relu) = 0;
    // dx, dweight, dbias nullable (skipped), overwritten (not accumulated). mean / invstd are the
    // saved batch statistics (train) or the running mean and 1/sqrt(running_var + eps) (eval;
    // statistics are constants then). relu_y: the output of a fused BN + ReLU, or null: dy then
    // counts only where relu_y > 0 (ReLU's backward, folded into both passes).
    virtual void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy,
                                     const float* x, const float* weight, const float* mean,
                                     const float* invstd, int64_t rows, int64_t C, bool training,
                                     const float* relu_y) = 0;

    // Pooling: y (N, P, Q, C); argmax (N, P, Q, C) holds h * W + w of each max (i32).
    // The backward kernels overwrite all of dx (N, H, W, C), zero where no window reaches.
    virtual void max_pool2d_forward(float* y, int32_t* argmax, const float* x,
                                    const PoolGeometry& g) = 0;
    virtual void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax,
                                     const PoolGeometry& g) = 0;
    virtual void avg_pool2d_forward(float* y, const float* x, const PoolGeometry& g) = 0;
    virtual void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g) = 0;

    // Resize: bilinear (PyTorch semantics for both corner modes), nearest for any dtype.
    // resize_bilinear_backward overwrites dx (N, H, W, C) with the adjoint applied to dy.
    virtual void resize_bilinear_forward(float* y, const float* x, const ResizeGeometry& g) = 0;
    virtual void resize_bilinear_backward(float* dx, const float* dy, const ResizeGeometry& g) = 0;
    virtual void resize_nearest(void* y, const void* x, size_t elem_size,
                                const ResizeGeometry& g) = 0;

    // Layout: permute up to kMaxDims dims (out dim i = in dim perm[i]); crop / pad; mirror W.
    virtual void permute(void* out, const void* in, size_t elem_size, int ndim,
                         const int64_t* in_shape, const int* perm) = 0;
    virtual void window(void* out, const void* in, DType dtype, const WindowGeometry& g,
                        double fill) = 0;
    virtual void flip_width(void* out, const void* in, size_t elem_size, int64_t N, int64_t H,
                            int64_t W, int64_t C) = 0;

    // Indexing. Each returns -1, or the position (in labels / index) of the first out-of-range
    // label / index; the op reads the value there for its message. A position, not the value:
    // -1 is itself a possible bad i32 label / index. On a bad index nothing is read or added.
    // one_hot: out (n, classes); rows whose label is ignore_index are all zero.
    virtual int64_t one_hot(float* out, const void* labels, DType label_dtype, int64_t n,
                            int64_t classes, int64_t ignore_index) = 0;
    // out (count, cols) = x (rows, cols)[index]; index (count,).
    virtual int64_t index_select_rows(float* out, const float* x, const int32_t* index,
                                      int64_t count, int64_t rows, int64_t cols) = 0;
    // out (rows, cols) += src (count, cols) at rows index (count,); deterministic order.
    virtual int64_t index_add_rows(float* out, const float* src, const int32_t* index,
                                   int64_t count, int64_t rows, int64_t cols) = 0;
    // CSR segments: segment s owns entries [row_ptr[s], row_ptr[s + 1]) of (E, cols) data.
    virtual void segment_softmax_forward(float* y, const float* x, const int32_t* row_ptr,
                                         int64_t segments, int64_t cols) = 0;
    virtual void segment_softmax_backward(float* dx, const float* dy, const float* y,
                                          const int32_t* row_ptr, int64_t segments,
                                          int64_t cols) = 0;
    // out (segments, cols) = per-segment sum of x (E, cols).
    virtual void segment_sum(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                             int64_t cols) = 0;
    // out (E, cols): each entry gets its segment's row of x (segments, cols). Adjoint of segment_sum.
    virtual void segment_expand(float* out, const float* x, const int32_t* row_ptr,
                                int64_t segments, int64_t cols) = 0;

    // Losses. Cross-entropy over logits (rows, classes) with integer targets (rows,) (i32 or u8):
    // loss[r] = w[y] * -log softmax(x_r)[y] and weight_used[r] = w[y], both 0 where y == ignore_index.
    // class_weight (classes,) nullable (= 1). Returns -1, or the row of the first target outside
    // [0, classes) that is not ignore_index (a position, as for the indexing kernels; such rows get 0).
    virtual int64_t cross_entropy_forward(float* loss, float* weight_used, const float* logits,
                                          const void* target, DType target_dtype,
                                          const float* class_weight, int64_t rows, int64_t classes,
                                          int64_t ignore_index) = 0;
    // dlogits[r] = dloss[r] * w[y] * (softmax(x_r) - onehot(y)), 0 for ignored rows.
    virtual void cross_entropy_backward(float* dlogits, const float* dloss, const float* logits,
                                        const void* target, DType target_dtype,
                                        const float* class_weight, int64_t rows, int64_t classes,
                                        int64_t ignore_index) = 0;
    // loss[i] = max(x,0) - x t + log(1 + exp(-|x|)), 0 where valid (nullable) is 0. (n,)
    virtual void bce_with_logits_forward(float* loss, const float* x, const float* target,
                                         const uint8_t* valid, int64_t n) = 0;
    virtual void bce_with_logits_backward(float* dx, const float* dloss, const float* x,
                                          const float* target, const uint8_t* valid, int64_t n) = 0;

    // Optimizers. SGD on n elements in place, one pass (nn/optim.cpp):
    //   d = grad + weight_decay * param
    //   buf = first ? d : momentum * buf + undamped * d             (momentum != 0; else buf null)
    //   d = nesterov ? d + momentum * buf : buf                     (momentum != 0)
    //   param = param + (-lr) * d
    // each product and sum rounded to float in that order, as the unfused ops would.
    virtual void sgd_update(float* param, float* momentum_buffer, const float* grad, int64_t n,
                            const SgdStep& step) = 0;
};

// The backend of a device: CPU always; CUDA once registered. Throws a clear error otherwise.
// While the profiler records this thread (tensor/profiler.h) it is a timing wrapper of that backend.
Backend& backend_for(const Device& device);
// Installs the backend for a device type (the CUDA backend calls this from register_backend()).
void register_backend(DeviceType type, Backend* backend);
// True when a backend for the device type is registered and the device index exists.
bool device_available(const Device& device);

} // namespace pg
