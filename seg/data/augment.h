// Training and evaluation augmentation of the method specs: fixed resize, random rescale, padded
// crop, flip and normalisation, in that order, every random draw taken from an explicit
// Generator. The steps themselves are in transforms.h; the loader (loader.h) runs this per sample
// with a generator seeded from (seed, epoch, position), so results never depend on the thread.
#pragma once

#include "seg/data/transforms.h"
#include "tensor/generator.h"

namespace pg::seg {

enum class ScaleMode {
    none,
    uniform, // s uniform in [scale_min, scale_max)
    u2pl,    // U2PL's RandResize: p = 0.5 s in [scale_min, 1), else s in [1, scale_max)
    steps,   // AdvSemiSeg: s = scale_min + k scale_step, k uniform with s <= scale_max
};
enum class CropMode { none, random, center };
enum class PadAt {
    symmetric,    // U2PL: half the missing rows on top (rounded down), the rest at the bottom
    bottom_right, // AdvSemiSeg
};

struct AugmentConfig {
    // 1. Fixed resize (RIPU: 1280x720 source, 1280x640 target; eval "resize only"); 0: keep.
    int64_t resize_height = 0, resize_width = 0;
    Interp interp = Interp::bilinear; // for the image (fixed and random resize); labels: nearest
    bool keep_label_size = false; // the fixed resize leaves the label at its size (RIPU's eval)
    // 2. Random rescale of both sides by one factor s. New size: int(side * s) for uniform and
    //    u2pl (PyTorch int()), round(side * s) for steps (cv2.resize with fx, fy).
    ScaleMode scale_mode = ScaleMode::none;
    float scale_min = 1.f, scale_max = 1.f, scale_step = 0.1f;
    // 3. Crop; a side smaller than the crop is padded first: image with the mean colour
    //    (pad_with_mean: 0 after normalisation, as U2PL and AdvSemiSeg do) or with image_pad
    //    (RGB, 0..255), label with label_pad (255; U2PL's original pads labels with 0).
    CropMode crop_mode = CropMode::none;
    int64_t crop_height = 0, crop_width = 0;
    PadAt pad_at = PadAt::symmetric;
    bool pad_with_mean = true;
    std::array<float, 3> image_pad{0.f, 0.f, 0.f};
    int32_t label_pad = 255;
    // 4. Horizontal flip with this probability (0.5 in training).
    float flip_prob = 0.f;
    // 5. Normalisation (the default leaves values 0..255 RGB).
    Normalize normalize;
};

// Runs the pipeline on one example. Draw order: scale, crop offsets, flip.
TensorSample augment(const Sample& sample, const AugmentConfig& config, Generator& gen);

// The training pipelines of the specs.
// U2PL (shared/specs/u2pl.md): u2pl rescale [0.5, 2.0], flip 0.5, random crop `crop` with
// symmetric padding, u2pl_normalize(). crop 513 for VOC, 769 for Cityscapes.
AugmentConfig u2pl_train_augment(int64_t crop);
// AdvSemiSeg (adversarial.md): rescale {0.5, 0.6, ..., 1.5}, flip 0.5, pad bottom/right,
// random crop `crop` (321), BGR mean subtraction.
AugmentConfig advsemiseg_train_augment(int64_t crop);
// Evaluation / RIPU: resize to height x width (0: keep), no randomness.
AugmentConfig resize_only(int64_t height, int64_t width, Interp interp, const Normalize& n);

} // namespace pg::seg
