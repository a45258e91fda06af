// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
void resize_bilinear_forward(float* y, const float* x, const ResizeGeometry& g) {
    PG_FAIL("not implemented");
}
void resize_bilinear_backward(float* dx, const float* dy, const ResizeGeometry& g) {
    PG_FAIL("not implemented");
}
void resize_nearest(void* y, const void* x, size_t elem_size, const ResizeGeometry& g) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
