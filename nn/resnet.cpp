// ResNet backbones (nn/resnet.h): the per-block plan (strides, dilations, shortcuts) of the three
// variants, the two block types, the stems, and initialisation as each original does it.
#include "nn/resnet.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include "autograd/ops.h"
#include "nn/flops.h"
#include "tensor/error.h"

namespace pg::nn {

// ---- options ----

ResNetOptions resnet_options(ResNetVariant variant, int depth) {
    ResNetOptions o;
    o.variant = variant;
    switch (depth) {
    case 18:
        o.block = ResNetBlock::basic, o.blocks = {2, 2, 2, 2};
        break;
    case 34:
        o.block = ResNetBlock::basic, o.blocks = {3, 4, 6, 3};
        break;
    case 50:
        o.block = ResNetBlock::bottleneck, o.blocks = {3, 4, 6, 3};
        break;
    case 101:
        o.block = ResNetBlock::bottleneck, o.blocks = {3, 4, 23, 3};
        break;
    case 152:
        o.block = ResNetBlock::bottleneck, o.blocks = {3, 8, 36, 3};
        break;
    default:
        PG_FAIL("resnet_options: depth must be 18, 34, 50, 101 or 152, got ", depth);
    }
    o.bn_mode = variant == ResNetVariant::C ? BatchNormMode::trainable : BatchNormMode::frozen;
    o.zero_init_residual = variant == ResNetVariant::C;
    return o;
}

ResNetVariant parse_resnet_variant(const std::string& name) {
    std::string n = name;
    for (char& c : n) c = char(std::toupper((unsigned char)c));
    if (n == "A") return ResNetVariant::A;
    if (n == "B") return ResNetVariant::B;
    if (n == "C") return ResNetVariant::C;
    PG_FAIL("resnet: variant must be A (AdvSemiSeg), B (RIPU) or C (U2PL), got '", name, "'");
}

const char* resnet_variant_name(ResNetVariant variant) {
    switch (variant) {
    case ResNetVariant::A:
        return "A";
    case ResNetVariant::B:
        return "B";
    default:
        return "C";
    }
}

// ---- the plan ----

static int64_t scaled(int64_t base, float width) {
    return std::max<int64_t>(1, std::lround(double(base) * double(width)));
}

// Dilation of block b in stage s (0-based). Stages 0 and 1 are never dilated.
// B and C follow torchvision's replace_stride_with_dilation: the first block of a dilated stage
// keeps the previous stage's dilation. C then multiplies layer4 by U2PL's multi-grid (2, 2, 4):
// first block 2 x 2, the others 4 x (2, 4).
static int64_t block_dilation(ResNetVariant v, int s, int64_t b) {
    if (s < 2) return 1;
    if (s == 2) return (v == ResNetVariant::A || b > 0) ? 2 : 1;
    if (v == ResNetVariant::A) return 4;
    if (v == ResNetVariant::B) return b == 0 ? 2 : 4;
    const int64_t multi_grid[3] = {4, 8, 16};
    return multi_grid[b];
}

std::vector<std::vector<BlockPlan>> resnet_plan(const ResNetOptions& o) {
    PG_CHECK(o.blocks.size() == 4, "resnet: expected 4 stage block counts, got ", o.blocks.size());
    for (int64_t n : o.blocks)
        PG_CHECK(n >= 1, "resnet: every stage needs at least one block, got ", n);
    PG_CHECK(o.width > 0.f, "resnet: width multiplier must be positive, got ", o.width);
    PG_CHECK(o.variant != ResNetVariant::C || o.blocks[3] <= 3,
             "resnet: variant C's multi-grid (2, 2, 4) covers at most 3 blocks in layer4, got ",
             o.blocks[3]);
    const int64_t expansion = o.block == ResNetBlock::bottleneck ? 4 : 1;
    int64_t in = scaled(o.variant == ResNetVariant::C ? 128 : 64, o.width); // stem output
    std::vector<std::vector<BlockPlan>> plan(4);
    for (int s = 0; s < 4; s++) {
        const int64_t planes = scaled(int64_t(64) << s, o.width);
        const int64_t out = planes * expansion;
        for (int64_t b = 0; b < o.blocks[s]; b++) {
            const int64_t stride = (s == 1 && b == 0) ? 2 : 1;
            // AdvSemiSeg also forces a projection in dilated stages; their first block changes
            // the width anyway, so the rule below gives the same blocks for every variant.
            const bool downsample = b == 0 && (stride != 1 || in != out);
            plan[s].push_back(
                {in, planes, out, stride, block_dilation(o.variant, s, b), downsample});
            in = out;
        }
    }
    return plan;
}

// ---- blocks ----

static std::shared_ptr<Conv2d> make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                         int64_t dilation, Generator& gen) {
    Conv2dOptions o{in, out, kernel};
    o.stride = stride;
    o.dilation = dilation;
    o.padding = kernel == 3 ? dilation : 0; // "padding of a 3x3 conv equals its dilation"
    o.bias = false;
    return std::make_shared<Conv2d>(o, gen);
}

static std::shared_ptr<BatchNorm2d> make_bn(int64_t channels, const ResNetOptions& options) {
    return std::make_shared<BatchNorm2d>(channels, 1e-5f, 0.1f, options.bn_mode);
}

// downsample = Sequential(0: 1x1 conv with the block's stride, 1: BN), or null.
static std::shared_ptr<Sequential> make_shortcut(const BlockPlan& p, const ResNetOptions& options,
                                                 Generator& gen) {
    if (!p.downsample) return nullptr;
    auto seq = std::make_shared<Sequential>();
    seq->add(make_conv(p.in_channels, p.out_channels, 1, p.stride, 1, gen));
    seq->add(make_bn(p.out_channels, options));
    return seq;
}

BasicBlock::BasicBlock(const BlockPlan& p, const ResNetOptions& options, Generator& gen)
    : Layer("BasicBlock") {
    conv1 =
        register_module("conv1", make_conv(p.in_channels, p.planes, 3, p.stride, p.dilation, gen));
    bn1 = register_module("bn1", make_bn(p.planes, options));
    conv2 = register_module("conv2", make_conv(p.planes, p.out_channels, 3, 1, p.dilation, gen));
    bn2 = register_module("bn2", make_bn(p.out_channels, options));
    downsample = make_shortcut(p, options, gen);
    if (downsample) register_module("downsample", downsample);
}

Tensor BasicBlock::forward(const Tensor& x) {
    Tensor out = bn1->forward_relu(conv1->forward(x));
    out = bn2->forward(conv2->forward(out));
    Tensor identity = downsample ? downsample->forward(x) : x;
    return add_relu(out, identity);
}

Bottleneck::Bottleneck(const BlockPlan& p, const ResNetOptions& options, Generator& gen)
    : Layer("Bottleneck") {
    const bool stride_on_1x1 = options.variant == ResNetVariant::A; // the "caffe" placement
    const int64_t s1 = stride_on_1x1 ? p.stride : 1, s2 = stride_on_1x1 ? 1 : p.stride;
    conv1 = register_module("conv1", make_conv(p.in_channels, p.planes, 1, s1, 1, gen));
    bn1 = register_module("bn1", make_bn(p.planes, options));
    conv2 = register_module("conv2", make_conv(p.planes, p.planes, 3, s2, p.dilation, gen));
    bn2 = register_module("bn2", make_bn(p.planes, options));
    conv3 = register_module("conv3", make_conv(p.planes, p.out_channels, 1, 1, 1, gen));
    bn3 = register_module("bn3", make_bn(p.out_channels, options));
    downsample = make_shortcut(p, options, gen);
    if (downsample) register_module("downsample", downsample);
}

// (N, H, W, in) -> (N, H', W', 4 planes): three conv+BN, ReLU between, residual sum, ReLU.
Tensor Bottleneck::forward(const Tensor& x) {
    Tensor out = bn1->forward_relu(conv1->forward(x));
    out = bn2->forward_relu(conv2->forward(out));
    out = bn3->forward(conv3->forward(out));
    Tensor identity = downsample ? downsample->forward(x) : x;
    return add_relu(out, identity);
}

// ---- the network ----

ResNet::ResNet(const ResNetOptions& options, Generator& gen)
    : Module("ResNet"), options_(options), plan_(resnet_plan(options)) {
    build_stem(gen);
    std::shared_ptr<Sequential>* stages[4] = {&layer1, &layer2, &layer3, &layer4};
    for (int s = 0; s < 4; s++) {
        auto stage = std::make_shared<Sequential>();
        for (const BlockPlan& p : plan_[s]) {
            if (options.block == ResNetBlock::bottleneck)
                stage->add(std::make_shared<Bottleneck>(p, options, gen));
            else
                stage->add(std::make_shared<BasicBlock>(p, options, gen));
        }
        *stages[s] = register_module("layer" + std::to_string(s + 1), stage);
    }
    initialise(gen);
}

// A, B: one 7x7 stride-2 conv. C: three 3x3 convs (the first with stride 2) whose BN+ReLU sit
// inside the Sequential, except the last conv's BN, which is the top-level bn1 (U2PL's layout).
void ResNet::build_stem(Generator& gen) {
    const int64_t c64 = scaled(64, options_.width);
    if (options_.variant == ResNetVariant::C) {
        const int64_t c128 = scaled(128, options_.width);
        auto stem = std::make_shared<Sequential>();
        stem->add(make_conv(3, c64, 3, 2, 1, gen));
        stem->add(make_bn(c64, options_));
        stem->add(std::make_shared<ReLU>());
        stem->add(make_conv(c64, c64, 3, 1, 1, gen));
        stem->add(make_bn(c64, options_));
        stem->add(std::make_shared<ReLU>());
        stem->add(make_conv(c64, c128, 3, 1, 1, gen));
        conv1 = register_module("conv1", std::shared_ptr<Layer>(stem));
        bn1 = register_module("bn1", make_bn(c128, options_));
    } else {
        Conv2dOptions o{3, c64, 7};
        o.stride = 2, o.padding = 3, o.bias = false;
        conv1 = register_module("conv1", std::shared_ptr<Layer>(std::make_shared<Conv2d>(o, gen)));
        bn1 = register_module("bn1", make_bn(c64, options_));
    }
    // 3x3 s2 p1; A and C round the output size up (ceil_mode), torchvision (B) down.
    maxpool = std::make_shared<MaxPool2d>(3, 2, 1, options_.variant != ResNetVariant::B);
}

static void for_each_module(Module& m, const std::function<void(Module&)>& f) {
    f(m);
    for (const auto& child : m.children()) for_each_module(*child.second, f);
}

// A: `m.weight.data.normal_(0, 0.01)` on every conv (AdvSemiSeg); B, C: kaiming_normal_
// (fan_out, relu). BN weight 1 and bias 0 are the layer's defaults already.
void ResNet::initialise(Generator& gen) {
    for_each_module(*this, [&](Module& m) {
        auto* conv = dynamic_cast<Conv2d*>(&m);
        if (conv == nullptr) return;
        if (options_.variant == ResNetVariant::A)
            init_normal(conv->weight, 0.01f, gen);
        else
            init_kaiming_normal_fan_out(conv->weight, gen);
    });
    if (!options_.zero_init_residual) return;
    for (const auto& stage : {layer1, layer2, layer3, layer4}) {
        for (size_t i = 0; i < stage->size(); i++) {
            if (auto* b = dynamic_cast<Bottleneck*>((*stage)[i].get()))
                init_constant(b->bn3->weight, 0.f);
            if (auto* b = dynamic_cast<BasicBlock*>((*stage)[i].get()))
                init_constant(b->bn2->weight, 0.f);
        }
    }
}

// x (N, H, W, 3) -> stage outputs; layer1 at stride 4, the others at stride 8.
ResNetFeatures ResNet::forward(const Tensor& x) {
    PG_CHECK(x.dim() == 4 && x.size(3) == 3, "ResNet: expected an (N, H, W, 3) image, got ",
             x.dim(), " dims with ", x.dim() == 4 ? x.size(3) : 0, " channels");
    Tensor h = maxpool->forward(bn1->forward_relu(conv1->forward(x)));
    ResNetFeatures f;
    f.layer1 = layer1->forward(h);
    f.layer2 = layer2->forward(f.layer1);
    f.layer3 = layer3->forward(f.layer2);
    f.layer4 = layer4->forward(f.layer3);
    return f;
}

std::vector<int64_t> ResNet::stage_channels() const {
    std::vector<int64_t> c;
    for (const auto& stage : plan_) c.push_back(stage.back().out_channels);
    return c;
}

// Runs in eval mode (the mode is restored to the top-level one afterwards).
int64_t ResNet::forward_flops(int64_t h, int64_t w) {
    return count_forward_flops(*this, [&] {
        forward(Tensor::zeros({1, h, w, 3}, DType::f32, device()));
    });
}

} // namespace pg::nn
