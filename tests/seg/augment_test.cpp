// Augmentation: the deterministic steps (flip, pad, crop, resize incl. PIL's bicubic against a
// PIL dump), the normalisation conventions of the three methods, image/label alignment under the
// random pipeline (the image colour is a function of the label), padding values, seed determinism
// and the range of each random-scale mode.
#include <set>

#include "seg/data/augment.h"
#include "tests/common/test_util.h"
#include "tests/seg/data_fixtures.h"

namespace pg::seg {
namespace {

// A sample whose label is a blocky, left/right-asymmetric class map and whose image colour is
// kColour[label] at every pixel.
const float kColour[5][3] = {
    {10, 200, 30}, {250, 20, 90}, {60, 60, 240}, {0, 130, 0}, {180, 180, 5}};

Sample block_sample(int h, int w) {
    Sample s{Image{h, w, 3, {}}, LabelMap{h, w, {}}, "blocks"};
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int c = (y / 8 + (x / 10) * 3 + (x > w / 3 ? 1 : 0)) % 5;
            s.label.values.push_back(c);
            for (int k = 0; k < 3; k++) s.image.pixels.push_back(uint8_t(kColour[c][k]));
        }
    }
    return s;
}

// A sample with pixel values v(y, x, c) = 100 y + 10 x + c (mod 256) and label 10 y + x.
Sample ramp_sample(int h, int w) {
    Sample s{Image{h, w, 3, {}}, LabelMap{h, w, {}}, "ramp"};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            s.label.values.push_back(10 * y + x);
            for (int c = 0; c < 3; c++) s.image.pixels.push_back(uint8_t(100 * y + 10 * x + c));
        }
    return s;
}

TEST(Transforms, FlipPadCropAreExact) {
    TensorSample s = to_tensors(ramp_sample(3, 4));
    ASSERT_EQ(s.image.shape(), Shape({3, 4, 3}));
    ASSERT_EQ(s.label.dtype(), DType::i32);
    TensorSample f = s;
    hflip(f);
    EXPECT_EQ(f.label.to_i32_vector()[0], 3); // row 0 reversed: x = 3 first
    EXPECT_EQ(f.image.to_f32_vector()[1], 31.f);
    hflip(f);
    EXPECT_TRUE(pg::test::all_equal(f.image, s.image));
    EXPECT_TRUE(pg::test::all_equal(f.label, s.label));
    // Pad 1 top, 2 bottom, 0 left, 1 right: (6, 5).
    TensorSample p = s;
    pad(p, 1, 2, 0, 1, {7.f, 8.f, 9.f}, 255);
    ASSERT_EQ(p.label.shape(), Shape({6, 5}));
    std::vector<int32_t> l = p.label.to_i32_vector();
    std::vector<float> im = p.image.to_f32_vector();
    EXPECT_EQ(l[0], 255);         // (0, 0): padding
    EXPECT_EQ(l[1 * 5 + 0], 0);   // (1, 0): original (0, 0)
    EXPECT_EQ(l[3 * 5 + 3], 23);  // (3, 3): original (2, 3)
    EXPECT_EQ(l[3 * 5 + 4], 255); // right padding
    EXPECT_EQ(im[(5 * 5 + 2) * 3 + 2], 9.f);
    EXPECT_EQ(im[(2 * 5 + 1) * 3 + 1], 111.f); // original (1, 1, 1)
    // Crop rows 1..2, columns 1..3 of the original.
    TensorSample c = s;
    crop(c, 1, 1, 2, 3);
    EXPECT_EQ(c.label.to_i32_vector(), (std::vector<int32_t>{11, 12, 13, 21, 22, 23}));
    EXPECT_EQ(c.image.to_f32_vector()[0], 110.f);
    fixture::expect_error([&] { crop(c, 1, 0, 2, 3); }, {"crop", "does not fit"});
}

TEST(Transforms, ResizeLabelsNearestImagesBilinearOrBicubic) {
    TensorSample s = to_tensors(ramp_sample(3, 4));
    resize(s, 7, 9, Interp::bilinear);
    ASSERT_EQ(s.image.shape(), Shape({7, 9, 3}));
    // Labels are copied, never blended: every value is one of the originals.
    std::set<int32_t> originals = {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23};
    for (int32_t v : s.label.to_i32_vector()) EXPECT_TRUE(originals.count(v)) << v;
    EXPECT_EQ(s.label.to_i32_vector()[8 * 1], 3); // (0, 8) <- floor(8 * 4 / 9) = 3
    // Bicubic: PIL's antialiased filter (PIL rounds to 8 bits after each pass; we stay in float).
    auto ref = pg::test::load_reference("bicubic.safetensors");
    for (const char* name : {"down", "up", "mixed"}) {
        Tensor x = ref[std::string(name) + "_x"];
        Tensor y = ref[std::string(name) + "_y"];
        Sample in{Image{int(x.size(0)), int(x.size(1)), 3, x.to_u8_vector()}, LabelMap{}, name};
        TensorSample t = to_tensors(in);
        resize(t, y.size(0), y.size(1), Interp::bicubic);
        Tensor expected = Tensor::from_vector(y.to_f32_vector(), y.shape());
        EXPECT_TRUE(pg::test::all_close(t.image, expected, 1.0f, 0.f)) << name;
    }
}

// Beside PIL's bicubic the label is resized as PIL resizes it (torchvision on a PIL pair, RIPU):
// centre-sampled nearest. Expected values printed by Pillow 9.4 (Image.resize(..., NEAREST)).
TEST(Transforms, BicubicPairResizesLabelsAsPil) {
    TensorSample down = to_tensors(ramp_sample(3, 4));
    resize(down, 2, 2, Interp::bicubic);
    EXPECT_EQ(down.label.to_i32_vector(),
              (std::vector<int32_t>{1, 3, 21, 23})); // PyTorch: 0 2 10 12
    TensorSample up = to_tensors(ramp_sample(3, 4));
    resize(up, 7, 9, Interp::bicubic);
    const std::vector<int32_t> up_row = {0, 0, 1, 1, 2, 2, 2, 3, 3};
    const std::vector<int32_t> up_rows = {0, 0, 1, 1, 1, 2, 2}; // source row of each output row
    std::vector<int32_t> labels = up.label.to_i32_vector();
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 9; x++)
            EXPECT_EQ(labels[size_t(y * 9 + x)], 10 * up_rows[size_t(y)] + up_row[size_t(x)]);
    // 64x128 -> 48x96 (RIPU's synthetic target): position 4.5 * 128 / 96 accumulates to 5.99...
    Sample big{Image{64, 128, 3, std::vector<uint8_t>(64 * 128 * 3, 0)}, LabelMap{64, 128, {}},
               "big"};
    for (int i = 0; i < 64 * 128; i++) big.label.values.push_back(i % 251);
    TensorSample t = to_tensors(big);
    resize(t, 48, 96, Interp::bicubic);
    const std::vector<int32_t> row5 = t.label.to_i32_vector();
    const std::vector<int32_t> pil = {143, 145, 146, 147, 148, 150, 151, 153, 154, 155, 157, 158};
    EXPECT_EQ(std::vector<int32_t>(row5.begin() + 5 * 96, row5.begin() + 5 * 96 + 12), pil);
}

TEST(Augment, NormalisationConventions) {
    Sample s{Image{1, 1, 3, {10, 20, 30}}, LabelMap{1, 1, {1}}, "px"};
    Generator gen(0);
    auto run = [&](const Normalize& n) {
        AugmentConfig c;
        c.normalize = n;
        return augment(s, c, gen).image.to_f32_vector();
    };
    std::vector<float> u2pl = run(u2pl_normalize()); // RGB 0..255, mean/std
    EXPECT_NEAR(u2pl[0], (10 - 123.675f) / 58.395f, 1e-5f);
    EXPECT_NEAR(u2pl[2], (30 - 103.53f) / 57.375f, 1e-5f);
    std::vector<float> adv = run(advsemiseg_normalize()); // BGR, mean only
    EXPECT_NEAR(adv[0], 30 - 104.00698793f, 1e-4f);
    EXPECT_NEAR(adv[1], 20 - 116.66876762f, 1e-4f);
    EXPECT_NEAR(adv[2], 10 - 122.67891434f, 1e-4f);
    std::vector<float> inet = run(imagenet_normalize()); // RGB 0..1
    EXPECT_NEAR(inet[0], (10 / 255.f - 0.485f) / 0.229f, 1e-5f);
    EXPECT_NEAR(inet[2], (30 / 255.f - 0.406f) / 0.225f, 1e-5f);
    // The mean colour in RGB 0..255 units: AdvSemiSeg's BGR mean reversed.
    std::array<float, 3> m = mean_colour(advsemiseg_normalize());
    EXPECT_NEAR(m[0], 122.67891434f, 1e-4f);
    EXPECT_NEAR(mean_colour(imagenet_normalize())[1], 0.456f * 255.f, 1e-3f);
}

// Checks that every label-255 pixel is padding of colour `pad`, and that every pixel whose 5x5
// neighbourhood has one class c shows kColour[c] (bilinear only blends within that window when
// the scale is >= 0.5). Pixels near the crop's edges are skipped: their windows continue outside.
// Returns how many pixels were checked.
int64_t check_alignment(const TensorSample& s, const std::array<float, 3>& pad) {
    const int64_t H = s.label.size(0), W = s.label.size(1);
    std::vector<int32_t> l = s.label.to_i32_vector();
    std::vector<float> im = s.image.to_f32_vector();
    int64_t checked = 0;
    for (int64_t y = 0; y < H; y++) {
        for (int64_t x = 0; x < W; x++) {
            const int32_t c = l[size_t(y * W + x)];
            const float* px = &im[size_t((y * W + x) * 3)];
            if (c == 255) {
                for (int k = 0; k < 3; k++) EXPECT_EQ(px[k], pad[size_t(k)]) << y << "," << x;
                continue;
            }
            bool uniform = y >= 2 && y < H - 2 && x >= 2 && x < W - 2;
            for (int64_t dy = -2; dy <= 2; dy++)
                for (int64_t dx = -2; dx <= 2; dx++) {
                    int64_t yy = y + dy, xx = x + dx;
                    if (uniform && l[size_t(yy * W + xx)] != c) uniform = false;
                }
            if (!uniform) continue;
            checked++;
            for (int k = 0; k < 3; k++)
                EXPECT_NEAR(px[k], kColour[c][k], 1e-3f) << "pixel " << y << "," << x;
        }
    }
    return checked;
}

TEST(Augment, ImageLabelAlignmentSurvivesRandomPipeline) {
    Sample sample = block_sample(40, 52);
    // U2PL's pipeline (symmetric padding) and AdvSemiSeg's (bottom/right), without normalisation
    // so that colours can be compared, and with a distinctive image padding colour.
    for (AugmentConfig c : {u2pl_train_augment(32), advsemiseg_train_augment(32)}) {
        c.normalize = Normalize();
        c.pad_with_mean = false;
        c.image_pad = {7.f, 8.f, 9.f};
        int64_t checked = 0, padded = 0;
        for (uint64_t seed = 0; seed < 32; seed++) {
            Generator gen(seed);
            TensorSample s = augment(sample, c, gen);
            ASSERT_EQ(s.image.shape(), Shape({32, 32, 3}));
            ASSERT_EQ(s.label.shape(), Shape({32, 32}));
            checked += check_alignment(s, c.image_pad);
            for (int32_t v : s.label.to_i32_vector()) padded += v == 255;
        }
        EXPECT_GT(checked, 32 * 32 * 32 / 8); // many pixels lie away from class borders
        EXPECT_GT(padded, 0);                 // some draws shrank below the crop
    }
}

TEST(Augment, PaddingValuesAndPlacement) {
    Sample small = ramp_sample(3, 4); // label values 0..23, none 255
    AugmentConfig c = u2pl_train_augment(6);
    c.scale_mode = ScaleMode::none;
    c.flip_prob = 0.f;
    c.crop_width = 7;
    Generator gen(3);
    // Symmetric: (6 - 3) rows -> 1 top, 2 bottom; (7 - 4) columns -> 1 left, 2 right.
    TensorSample s = augment(small, c, gen);
    std::vector<int32_t> l = s.label.to_i32_vector();
    std::vector<float> im = s.image.to_f32_vector();
    for (int y = 0; y < 6; y++) {
        for (int x = 0; x < 7; x++) {
            bool inside = y >= 1 && y < 4 && x >= 1 && x < 5;
            EXPECT_EQ(l[size_t(y * 7 + x)], inside ? 10 * (y - 1) + (x - 1) : 255);
            // The mean colour normalises to exactly 0.
            for (int k = 0; k < 3 && !inside; k++) EXPECT_EQ(im[size_t((y * 7 + x) * 3 + k)], 0.f);
        }
    }
    // AdvSemiSeg: bottom/right; label pad configurable (U2PL's original pads 0); image pad 0 RGB.
    c.pad_at = PadAt::bottom_right;
    c.label_pad = 0;
    c.pad_with_mean = false;
    c.image_pad = {0.f, 0.f, 0.f};
    s = augment(small, c, gen);
    l = s.label.to_i32_vector();
    im = s.image.to_f32_vector();
    EXPECT_EQ(l[0], 0);
    EXPECT_EQ(l[1], 1);
    EXPECT_EQ(l[2 * 7 + 3], 23);
    EXPECT_EQ(l[2 * 7 + 4], 0);
    EXPECT_NEAR(im[(5 * 7 + 6) * 3 + 0], -123.675f / 58.395f, 1e-5f);
    // The flip comes after the crop (as in AdvSemiSeg): the padding moves to the left.
    c.flip_prob = 1.f;
    l = augment(small, c, gen).label.to_i32_vector();
    EXPECT_EQ(l[4], 2); // original (0, 2)
    EXPECT_EQ(l[3], 3); // original (0, 3)
    EXPECT_EQ(l[6], 0); // original (0, 0)
    EXPECT_EQ(l[2 * 7 + 3], 23);
}

TEST(Augment, DeterministicFromSeedAndVariesAcrossSeeds) {
    Sample sample = block_sample(20, 26);
    AugmentConfig c = u2pl_train_augment(16);
    Generator a(42), b(42);
    TensorSample x = augment(sample, c, a), y = augment(sample, c, b);
    EXPECT_TRUE(pg::test::all_equal(x.image, y.image));
    EXPECT_TRUE(pg::test::all_equal(x.label, y.label));
    int differing = 0;
    for (uint64_t seed = 0; seed < 6; seed++) {
        Generator g(seed);
        differing += !pg::test::all_equal(augment(sample, c, g).label, x.label);
    }
    EXPECT_GE(differing, 5);
}

TEST(Augment, ScaleModesDrawTheirRanges) {
    Sample sample = ramp_sample(10, 10);
    AugmentConfig c;
    c.scale_min = 0.5f;
    c.scale_max = 1.5f;
    c.scale_mode = ScaleMode::steps; // AdvSemiSeg: {0.5, 0.6, ..., 1.5} -> sides round(10 s)
    std::set<int64_t> sides;
    Generator gen(1);
    for (int i = 0; i < 300; i++) sides.insert(augment(sample, c, gen).image.size(0));
    EXPECT_EQ(sides, (std::set<int64_t>{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
    // U2PL: half the draws in [0.5, 1), half in [1, 2.0): sides int(10 s) in 5..19.
    c.scale_mode = ScaleMode::u2pl;
    c.scale_max = 2.0f;
    int below = 0;
    sides.clear();
    for (int i = 0; i < 400; i++) {
        int64_t h = augment(sample, c, gen).image.size(0);
        sides.insert(h);
        below += h < 10;
    }
    EXPECT_EQ(*sides.begin(), 5);
    EXPECT_EQ(*sides.rbegin(), 19);
    EXPECT_NEAR(below, 200, 40);
}

TEST(Augment, ResizeOnlyAndCenterCrop) {
    Sample sample = ramp_sample(6, 8);
    AugmentConfig c = resize_only(3, 4, Interp::nearest, Normalize());
    Generator gen(0);
    TensorSample s = augment(sample, c, gen);
    EXPECT_EQ(s.label.to_i32_vector(),
              (std::vector<int32_t>{0, 2, 4, 6, 20, 22, 24, 26, 40, 42, 44, 46}));
    EXPECT_EQ(gen.offset(), 0u); // no random draw
    AugmentConfig center;
    center.crop_mode = CropMode::center;
    center.crop_height = 2;
    center.crop_width = 4;
    s = augment(sample, center, gen);
    EXPECT_EQ(s.label.to_i32_vector(), (std::vector<int32_t>{22, 23, 24, 25, 32, 33, 34, 35}));
    AugmentConfig bad = resize_only(3, 0, Interp::bilinear, Normalize());
    fixture::expect_error([&] { augment(sample, bad, gen); }, {"give both sides"});
}

} // namespace
} // namespace pg::seg
