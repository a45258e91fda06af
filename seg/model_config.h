// The YAML `net` section -> nn::SegmenterOptions. Keys (U2PL-shaped; defaults in brackets):
//   arch: deeplabv3plus | deeplabv2                [deeplabv3plus]
//   num_classes: 21                                (required)
//   backbone: {variant: A|B|C [C for v3+, A for v2], depth: 18|34|50|101|152 [101],
//              blocks: [3, 4, 23, 3] (overrides depth's), width: 1.0,
//              bn: trainable | frozen_affine | frozen [per variant], zero_init_residual: bool}
//   decoder: {inner_planes: 256, dilations: [12, 24, 36], use_rep: true, rep_planes: 256,
//             head_planes: 256, low_planes: 256, dropout: 0.1}            (v3+)
//   aux_loss: {loss_weight: 0.4}   present = build the aux head on layer3 (v3+)
//   aspp_rates: [6, 12, 18, 24], legacy_two_branch: false                  (v2)
#pragma once

#include "nn/segmenter.h"
#include "seg/config.h"

namespace pg::seg {

nn::SegmenterOptions segmenter_options(const Config& net);
// The `net.backbone` keys alone (the label-noise pipeline's CAM classifier reuses them).
nn::ResNetOptions backbone_options(const Config& net, nn::ResNetVariant default_variant);

} // namespace pg::seg
