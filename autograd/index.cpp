// PLACEHOLDER: to be replaced by the real ops.
#include "autograd/index.h"
#include "tensor/error.h"
namespace pg {
Tensor one_hot(const Tensor& labels, int64_t num_classes, int64_t ignore_index) {
    PG_FAIL("not implemented");
}
Tensor index_select(const Tensor& x, const Tensor& index) { PG_FAIL("not implemented"); }
Tensor scatter_add(const Tensor& src, const Tensor& index, int64_t num_rows) {
    PG_FAIL("not implemented");
}
Tensor segment_softmax(const Tensor& x, const Tensor& row_ptr) { PG_FAIL("not implemented"); }
Tensor segment_sum(const Tensor& x, const Tensor& row_ptr) { PG_FAIL("not implemented"); }
} // namespace pg
