// SLIC superpixels: Lab conversion on known colours, every pixel in exactly one 4-connected
// superpixel, the count near the request and growing with it, compactness giving rounder cells,
// boundaries that follow a colour edge off the seeding grid, and named errors on bad input.
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "seg/correct/slic.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

using test::expect_error;

// A textured picture: smooth colour waves plus noise, so that k-means has something to do.
Image waves(int h, int w, uint32_t seed) {
    Image im{h, w, 3, std::vector<uint8_t>(size_t(h) * w * 3)};
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> noise(-20, 20);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                double v = 128 + 90 * std::sin(0.13 * x * (c + 1) + 0.07 * y * (3 - c));
                im.pixels[(size_t(y) * w + x) * 3 + c] =
                    uint8_t(std::clamp(int(v) + noise(rng), 0, 255));
            }
    return im;
}

// Number of 4-connected components of superpixel `id`.
int components(const Superpixels& s, int h, int w, int id) {
    std::vector<char> seen(s.labels.size(), 0);
    int parts = 0;
    for (size_t start = 0; start < s.labels.size(); start++) {
        if (s.labels[start] != id || seen[start]) continue;
        parts++;
        std::vector<size_t> stack{start};
        seen[start] = 1;
        while (!stack.empty()) {
            size_t p = stack.back();
            stack.pop_back();
            int x = int(p % w), y = int(p / w);
            const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
            for (int d = 0; d < 4; d++) {
                int qx = x + dx[d], qy = y + dy[d];
                if (qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
                size_t q = size_t(qy) * w + qx;
                if (!seen[q] && s.labels[q] == id) seen[q] = 1, stack.push_back(q);
            }
        }
    }
    return parts;
}

TEST(Slic, LabOfKnownColours) {
    Image im{1, 3, 3, {255, 255, 255, 255, 0, 0, 0, 0, 0}};
    std::vector<float> lab = rgb_to_lab(im);
    // White, sRGB red and black under D65 (the standard table values).
    EXPECT_NEAR(lab[0], 100.0, 0.05);
    EXPECT_NEAR(lab[1], 0.0, 0.05);
    EXPECT_NEAR(lab[2], 0.0, 0.05);
    EXPECT_NEAR(lab[3], 53.24, 0.05);
    EXPECT_NEAR(lab[4], 80.09, 0.1);
    EXPECT_NEAR(lab[5], 67.20, 0.1);
    EXPECT_NEAR(lab[6], 0.0, 1e-4);
}

TEST(Slic, EveryPixelIsInExactlyOneConnectedSuperpixel) {
    for (uint32_t seed : {1u, 2u, 3u}) {
        Image im = waves(70, 90, seed);
        Superpixels s = slic(im, {60, 10, 10, 0.25f});
        ASSERT_EQ(s.labels.size(), size_t(70 * 90));
        std::vector<int> size(s.count, 0);
        for (int32_t l : s.labels) {
            ASSERT_GE(l, 0);
            ASSERT_LT(l, s.count);
            size[l]++;
        }
        for (int id = 0; id < s.count; id++) {
            EXPECT_GT(size[id], 0) << "id " << id << " unused";
            EXPECT_EQ(components(s, 70, 90, id), 1) << "superpixel " << id << " seed " << seed;
        }
    }
}

TEST(Slic, CountIsNearTheRequestAndGrowsWithIt) {
    Image im = waves(100, 120, 7);
    int previous = 0;
    for (int k : {20, 80, 300}) {
        int count = slic(im, {k, 10, 10, 0.25f}).count;
        EXPECT_GE(count, 0.6 * k) << "requested " << k;
        EXPECT_LE(count, 1.4 * k) << "requested " << k;
        EXPECT_GT(count, previous);
        previous = count;
    }
}

// Mean over superpixels of perimeter^2 / (4 pi area): 1 for a disc, larger when ragged.
double mean_raggedness(const Superpixels& s, int h, int w) {
    std::vector<double> area(s.count, 0), perimeter(s.count, 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int32_t l = s.labels[size_t(y) * w + x];
            area[l]++;
            if (x + 1 < w && s.labels[size_t(y) * w + x + 1] != l) perimeter[l]++;
            if (x > 0 && s.labels[size_t(y) * w + x - 1] != l) perimeter[l]++;
            if (y + 1 < h && s.labels[size_t(y + 1) * w + x] != l) perimeter[l]++;
            if (y > 0 && s.labels[size_t(y - 1) * w + x] != l) perimeter[l]++;
        }
    double sum = 0;
    for (int l = 0; l < s.count; l++) sum += perimeter[l] * perimeter[l] / (4 * M_PI * area[l]);
    return sum / s.count;
}

TEST(Slic, HigherCompactnessGivesRounderCells) {
    Image im = waves(80, 80, 11);
    double loose = mean_raggedness(slic(im, {64, 1, 10, 0.25f}), 80, 80);
    double compact = mean_raggedness(slic(im, {64, 40, 10, 0.25f}), 80, 80);
    EXPECT_LT(compact, 0.8 * loose) << "loose " << loose << " compact " << compact;
}

TEST(Slic, BoundariesFollowAColourEdgeOffTheGrid) {
    // Left of x = 23 + y/4 dark blue, right of it orange: seeds every ~8 pixels never sit on it.
    const int h = 48, w = 64;
    Image im{h, w, 3, std::vector<uint8_t>(size_t(h) * w * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            bool right = x >= 23 + y / 4;
            uint8_t* p = &im.pixels[(size_t(y) * w + x) * 3];
            p[0] = right ? 240 : 20, p[1] = right ? 140 : 30, p[2] = right ? 20 : 120;
        }
    Superpixels s = slic(im, {48, 10, 10, 0.25f});
    std::vector<std::map<bool, int>> sides(s.count);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) sides[s.labels[size_t(y) * w + x]][x >= 23 + y / 4]++;
    int leaked = 0; // pixels on the minority side of their superpixel
    for (auto& m : sides) leaked += std::min(m[false], m[true]);
    EXPECT_EQ(leaked, 0);
}

TEST(Slic, RejectsBadInput) {
    Image grey{4, 4, 1, std::vector<uint8_t>(16)};
    expect_error([&] { slic(grey, {}); }, "expected an RGB image");
    Image rgb{4, 4, 3, std::vector<uint8_t>(48)};
    expect_error([&] { slic(rgb, {0, 10, 10, 0.25f}); }, "num_segments 0 must be >= 1");
    expect_error([&] { slic(rgb, {4, -1, 10, 0.25f}); }, "compactness -1 must be > 0");
    // More segments than pixels is clamped, not an error: every pixel may be its own superpixel.
    EXPECT_LE(slic(rgb, {100, 10, 10, 0.0f}).count, 16);
}

} // namespace
} // namespace pg::seg
