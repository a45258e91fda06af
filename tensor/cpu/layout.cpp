// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
void permute(void* out, const void* in, size_t elem_size, int ndim, const int64_t* in_shape,
             const int* perm) {
    PG_FAIL("not implemented");
}
void window(void* out, const void* in, DType dtype, const WindowGeometry& g, double fill) {
    PG_FAIL("not implemented");
}
void flip_width(void* out, const void* in, size_t elem_size, int64_t N, int64_t H, int64_t W,
                int64_t C) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
