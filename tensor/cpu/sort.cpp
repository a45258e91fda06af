// PLACEHOLDER: to be replaced by the real kernels.
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
namespace pg::cpu {
void topk(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols, int64_t k,
          bool largest) {
    PG_FAIL("not implemented");
}
void select_ranks(float* out, const float* x, int64_t n, const int64_t* ranks, int64_t count) {
    PG_FAIL("not implemented");
}
} // namespace pg::cpu
