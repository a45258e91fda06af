// PLACEHOLDER: to be replaced by the real ops.
#include "autograd/conv.h"
#include "tensor/error.h"
namespace pg {
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding, int64_t dilation, int64_t groups) {
    PG_FAIL("not implemented");
}
} // namespace pg
