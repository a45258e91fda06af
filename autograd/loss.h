// Fused losses. Cross-entropy over the last axis with ignore_index and optional class weights,
// PyTorch semantics: mean = sum_r w[y_r] nll_r / sum_r w[y_r] over non-ignored rows; a batch with
// no valid row gives 0 (not NaN). BCE with logits, numerically stable, with an optional valid mask.
#pragma once

#include "tensor/tensor.h"

namespace pg {

enum class Reduction { mean, sum, none };

struct CrossEntropyOptions {
    Tensor weight;              // (C,) f32 class weights, or undefined
    int64_t ignore_index = 255; // rows with this target contribute nothing
    Reduction reduction = Reduction::mean;
};

// logits (..., C) f32, target (...) i32 or u8 -> () for mean / sum, (...) for none (0 where ignored).
// A target outside [0, C) that is not ignore_index is an error naming it. Only the logits get a
// gradient (the class weights are constants, as in PyTorch).
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options = CrossEntropyOptions());

// logits, target: same shape f32 (targets in [0, 1]); valid: u8 of that shape or undefined
// (non-zero = valid). Loss 0 where not valid; mean: over valid elements (0 when none is valid).
// Gradients: sigmoid(x) - t for the logits, -x for the target, 0 where not valid.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target, const Tensor& valid = Tensor(),
                       Reduction reduction = Reduction::mean);

} // namespace pg
