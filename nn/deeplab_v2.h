// DeepLab-v2 as AdvSemiSeg builds it (model/deeplab.py): a ResNet (variant A by default) and
// `layer5`, the ASPP-sum classifier (Classifier_Module): parallel 3x3 dilated convs to the class
// scores, summed. Logits come out at stride 8; methods upsample them (nn/losses.h upsample_logits).
// Read nn/resnet.h first.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/resnet.h"
#include "nn/seg_net.h"

namespace pg::nn {

struct AsppSumOptions {
    int64_t in_channels = 2048;
    int64_t num_classes = 21;
    std::vector<int64_t> rates = {6, 12, 18, 24}; // dilation = padding of each branch
    // AdvSemiSeg's forward returns inside its loop, so only the first two branches are summed;
    // true reproduces that (every branch still exists, loads and is saved).
    bool legacy_two_branch = false;
};

// conv2d_list.i: 3x3 conv in_channels -> num_classes, dilation = padding = rates[i], with bias.
// Weights N(0, 0.01), biases PyTorch's default U(+-1/sqrt(9 in_channels)).
// (N, H, W, in_channels) -> (N, H, W, num_classes) = sum of the branches.
class AsppSum : public Layer {
  public:
    AsppSum(const AsppSumOptions& options, Generator& gen);
    Tensor forward(const Tensor& x) override;
    const AsppSumOptions& options() const { return options_; }
    // PyTorch's nn.ModuleList: a Sequential used only for its numbering ("0", "1", ...); its
    // entries are the Conv2d branches.
    std::shared_ptr<Sequential> conv2d_list;

  private:
    AsppSumOptions options_;
};

struct DeepLabV2Options {
    int64_t num_classes = 21;
    // ResNet-101 variant A with frozen BN (eval-mode statistics, fixed affine). AdvSemiSeg's
    // original keeps BN in train mode with a frozen affine: bn_mode = frozen_affine.
    ResNetOptions backbone = resnet_options(ResNetVariant::A, 101);
    std::vector<int64_t> rates = {6, 12, 18, 24};
    bool legacy_two_branch = false;
};

// State dict keys are AdvSemiSeg's flat ones: conv1, bn1, layer1..layer4 (the backbone's
// children, adopted at the top level) and layer5.conv2d_list.{0..3}.{weight,bias}.
// x (N, H, W, 3) -> logits (N, H', W', num_classes) at the backbone's stride 8.
class DeepLabV2 : public SegmentationNet {
  public:
    DeepLabV2(const DeepLabV2Options& options, Generator& gen);
    SegOutput forward(const Tensor& x) override; // logits only
    // forward, then bilinear (align_corners = true) to the input's size: what every loss sees.
    Tensor forward_upsampled(const Tensor& x);
    const DeepLabV2Options& options() const { return options_; }
    int64_t num_classes() const override { return options_.num_classes; }
    int64_t output_stride() const override { return 8; }
    // Trainable parameters of the backbone (lr x1) and of layer5 (AdvSemiSeg and RIPU: lr x10).
    std::vector<Tensor> backbone_parameters() const override;
    std::vector<Tensor> head_parameters() const override;

    std::shared_ptr<ResNet> backbone; // its children are this module's conv1, bn1, layer1..4
    std::shared_ptr<AsppSum> layer5;

  protected:
    // The backbone object is not a registered child (its children are): keep its own mode flag
    // in step, so its forward_flops restores the right mode.
    void on_train(bool on) override;

  private:
    DeepLabV2Options options_;
};

} // namespace pg::nn
