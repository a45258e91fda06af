// FCDiscriminator (nn/discriminator.h): five strided 4x4 convs with LeakyReLU(0.2) between them.
#include "nn/discriminator.h"

#include "autograd/ops.h"
#include "nn/flops.h"
#include "tensor/error.h"

namespace pg::nn {

static std::shared_ptr<Conv2d> make_conv4x4(int64_t in, int64_t out, int64_t stride,
                                            Generator& gen) {
    Conv2dOptions o{in, out, 4};
    o.stride = stride, o.padding = 1, o.bias = true;
    return std::make_shared<Conv2d>(o, gen);
}

static int strided_convs(int64_t stride) {
    for (int k = 1; k <= 5; ++k)
        if (stride == (int64_t(1) << k)) return k;
    throw Error("FCDiscriminator: stride " + std::to_string(stride) +
                ", expected 2, 4, 8, 16 or 32");
}

FCDiscriminator::FCDiscriminator(const FCDiscriminatorOptions& o, Generator& gen)
    : Layer("FCDiscriminator"), options_(o) {
    PG_CHECK(o.num_classes > 0 && o.ndf > 0, "FCDiscriminator: num_classes ", o.num_classes,
             " and ndf ", o.ndf, " must be positive");
    int k = strided_convs(o.stride);
    auto stride = [k](int layer) { return layer < k ? int64_t(2) : int64_t(1); };
    conv1 = register_module("conv1", make_conv4x4(o.num_classes, o.ndf, stride(0), gen));
    conv2 = register_module("conv2", make_conv4x4(o.ndf, o.ndf * 2, stride(1), gen));
    conv3 = register_module("conv3", make_conv4x4(o.ndf * 2, o.ndf * 4, stride(2), gen));
    conv4 = register_module("conv4", make_conv4x4(o.ndf * 4, o.ndf * 8, stride(3), gen));
    classifier = register_module("classifier", make_conv4x4(o.ndf * 8, 1, stride(4), gen));
}

// The output size of a side n: floor(n / 2) per stride-2 conv, n - 1 per stride-1 conv.
static int64_t output_side(int64_t n, int strided) {
    for (int layer = 0; layer < 5; ++layer) n = layer < strided ? n / 2 : n - 1;
    return n;
}

// (N, H, W, C) -> (N, H', W', 1) with H' = H / stride at stride 32 (output_side in general).
Tensor FCDiscriminator::forward(const Tensor& x) {
    PG_CHECK(x.dim() == 4 && x.size(3) == options_.num_classes,
             "FCDiscriminator: expected (N, H, W, ", options_.num_classes, "), got ", x.dim(),
             " dims with ", x.dim() == 4 ? x.size(3) : 0, " channels");
    int k = strided_convs(options_.stride);
    PG_CHECK(output_side(x.size(1), k) >= 1 && output_side(x.size(2), k) >= 1,
             "FCDiscriminator: input ", x.size(1), "x", x.size(2), " is too small for stride ",
             options_.stride, ": the five convs would leave nothing");
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
