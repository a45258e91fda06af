// `pixelgrad superpixels`: SLIC superpixels (seg/correct/slic.h) of images, as 16-bit PNG id maps
// (one per image, ids 0..count-1) and an outline picture; what tools/compare_slic.py scores
// against scikit-image's slic, and a way to look at the pipeline's step 4 alone.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace pg::seg {

struct SuperpixelsArgs {
    std::vector<std::string> images; // image paths
    std::string list;                // or a file with one image path per line
    std::string out;
    int segments = 0; // K; 0: from pixels_per_superpixel
    double pixels_per_superpixel = 187.5;
    float compactness = 10;
    int iterations = 10;
    float min_size_factor = 0.25f;
    bool force = false; // replace outputs that exist (never an input)
};

// Writes OUT/<stem>.png (ids) and OUT/<stem>_outline.png; returns the images done.
int run_superpixels(const SuperpixelsArgs& args);

std::function<void()> add_superpixels_command(CLI::App& app);

} // namespace pg::seg
