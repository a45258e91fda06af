// segmenter_options (seg/model_config.h): reads the `net` section; unknown values are errors
// naming the key and where it came from (the file or a --set).
#include "seg/model_config.h"

#include <algorithm>

#include "tensor/error.h"

namespace pg::seg {

static nn::BatchNormMode parse_bn(const std::string& value, const std::string& where) {
    if (value == "trainable") return nn::BatchNormMode::trainable;
    if (value == "frozen_affine" || value == "batch_stats_frozen_affine")
        return nn::BatchNormMode::frozen_affine;
    if (value == "frozen") return nn::BatchNormMode::frozen;
    throw Error(where + ": bn is '" + value + "', expected trainable, frozen_affine or frozen");
}

nn::ResNetOptions backbone_options(const Config& net, nn::ResNetVariant default_variant) {
    nn::ResNetVariant variant = default_variant;
    // The engine decides which variants and depths exist; the message names the key.
    if (net.has("backbone.variant")) {
        const std::string name = net.get_string("backbone.variant");
        try {
            variant = nn::parse_resnet_variant(name);
        } catch (const Error&) {
            PG_FAIL(net.origin("backbone.variant"), ": net.backbone.variant is '", name,
                    "', expected A (AdvSemiSeg), B (RIPU) or C (U2PL)");
        }
    }
    const int64_t depth = net.get_int("backbone.depth", 101);
    nn::ResNetOptions o;
    try {
        o = nn::resnet_options(variant, int(depth));
    } catch (const Error&) {
        PG_FAIL(net.origin("backbone.depth"), ": net.backbone.depth is ", depth,
                ", expected 18, 34, 50, 101 or 152");
    }
    if (net.has("backbone.blocks")) {
        o.blocks = net.get_int_list("backbone.blocks");
        PG_CHECK(o.blocks.size() == 4 && std::all_of(o.blocks.begin(), o.blocks.end(),
                                                     [](int64_t b) { return b >= 1; }),
                 net.origin("backbone.blocks"), ": net.backbone.blocks is ", shape_str(o.blocks),
                 ", expected 4 block counts >= 1 (one per stage)");
    }
    o.width = float(net.get_float("backbone.width", 1.0));
    if (net.has("backbone.bn"))
        o.bn_mode = parse_bn(net.get_string("backbone.bn"),
                             net.origin("backbone.bn") + ": net.backbone.bn");
    o.zero_init_residual = net.get_bool("backbone.zero_init_residual", o.zero_init_residual);
    return o;
}

nn::SegmenterOptions segmenter_options(const Config& net) {
    nn::SegmenterOptions o;
    std::string arch = net.get_string("arch", "deeplabv3plus");
    int64_t classes = net.get_int("num_classes");
    PG_CHECK(classes >= 1 && classes < 255, net.origin("num_classes"), ": net.num_classes is ",
             classes, ", expected 1..254 (255 is the ignore label)");
    if (arch == "deeplabv3plus") {
        o.arch = nn::SegArch::deeplabv3plus;
        nn::DeepLabV3PlusNetOptions& v = o.v3plus;
        v.encoder = backbone_options(net, nn::ResNetVariant::C);
        v.decoder.num_classes = classes;
        v.decoder.inner_planes = net.get_int("decoder.inner_planes", v.decoder.inner_planes);
        if (net.has("decoder.dilations")) {
            v.decoder.dilations = net.get_int_list("decoder.dilations");
            PG_CHECK(v.decoder.dilations.size() == 3, net.origin("decoder.dilations"),
                     ": net.decoder.dilations has ", v.decoder.dilations.size(),
                     " values, expected 3 (U2PL's are [12, 24, 36])");
        }
        v.decoder.use_rep = net.get_bool("decoder.use_rep", v.decoder.use_rep);
        v.decoder.rep_planes = net.get_int("decoder.rep_planes", v.decoder.rep_planes);
        // U2PL hard-codes 256 for both; small models (the synthetic world's) shrink them.
        v.decoder.head_planes = net.get_int("decoder.head_planes", v.decoder.head_planes);
        v.decoder.low_planes = net.get_int("decoder.low_planes", v.decoder.low_planes);
        v.decoder.dropout = float(net.get_float("decoder.dropout", v.decoder.dropout));
        v.aux = net.has("aux_loss");
    } else if (arch == "deeplabv2") {
        o.arch = nn::SegArch::deeplabv2;
        o.v2.num_classes = classes;
        o.v2.backbone = backbone_options(net, nn::ResNetVariant::A);
        if (net.has("aspp_rates")) o.v2.rates = net.get_int_list("aspp_rates");
        o.v2.legacy_two_branch = net.get_bool("legacy_two_branch", false);
    } else {
        throw Error(net.origin("arch") + ": net.arch is '" + arch +
                    "', expected deeplabv3plus or deeplabv2");
    }
    return o;
}

} // namespace pg::seg
