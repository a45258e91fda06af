// The pieces of AdvSemiSeg (shared/specs/adversarial.md) that have an answer on a small tensor:
// the discriminator's confidence map at the crop size, the self-training targets it selects, and
// the one-hot ground truth D learns as "real". seg/train/adversarial.cpp assembles the step.
#pragma once

#include <cstdint>

#include "nn/discriminator.h"
#include "tensor/tensor.h"

namespace pg::seg::adversarial {

// D's logits for the class-probability (or one-hot) maps `maps` (N, H, W, C), upsampled
// bilinearly (align_corners) back to H x W: (N, H, W, 1). D's output is at stride 32.
Tensor discriminator_logits(nn::FCDiscriminator& d, const Tensor& maps);

// The self-training targets of L_semi: argmax of `logits` (N, H, W, C) where D trusts the
// prediction, sigmoid(d_logits) >= threshold (the original ignores sigmoid < T_semi), and 255
// elsewhere -> (N, H, W) i32. `kept` receives the number of pixels that got a target.
Tensor semi_targets(const Tensor& logits, const Tensor& d_logits, float threshold, int64_t& kept);

// The maps D sees as "real": one-hot labels (N, H, W) -> (N, H, W, C) f32, all zero where the
// label is 255 (the original's one_hot leaves ignored pixels at zero in every channel).
Tensor ground_truth_maps(const Tensor& labels, int64_t num_classes);

// Pixels that count in a D term: label != 255 -> (N, H, W) u8.
Tensor labeled_pixels(const Tensor& labels);

// Diagnostics from an unlabeled batch's hidden labels (N, H, W), over the pixels that have one
// (255, e.g. padding, counts nowhere): the fraction of the self-training targets (255 = none)
// that are right, and the fraction of all argmax predictions of `logits` (N, H, W, C) that are.
// 0 where nothing counts. Also the share of the targets that are not class 0 (background) beside
// the share of the labelled pixels that are not: whether D's trust leans towards the background.
struct TargetScores {
    double target_accuracy = 0, pixel_accuracy = 0;
    double target_foreground = 0, foreground = 0;
};
TargetScores score_targets(const Tensor& logits, const Tensor& targets, const Tensor& labels);

} // namespace pg::seg::adversarial
