// PLACEHOLDER: to be replaced by the real ops.
#include "autograd/layout.h"
#include "tensor/error.h"
namespace pg {
Tensor permute(const Tensor& x, const std::vector<int>& dims) { PG_FAIL("not implemented"); }
Tensor nchw_to_nhwc(const Tensor& x) { PG_FAIL("not implemented"); }
Tensor nhwc_to_nchw(const Tensor& x) { PG_FAIL("not implemented"); }
Tensor concat(const std::vector<Tensor>& xs, int64_t axis) { PG_FAIL("not implemented"); }
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis) {
    PG_FAIL("not implemented");
}
Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length) {
    PG_FAIL("not implemented");
}
Tensor crop(const Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width) {
    PG_FAIL("not implemented");
}
Tensor pad(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right,
           double value) {
    PG_FAIL("not implemented");
}
Tensor flip_horizontal(const Tensor& x) { PG_FAIL("not implemented"); }
} // namespace pg
