// Deterministic steps on an (image, label) pair held as tensors: resize (bilinear, bicubic or
// nearest for the image, always nearest for the label), horizontal flip, padding, cropping and
// normalisation. augment.h draws the random parameters and chains these steps.
#pragma once

#include <array>
#include <string>

#include "seg/data/dataset.h"
#include "tensor/tensor.h"

namespace pg::seg {

// image (H, W, 3) f32 on the CPU; label (H, W) i32 (train ids, 255 ignore), undefined when the
// example is unlabeled.
struct TensorSample {
    Tensor image;
    Tensor label;
    std::string id;
};

// u8 pixels -> f32 values 0..255 (RGB), label values -> i32.
TensorSample to_tensors(const Sample& sample);

enum class Interp {
    bilinear, // F.interpolate(mode='bilinear', align_corners=False), U2PL, cv2's INTER_LINEAR
    bicubic,  // PIL's antialiased bicubic (a = -0.5), as torchvision resizes PIL images (RIPU)
    nearest,  // src = floor(dst * in / out), PyTorch's 'nearest' and cv2's INTER_NEAREST
};

// Resizes the image with `interp` and the label with nearest (labels are never blended): PIL's
// centre-sampled nearest beside bicubic (as torchvision resizes a PIL pair), PyTorch's otherwise.
void resize(TensorSample& s, int64_t height, int64_t width, Interp interp);
// Mirrors left <-> right.
void hflip(TensorSample& s);
// Adds rows/columns around the pair: image pixels get `image_value` (RGB, same units as the
// image), label pixels `label_value`.
void pad(TensorSample& s, int64_t top, int64_t bottom, int64_t left, int64_t right,
         const std::array<float, 3>& image_value, int32_t label_value);
// Keeps rows [top, top + height) and columns [left, left + width); must lie inside the pair.
void crop(TensorSample& s, int64_t top, int64_t left, int64_t height, int64_t width);

// out[c] = (in[src(c)] * value_scale - mean[c]) / std[c], where output channel c is R, G, B
// (src(c) = c) or B, G, R (bgr: src(c) = 2 - c); mean and std are given in the output order.
struct Normalize {
    std::array<float, 3> mean{0.f, 0.f, 0.f};
    std::array<float, 3> std{1.f, 1.f, 1.f};
    float value_scale = 1.f; // 1: pixel values 0..255; 1/255: 0..1
    bool bgr = false;
};
// U2PL: RGB 0..255, mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375).
Normalize u2pl_normalize();
// AdvSemiSeg: BGR 0..255, mean (104.008, 116.669, 122.675) subtracted, no std division.
Normalize advsemiseg_normalize();
// RIPU: ImageNet mean (0.485, 0.456, 0.406) / std (0.229, 0.224, 0.225) on RGB in [0, 1].
Normalize imagenet_normalize();
// The RGB colour, in 0..255 image units, that normalises to 0 (the mean colour).
std::array<float, 3> mean_colour(const Normalize& n);

void normalize(TensorSample& s, const Normalize& n);

} // namespace pg::seg
