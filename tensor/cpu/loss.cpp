// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
int64_t cross_entropy_forward(float* loss, float* weight_used, const float* logits,
                              const void* target, DType target_dtype, const float* class_weight,
                              int64_t rows, int64_t classes, int64_t ignore_index) {
    PG_FAIL("not implemented");
}
void cross_entropy_backward(float* dlogits, const float* dloss, const float* logits,
                            const void* target, DType target_dtype, const float* class_weight,
                            int64_t rows, int64_t classes, int64_t ignore_index) {
    PG_FAIL("not implemented");
}
void bce_with_logits_forward(float* loss, const float* x, const float* target, const uint8_t* valid,
                             int64_t n) {
    PG_FAIL("not implemented");
}
void bce_with_logits_backward(float* dx, const float* dloss, const float* x, const float* target,
                              const uint8_t* valid, int64_t n) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
