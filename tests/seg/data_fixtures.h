// Tiny datasets written to a temp folder in each real on-disk layout (VOC, Cityscapes, GTAV,
// SYNTHIA, generic) with the image_io writers, for the dataset, augmentation and loader tests.
// Pixel contents are simple functions of (example, y, x) so tests can predict what they read.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "seg/data/image_io.h"
#include "tensor/error.h"

namespace pg::seg::fixture {

// An empty folder under the test temp dir.
inline std::string fresh_dir(const std::string& name) {
    std::string dir = ::testing::TempDir() + "pg_data_" + name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

inline void make_parent(const std::string& path) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
}

inline void write_text(const std::string& path, const std::string& text) {
    make_parent(path);
    std::ofstream(path) << text;
}

// A smooth RGB image that differs per example (JPEG keeps it within a few levels).
inline Image test_image(int h, int w, int example) {
    Image im{h, w, 3, std::vector<uint8_t>(size_t(h) * size_t(w) * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                im.pixels[(size_t(y) * size_t(w) + size_t(x)) * 3 + size_t(c)] =
                    uint8_t(40 + 30 * example + 4 * y + 3 * x + 50 * c);
    return im;
}

// Label values cycling through `values` in raster order.
inline LabelMap cycle_labels(int h, int w, const std::vector<int32_t>& values) {
    LabelMap l{h, w, std::vector<int32_t>(size_t(h) * size_t(w))};
    for (size_t i = 0; i < l.values.size(); i++) l.values[i] = values[i % values.size()];
    return l;
}

inline Image grey_png(const LabelMap& l) {
    Image g{l.height, l.width, 1, {}};
    for (int32_t v : l.values) g.pixels.push_back(uint8_t(v));
    return g;
}

inline void write_image_png(const std::string& path, const Image& im) {
    make_parent(path);
    write_png(path, im);
}

inline void write_grey_label(const std::string& path, const LabelMap& l) {
    make_parent(path);
    write_png(path, grey_png(l));
}

inline void write_palette_label(const std::string& path, const LabelMap& l) {
    make_parent(path);
    write_palette_png(path, l, voc_palette());
}

// Cuts a file down to its first `keep` bytes.
inline void truncate_file(const std::string& path, size_t keep) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), std::streamsize(std::min(keep, bytes.size())));
}

// Expects f to throw pg::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "expected an error containing '" << parts[0] << "'";
    } catch (const Error& e) {
        for (const std::string& part : parts)
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
                << "'" << part << "' not in: " << e.what();
    }
}

// Generic layout: <root>/images/<id>.png, <root>/labels/<id>.png (grey, values 0..C-1), list.txt.
// Example k is a (h, w) test_image(k) with labels cycling through 0..classes-1 from k.
inline std::vector<std::string> write_generic(const std::string& root, int count, int h, int w,
                                              int classes) {
    std::vector<std::string> ids;
    std::string list;
    for (int k = 0; k < count; k++) {
        std::string id = "ex" + std::to_string(k);
        std::vector<int32_t> values;
        for (int c = 0; c < classes; c++) values.push_back((c + k) % classes);
        write_image_png(root + "/images/" + id + ".png", test_image(h, w, k));
        write_grey_label(root + "/labels/" + id + ".png", cycle_labels(h, w, values));
        ids.push_back(id);
        list += id + "\n";
    }
    write_text(root + "/list.txt", list);
    return ids;
}

} // namespace pg::seg::fixture
