// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
void batch_norm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                              float* running_var, const float* x, const float* weight,
                              const float* bias, int64_t rows, int64_t C, float momentum,
                              float eps) {
    PG_FAIL("not implemented");
}
void batch_norm_forward_eval(float* y, const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, int64_t rows,
                             int64_t C, float eps) {
    PG_FAIL("not implemented");
}
void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* invstd, int64_t rows,
                         int64_t C, bool training) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
