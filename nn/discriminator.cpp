// FCDiscriminator (nn/discriminator.h): five strided 4x4 convs with LeakyReLU(0.2) between them.
#include "nn/discriminator.h"

#include "autograd/ops.h"
#include "nn/flops.h"
#include "tensor/error.h"

namespace pg::nn {

static std::shared_ptr<Conv2d> make_conv4x4(int64_t in, int64_t out, Generator& gen) {
    Conv2dOptions o{in, out, 4};
    o.stride = 2, o.padding = 1, o.bias = true;
    return std::make_shared<Conv2d>(o, gen);
}

FCDiscriminator::FCDiscriminator(const FCDiscriminatorOptions& o, Generator& gen)
    : Layer("FCDiscriminator"), options_(o) {
    PG_CHECK(o.num_classes > 0 && o.ndf > 0, "FCDiscriminator: num_classes ", o.num_classes,
             " and ndf ", o.ndf, " must be positive");
    conv1 = register_module("conv1", make_conv4x4(o.num_classes, o.ndf, gen));
    conv2 = register_module("conv2", make_conv4x4(o.ndf, o.ndf * 2, gen));
    conv3 = register_module("conv3", make_conv4x4(o.ndf * 2, o.ndf * 4, gen));
    conv4 = register_module("conv4", make_conv4x4(o.ndf * 4, o.ndf * 8, gen));
    classifier = register_module("classifier", make_conv4x4(o.ndf * 8, 1, gen));
}

// (N, H, W, C) -> (N, H/32, W/32, 1); each 4x4 s2 p1 conv maps n to floor(n / 2), so every
// spatial size must stay >= 1 through the five convs (inputs of at least 32 x 32).
Tensor FCDiscriminator::forward(const Tensor& x) {
    PG_CHECK(x.dim() == 4 && x.size(3) == options_.num_classes,
             "FCDiscriminator: expected (N, H, W, ", options_.num_classes, "), got ", x.dim(),
             " dims with ", x.dim() == 4 ? x.size(3) : 0, " channels");
    PG_CHECK(x.size(1) >= 32 && x.size(2) >= 32, "FCDiscriminator: input ", x.size(1), "x",
             x.size(2), " is smaller than 32x32, the five stride-2 convs would leave nothing");
    const float slope = 0.2f;
    Tensor h = leaky_relu(conv1->forward(x), slope);
    h = leaky_relu(conv2->forward(h), slope);
    h = leaky_relu(conv3->forward(h), slope);
    h = leaky_relu(conv4->forward(h), slope);
    return classifier->forward(h);
}

int64_t FCDiscriminator::forward_flops(int64_t h, int64_t w) {
    return count_forward_flops(*this, [&] {
        forward(Tensor::zeros({1, h, w, options_.num_classes}, DType::f32, device()));
    });
}

} // namespace pg::nn
