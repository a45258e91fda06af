// The backward engine: pg::backward(loss) walks the graph from `loss` back to the leaves,
// summing gradients where paths meet and accumulating them into each leaf's .grad.
#pragma once

#include "tensor/tensor.h"

namespace pg {

// Computes the gradients of `root` w.r.t. every leaf that requires grad and adds them to the
// leaves' .grad. `grad` is d(something)/d(root); it may be omitted only for a one-element root
// (seed 1). Unless retain_graph, each node frees its saved tensors once it has run, and a second
// backward through the same graph is an error.
void backward(const Tensor& root, const Tensor& grad = Tensor(), bool retain_graph = false);

} // namespace pg
