// Image and label-map files: JPEG/PNG decoding through stb_image, and PNG writing (RGB, grey,
// 8-bit palette, 16-bit) for the synthetic world. Label maps are read as the INDEX stored in the
// file: a palette PNG's indices are decoded directly (stb_image would expand them to colours, and
// real palettes such as Cityscapes' repeat colours). Every error names the file.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace pg::seg {

// 8-bit pixels, row-major, channels interleaved: (height, width, channels).
struct Image {
    int height = 0, width = 0, channels = 0;
    std::vector<uint8_t> pixels;
};

// Integer label per pixel, row-major (height, width). Values as stored (palette index, grey
// level, or channel 0 of a 16-bit PNG); mapping to train ids belongs to the dataset readers.
struct LabelMap {
    int height = 0, width = 0;
    std::vector<int32_t> values;
};

using Palette = std::vector<std::array<uint8_t, 3>>; // index -> RGB

// JPEG or PNG -> RGB (3 channels) whatever the file holds (grey is replicated, alpha dropped).
Image read_image(const std::string& path);

// PNG label map: palette (indices), grey 8/16-bit (values), or 16-bit RGB(A) (channel 0, SYNTHIA).
// An 8-bit colour PNG is an error (its colours are not class ids).
LabelMap read_label_png(const std::string& path);

// Writers. Files are written to path.tmp and renamed.
void write_png(const std::string& path, const Image& image); // 1, 3 or 4 channels
void write_jpeg(const std::string& path, const Image& image, int quality = 95);
// 8-bit palette PNG: values in [0, palette.size()), palette of at most 256 distinct colours.
void write_palette_png(const std::string& path, const LabelMap& labels, const Palette& palette);
// 16-bit PNG with `channels` (1 or 3) samples per pixel, each = the label value (0..65535).
void write_png16(const std::string& path, const LabelMap& labels, int channels);

// Pascal VOC's colour map (index i -> the bit-interleaved colour of the VOC devkit), 256 entries.
Palette voc_palette();

} // namespace pg::seg
