// Indexing ops: one-hot encoding of label maps, row gather / scatter-add (graph message passing),
// and segment softmax / sum over CSR segments (GAT's attention normalisation and aggregation).
// Every kernel is deterministic; an index or label out of range is an error naming it.
#pragma once

#include "tensor/tensor.h"

namespace pg {

// labels (...) i32 or u8 -> f32 (..., num_classes); ignore_index rows are all zero. Any other
// label outside [0, num_classes) is an error naming it and its position. Not differentiable.
Tensor one_hot(const Tensor& labels, int64_t num_classes, int64_t ignore_index = 255);
// x (V, F...) rows picked by index (E,) i32 -> (E, F...). Backward: scatter_add.
// An index outside [0, V) is an error naming it, its position and V.
Tensor index_select(const Tensor& x, const Tensor& index);
// out (num_rows, F...) with out[index[e]] += src[e]; src (E, F...). Backward: index_select.
// Repeated indices accumulate; the CPU adds them in edge order (same result every run).
Tensor scatter_add(const Tensor& src, const Tensor& index, int64_t num_rows);
// row_ptr (V + 1,) i32, non-decreasing from 0 to E: segment v owns entries [row_ptr[v], row_ptr[v+1]).
// It is validated on the host (copied back from a device), naming the first bad position.
// x (E, H) -> (E, H): softmax over each segment, per column (an empty segment is fine). A 1-D x is
// one column; trailing dims (E, H, F) are all columns. Backward: dx = y (dy - sum_seg(dy y)).
Tensor segment_softmax(const Tensor& x, const Tensor& row_ptr);
// x (E, F...) -> (V, F...): the sum of each segment's entries (0 for an empty segment).
// Backward: every entry of segment v receives dout[v].
Tensor segment_sum(const Tensor& x, const Tensor& row_ptr);

} // namespace pg
