// The backward engine: pg::backward(loss) walks the graph from `loss` back to the leaves,
// summing gradients where paths meet and accumulating them into each leaf's .grad.
#pragma once

#include <functional>

#include "tensor/tensor.h"

namespace pg {

// Computes the gradients of `root` w.r.t. every leaf that requires grad and adds them to the
// leaves' .grad. `grad` is d(something)/d(root); it may be omitted only for a one-element root
// (seed 1). Unless retain_graph, each node frees its saved tensors once it has run, and a second
// backward through the same graph is an error.
void backward(const Tensor& root, const Tensor& grad = Tensor(), bool retain_graph = false);

// Watches one backward pass: data-parallel training starts averaging a bucket of gradients over
// processes as soon as every gradient in it is final (nn/data_parallel.h), while the pass goes on.
class BackwardObserver {
  public:
    virtual ~BackwardObserver() = default;
    // Before the first node runs; reaches(leaf): whether this pass will run leaf's AccumulateGrad
    // (a leaf it does not reach keeps the .grad it has).
    virtual void begin(const std::function<bool(const Tensor&)>& reaches) = 0;
    // Once the pass has finished with leaf's .grad (which keeps what it had, possibly nothing, when
    // no gradient of this pass reached it).
    virtual void leaf_done(const Tensor& leaf) = 0;
};

// The next backward() on this thread reports to `observer` (null: none); the one after it, not.
void observe_next_backward(BackwardObserver* observer);

} // namespace pg
