// What every segmentation network gives the trainer: image in, logits (and the representation or
// the aux logits where the network has them) out, plus the parameter split that the methods
// train at different learning rates. DeepLab-v2 (nn/deeplab_v2.h) and DeepLabV3+
// (nn/segmenter.h) implement it; build_segmenter() (nn/segmenter.h) makes either from options.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/module.h"

namespace pg::nn {

struct SegOutput {
    Tensor logits; // (N, H / stride, W / stride, num_classes)
    Tensor rep;    // (N, H / stride, W / stride, rep_planes), or undefined
    Tensor aux;    // (N, H / 8, W / 8, num_classes) from layer3, or undefined
    // What the classifier reads: v3+'s fused decoder features (N, H / 4, W / 4, low + head), v2's
    // layer4 (N, H / 8, W / 8, 2048 x width). The label-noise pipeline's superpixel node features.
    Tensor features;
};

class SegmentationNet : public Module {
  public:
    using Module::Module;
    virtual SegOutput forward(const Tensor& image) = 0; // image (N, H, W, 3)
    virtual int64_t num_classes() const = 0;
    virtual int64_t output_stride() const = 0; // of the logits: 4 (v3+) or 8 (v2)
    // The pretrained backbone (lr x1) and everything else (heads: lr x10 in U2PL, AdvSemiSeg and
    // RIPU). Only parameters that require grad.
    virtual std::vector<Tensor> backbone_parameters() const = 0;
    virtual std::vector<Tensor> head_parameters() const = 0;
    // FLOPs (2 x MACs of every conv) of one eval-mode forward of a (1, h, w, 3) image; the
    // train / eval mode is restored afterwards.
    int64_t forward_flops(int64_t h, int64_t w);
};

} // namespace pg::nn
