// PLACEHOLDER: to be replaced by the real ops.
#include "autograd/reduce.h"
#include "tensor/error.h"
namespace pg {
TopK topk(const Tensor& x, int64_t k, bool largest) { PG_FAIL("not implemented"); }
TopK sort(const Tensor& x, bool descending) { PG_FAIL("not implemented"); }
float kthvalue(const Tensor& x, int64_t k) { PG_FAIL("not implemented"); }
float percentile(const Tensor& x, double q) { PG_FAIL("not implemented"); }
} // namespace pg
