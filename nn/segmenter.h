// The full segmentation networks and their builder: U2PL's DeepLabV3+ (encoder / decoder / auxor,
// the keys of U2PL's ModelBuilder) here, AdvSemiSeg's DeepLab-v2 (flat keys) in nn/deeplab_v2.h;
// build_segmenter() makes either from plain options (seg/ fills them from the YAML `net` section).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/deeplab_v2.h"
#include "nn/deeplab_v3plus.h"
#include "nn/resnet.h"
#include "nn/seg_net.h"

namespace pg::nn {

// U2PL's ModelBuilder with `dec_deeplabv3_plus`: encoder (ResNet, variant C by default),
// decoder (nn/deeplab_v3plus.h) on layer1 + layer4, auxor (aux head on layer3) when aux is set.
struct DeepLabV3PlusNetOptions {
    ResNetOptions encoder = resnet_options(ResNetVariant::C, 101);
    DeepLabV3PlusOptions decoder; // in_planes / low_in_planes are set from the encoder
    bool aux = false;
    AuxHeadOptions aux_head; // in_planes and num_classes are set from the encoder / decoder
};

class DeepLabV3Plus : public SegmentationNet {
  public:
    DeepLabV3Plus(const DeepLabV3PlusNetOptions& options, Generator& gen);
    SegOutput forward(const Tensor& image) override;
    int64_t num_classes() const override { return options_.decoder.num_classes; }
    int64_t output_stride() const override { return 4; }
    std::vector<Tensor> backbone_parameters() const override;
    std::vector<Tensor> head_parameters() const override;

    std::shared_ptr<ResNet> encoder;
    std::shared_ptr<DeepLabV3PlusDecoder> decoder;
    std::shared_ptr<AuxHead> auxor; // null without aux

  private:
    DeepLabV3PlusNetOptions options_;
};

enum class SegArch { deeplabv2, deeplabv3plus };

struct SegmenterOptions {
    SegArch arch = SegArch::deeplabv3plus;
    DeepLabV3PlusNetOptions v3plus;
    DeepLabV2Options v2;
};

std::shared_ptr<SegmentationNet> build_segmenter(const SegmenterOptions& options, Generator& gen);
// "deeplabv3plus-resnet101-C", ...: recorded in weight files so a file of another model is refused.
std::string segmenter_name(const SegmenterOptions& options);

} // namespace pg::nn
