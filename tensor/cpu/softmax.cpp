// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
    PG_FAIL("not implemented");
}
void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    PG_FAIL("not implemented");
}
void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
    PG_FAIL("not implemented");
}
void log_softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols) {
    PG_FAIL("not implemented");
}
void entropy_forward(float* out, const float* p, int64_t rows, int64_t cols, float eps) {
    PG_FAIL("not implemented");
}
void entropy_backward(float* dp, const float* dout, const float* p, int64_t rows, int64_t cols,
                      float eps) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
