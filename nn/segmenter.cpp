// DeepLabV3Plus (U2PL's ModelBuilder) and build_segmenter (nn/segmenter.h).
#include "nn/segmenter.h"

#include "tensor/error.h"

namespace pg::nn {

DeepLabV3Plus::DeepLabV3Plus(const DeepLabV3PlusNetOptions& o, Generator& gen)
    : SegmentationNet("DeepLabV3Plus"), options_(o) {
    encoder = register_module("encoder", std::make_shared<ResNet>(o.encoder, gen));
    std::vector<int64_t> channels = encoder->stage_channels(); // layer1..layer4
    options_.decoder.low_in_planes = channels[0];
    options_.decoder.in_planes = channels[3];
    decoder =
        register_module("decoder", std::make_shared<DeepLabV3PlusDecoder>(options_.decoder, gen));
    if (o.aux) {
        options_.aux_head.in_planes = channels[2];
        options_.aux_head.num_classes = options_.decoder.num_classes;
        auxor = register_module("auxor", std::make_shared<AuxHead>(options_.aux_head, gen));
    }
}

// U2PL's ModelBuilder.forward: the decoder on (layer1, layer4), the aux head on layer3.
SegOutput DeepLabV3Plus::forward(const Tensor& image) {
    ResNetFeatures f = encoder->forward(image);
    DeepLabV3PlusOutput d = decoder->forward(f.layer1, f.layer4);
    SegOutput out{d.logits, d.rep, Tensor(), d.features};
    if (auxor) out.aux = auxor->forward(f.layer3);
    return out;
}

std::vector<Tensor> DeepLabV3Plus::backbone_parameters() const {
    return encoder->trainable_parameters();
}

std::vector<Tensor> DeepLabV3Plus::head_parameters() const {
    std::vector<Tensor> params = decoder->trainable_parameters();
    if (auxor)
        for (const Tensor& p : auxor->trainable_parameters()) params.push_back(p);
    return params;
}

std::shared_ptr<SegmentationNet> build_segmenter(const SegmenterOptions& options, Generator& gen) {
    if (options.arch == SegArch::deeplabv2) return std::make_shared<DeepLabV2>(options.v2, gen);
    return std::make_shared<DeepLabV3Plus>(options.v3plus, gen);
}

static std::string backbone_name(const ResNetOptions& o) {
    int64_t depth = 2; // stem conv + fc in the usual count: 3 (or 2) convs per block
    for (int64_t b : o.blocks) depth += b * (o.block == ResNetBlock::bottleneck ? 3 : 2);
    std::string name = "resnet" + std::to_string(depth) + "-" + resnet_variant_name(o.variant);
    if (o.width != 1.f) name += "-w" + std::to_string(o.width).substr(0, 6);
    return name;
}

std::string segmenter_name(const SegmenterOptions& options) {
    if (options.arch == SegArch::deeplabv2)
        return "deeplabv2-" + backbone_name(options.v2.backbone);
    return "deeplabv3plus-" + backbone_name(options.v3plus.encoder);
}

} // namespace pg::nn
