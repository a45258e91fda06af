// U2PL's ASPP (atrous spatial pyramid pooling, u2pl/models/base.py): five parallel branches on the
// layer4 features, each ending in BN + ReLU, concatenated along channels. The DeepLabV3+ decoder
// (nn/deeplab_v3plus.h) holds one as `aspp`, so its keys are `decoder.aspp.conv1.1.weight`, ...
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers.h"

namespace pg::nn {

struct AsppOptions {
    int64_t in_planes = 2048;                      // layer4 channels
    int64_t inner_planes = 256;                    // channels of each branch
    std::vector<int64_t> dilations = {12, 24, 36}; // of the three 3x3 branches (padding = dilation)
};

// Branches, in U2PL's names and Sequential indices (all convs without bias):
//   conv1: 0 AdaptiveAvgPool2d(1), 1 conv 1x1, 2 BN, 3 ReLU   (image pooling; its 1x1 output is
//          resized back to H x W, bilinear with align_corners = true, i.e. broadcast)
//   conv2: 0 conv 1x1, 1 BN, 2 ReLU
//   conv3..conv5: 0 conv 3x3 dilation d_i, 1 BN, 2 ReLU
// forward: (N, H, W, in_planes) -> (N, H, W, 5 inner_planes), order conv1, conv2, ..., conv5.
// Weights keep PyTorch's default init (U2PL initialises nothing in its decoder).
class Aspp : public Layer {
  public:
    Aspp(const AsppOptions& options, Generator& gen);
    Tensor forward(const Tensor& x) override;
    int64_t out_planes() const { return 5 * options_.inner_planes; }
    const AsppOptions& options() const { return options_; }
    // FLOPs (2 x MACs of the convs) of one eval forward on a (1, h, w, in_planes) input.
    int64_t forward_flops(int64_t h, int64_t w);

  private:
    AsppOptions options_;
    std::shared_ptr<Sequential> conv1_, conv2_, conv3_, conv4_, conv5_;
};

} // namespace pg::nn
