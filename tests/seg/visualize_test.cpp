// Palettes, colourised label maps and overlay rows (seg/visualize.h) against hand values, and
// write_sample_overlays on a tiny generic dataset with a randomly initialised tiny DeepLabV3+:
// one file per image named <index>_<id>.png holding overlay_row of the network's prediction.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "seg/data_config.h"
#include "seg/model_config.h"
#include "seg/visualize.h"
#include "tests/common/test_util.h"
#include "tests/seg/data_fixtures.h"

namespace pg::seg {
namespace {

namespace fs = std::filesystem;
using test::error_of;

using Rgb = std::array<uint8_t, 3>;

Rgb pixel(const Image& im, int y, int x) {
    size_t i = (size_t(y) * size_t(im.width) + size_t(x)) * 3;
    return {im.pixels[i], im.pixels[i + 1], im.pixels[i + 2]};
}

TEST(Visualize, PaletteForPicksCityscapesOrVoc) {
    Palette cs = palette_for(19);
    ASSERT_EQ(cs.size(), 19u);
    EXPECT_EQ(cs[0], (Rgb{128, 64, 128}));  // road
    EXPECT_EQ(cs[10], (Rgb{70, 130, 180})); // sky
    EXPECT_EQ(cs[18], (Rgb{119, 11, 32}));  // bicycle
    Palette voc = palette_for(21);
    ASSERT_EQ(voc.size(), 21u);
    EXPECT_EQ(voc[0], (Rgb{0, 0, 0}));
    EXPECT_EQ(voc[1], (Rgb{128, 0, 0}));      // aeroplane
    EXPECT_EQ(voc[15], (Rgb{192, 128, 128})); // person
    Palette five = palette_for(5);
    EXPECT_EQ(five, Palette(voc.begin(), voc.begin() + 5));
    EXPECT_NE(error_of([] { palette_for(300); }).find("300"), std::string::npos);
}

TEST(Visualize, ColorizeMapsClassesToThePaletteAndIgnoreToWhite) {
    Palette p = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}};
    LabelMap l{2, 2, {0, 2, 255, 1}};
    Image im = colorize(l, p);
    ASSERT_EQ(im.height, 2);
    ASSERT_EQ(im.width, 2);
    ASSERT_EQ(im.channels, 3);
    EXPECT_EQ(pixel(im, 0, 0), p[0]);
    EXPECT_EQ(pixel(im, 0, 1), p[2]);
    EXPECT_EQ(pixel(im, 1, 0), kIgnoreColour);
    EXPECT_EQ(pixel(im, 1, 1), p[1]);
    LabelMap bad{1, 2, {1, 7}};
    std::string msg = error_of([&] { colorize(bad, p); });
    EXPECT_NE(msg.find("label value 7"), std::string::npos) << msg;
}

TEST(Visualize, OverlayRowIsImageTruthAndPredictionSideBySide) {
    const int h = 3, w = 4;
    Image image = fixture::test_image(h, w, 1);
    Palette p = {{0, 0, 0}, {200, 100, 50}};
    LabelMap truth{h, w, std::vector<int32_t>(size_t(h * w), 1)};
    truth.values[5] = 255; // (1, 1)
    LabelMap prediction{h, w, std::vector<int32_t>(size_t(h * w), 0)};
    Image row = overlay_row(image, &truth, prediction, p);
    ASSERT_EQ(row.height, h);
    ASSERT_EQ(row.width, 3 * w + 2 * kSeparatorWidth);
    auto blended = [&](int y, int x, const Rgb& colour) {
        Rgb in = pixel(image, y, x), out;
        for (int c = 0; c < 3; c++)
            out[size_t(c)] =
                uint8_t(std::lround(0.4f * float(in[size_t(c)]) + 0.6f * float(colour[size_t(c)])));
        return out;
    };
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            EXPECT_EQ(pixel(row, y, x), pixel(image, y, x));
            Rgb truth_colour = y == 1 && x == 1 ? kIgnoreColour : p[1];
            EXPECT_EQ(pixel(row, y, w + kSeparatorWidth + x), blended(y, x, truth_colour));
            EXPECT_EQ(pixel(row, y, 2 * (w + kSeparatorWidth) + x), blended(y, x, p[0]));
        }
        for (int s = 0; s < kSeparatorWidth; s++) {
            EXPECT_EQ(pixel(row, y, w + s), kSeparatorColour);
            EXPECT_EQ(pixel(row, y, 2 * w + kSeparatorWidth + s), kSeparatorColour);
        }
    }
    // Without truth: image | prediction.
    Image two = overlay_row(image, nullptr, prediction, p);
    EXPECT_EQ(two.width, 2 * w + kSeparatorWidth);
    EXPECT_EQ(pixel(two, 2, w + kSeparatorWidth + 3), blended(2, 3, p[0]));
    // A label map of another size.
    LabelMap small{2, w, std::vector<int32_t>(size_t(2 * w), 0)};
    std::string msg = error_of([&] { overlay_row(image, nullptr, small, p); });
    EXPECT_NE(msg.find("2x4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3x4"), std::string::npos) << msg;
}

TEST(Visualize, SafeIdReplacesPathSeparators) {
    EXPECT_EQ(safe_id("aachen/aachen_000000_000019"), "aachen_aachen_000000_000019");
    EXPECT_EQ(safe_id("a\\b/c"), "a_b_c");
    EXPECT_EQ(safe_id("2007_000032"), "2007_000032");
}

TEST(Visualize, WriteSampleOverlaysWritesTheFirstImagesPredictions) {
    const int h = 12, w = 10, classes = 5;
    std::string root = fixture::fresh_dir("visualize");
    fixture::write_generic(root, 3, h, w, classes);
    GenericConfig g;
    g.root = root;
    g.image_ext = ".png";
    g.num_classes = classes;
    Dataset data = open_generic(g);
    Config net_config =
        Config::load(std::string(PG_TEST_DATA_DIR) + "/../../configs/nets/deeplabv3plus_tiny.yaml");
    Generator gen(4);
    auto net = nn::build_segmenter(segmenter_options(net_config.section("net")), gen);
    net->train(true);
    EvalOptions options; // whole image
    std::string out = root + "/overlays";
    write_sample_overlays(*net, data, u2pl_normalize(), options, Device::cpu(), out, 2);
    EXPECT_TRUE(net->is_training()); // mode restored
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(out)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"0_ex0.png", "1_ex1.png"}));

    net->eval();
    for (int i = 0; i < 2; i++) {
        Sample s = data.load(i);
        LabelMap prediction =
            predict_label_map(*net, s.image, u2pl_normalize(), options, Device::cpu());
        Image got = read_image(out + "/" + names[size_t(i)]);
        EXPECT_EQ(got.width, 3 * w + 2 * kSeparatorWidth);
        EXPECT_EQ(got.height, h);
        EXPECT_EQ(got.pixels, overlay_row(s.image, &s.label, prediction, palette_for(5)).pixels);
    }
    // More than the split holds: every image once.
    write_sample_overlays(*net, data, u2pl_normalize(), options, Device::cpu(), out, 10);
    EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 3);
}

} // namespace
} // namespace pg::seg
