// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const ConvGeometry& g) {
    PG_FAIL("not implemented");
}
void conv2d_backward_input(float* dx, const float* dy, const float* w, const ConvGeometry& g) {
    PG_FAIL("not implemented");
}
void conv2d_backward_weight(float* dw, const float* dy, const float* x, const ConvGeometry& g) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
