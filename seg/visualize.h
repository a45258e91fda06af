// Pictures of predictions: class palettes (VOC's, Cityscapes' 19 official colours), label maps
// coloured by a palette, and overlay rows "image | truth over image | prediction over image" that
// the report, `pixelgrad predict --overlay` and the end of a training run write as PNGs.
// Ignore pixels (255) are always drawn in kIgnoreColour (white, as VOC's void outlines look).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/seg_net.h"
#include "seg/data/dataset.h"
#include "seg/data/image_io.h"
#include "seg/data/transforms.h"
#include "seg/data_config.h"

namespace pg::seg {

constexpr std::array<uint8_t, 3> kIgnoreColour{255, 255, 255};
constexpr std::array<uint8_t, 3> kSeparatorColour{128, 128, 128};
constexpr int kSeparatorWidth = 2;    // px between the panels of an overlay row
constexpr float kOverlayAlpha = 0.6f; // weight of the class colour over the image

// Cityscapes' 19 train-id colours (road (128, 64, 128), sidewalk, ..., bicycle (119, 11, 32)).
Palette cityscapes_palette();
// num_classes entries: Cityscapes' colours when num_classes == 19, else the first num_classes
// colours of VOC's map (distinct for up to 256 classes).
Palette palette_for(int num_classes);

// Panels of one height side by side with kSeparatorWidth-px grey separators between them.
Image panel_row(const std::vector<Image>& panels);

// One RGB image as a normalised batch of one, (1, H, W, 3) f32 on `device`.
Tensor image_batch(const Image& image, const Normalize& n, const Device& device);

// (H, W) labels -> (H, W, 3) RGB: class c -> palette[c], 255 -> kIgnoreColour. Any other value
// outside the palette is an error naming it.
Image colorize(const LabelMap& labels, const Palette& palette);

// image | truth blended over image | prediction blended over image (alpha kOverlayAlpha), with
// kSeparatorWidth-px grey separators: width 3 W + 2 kSeparatorWidth, height H. Without truth
// (null): image | prediction, width 2 W + kSeparatorWidth. Sizes must match the image's.
Image overlay_row(const Image& image, const LabelMap* truth, const LabelMap& prediction,
                  const Palette& palette);

// A file name made from a dataset id: '/' and '\' become '_' ("a/b_0" -> "a_b_0").
std::string safe_id(const std::string& id);

// Predicted train ids of one RGB image at its full resolution: normalised with `n`, then one
// whole-image forward, or the sliding window when options.mode is sliding (center_crop predicts the
// whole image); options.flip averages the mirrored prediction. Runs under no-grad; the net should
// be in eval mode and on `device`.
LabelMap predict_label_map(nn::SegmentationNet& net, const Image& image, const Normalize& n,
                           const EvalOptions& options, const Device& device);

// Writes out_dir/<index>_<safe id>.png (overlay_row, with the truth when `data` is labelled) for
// the first `count` images of `data`, predicted with predict_label_map at full size. The net is
// put in eval mode and its train/eval mode restored afterwards. Creates out_dir.
void write_sample_overlays(nn::SegmentationNet& net, const Dataset& data, const Normalize& n,
                           const EvalOptions& options, const Device& device,
                           const std::string& out_dir, int count);

} // namespace pg::seg
