// U2PL's ASPP (nn/aspp.h): image pooling, a 1x1 and three dilated 3x3 branches, each conv + BN +
// ReLU, concatenated along channels (the last axis, NHWC).
#include "nn/aspp.h"

#include "autograd/ops.h"
#include "nn/flops.h"
#include "tensor/error.h"

namespace pg::nn {

// conv (no bias, padding = dilation for a 3x3) -> BN -> ReLU appended to `seq`.
static void add_conv_bn_relu(Sequential& seq, int64_t in, int64_t out, int64_t kernel,
                             int64_t dilation, Generator& gen) {
    Conv2dOptions o{in, out, kernel};
    o.padding = kernel == 3 ? dilation : 0;
    o.dilation = dilation;
    o.bias = false;
    seq.add(std::make_shared<Conv2d>(o, gen));
    seq.add(std::make_shared<BatchNorm2d>(out));
    seq.add(std::make_shared<ReLU>());
}

Aspp::Aspp(const AsppOptions& o, Generator& gen) : Layer("ASPP"), options_(o) {
    PG_CHECK(o.in_planes > 0 && o.inner_planes > 0, "Aspp: in_planes ", o.in_planes,
             " and inner_planes ", o.inner_planes, " must be positive");
    PG_CHECK(o.dilations.size() == 3, "Aspp: expected 3 dilations (U2PL uses 12, 24, 36), got ",
             o.dilations.size());
    for (int64_t d : o.dilations) PG_CHECK(d > 0, "Aspp: dilation ", d, " must be positive");
    // Construction order = registration order = PyTorch's parameter order.
    auto branch = [&](const char* name) {
        return register_module(name, std::make_shared<Sequential>());
    };
    conv1_ = branch("conv1");
    conv1_->add(std::make_shared<GlobalAvgPool>());
    add_conv_bn_relu(*conv1_, o.in_planes, o.inner_planes, 1, 1, gen);
    conv2_ = branch("conv2");
    add_conv_bn_relu(*conv2_, o.in_planes, o.inner_planes, 1, 1, gen);
    conv3_ = branch("conv3");
    add_conv_bn_relu(*conv3_, o.in_planes, o.inner_planes, 3, o.dilations[0], gen);
    conv4_ = branch("conv4");
    add_conv_bn_relu(*conv4_, o.in_planes, o.inner_planes, 3, o.dilations[1], gen);
    conv5_ = branch("conv5");
    add_conv_bn_relu(*conv5_, o.in_planes, o.inner_planes, 3, o.dilations[2], gen);
}

Tensor Aspp::forward(const Tensor& x) {
    PG_CHECK(x.dim() == 4 && x.size(3) == options_.in_planes, "Aspp: expected (N, H, W, ",
             options_.in_planes, ") features, got ", x.dim(), " dims with ",
             x.dim() ? x.size(-1) : 0, " channels");
    int64_t h = x.size(1), w = x.size(2);
    // (N, 1, 1, inner) -> (N, H, W, inner): from one pixel, align_corners resizing broadcasts.
    Tensor pooled = resize_bilinear(conv1_->forward(x), h, w, /*align_corners=*/true);
    // (N, H, W, 5 inner)
    return concat(
        {pooled, conv2_->forward(x), conv3_->forward(x), conv4_->forward(x), conv5_->forward(x)},
        3);
}

int64_t Aspp::forward_flops(int64_t h, int64_t w) {
    return count_forward_flops(*this, [&] {
        forward(Tensor::zeros({1, h, w, options_.in_planes}));
    });
}

} // namespace pg::nn
