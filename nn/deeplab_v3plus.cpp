// U2PL's DeepLabV3+ decoder and auxiliary head (nn/deeplab_v3plus.h): the layer stacks with their
// Sequential indices, the low-level / ASPP fusion, and FLOP counts.
#include "nn/deeplab_v3plus.h"

#include <functional>

#include "autograd/ops.h"
#include "nn/flops.h"
#include "tensor/error.h"

namespace pg::nn {

static std::shared_ptr<Conv2d> make_conv(int64_t in, int64_t out, int64_t kernel, bool bias,
                                         Generator& gen) {
    Conv2dOptions o{in, out, kernel};
    o.padding = kernel / 2;
    o.bias = bias;
    return std::make_shared<Conv2d>(o, gen);
}

// conv -> BN -> ReLU appended to `seq` (indices i, i+1, i+2).
static void add_conv_bn_relu(Sequential& seq, int64_t in, int64_t out, int64_t kernel, bool bias,
                             Generator& gen) {
    seq.add(make_conv(in, out, kernel, bias, gen));
    seq.add(std::make_shared<BatchNorm2d>(out));
    seq.add(std::make_shared<ReLU>());
}

// U2PL's classifier / representation stack: two 3x3 conv-BN-ReLU-Dropout2d, then a 1x1 to `out`.
static std::shared_ptr<Sequential> make_classifier(int64_t in, int64_t hidden, int64_t out, float p,
                                                   Generator& gen) {
    auto seq = std::make_shared<Sequential>();
    add_conv_bn_relu(*seq, in, hidden, 3, true, gen);     // 0, 1, 2
    seq->add(std::make_shared<Dropout2d>(p));             // 3
    add_conv_bn_relu(*seq, hidden, hidden, 3, true, gen); // 4, 5, 6
    seq->add(std::make_shared<Dropout2d>(p));             // 7
    seq->add(make_conv(hidden, out, 1, true, gen));       // 8
    return seq;
}

// ---- DeepLabV3PlusDecoder ----

DeepLabV3PlusDecoder::DeepLabV3PlusDecoder(const DeepLabV3PlusOptions& o, Generator& gen)
    : Module("dec_deeplabv3_plus"), options_(o) {
    PG_CHECK(o.num_classes > 0 && o.in_planes > 0 && o.low_in_planes > 0 && o.low_planes > 0 &&
                 o.inner_planes > 0 && o.head_planes > 0 && o.rep_planes > 0,
             "DeepLabV3PlusDecoder: every width must be positive (classes ", o.num_classes, ", in ",
             o.in_planes, ", low_in ", o.low_in_planes, ", low ", o.low_planes, ", inner ",
             o.inner_planes, ", head ", o.head_planes, ", rep ", o.rep_planes, ")");
    // U2PL's __init__ order: low_conv, aspp, head, classifier, representation.
    low_conv = register_module("low_conv", std::make_shared<Sequential>());
    add_conv_bn_relu(*low_conv, o.low_in_planes, o.low_planes, 1, true, gen);

    aspp = register_module(
        "aspp", std::make_shared<Aspp>(AsppOptions{o.in_planes, o.inner_planes, o.dilations}, gen));

    head = register_module("head", std::make_shared<Sequential>());
    add_conv_bn_relu(*head, aspp->out_planes(), o.head_planes, 3, false, gen);
    head->add(std::make_shared<Dropout2d>(o.dropout));

    int64_t fused = o.low_planes + o.head_planes; // [low | head] channels
    classifier = register_module(
        "classifier", make_classifier(fused, o.head_planes, o.num_classes, o.dropout, gen));
    if (o.use_rep)
        representation = register_module(
            "representation", make_classifier(fused, o.head_planes, o.rep_planes, o.dropout, gen));
}

DeepLabV3PlusOutput DeepLabV3PlusDecoder::forward(const Tensor& layer1, const Tensor& layer4) {
    const DeepLabV3PlusOptions& o = options_;
    PG_CHECK(layer1.dim() == 4 && layer1.size(3) == o.low_in_planes,
             "DeepLabV3PlusDecoder: layer1 features must be (N, H, W, ", o.low_in_planes, "), got ",
             layer1.dim(), " dims with ", layer1.dim() ? layer1.size(-1) : 0, " channels");
    PG_CHECK(layer4.dim() == 4 && layer4.size(0) == layer1.size(0),
             "DeepLabV3PlusDecoder: layer4 features must be 4-d with layer1's batch ",
             layer1.size(0), ", got ", layer4.dim(), " dims, batch ",
             layer4.dim() ? layer4.size(0) : 0);
    // Same call order as U2PL (aspp, low_conv, head): dropout masks are drawn in this order.
    Tensor x = aspp->forward(layer4);       // (N, H4, W4, 5 inner)
    Tensor low = low_conv->forward(layer1); // (N, H1, W1, low)
    x = head->forward(x);                   // (N, H4, W4, head)
    x = resize_bilinear(x, low.size(1), low.size(2), /*align_corners=*/true); // (N, H1, W1, head)
    Tensor fused = concat({low, x}, 3); // (N, H1, W1, low + head)
    DeepLabV3PlusOutput out;
    out.logits = classifier->forward(fused);
    if (representation) out.rep = representation->forward(fused);
    out.features = fused;
    return out;
}

int64_t DeepLabV3PlusDecoder::forward_flops(int64_t h1, int64_t w1, int64_t h4, int64_t w4) {
    return count_forward_flops(*this, [&] {
        forward(Tensor::zeros({1, h1, w1, options_.low_in_planes}),
                Tensor::zeros({1, h4, w4, options_.in_planes}));
    });
}

// ---- AuxHead ----

AuxHead::AuxHead(const AuxHeadOptions& o, Generator& gen) : Layer("Aux_Module"), options_(o) {
    PG_CHECK(o.num_classes > 0 && o.in_planes > 0 && o.inner_planes > 0,
             "AuxHead: widths must be positive (classes ", o.num_classes, ", in ", o.in_planes,
             ", inner ", o.inner_planes, ")");
    aux = register_module("aux", std::make_shared<Sequential>());
    add_conv_bn_relu(*aux, o.in_planes, o.inner_planes, 3, true, gen); // 0, 1, 2
    aux->add(std::make_shared<Dropout2d>(o.dropout));                  // 3
    aux->add(make_conv(o.inner_planes, o.num_classes, 1, true, gen));  // 4
}

Tensor AuxHead::forward(const Tensor& layer3) {
    PG_CHECK(layer3.dim() == 4 && layer3.size(3) == options_.in_planes,
             "AuxHead: layer3 features must be (N, H, W, ", options_.in_planes, "), got ",
             layer3.dim(), " dims with ", layer3.dim() ? layer3.size(-1) : 0, " channels");
    return aux->forward(layer3);
}

int64_t AuxHead::forward_flops(int64_t h, int64_t w) {
    return count_forward_flops(*this, [&] {
        forward(Tensor::zeros({1, h, w, options_.in_planes}));
    });
}

} // namespace pg::nn
