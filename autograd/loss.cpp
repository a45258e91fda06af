// PLACEHOLDER: to be replaced by the real ops.
#include "autograd/loss.h"
#include "tensor/error.h"
namespace pg {
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options) {
    PG_FAIL("not implemented");
}
Tensor bce_with_logits(const Tensor& logits, const Tensor& target, const Tensor& valid,
                       Reduction reduction) {
    PG_FAIL("not implemented");
}
} // namespace pg
