// ResNet backbones for segmentation at output stride 8, in the three variants the methods use
// (shared/specs/networks.md): A = DeepLab-v2 "caffe" ResNet of AdvSemiSeg, B = torchvision's
// dilated ResNet of RIPU, C = U2PL's deep-stem ResNet with multi-grid. Parameter names are the
// PyTorch state_dict keys of each original. Read resnet_plan() first: it is the whole wiring.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace pg::nn {

//            stem                         max-pool    stride on      layer3 dil    layer4 dil
// A (AdvSemiSeg) 7x7 s2                   ceil_mode   first 1x1      2 2 2 ...     4 4 4 ...
// B (RIPU)       7x7 s2                   floor       the 3x3        1 2 2 ...     2 4 4 ...
// C (U2PL)       3x3 s2, 3x3, 3x3 (deep)  ceil_mode   the 3x3        1 2 2 ...     4 8 16
// Every variant: layer2 has stride 2, layer3 and layer4 stride 1 (dilated), so layer1 is at
// stride 4 and layers 2-4 at stride 8.
enum class ResNetVariant { A, B, C };
enum class ResNetBlock { basic, bottleneck }; // BasicBlock (18/34, expansion 1), Bottleneck (4)

struct ResNetOptions {
    ResNetVariant variant = ResNetVariant::C;
    ResNetBlock block = ResNetBlock::bottleneck;
    std::vector<int64_t> blocks = {3, 4, 23, 3}; // blocks per stage (ResNet-101)
    // Multiplies every width (stem 64 (C: 64, 64, 128), planes 64/128/256/512); each width is
    // max(1, round(width * base)). 1 is the real network; 1/16 or 1/32 make CPU-test networks.
    float width = 1.f;
    BatchNormMode bn_mode = BatchNormMode::trainable; // every BN of the backbone
    // The last BN of each residual branch (bn3, or bn2 in a BasicBlock) starts with gamma 0, so
    // every block starts as the identity (U2PL's configs set it).
    bool zero_init_residual = false;
};

// The options of a standard depth (18, 34: BasicBlock; 50, 101, 152: Bottleneck) with each
// method's BN: A frozen (eval-mode BN, fixed affine; AdvSemiSeg's original is frozen_affine),
// B frozen (RIPU's FrozenBatchNorm2d), C trainable with zero_init_residual (U2PL's configs).
ResNetOptions resnet_options(ResNetVariant variant, int depth);
// "A", "B" or "C" (case-insensitive) -> the variant; anything else is an error naming it.
ResNetVariant parse_resnet_variant(const std::string& name);
const char* resnet_variant_name(ResNetVariant variant);

// One residual block as built: channels, where its stride and dilation go, and whether it has a
// projection shortcut (`downsample` = 1x1 conv with the block's stride + BN).
struct BlockPlan {
    int64_t in_channels, planes, out_channels; // out = planes x expansion
    int64_t stride, dilation;
    bool downsample;
};
// plan[s][b]: block b of stage s (layer s+1). Pure function of the options; checks them
// (4 stages, at least one block each, width > 0; C's multi-grid (2, 2, 4) has three entries, so
// C allows at most 3 blocks in layer4, as U2PL's code does).
std::vector<std::vector<BlockPlan>> resnet_plan(const ResNetOptions& options);

// BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), both convs 3x3 with the
// block's dilation (= padding), stride on conv1. torchvision and U2PL refuse a dilated BasicBlock;
// dilating both convs (as in Yu et al.'s DRN) is this engine's choice for dilated ResNet-18/34.
class BasicBlock : public Layer {
  public:
    BasicBlock(const BlockPlan& plan, const ResNetOptions& options, Generator& gen);
    Tensor forward(const Tensor& x) override; // (N, H, W, in) -> (N, H/stride, W/stride, out)
    std::shared_ptr<Conv2d> conv1, conv2;
    std::shared_ptr<BatchNorm2d> bn1, bn2;
    std::shared_ptr<Sequential> downsample; // null without projection
};

// Bottleneck: 1x1 in->planes, 3x3 planes->planes (dilation = padding), 1x1 planes->4 planes,
// BN after each, ReLU after the first two and after the residual sum. The stride sits on conv1
// (the 1x1) in variant A and on conv2 (the 3x3) in B and C.
class Bottleneck : public Layer {
  public:
    Bottleneck(const BlockPlan& plan, const ResNetOptions& options, Generator& gen);
    Tensor forward(const Tensor& x) override;
    std::shared_ptr<Conv2d> conv1, conv2, conv3;
    std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
    std::shared_ptr<Sequential> downsample;
};

// The stage outputs a head needs, all NHWC.
struct ResNetFeatures {
    Tensor layer1; // (N, H/4, W/4, 256 w)   low-level features (v3+ decoder)
    Tensor layer2; // (N, H/8, W/8, 512 w)
    Tensor layer3; // (N, H/8, W/8, 1024 w)  aux head input
    Tensor layer4; // (N, H/8, W/8, 2048 w)  (2048 = 512 x 4; BasicBlock: 512)
};

// Children in PyTorch's order:
//   A, B: conv1 (7x7 s2 p3, 3->64), bn1, [ReLU], [max-pool], layer1..layer4
//   C:    conv1 = Sequential(0 conv 3x3 s2 3->64, 1 BN, [2 ReLU], 3 conv 3x3 64->64, 4 BN,
//                             [5 ReLU], 6 conv 3x3 64->128), bn1 (128), [ReLU], [max-pool], layer1..4
//   layerN = Sequential of blocks "0", "1", ...; a block's shortcut is downsample.0 (conv), .1 (BN).
// No convolution has a bias. Init: A: every conv N(0, 0.01) (AdvSemiSeg); B, C: Kaiming normal
// with fan_out (torchvision, U2PL); BN gamma 1, beta 0 (gamma 0 on the last BN of each block with
// zero_init_residual). Spatial sizes follow PyTorch exactly (ceil_mode where the variant has it).
class ResNet : public Module {
  public:
    ResNet(const ResNetOptions& options, Generator& gen);
    ResNetFeatures forward(const Tensor& x); // x (N, H, W, 3)
    const ResNetOptions& options() const { return options_; }
    // Channels of the stage outputs (layer1..layer4) and of layer4 (what a head takes).
    std::vector<int64_t> stage_channels() const;
    int64_t out_channels() const { return stage_channels()[3]; }
    // FLOPs (2 x MACs of the convs) of one eval-mode forward of a (1, h, w, 3) input.
    int64_t forward_flops(int64_t h, int64_t w);

    std::shared_ptr<Layer> conv1; // Conv2d (A, B) or the deep-stem Sequential (C)
    std::shared_ptr<BatchNorm2d> bn1;
    std::shared_ptr<MaxPool2d> maxpool;
    std::shared_ptr<Sequential> layer1, layer2, layer3, layer4;

  private:
    void build_stem(Generator& gen);
    void initialise(Generator& gen);
    ResNetOptions options_;
    std::vector<std::vector<BlockPlan>> plan_;
};

} // namespace pg::nn
