// The augmentation pipeline (seg/data/augment.h): draws the random parameters from the generator
// and applies the deterministic steps of transforms.cpp.
#include "seg/data/augment.h"

#include <cmath>

#include "tensor/error.h"

namespace pg::seg {

static void check_config(const AugmentConfig& c) {
    PG_CHECK(c.scale_mode == ScaleMode::none || (c.scale_min > 0.f && c.scale_min <= c.scale_max),
             "augment: scale range [", c.scale_min, ", ", c.scale_max,
             "] must satisfy 0 < min <= max");
    PG_CHECK(c.scale_mode != ScaleMode::u2pl || (c.scale_min <= 1.f && c.scale_max >= 1.f),
             "augment: the u2pl scale mode needs min <= 1 <= max, got [", c.scale_min, ", ",
             c.scale_max, "]");
    PG_CHECK(c.scale_mode != ScaleMode::steps || c.scale_step > 0.f,
             "augment: scale_step must be > 0, got ", c.scale_step);
    PG_CHECK(c.flip_prob >= 0.f && c.flip_prob <= 1.f, "augment: flip probability ", c.flip_prob,
             " is not in [0, 1]");
    PG_CHECK(c.crop_mode == CropMode::none || (c.crop_height >= 1 && c.crop_width >= 1),
             "augment: crop size ", c.crop_height, "x", c.crop_width, " must be positive");
    PG_CHECK(!c.keep_label_size || (c.scale_mode == ScaleMode::none &&
                                    c.crop_mode == CropMode::none && c.flip_prob == 0.f),
             "augment: keep_label_size works with a fixed resize alone (no rescale, crop, flip)");
    PG_CHECK((c.resize_height == 0) == (c.resize_width == 0), "augment: resize to ",
             c.resize_height, "x", c.resize_width, ": give both sides or neither");
}

// The scale factor s and the resulting side length for each mode.
static float draw_scale(const AugmentConfig& c, Generator& gen) {
    switch (c.scale_mode) {
    case ScaleMode::none:
        return 1.f;
    case ScaleMode::uniform:
        return gen.uniform(c.scale_min, c.scale_max);
    case ScaleMode::u2pl:
        // U2PL: temp_scale = min + (1 - min) * u  or  1 + (max - 1) * u.
        if (gen.uniform() < 0.5f) return c.scale_min + (1.f - c.scale_min) * gen.uniform();
        return 1.f + (c.scale_max - 1.f) * gen.uniform();
    case ScaleMode::steps: {
        // k uniform in {0..K}, K = floor((max - min) / step): {0.5, ..., 1.5} for the spec's
        // AdvSemiSeg. (Its code, 0.5 + random.randint(0, 11) / 10, also draws 1.6: max 1.6.)
        int64_t steps = int64_t(std::floor((c.scale_max - c.scale_min) / c.scale_step + 1e-4f));
        return c.scale_min + float(gen.randint(0, steps + 1)) * c.scale_step;
    }
    }
    return 1.f;
}

static int64_t scaled_side(int64_t side, float s, ScaleMode mode) {
    double v = double(side) * double(s);
    int64_t n = mode == ScaleMode::steps ? int64_t(std::lround(v)) : int64_t(v);
    return n < 1 ? 1 : n;
}

// Pads (when smaller) and crops to crop_height x crop_width.
static void pad_and_crop(TensorSample& s, const AugmentConfig& c, Generator& gen) {
    const int64_t ph = std::max<int64_t>(c.crop_height - s.image.size(0), 0);
    const int64_t pw = std::max<int64_t>(c.crop_width - s.image.size(1), 0);
    if (ph > 0 || pw > 0) {
        std::array<float, 3> colour = c.pad_with_mean ? mean_colour(c.normalize) : c.image_pad;
        if (c.pad_at == PadAt::symmetric) {
            pad(s, ph / 2, ph - ph / 2, pw / 2, pw - pw / 2, colour, c.label_pad);
        } else {
            pad(s, 0, ph, 0, pw, colour, c.label_pad);
        }
    }
    const int64_t H = s.image.size(0), W = s.image.size(1);
    int64_t top = 0, left = 0;
    if (c.crop_mode == CropMode::random) {
        top = gen.randint(0, H - c.crop_height + 1);
        left = gen.randint(0, W - c.crop_width + 1);
    } else {
        top = (H - c.crop_height) / 2;
        left = (W - c.crop_width) / 2;
    }
    crop(s, top, left, c.crop_height, c.crop_width);
}

TensorSample augment(const Sample& sample, const AugmentConfig& c, Generator& gen) {
    check_config(c);
    TensorSample s = to_tensors(sample);
    if (c.resize_height > 0) {
        Tensor native_label = s.label;
        resize(s, c.resize_height, c.resize_width, c.interp);
        if (c.keep_label_size) s.label = native_label;
    }
    if (c.scale_mode != ScaleMode::none) {
        float f = draw_scale(c, gen);
        resize(s, scaled_side(s.image.size(0), f, c.scale_mode),
               scaled_side(s.image.size(1), f, c.scale_mode), c.interp);
    }
    // Flip after the crop, as AdvSemiSeg does: its bottom/right padding may end up on the left.
    if (c.crop_mode != CropMode::none) pad_and_crop(s, c, gen);
    if (c.flip_prob > 0.f && gen.uniform() < c.flip_prob) hflip(s);
    normalize(s, c.normalize);
    return s;
}

AugmentConfig u2pl_train_augment(int64_t crop) {
    AugmentConfig c;
    c.scale_mode = ScaleMode::u2pl;
    c.scale_min = 0.5f;
    c.scale_max = 2.0f;
    c.flip_prob = 0.5f;
    c.crop_mode = CropMode::random;
    c.crop_height = c.crop_width = crop;
    c.pad_at = PadAt::symmetric;
    c.normalize = u2pl_normalize();
    return c;
}

AugmentConfig advsemiseg_train_augment(int64_t crop) {
    AugmentConfig c;
    c.scale_mode = ScaleMode::steps;
    c.scale_min = 0.5f;
    c.scale_max = 1.5f;
    c.scale_step = 0.1f;
    c.flip_prob = 0.5f;
    c.crop_mode = CropMode::random;
    c.crop_height = c.crop_width = crop;
    c.pad_at = PadAt::bottom_right;
    c.normalize = advsemiseg_normalize();
    return c;
}

AugmentConfig resize_only(int64_t height, int64_t width, Interp interp, const Normalize& n) {
    AugmentConfig c;
    c.resize_height = height;
    c.resize_width = width;
    c.interp = interp;
    c.normalize = n;
    return c;
}

} // namespace pg::seg
