// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
int64_t one_hot(float* out, const void* labels, DType label_dtype, int64_t n, int64_t classes,
                int64_t ignore_index) {
    PG_FAIL("not implemented");
}
int64_t index_select_rows(float* out, const float* x, const int32_t* index, int64_t count,
                          int64_t rows, int64_t cols) {
    PG_FAIL("not implemented");
}
int64_t index_add_rows(float* out, const float* src, const int32_t* index, int64_t count,
                       int64_t rows, int64_t cols) {
    PG_FAIL("not implemented");
}
void segment_softmax_forward(float* y, const float* x, const int32_t* row_ptr, int64_t segments,
                             int64_t cols) {
    PG_FAIL("not implemented");
}
void segment_softmax_backward(float* dx, const float* dy, const float* y, const int32_t* row_ptr,
                              int64_t segments, int64_t cols) {
    PG_FAIL("not implemented");
}
void segment_sum(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                 int64_t cols) {
    PG_FAIL("not implemented");
}
void segment_expand(float* out, const float* x, const int32_t* row_ptr, int64_t segments,
                    int64_t cols) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
