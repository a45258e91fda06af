// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const PoolGeometry& g) {
    PG_FAIL("not implemented");
}
void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, const PoolGeometry& g) {
    PG_FAIL("not implemented");
}
void avg_pool2d_forward(float* y, const float* x, const PoolGeometry& g) {
    PG_FAIL("not implemented");
}
void avg_pool2d_backward(float* dx, const float* dy, const PoolGeometry& g) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
