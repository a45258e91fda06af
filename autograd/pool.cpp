// PLACEHOLDER: to be replaced by the real ops.
#include "autograd/pool.h"
#include "tensor/error.h"
namespace pg {
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding,
                  bool ceil_mode) {
    PG_FAIL("not implemented");
}
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode,
                  bool count_include_pad) {
    PG_FAIL("not implemented");
}
Tensor global_avg_pool(const Tensor& x) { PG_FAIL("not implemented"); }
} // namespace pg
