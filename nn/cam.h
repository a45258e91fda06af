// The CAM classifier head of the label-noise pipeline (specs/networks.md, label_noise_gat.md step 1):
// backbone features -> global average pooling -> a bias-free 1x1 conv to the foreground classes,
// trained with a multi-label BCE loss on image-level tags; and the class activation maps
// (Zhou et al., CVPR 2016) it yields. The backbone is composed around it by the caller.
#pragma once

#include <cstdint>
#include <memory>

#include "nn/layers.h"
#include "nn/module.h"

namespace pg::nn {

// One parameter, `classifier.weight`, PyTorch shape (K, C_f, 1, 1) with K = C - 1 foreground
// classes (background has no tag and no map) and no bias, as in the usual CAM code (e.g. IRN's
// resnet50_cam: nn.Conv2d(2048, 20, 1, bias=False)): without a bias the logit is exactly the
// spatial mean of the class's (pre-ReLU) activation map, so the map and the classifier agree.
// Init: PyTorch's Conv2d default, U(+-1/sqrt(C_f)).
// A network that puts a backbone in front registers its own children next to this head's
// `classifier` (register_module("classifier", head->classifier)) to keep the key at top level.
class CamHead : public Module {
  public:
    CamHead(int64_t feature_channels, int64_t num_classes, Generator& gen);
    // features (N, H, W, C_f) -> logits (N, K): GAP, then the 1x1 classifier.
    Tensor forward(const Tensor& features);
    // Class activation maps: CAM_c = ReLU(sum_f w_cf feature_f) at feature resolution, resized
    // bilinearly to (out_h, out_w), divided per image and class by its maximum + 1e-5 (so a
    // present class peaks at ~1, and an all-zero map stays 0), and set to 0 for the classes
    // absent from the image's tags. tags (N, K) f32 (1 = present; > 0.5 counts) or u8 (non-zero).
    // Returns (N, out_h, out_w, K), values in [0, 1).
    Tensor cams(const Tensor& features, const Tensor& tags, int64_t out_h, int64_t out_w,
                bool align_corners = false) const;
    // FLOPs of forward() on (1, h, w, C_f) features: the classifier on the pooled vector (2 C_f K;
    // pooling is not counted), measured with a FlopCounter.
    int64_t forward_flops(int64_t h, int64_t w);
    int64_t num_classes() const { return num_classes_; }

    std::shared_ptr<Conv2d> classifier;

  private:
    int64_t feature_channels_, num_classes_;
};

// The multi-label loss on tags: mean over the N K (image, class) pairs of
// BCE(sigmoid(logit), tag). Equal to PyTorch's BCEWithLogitsLoss() and to
// F.multilabel_soft_margin_loss (the mean over classes, then over images) for 0/1 tags.
// logits (N, K) f32, tags (N, K) f32 in [0, 1] or u8 0/1.
Tensor multilabel_bce_loss(const Tensor& logits, const Tensor& tags);

} // namespace pg::nn
