// Palettes, colourised label maps, overlay rows and full-resolution predictions (seg/visualize.h).
#include "seg/visualize.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "autograd/node.h"
#include "seg/inference.h"
#include "tensor/error.h"

namespace pg::seg {

Palette cityscapes_palette() {
    return {{128, 64, 128},  {244, 35, 232}, {70, 70, 70},  {102, 102, 156}, {190, 153, 153},
            {153, 153, 153}, {250, 170, 30}, {220, 220, 0}, {107, 142, 35},  {152, 251, 152},
            {70, 130, 180},  {220, 20, 60},  {255, 0, 0},   {0, 0, 142},     {0, 0, 70},
            {0, 60, 100},    {0, 80, 100},   {0, 0, 230},   {119, 11, 32}};
}

Palette palette_for(int num_classes) {
    PG_CHECK(num_classes >= 1 && num_classes <= 256, "palette_for: num_classes is ", num_classes,
             ", expected 1..256");
    if (num_classes == 19) return cityscapes_palette();
    Palette voc = voc_palette();
    return Palette(voc.begin(), voc.begin() + num_classes);
}

// The colour of label value v (palette entry or the ignore colour).
static const std::array<uint8_t, 3>& colour_of(int32_t v, const Palette& palette) {
    if (v == kIgnoreLabel) return kIgnoreColour;
    PG_CHECK(v >= 0 && v < int32_t(palette.size()), "colorize: label value ", v,
             " has no colour; the palette has ", palette.size(), " (and 255 = ignore)");
    return palette[size_t(v)];
}

Image colorize(const LabelMap& labels, const Palette& palette) {
    PG_CHECK(int64_t(labels.values.size()) == int64_t(labels.height) * labels.width,
             "colorize: label map of ", labels.height, "x", labels.width, " holds ",
             labels.values.size(), " values");
    Image out{labels.height, labels.width, 3, std::vector<uint8_t>(labels.values.size() * 3)};
    for (size_t i = 0; i < labels.values.size(); i++) {
        const std::array<uint8_t, 3>& c = colour_of(labels.values[i], palette);
        std::copy(c.begin(), c.end(), out.pixels.begin() + std::ptrdiff_t(i * 3));
    }
    return out;
}

// Copies `panel` (H, W, 3) into `row` with its left edge at column x0.
static void paste(Image& row, const Image& panel, int x0) {
    for (int y = 0; y < panel.height; y++) {
        const uint8_t* src = &panel.pixels[size_t(y) * size_t(panel.width) * 3];
        uint8_t* dst = &row.pixels[(size_t(y) * size_t(row.width) + size_t(x0)) * 3];
        std::copy(src, src + size_t(panel.width) * 3, dst);
    }
}

// out = (1 - alpha) image + alpha colour(label), rounded, per pixel and channel.
static Image blend(const Image& image, const LabelMap& labels, const Palette& palette) {
    PG_CHECK(labels.height == image.height && labels.width == image.width,
             "overlay_row: label map is ", labels.height, "x", labels.width, " but the image is ",
             image.height, "x", image.width);
    Image colours = colorize(labels, palette);
    Image out = image;
    for (size_t i = 0; i < out.pixels.size(); i++)
        out.pixels[i] = uint8_t(std::lround((1.f - kOverlayAlpha) * float(image.pixels[i]) +
                                            kOverlayAlpha * float(colours.pixels[i])));
    return out;
}

Image overlay_row(const Image& image, const LabelMap* truth, const LabelMap& prediction,
                  const Palette& palette) {
    PG_CHECK(image.channels == 3, "overlay_row: image has ", image.channels,
             " channels, expected 3 (RGB)");
    std::vector<Image> panels = {image};
    if (truth) panels.push_back(blend(image, *truth, palette));
    panels.push_back(blend(image, prediction, palette));
    return panel_row(panels);
}

Image panel_row(const std::vector<Image>& panels) {
    PG_CHECK(!panels.empty(), "panel_row: no panels");
    const int height = panels[0].height;
    int width = -kSeparatorWidth;
    for (const Image& p : panels) {
        PG_CHECK(p.height == height && p.channels == 3, "panel_row: a ", p.height, "x", p.width,
                 "x", p.channels, " panel in a row of height ", height, " (RGB)");
        width += p.width + kSeparatorWidth;
    }
    Image row{height, width, 3, std::vector<uint8_t>(size_t(height) * width * 3)};
    for (size_t i = 0; i < row.pixels.size(); i += 3)
        std::copy(kSeparatorColour.begin(), kSeparatorColour.end(), row.pixels.begin() + i);
    int x0 = 0;
    for (const Image& p : panels) {
        paste(row, p, x0);
        x0 += p.width + kSeparatorWidth;
    }
    return row;
}

Tensor image_batch(const Image& image, const Normalize& n, const Device& device) {
    Sample sample;
    sample.image = image;
    TensorSample s = to_tensors(sample);
    normalize(s, n);
    return s.image.alias_with_shape({1, image.height, image.width, 3}).to(device);
}

std::string safe_id(const std::string& id) {
    std::string out = id;
    std::replace(out.begin(), out.end(), '/', '_');
    std::replace(out.begin(), out.end(), '\\', '_');
    return out;
}

LabelMap predict_label_map(nn::SegmentationNet& net, const Image& image, const Normalize& n,
                           const EvalOptions& options, const Device& device) {
    PG_CHECK(image.channels == 3, "predict: image has ", image.channels, " channels, expected 3");
    Tensor logits = predict_logits(net, image_batch(image, n, device), options);
    check_finite_logits(logits, "predict");
    return LabelMap{image.height, image.width, predict_labels(logits).to_i32_vector()};
}

void write_sample_overlays(nn::SegmentationNet& net, const Dataset& data, const Normalize& n,
                           const EvalOptions& options, const Device& device,
                           const std::string& out_dir, int count) {
    std::filesystem::create_directories(out_dir);
    nn::EvalModeGuard eval_mode(net);
    NoGradGuard no_grad;
    const Palette palette = palette_for(int(net.num_classes()));
    for (int64_t i = 0; i < std::min<int64_t>(count, data.size()); i++) {
        Sample s = data.load(i);
        LabelMap prediction = predict_label_map(net, s.image, n, options, device);
        Image row = overlay_row(s.image, data.labeled() ? &s.label : nullptr, prediction, palette);
        write_png(out_dir + "/" + std::to_string(i) + "_" + safe_id(s.id) + ".png", row);
    }
}

} // namespace pg::seg
