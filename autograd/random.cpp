// PLACEHOLDER: to be replaced by the real ops.
#include "autograd/random.h"
#include "tensor/error.h"
namespace pg {
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
    PG_FAIL("not implemented");
}
Tensor dropout2d(const Tensor& x, float p, bool training, Generator& gen) {
    PG_FAIL("not implemented");
}
} // namespace pg
