// Segmentation losses shared by the four methods, built on the fused cross_entropy and
// bce_with_logits of autograd/loss.h: OHEM cross-entropy (U2PL's Cityscapes criterion), the
// main + aux-head criterion, cross-entropy on logits upsampled to the label size, BCE against a
// constant label map (AdvSemiSeg's discriminator terms) and multi-label soft margin (image tags).
// Method-specific losses (U2PL unsup / contrastive, RIPU's regularisers) live with their methods.
#pragma once

#include <vector>

#include "autograd/loss.h"
#include "tensor/tensor.h"

namespace pg::nn {

// ---- OHEM cross-entropy ----

struct OhemOptions {
    float thresh = 0.7f;        // pixels whose target-class probability exceeds it are dropped
    int64_t min_kept = 100000;  // ... unless that would keep fewer than min_kept pixels
    int64_t ignore_index = 255; // as in cross_entropy
    Tensor weight;              // (C,) f32 class weights for the final CE, or undefined
};

// The label map that U2PL's OhemCrossEntropy2dTensor trains on, computed without gradient.
// logits (..., C) f32, target (...) i32 or u8 -> (...) i32: target where kept, ignore_index where
// dropped or ignored. With p = softmax(logits)[target] per pixel and num_valid the pixels whose
// target is not ignore_index (all pixels of the batch are ranked together):
//   - min_kept > num_valid, min_kept == 0 or num_valid == 0: nothing is dropped (the original
//     computes a threshold when min_kept == 0 but only applies it inside `if min_kept > 0`);
//   - otherwise threshold = max(thresh, k-th smallest p, k = min_kept) and a pixel is kept iff
//     p <= threshold (compared in f32), so at least min_kept pixels survive, more on ties; a NaN
//     p is dropped (torch's le is false for NaN).
// p is computed as exp(-nll) from the fused cross-entropy kernel (equal to the softmax value up to
// a few ulps). A label outside [0, C) that is not ignore_index is cross_entropy's error; a
// negative min_kept is an error (the original would treat it as 0).
Tensor ohem_target(const Tensor& logits, const Tensor& target,
                   const OhemOptions& options = OhemOptions());

// cross_entropy(logits, ohem_target(logits, target), mean over the kept pixels, class-weighted
// when options.weight is set) -> (). Dropped pixels get zero gradient; the selection itself is
// not differentiated. No kept pixel (all ignored) gives 0, not PyTorch's NaN.
Tensor ohem_cross_entropy(const Tensor& logits, const Tensor& target,
                          const OhemOptions& options = OhemOptions());

// ---- cross-entropy on logits below the label resolution ----

// logits (N, h, w, C) -> (N, H, W, C), bilinear with align_corners=true (what all four methods do
// to their stride-4 / stride-8 outputs before a loss). Returns `logits` itself when already H x W.
Tensor upsample_logits(const Tensor& logits, int64_t out_h, int64_t out_w);

// logits (N, h, w, C) f32, target (N, H, W) i32 or u8 -> (): cross_entropy on
// upsample_logits(logits, H, W). AdvSemiSeg's CrossEntropy2d (ignore 255, mean over valid pixels).
Tensor cross_entropy_2d(const Tensor& logits, const Tensor& target,
                        const CrossEntropyOptions& options = CrossEntropyOptions());

// How many pixels of target (any shape, i32 or u8) are not ignore_index -> () f32, on its device.
Tensor labelled_pixel_count(const Tensor& target, int64_t ignore_index = 255);

// cross_entropy (mean over the pixels not ignored) with the mean taken over the whole global batch
// of a data-parallel run (nn::global_batch_mean): several processes train as one with the whole
// batch even where their shares hold different numbers of labelled pixels (void borders, RIPU's
// acquired pixels). One process: cross_entropy itself, bit for bit. No class weights.
Tensor cross_entropy_over_global_batch(const Tensor& logits, const Tensor& target,
                                       int64_t ignore_index = 255);

// ---- the supervised criterion (U2PL's Criterion / CriterionOhem) ----

enum class SegLossType { cross_entropy, ohem };

struct SegLossConfig {
    SegLossType type = SegLossType::cross_entropy;
    float aux_weight = 0.f; // > 0: logits = {main, aux}, loss = main + aux_weight * aux
    int64_t ignore_index = 255;
    float ohem_thresh = 0.7f; // OHEM only (U2PL Cityscapes: 0.7, min_kept 100000 per 2 images)
    int64_t ohem_min_kept = 100000;
};

// logits: {main} when aux_weight == 0, {main, aux} when aux_weight > 0 (each (N, h, w, C), upsampled
// to the label size like cross_entropy_2d); target (N, H, W) -> (). With OHEM each head selects its
// own hard pixels, as U2PL's two OhemCrossEntropy2dTensor instances do. Plain CE is a mean over the
// global batch (cross_entropy_over_global_batch); OHEM picks and averages within each process.
Tensor seg_loss(const std::vector<Tensor>& logits, const Tensor& target,
                const SegLossConfig& config = SegLossConfig());

// ---- binary and multi-label losses ----

// BCE with logits against the constant label `value` (AdvSemiSeg's discriminator targets: 1 for
// "ground truth", 0 for "prediction"), averaged over valid pixels. logits (N, H, W, 1) or (N, H, W)
// f32; valid: u8 of the logits' shape or of (N, H, W) (non-zero = counts; AdvSemiSeg passes
// labels != 255), or undefined (every pixel counts). No valid pixel gives 0.
Tensor bce_with_constant_target(const Tensor& logits, float value, const Tensor& valid = Tensor());

// torch.nn.MultiLabelSoftMarginLoss: logits (N, C) f32, targets (N, C) f32 (tags in {0, 1}; soft
// values are accepted, as in PyTorch). Per sample: -1/C sum_c [t log sigmoid(x) + (1 - t) log
// sigmoid(-x)] -> (N,) for none; mean / sum over the batch -> ().
Tensor multilabel_soft_margin(const Tensor& logits, const Tensor& targets,
                              Reduction reduction = Reduction::mean);

} // namespace pg::nn
