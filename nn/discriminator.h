// AdvSemiSeg's fully-convolutional discriminator (model/discriminator.py, FCDiscriminator): it
// reads a C-channel probability (or one-hot) map and scores each location as real (label) or
// fake (prediction). Five 4x4 stride-2 convs, so its logits are at stride 32; the method
// upsamples them to the input size (nn/deeplab_v2.h: upsample_logits).
#pragma once

#include <cstdint>
#include <memory>

#include "nn/layers.h"

namespace pg::nn {

struct FCDiscriminatorOptions {
    int64_t num_classes = 21; // input channels
    int64_t ndf = 64;         // width of conv1; conv2..conv4 use 2, 4, 8 times it
    // Output stride: 2^k for k = 1..5 makes the first k convs stride 2 and the rest stride 1
    // (4x4, padding 1: n -> n - 1). 32 is the original; the same weights at any stride.
    int64_t stride = 32;
};

// conv1 C->ndf, conv2 ->2 ndf, conv3 ->4 ndf, conv4 ->8 ndf, classifier ->1; all 4x4, stride 2,
// padding 1, with bias, LeakyReLU(0.2) after conv1..conv4, no normalisation. PyTorch's default
// init (the original sets none). (N, H, W, C) -> (N, H/32, W/32, 1) logits at stride 32 (each
// conv maps a size n to floor(n / 2)); at a smaller `stride` the map is finer (a 64-pixel world's
// objects are smaller than 32 pixels).
class FCDiscriminator : public Layer {
  public:
    FCDiscriminator(const FCDiscriminatorOptions& options, Generator& gen);
    Tensor forward(const Tensor& x) override;
    const FCDiscriminatorOptions& options() const { return options_; }
    // FLOPs (2 x MACs of the convs) of one forward of a (1, h, w, num_classes) input.
    int64_t forward_flops(int64_t h, int64_t w);

    std::shared_ptr<Conv2d> conv1, conv2, conv3, conv4, classifier;

  private:
    FCDiscriminatorOptions options_;
};

} // namespace pg::nn
