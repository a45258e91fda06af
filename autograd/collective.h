// Differentiable collectives over the processes of a data-parallel run (tensor/collectives.h).
// all_reduce_sum: y = sum over processes p of x_p, on every process. Each process q has its own
// loss L_q, and the run minimises their sum, so dL/dx_p = sum over q of dL_q/dy: the backward is
// the same all-reduce of the incoming gradients. SyncBN's statistics go through it
// (nn/sync_batch_norm.h). With one process it is the identity.
#pragma once

#include "tensor/tensor.h"

namespace pg {

Tensor all_reduce_sum(const Tensor& x); // f32, any shape, any device

} // namespace pg
