// The CPU kernels: the reference implementation of every Backend method (tensor/backend.h).
// Plain loops over contiguous data, OpenMP-parallel where it pays; shapes are documented on the
// Backend interface. Each section below is one file in tensor/cpu/.
#pragma once

#include "tensor/backend.h"
#include "tensor/cpu/simd_path.h"

namespace pg::cpu {

// ---- copy_fill.cpp: memory copies, fills, random fills, dtype casts
void copy(void* dst, const void* src, size_t nbytes);
void copy_from_host(void* dst, const void* host_src, size_t nbytes);
void copy_to_host(void* host_dst, const void* src, size_t nbytes);
void copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t rows,
             int64_t row_bytes);
void fill(void* out, DType dtype, int64_t n, double value);
void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high);
void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);
void cast(void* out, DType out_dtype, const void* in, DType in_dtype, int64_t n);

// ---- elementwise.cpp: unary / binary / comparison / logical / where, broadcasting and its adjoint
void unary_forward(UnaryOp op, float* y, const float* x, int64_t n, float alpha, float beta);
void unary_backward(UnaryOp op, float* dx, const float* dy, const float* x, const float* y,
                    int64_t n, float alpha, float beta);
void binary_forward(BinaryOp op, float* out, const float* a, const float* b,
                    const BroadcastGeometry& g);
void compare(CompareOp op, uint8_t* out, const float* a, const float* b,
             const BroadcastGeometry& g);
void compare_scalar(CompareOp op, uint8_t* out, const float* a, float b, int64_t n);
void logical(LogicalOp op, uint8_t* out, const uint8_t* a, const uint8_t* b, int64_t n);
void where(float* out, const uint8_t* mask, const float* a, float a_value, const float* b,
           float b_value, int64_t n);
void broadcast_to(float* out, const float* in, const BroadcastGeometry& g);
void reduce_to_shape(float* out, const float* in, const BroadcastGeometry& g);

// ---- reduce.cpp: reductions over one axis and their scatter adjoint
void reduce(ReduceOp op, float* out, int32_t* index, const float* x, int64_t outer, int64_t len,
            int64_t inner);
void scatter_add_axis(float* out, const float* src, const int32_t* index, int64_t outer,
                      int64_t count, int64_t len, int64_t inner);

// ---- sort.cpp: top-k / sort along the last axis, order statistics
void topk(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols, int64_t k,
          bool largest);
void select_ranks(float* out, const float* x, int64_t n, const int64_t* ranks, int64_t count);

// ---- softmax.cpp: softmax, log-softmax, entropy along the last axis
void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols);
void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols);
void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols);
void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols);
void entropy_forward(float* out, const float* p, int64_t rows, int64_t cols, float eps);
void entropy_backward(float* dp, const float* dout, const float* p, int64_t rows, int64_t cols,
                      float eps);

// ---- gemm.cpp: GEMM through OpenBLAS
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
          float* c, int64_t ldc, int64_t stride_c, int64_t batch);

// ---- conv.cpp: NHWC convolution: im2col + GEMM (1x1 without im2col), depthwise direct
void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const ConvGeometry& g);
void conv2d_backward_input(float* dx, const float* dy, const float* w, const ConvGeometry& g);
void conv2d_backward_weight(float* dw, const float* dy, const float* x, const ConvGeometry& g);

// ---- conv_direct.cpp: groups 1, few channels: a register-blocked direct kernel per instruction set
// (conv.cpp asks the applies_* rules; tests call each path the CPU runs). The backward-input kernel
// takes stride 1 only. PG_CPU_DIRECT_CONV=0 or set_direct_conv_enabled(false): im2col everywhere.
bool direct_conv_enabled();
void set_direct_conv_enabled(bool on);
bool conv2d_direct_applies_forward(const ConvGeometry& g);
bool conv2d_direct_applies_backward_input(const ConvGeometry& g);
bool conv2d_direct_applies_backward_weight(const ConvGeometry& g);
void conv2d_direct_forward(float* y, const float* x, const float* w, const float* bias,
                           const ConvGeometry& g, SimdPath path);
void conv2d_direct_backward_input(float* dx, const float* dy, const float* w, const ConvGeometry& g,
                                  SimdPath path);
void conv2d_direct_backward_weight(float* dw, const float* dy, const float* x,
                                   const ConvGeometry& g, SimdPath path);

// ---- conv_few_outputs.cpp: groups 1, K well below C: the GEMM on the input side, output channels
// in blocks of kb (conv.cpp picks the path and kb; tests call these with small blocks)
void conv2d_few_outputs_forward(float* y, const float* x, const float* w, const float* bias,
                                const ConvGeometry& g, int64_t kb);
void conv2d_few_outputs_backward_input(float* dx, const float* dy, const float* w,
                                       const ConvGeometry& g, int64_t kb);
void conv2d_few_outputs_backward_weight(float* dw, const float* dy, const float* x,
                                        const ConvGeometry& g, int64_t kb);

// ---- batch_norm.cpp: batch normalisation
void batch_norm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                              float* running_var, const float* x, const float* weight,
                              const float* bias, int64_t rows, int64_t C, float momentum, float eps,
                              bool relu);
void batch_norm_forward_eval(float* y, const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, int64_t rows,
                             int64_t C, float eps, bool relu);
void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* invstd, int64_t rows,
                         int64_t C, bool training, const float* relu_y);

// ---- pool.cpp: max and average pooling
void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const PoolGeometry& g);
void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, const PoolGeometry& g);
void avg_pool2d_forward(float* y, const float* x, const PoolGeometry& g);
void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g);

// ---- resize.cpp: bilinear and nearest resize
void resize_bilinear_forward(float* y, const float* x, const ResizeGeometry& g);
void resize_bilinear_backward(float* dx, const float* dy, const ResizeGeometry& g);
void resize_nearest(void* y, const void* x, size_t elem_size, const ResizeGeometry& g);

// ---- layout.cpp: permute, crop / pad window, horizontal flip
void permute(void* out, const void* in, size_t elem_size, int ndim, const int64_t* in_shape,
             const int* perm);
void window(void* out, const void* in, DType dtype, const WindowGeometry& g, double fill);
void flip_width(void* out, const void* in, size_t elem_size, int64_t N, int64_t H, int64_t W,
                int64_t C);

// ---- index.cpp: one-hot, row gather / scatter-add, CSR segment ops
int64_t one_hot(float* out, const void* labels, DType label_dtype, int64_t n, int64_t classes,
                int64_t ignore_index);
int64_t index_select_rows(float* out, const float* x, const int32_t* index, int64_t count,
                          int64_t rows, int64_t cols);
int64_t index_add_rows(float* out, const float* src, const int32_t* index, int64_t count,
                       int64_t rows, int64_t cols);
void segment_softmax_forward(float* y, const float* x, const int32_t* row_ptr, int64_t segments,
                             int64_t cols);
void segment_softmax_backward(float* dx, const float* dy, const float* y, const int32_t* row_ptr,
                              int64_t segments, int64_t cols);
void segment_sum(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                 int64_t cols);
void segment_expand(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                    int64_t cols);

// ---- loss.cpp: fused cross-entropy and BCE with logits
int64_t cross_entropy_forward(float* loss, float* weight_used, const float* logits,
                              const void* target, DType target_dtype, const float* class_weight,
                              int64_t rows, int64_t classes, int64_t ignore_index);
void cross_entropy_backward(float* dlogits, const float* dloss, const float* logits,
                            const void* target, DType target_dtype, const float* class_weight,
                            int64_t rows, int64_t classes, int64_t ignore_index);
void bce_with_logits_forward(float* loss, const float* x, const float* target, const uint8_t* valid,
                             int64_t n);
void sgd_update(float* param, float* momentum_buffer, const float* grad, int64_t n,
                const SgdStep& step); // optim.cpp

void bce_with_logits_backward(float* dx, const float* dloss, const float* x, const float* target,
                              const uint8_t* valid, int64_t n);

} // namespace pg::cpu
