// PLACEHOLDER: to be replaced by the real ops.
#include "autograd/batch_norm.h"
#include "tensor/error.h"
namespace pg {
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum, float eps) {
    PG_FAIL("not implemented");
}
} // namespace pg
