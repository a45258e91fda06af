// DeepLab-v2 (nn/deeplab_v2.h): the ASPP-sum classifier and the network that puts it on a ResNet
// under AdvSemiSeg's flat parameter names.
#include "nn/deeplab_v2.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/losses.h"
#include "tensor/error.h"

namespace pg::nn {

// ---- ASPP-sum ----

AsppSum::AsppSum(const AsppSumOptions& o, Generator& gen) : Layer("AsppSum"), options_(o) {
    PG_CHECK(!o.rates.empty(), "AsppSum: needs at least one rate");
    PG_CHECK(!o.legacy_two_branch || o.rates.size() >= 2,
             "AsppSum: legacy_two_branch needs at least two rates, got ", o.rates.size());
    conv2d_list = register_module("conv2d_list", std::make_shared<Sequential>());
    for (int64_t rate : o.rates) {
        PG_CHECK(rate >= 1, "AsppSum: rates must be >= 1, got ", rate);
        Conv2dOptions c{o.in_channels, o.num_classes, 3};
        c.dilation = rate, c.padding = rate, c.bias = true;
        auto conv = std::make_shared<Conv2d>(c, gen); // bias keeps PyTorch's default init
        init_normal(conv->weight, 0.01f, gen);
        conv2d_list->add(conv);
    }
}

// out = sum_i conv_i(x); the legacy forward stops after conv_0 + conv_1.
Tensor AsppSum::forward(const Tensor& x) {
    const size_t branches = options_.legacy_two_branch ? 2 : conv2d_list->size();
    Tensor out = (*conv2d_list)[0]->forward(x);
    for (size_t i = 1; i < branches; i++) out = out + (*conv2d_list)[i]->forward(x);
    return out;
}

// ---- the network ----

DeepLabV2::DeepLabV2(const DeepLabV2Options& o, Generator& gen)
    : SegmentationNet("DeepLabV2"), options_(o) {
    backbone = std::make_shared<ResNet>(o.backbone, gen);
    // Adopt the backbone's children so the keys are conv1.weight, layer1.0.conv1.weight, ...
    // (AdvSemiSeg's ResNet is the whole model) rather than backbone.conv1.weight.
    for (const auto& [name, child] : backbone->children()) register_module(name, child);
    AsppSumOptions head;
    head.in_channels = backbone->out_channels();
    head.num_classes = o.num_classes;
    head.rates = o.rates;
    head.legacy_two_branch = o.legacy_two_branch;
    layer5 = register_module("layer5", std::make_shared<AsppSum>(head, gen));
}

void DeepLabV2::on_train(bool on) {
    if (backbone) backbone->train(on);
}

SegOutput DeepLabV2::forward(const Tensor& x) {
    Tensor layer4 = backbone->forward(x).layer4;
    return {layer5->forward(layer4), Tensor(), Tensor(), layer4};
}

Tensor DeepLabV2::forward_upsampled(const Tensor& x) {
    return upsample_logits(forward(x).logits, x.size(1), x.size(2));
}

std::vector<Tensor> DeepLabV2::backbone_parameters() const {
    return backbone->trainable_parameters();
}

std::vector<Tensor> DeepLabV2::head_parameters() const { return layer5->trainable_parameters(); }

} // namespace pg::nn
