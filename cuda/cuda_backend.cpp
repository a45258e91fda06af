// The CUDA backend: forwards each Backend method to its cuda:: kernel (cuda/kernels.h), inside an
// NVTX range named after the kernel when built with PG_NVTX=ON (so Nsight shows every op).
#include <cuda_runtime.h>

#include "cuda/context.h"
#include "cuda/kernels.h"

#if PG_NVTX
#include <nvtx3/nvToolsExt.h>
namespace {
struct NvtxRange {
    explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
    ~NvtxRange() { nvtxRangePop(); }
};
} // namespace
#define PG_NVTX_RANGE(name) NvtxRange nvtx_range_(name)
#else
#define PG_NVTX_RANGE(name)
#endif

namespace pg::cuda {

class CudaBackend final : public Backend {
  public:
    std::string name() const override { return "cuda"; }
    int device_count() const override { return 1; } // one GPU per process (cuda/context.h)
    Allocator& allocator() override { return *context().allocator; }
    void synchronize() override { CUDA_CHECK(cudaStreamSynchronize(stream())); }

    void copy(void* dst, const void* src, size_t nbytes) override {
        PG_NVTX_RANGE("copy");
        cuda::copy(dst, src, nbytes);
    }
    void copy_from_host(void* dst, const void* host_src, size_t nbytes) override {
        PG_NVTX_RANGE("copy_from_host");
        cuda::copy_from_host(dst, host_src, nbytes);
    }
    void copy_to_host(void* host_dst, const void* src, size_t nbytes) override {
        PG_NVTX_RANGE("copy_to_host");
        cuda::copy_to_host(host_dst, src, nbytes);
    }
    void copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t rows,
                 int64_t row_bytes) override {
        PG_NVTX_RANGE("copy_2d");
        cuda::copy_2d(dst, dst_pitch, src, src_pitch, rows, row_bytes);
    }
    Allocator& pinned_allocator() override { return *context().pinned_allocator; }
    void* create_event() override { return cuda::create_event(); }
    void destroy_event(void* event) override { cuda::destroy_event(event); }
    void record_event(void* event) override { cuda::record_event(event); }
    void wait_event(void* event) override {
        PG_NVTX_RANGE("wait_event");
        cuda::wait_event(event);
    }
    void fill(void* out, DType dtype, int64_t n, double value) override {
        PG_NVTX_RANGE("fill");
        cuda::fill(out, dtype, n, value);
    }
    void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low,
                      float high) override {
        PG_NVTX_RANGE("fill_uniform");
        cuda::fill_uniform(out, n, seed, offset, low, high);
    }
    void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean,
                     float std) override {
        PG_NVTX_RANGE("fill_normal");
        cuda::fill_normal(out, n, seed, offset, mean, std);
    }
    void cast(void* out, DType out_dtype, const void* in, DType in_dtype, int64_t n) override {
        PG_NVTX_RANGE("cast");
        cuda::cast(out, out_dtype, in, in_dtype, n);
    }
    void unary_forward(UnaryOp op, float* y, const float* x, int64_t n, float alpha,
                       float beta) override {
        PG_NVTX_RANGE("unary_forward");
        cuda::unary_forward(op, y, x, n, alpha, beta);
    }
    void unary_backward(UnaryOp op, float* dx, const float* dy, const float* x, const float* y,
                        int64_t n, float alpha, float beta) override {
        PG_NVTX_RANGE("unary_backward");
        cuda::unary_backward(op, dx, dy, x, y, n, alpha, beta);
    }
    void binary_forward(BinaryOp op, float* out, const float* a, const float* b,
                        const BroadcastGeometry& g) override {
        PG_NVTX_RANGE("binary_forward");
        cuda::binary_forward(op, out, a, b, g);
    }
    void compare(CompareOp op, uint8_t* out, const float* a, const float* b,
                 const BroadcastGeometry& g) override {
        PG_NVTX_RANGE("compare");
        cuda::compare(op, out, a, b, g);
    }
    void compare_scalar(CompareOp op, uint8_t* out, const float* a, float b, int64_t n) override {
        PG_NVTX_RANGE("compare_scalar");
        cuda::compare_scalar(op, out, a, b, n);
    }
    void logical(LogicalOp op, uint8_t* out, const uint8_t* a, const uint8_t* b,
                 int64_t n) override {
        PG_NVTX_RANGE("logical");
        cuda::logical(op, out, a, b, n);
    }
    void where(float* out, const uint8_t* mask, const float* a, float a_value, const float* b,
               float b_value, int64_t n) override {
        PG_NVTX_RANGE("where");
        cuda::where(out, mask, a, a_value, b, b_value, n);
    }
    void broadcast_to(float* out, const float* in, const BroadcastGeometry& g) override {
        PG_NVTX_RANGE("broadcast_to");
        cuda::broadcast_to(out, in, g);
    }
    void reduce_to_shape(float* out, const float* in, const BroadcastGeometry& g) override {
        PG_NVTX_RANGE("reduce_to_shape");
        cuda::reduce_to_shape(out, in, g);
    }
    void reduce(ReduceOp op, float* out, int32_t* index, const float* x, int64_t outer, int64_t len,
                int64_t inner) override {
        PG_NVTX_RANGE("reduce");
        cuda::reduce(op, out, index, x, outer, len, inner);
    }
    void scatter_add_axis(float* out, const float* src, const int32_t* index, int64_t outer,
                          int64_t count, int64_t len, int64_t inner) override {
        PG_NVTX_RANGE("scatter_add_axis");
        cuda::scatter_add_axis(out, src, index, outer, count, len, inner);
    }
    void topk(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols,
              int64_t k, bool largest) override {
        PG_NVTX_RANGE("topk");
        cuda::topk(values, indices, x, rows, cols, k, largest);
    }
    void select_ranks(float* out, const float* x, int64_t n, const int64_t* ranks,
                      int64_t count) override {
        PG_NVTX_RANGE("select_ranks");
        cuda::select_ranks(out, x, n, ranks, count);
    }
    void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) override {
        PG_NVTX_RANGE("softmax_forward");
        cuda::softmax_forward(y, x, rows, cols);
    }
    void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows,
                          int64_t cols) override {
        PG_NVTX_RANGE("softmax_backward");
        cuda::softmax_backward(dx, dy, y, rows, cols);
    }
    void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) override {
        PG_NVTX_RANGE("log_softmax_forward");
        cuda::log_softmax_forward(y, x, rows, cols);
    }
    void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows,
                              int64_t cols) override {
        PG_NVTX_RANGE("log_softmax_backward");
        cuda::log_softmax_backward(dx, dy, y, rows, cols);
    }
    void entropy_forward(float* out, const float* p, int64_t rows, int64_t cols,
                         float eps) override {
        PG_NVTX_RANGE("entropy_forward");
        cuda::entropy_forward(out, p, rows, cols, eps);
    }
    void entropy_backward(float* dp, const float* dout, const float* p, int64_t rows, int64_t cols,
                          float eps) override {
        PG_NVTX_RANGE("entropy_backward");
        cuda::entropy_backward(dp, dout, p, rows, cols, eps);
    }
    void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
              int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
              int64_t batch) override {
        PG_NVTX_RANGE("gemm");
        cuda::gemm(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c,
                   ldc, stride_c, batch);
    }
    void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                        const ConvGeometry& g) override {
        PG_NVTX_RANGE("conv2d_forward");
        cuda::conv2d_forward(y, x, w, bias, g);
    }
    void conv2d_backward_input(float* dx, const float* dy, const float* w,
                               const ConvGeometry& g) override {
        PG_NVTX_RANGE("conv2d_backward_input");
        cuda::conv2d_backward_input(dx, dy, w, g);
    }
    void conv2d_backward_weight(float* dw, const float* dy, const float* x,
                                const ConvGeometry& g) override {
        PG_NVTX_RANGE("conv2d_backward_weight");
        cuda::conv2d_backward_weight(dw, dy, x, g);
    }
    void batch_norm_forward_train(float* y, float* save_mean, float* save_invstd,
                                  float* running_mean, float* running_var, const float* x,
                                  const float* weight, const float* bias, int64_t rows, int64_t C,
                                  float momentum, float eps, bool relu) override {
        PG_NVTX_RANGE("batch_norm_forward_train");
        cuda::batch_norm_forward_train(y, save_mean, save_invstd, running_mean, running_var, x,
                                       weight, bias, rows, C, momentum, eps, relu);
    }
    void batch_norm_forward_eval(float* y, const float* x, const float* weight, const float* bias,
                                 const float* running_mean, const float* running_var, int64_t rows,
                                 int64_t C, float eps, bool relu) override {
        PG_NVTX_RANGE("batch_norm_forward_eval");
        cuda::batch_norm_forward_eval(y, x, weight, bias, running_mean, running_var, rows, C, eps,
                                      relu);
    }
    void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy,
                             const float* x, const float* weight, const float* mean,
                             const float* invstd, int64_t rows, int64_t C, bool training,
                             const float* relu_y) override {
        PG_NVTX_RANGE("batch_norm_backward");
        cuda::batch_norm_backward(dx, dweight, dbias, dy, x, weight, mean, invstd, rows, C,
                                  training, relu_y);
    }
    void max_pool2d_forward(float* y, int32_t* argmax, const float* x,
                            const PoolGeometry& g) override {
        PG_NVTX_RANGE("max_pool2d_forward");
        cuda::max_pool2d_forward(y, argmax, x, g);
    }
    void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax,
                             const PoolGeometry& g) override {
        PG_NVTX_RANGE("max_pool2d_backward");
        cuda::max_pool2d_backward(dx, dy, argmax, g);
    }
    void avg_pool2d_forward(float* y, const float* x, const PoolGeometry& g) override {
        PG_NVTX_RANGE("avg_pool2d_forward");
        cuda::avg_pool2d_forward(y, x, g);
    }
    void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g) override {
        PG_NVTX_RANGE("avg_pool2d_backward");
        cuda::avg_pool2d_backward(dx, dy, g);
    }
    void resize_bilinear_forward(float* y, const float* x, const ResizeGeometry& g) override {
        PG_NVTX_RANGE("resize_bilinear_forward");
        cuda::resize_bilinear_forward(y, x, g);
    }
    void resize_bilinear_backward(float* dx, const float* dy, const ResizeGeometry& g) override {
        PG_NVTX_RANGE("resize_bilinear_backward");
        cuda::resize_bilinear_backward(dx, dy, g);
    }
    void resize_nearest(void* y, const void* x, size_t elem_size,
                        const ResizeGeometry& g) override {
        PG_NVTX_RANGE("resize_nearest");
        cuda::resize_nearest(y, x, elem_size, g);
    }
    void permute(void* out, const void* in, size_t elem_size, int ndim, const int64_t* in_shape,
                 const int* perm) override {
        PG_NVTX_RANGE("permute");
        cuda::permute(out, in, elem_size, ndim, in_shape, perm);
    }
    void window(void* out, const void* in, DType dtype, const WindowGeometry& g,
                double fill) override {
        PG_NVTX_RANGE("window");
        cuda::window(out, in, dtype, g, fill);
    }
    void flip_width(void* out, const void* in, size_t elem_size, int64_t N, int64_t H, int64_t W,
                    int64_t C) override {
        PG_NVTX_RANGE("flip_width");
        cuda::flip_width(out, in, elem_size, N, H, W, C);
    }
    int64_t one_hot(float* out, const void* labels, DType label_dtype, int64_t n, int64_t classes,
                    int64_t ignore_index) override {
        PG_NVTX_RANGE("one_hot");
        return cuda::one_hot(out, labels, label_dtype, n, classes, ignore_index);
    }
    int64_t index_select_rows(float* out, const float* x, const int32_t* index, int64_t count,
                              int64_t rows, int64_t cols) override {
        PG_NVTX_RANGE("index_select_rows");
        return cuda::index_select_rows(out, x, index, count, rows, cols);
    }
    int64_t index_add_rows(float* out, const float* src, const int32_t* index, int64_t count,
                           int64_t rows, int64_t cols) override {
        PG_NVTX_RANGE("index_add_rows");
        return cuda::index_add_rows(out, src, index, count, rows, cols);
    }
    void segment_softmax_forward(float* y, const float* x, const int32_t* row_ptr, int64_t segments,
                                 int64_t cols) override {
        PG_NVTX_RANGE("segment_softmax_forward");
        cuda::segment_softmax_forward(y, x, row_ptr, segments, cols);
    }
    void segment_softmax_backward(float* dx, const float* dy, const float* y,
                                  const int32_t* row_ptr, int64_t segments, int64_t cols) override {
        PG_NVTX_RANGE("segment_softmax_backward");
        cuda::segment_softmax_backward(dx, dy, y, row_ptr, segments, cols);
    }
    void segment_sum(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                     int64_t cols) override {
        PG_NVTX_RANGE("segment_sum");
        cuda::segment_sum(out, x, row_ptr, segments, cols);
    }
    void segment_expand(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                        int64_t cols) override {
        PG_NVTX_RANGE("segment_expand");
        cuda::segment_expand(out, x, row_ptr, segments, cols);
    }
    int64_t cross_entropy_forward(float* loss, float* weight_used, const float* logits,
                                  const void* target, DType target_dtype, const float* class_weight,
                                  int64_t rows, int64_t classes, int64_t ignore_index) override {
        PG_NVTX_RANGE("cross_entropy_forward");
        return cuda::cross_entropy_forward(loss, weight_used, logits, target, target_dtype,
                                           class_weight, rows, classes, ignore_index);
    }
    void cross_entropy_backward(float* dlogits, const float* dloss, const float* logits,
                                const void* target, DType target_dtype, const float* class_weight,
                                int64_t rows, int64_t classes, int64_t ignore_index) override {
        PG_NVTX_RANGE("cross_entropy_backward");
        cuda::cross_entropy_backward(dlogits, dloss, logits, target, target_dtype, class_weight,
                                     rows, classes, ignore_index);
    }
    void bce_with_logits_forward(float* loss, const float* x, const float* target,
                                 const uint8_t* valid, int64_t n) override {
        PG_NVTX_RANGE("bce_with_logits_forward");
        cuda::bce_with_logits_forward(loss, x, target, valid, n);
    }
    void bce_with_logits_backward(float* dx, const float* dloss, const float* x,
                                  const float* target, const uint8_t* valid, int64_t n) override {
        PG_NVTX_RANGE("bce_with_logits_backward");
        cuda::bce_with_logits_backward(dx, dloss, x, target, valid, n);
    }
    void sgd_update(float* param, float* momentum_buffer, const float* grad, int64_t n,
                    const SgdStep& step) override {
        PG_NVTX_RANGE("sgd_update");
        cuda::sgd_update(param, momentum_buffer, grad, n, step);
    }
};

Backend& backend() {
    static CudaBackend instance;
    return instance;
}

} // namespace pg::cuda
