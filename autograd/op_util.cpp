// Argument checks shared by the ops.
#include "autograd/op_util.h"

namespace pg {

void check_dtype(const char* op, const char* what, const Tensor& t, DType dtype) {
    PG_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
    PG_CHECK(t.dtype() == dtype, op, ": ", what, " must be ", dtype_name(dtype), ", got ",
             dtype_name(t.dtype()), " ", shape_str(t.shape()));
}

void check_same_device(const char* op, const std::vector<Tensor>& tensors) {
    const Tensor* first = nullptr;
    for (const Tensor& t : tensors) {
        if (!t.defined()) continue;
        if (!first) {
            first = &t;
            continue;
        }
        PG_CHECK(t.device() == first->device(), op, ": tensors are on different devices (",
                 first->device(), " and ", t.device(), ")");
    }
}

void check_dim(const char* op, const char* what, const Tensor& t, int ndim) {
    PG_CHECK(t.dim() == ndim, op, ": ", what, " must have ", ndim, " dimensions, got shape ",
             shape_str(t.shape()));
}

} // namespace pg
