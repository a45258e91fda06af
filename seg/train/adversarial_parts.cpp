// AdvSemiSeg's small pieces (seg/train/adversarial_parts.h).
#include "seg/train/adversarial_parts.h"

#include "autograd/elementwise.h"
#include "autograd/index.h"
#include "autograd/layout.h"
#include "autograd/node.h"
#include "autograd/reduce.h"
#include "nn/losses.h"

namespace pg::seg::adversarial {

Tensor discriminator_logits(nn::FCDiscriminator& d, const Tensor& maps) {
    return nn::upsample_logits(d.forward(maps), maps.size(1), maps.size(2));
}

Tensor semi_targets(const Tensor& logits, const Tensor& d_logits, float threshold, int64_t& kept) {
    NoGradGuard no_grad;
    Shape s = logits.shape();
    Tensor trusted = ge(reshape(sigmoid(d_logits), {s[0], s[1], s[2]}), threshold); // (N, H, W)
    kept = int64_t(sum(cast(trusted, DType::f32)).item());
    Tensor argmax_f = cast(argmax(logits, 3), DType::f32);
    return cast(where(trusted, argmax_f, 255.f), DType::i32);
}

Tensor ground_truth_maps(const Tensor& labels, int64_t num_classes) {
    return one_hot(labels, num_classes, 255);
}

Tensor labeled_pixels(const Tensor& labels) { return ne(cast(labels, DType::f32), 255.f); }

TargetScores score_targets(const Tensor& logits, const Tensor& targets, const Tensor& labels) {
    NoGradGuard no_grad;
    Tensor truth = cast(labels, DType::f32);
    Tensor known = ne(truth, 255.f);
    auto count = [](const Tensor& mask) { return sum(cast(mask, DType::f32)).item(); };
    Tensor picked = logical_and(ne(cast(targets, DType::f32), 255.f), known);
    Tensor right = logical_and(eq(cast(targets, DType::f32), truth), picked);
    Tensor argmax_right = logical_and(eq(cast(argmax(logits, 3), DType::f32), truth), known);
    Tensor picked_foreground = logical_and(picked, ne(cast(targets, DType::f32), 0.f));
    Tensor foreground = logical_and(known, ne(truth, 0.f));
    double picked_n = count(picked), known_n = count(known);
    return {picked_n > 0 ? count(right) / picked_n : 0.0,
            known_n > 0 ? count(argmax_right) / known_n : 0.0,
            picked_n > 0 ? count(picked_foreground) / picked_n : 0.0,
            known_n > 0 ? count(foreground) / known_n : 0.0};
}

} // namespace pg::seg::adversarial
