// SLIC superpixels (Achanta et al., TPAMI 2012), the label-noise pipeline's step 4: k-means in
// (L, a, b, x, y) started from a regular grid, each centre searching a 2S x 2S window, then
// connectivity enforced so that every superpixel is one 4-connected region.
#pragma once

#include <cstdint>
#include <vector>

#include "seg/data/image_io.h"

namespace pg::seg {

struct SlicOptions {
    int num_segments = 100; // K requested; grid step S = sqrt(H W / K)
    float compactness = 10; // m: weight of space against colour, D^2 = d_lab^2 + (m/S)^2 d_xy^2
    int iterations = 10;    // k-means rounds (Achanta: 10 suffice)
    float min_size_factor = 0.25; // components under factor * H W / K pixels join a neighbour
};

struct Superpixels {
    int count = 0;               // ids are 0..count-1, each used
    std::vector<int32_t> labels; // (H, W)
};

// sRGB (8-bit) -> CIELAB under D65, (H, W, 3) floats: L in [0, 100], a and b about [-128, 127].
std::vector<float> rgb_to_lab(const Image& image);

// The superpixel count requested for an image of H x W pixels: one per `pixels_per_superpixel`
// pixels (at least 1), so the count scales with the area.
int segments_for_area(int height, int width, double pixels_per_superpixel);

// Superpixels of an RGB image. Every pixel belongs to exactly one superpixel and each superpixel
// is 4-connected; the count is near num_segments (the grid rounds it, small fragments merge).
Superpixels slic(const Image& image, const SlicOptions& options);

} // namespace pg::seg
