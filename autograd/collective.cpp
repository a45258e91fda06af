// all_reduce_sum and its backward (autograd/collective.h). Every process must record the same ops
// in the same order: the engine then runs the backward all-reduces in the same order everywhere.
#include "autograd/collective.h"

#include "autograd/node.h"
#include "tensor/collectives.h"

namespace pg {

Tensor all_reduce_sum(const Tensor& x) {
    Tensor y = x.clone();
    all_reduce_sum_(y);
    if (any_requires_grad({x}))
        record("all_reduce_sum", {x}, {y},
               [](const std::vector<Tensor>& grads, const std::vector<bool>&) {
                   Tensor dx = grads[0].clone();
                   all_reduce_sum_(dx);
                   return std::vector<Tensor>{dx};
               });
    return y;
}

} // namespace pg
