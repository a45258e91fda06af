// U2PL's DeepLabV3+ decoder (`dec_deeplabv3_plus`, u2pl/models/decoder.py) and its auxiliary head
// (`Aux_Module`, the `auxor` of U2PL's ModelBuilder). Both take backbone features (NHWC) and know
// nothing of the backbone; a full model registers them as `decoder` and `auxor` beside `encoder`,
// which gives exactly U2PL's checkpoint keys. Read nn/aspp.h first.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/aspp.h"
#include "nn/layers.h"

namespace pg::nn {

// Widths default to U2PL's (ResNet-101, whose layer1 has 256 and layer4 2048 channels); U2PL
// hard-codes every 256 but inner_planes, they are options here so tests can build a tiny head.
struct DeepLabV3PlusOptions {
    int64_t num_classes = 21;
    int64_t in_planes = 2048;    // layer4 channels (ASPP input)
    int64_t low_in_planes = 256; // layer1 channels (low_conv input)
    int64_t low_planes = 256;    // low_conv output
    int64_t inner_planes = 256;  // each ASPP branch (ASPP output: 5 x inner_planes)
    int64_t head_planes = 256;   // head output and hidden width of classifier / representation
    int64_t rep_planes = 256;    // representation output (the per-pixel embedding)
    std::vector<int64_t> dilations = {12, 24, 36};
    bool use_rep = true;  // U2PL's rep_head: build `representation` (semi-supervised configs)
    float dropout = 0.1f; // every Dropout2d; 0 makes train mode deterministic (reference tests)
};

struct DeepLabV3PlusOutput {
    Tensor logits;   // (N, H1, W1, num_classes) at layer1's resolution (stride 4)
    Tensor rep;      // (N, H1, W1, rep_planes), not normalised; undefined without use_rep
    Tensor features; // (N, H1, W1, low + head): what the classifier and representation read
};

// Children in U2PL's registration order (Sequential indices in brackets):
//   low_conv       [0 conv 1x1 low_in->low (bias), 1 BN, 2 ReLU]          on layer1
//   aspp           nn/aspp.h                                              on layer4
//   head           [0 conv 3x3 5 inner->head (no bias), 1 BN, 2 ReLU, 3 Dropout2d]
//   classifier     [0 conv 3x3 low+head->head (bias), 1 BN, 2 ReLU, 3 Dropout2d,
//                   4 conv 3x3 head->head (bias), 5 BN, 6 ReLU, 7 Dropout2d,
//                   8 conv 1x1 head->num_classes (bias)]
//   representation the same as classifier with 8: head->rep_planes (only with use_rep)
// forward: head(aspp(layer4)) is resized (bilinear, align_corners = true) to layer1's size and
// concatenated after low_conv(layer1): [low | head], low_planes + head_planes channels, which feed
// the classifier and the representation. Weights keep PyTorch's default init (as U2PL does).
class DeepLabV3PlusDecoder : public Module {
  public:
    DeepLabV3PlusDecoder(const DeepLabV3PlusOptions& options, Generator& gen);
    // layer1 (N, H1, W1, low_in_planes), layer4 (N, H4, W4, in_planes).
    DeepLabV3PlusOutput forward(const Tensor& layer1, const Tensor& layer4);
    const DeepLabV3PlusOptions& options() const { return options_; }
    // FLOPs (2 x MACs of the convs) of one eval forward, batch 1, with layer1 at h1 x w1 and
    // layer4 at h4 x w4 (a 513 crop on U2PL's ResNet gives 129 x 129 and 65 x 65).
    int64_t forward_flops(int64_t h1, int64_t w1, int64_t h4, int64_t w4);

    std::shared_ptr<Sequential> low_conv, head, classifier, representation;
    std::shared_ptr<Aspp> aspp;

  private:
    DeepLabV3PlusOptions options_;
};

struct AuxHeadOptions {
    int64_t num_classes = 19;
    int64_t in_planes = 1024;   // layer3 channels (U2PL's aux_plane)
    int64_t inner_planes = 256; // hard-coded 256 in U2PL
    float dropout = 0.1f;
};

// U2PL's Aux_Module: aux = [0 conv 3x3 in->inner (bias), 1 BN, 2 ReLU, 3 Dropout2d,
// 4 conv 1x1 inner->num_classes (bias)]. (N, H, W, in_planes) -> (N, H, W, num_classes) logits;
// U2PL weighs its (OHEM) CE by 0.4 on Cityscapes.
class AuxHead : public Layer {
  public:
    AuxHead(const AuxHeadOptions& options, Generator& gen);
    Tensor forward(const Tensor& layer3) override;
    // FLOPs of one eval forward of a (1, h, w, in_planes) input.
    int64_t forward_flops(int64_t h, int64_t w);

    std::shared_ptr<Sequential> aux;

  private:
    AuxHeadOptions options_;
};

} // namespace pg::nn
