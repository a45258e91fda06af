// The label-noise pipeline's pixel and graph steps on hand-made maps: tags files and tags from
// labels, the CAM label's background threshold, per-pixel losses, the delta search on a constructed
// case, label quality, superpixel adjacency and means, the pruning rule on a hand graph, the node
// majority vote and the corrected labels.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "seg/correct/noisy_labels.h"
#include "seg/correct/superpixel_graph.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

namespace fs = std::filesystem;
using test::expect_error;

LabelMap label_map(int h, int w, std::vector<int32_t> v) { return {h, w, std::move(v)}; }

TEST(Tags, ReadsTheTagsFileAndRejectsBadClasses) {
    fs::path dir = fs::temp_directory_path() / "pg_tags_test";
    fs::create_directories(dir);
    std::ofstream(dir / "tags.txt") << "a 2 1 2\nb\n\nc 1\n";
    auto tags = read_tags_file((dir / "tags.txt").string(), 3);
    EXPECT_EQ(tags.at("a"), (std::vector<int>{1, 2}));
    EXPECT_TRUE(tags.at("b").empty());
    EXPECT_EQ(tags.at("c"), (std::vector<int>{1}));
    std::ofstream(dir / "bad.txt") << "a 1\nb 3\n";
    expect_error([&] { read_tags_file((dir / "bad.txt").string(), 3); },
                 "line 2: '3' is not a foreground class index (1..2)");
    std::ofstream(dir / "twice.txt") << "a 1\na 2\n";
    expect_error([&] { read_tags_file((dir / "twice.txt").string(), 3); }, "listed twice");
    // From a label map: background and void are not tags.
    EXPECT_EQ(tags_from_label(label_map(1, 5, {0, 2, 255, 2, 0}), 3), (std::vector<int>{2}));
}

TEST(CamLabel, BackgroundBelowTheThresholdArgmaxAbove) {
    // 1 x 3 pixels, 2 foreground maps: (0.1, 0.2) -> bg; (0.6, 0.3) -> 1; (0.3, 0.3) -> 1 (tie: first).
    std::vector<float> cams{0.1f, 0.2f, 0.6f, 0.3f, 0.3f, 0.3f};
    EXPECT_EQ(cam_label(cams, 1, 3, 2, 0.25f).values, (std::vector<int32_t>{0, 1, 1}));
    EXPECT_EQ(cam_label(cams, 1, 3, 2, 0.15f).values, (std::vector<int32_t>{2, 1, 1}));
    EXPECT_EQ(cam_label(cams, 1, 3, 2, 0.7f).values, (std::vector<int32_t>{0, 0, 0}));
}

TEST(PixelLosses, CrossEntropyOfTheLabelledClass) {
    std::vector<float> probs{0.5f, 0.25f, 0.25f, 0.1f, 0.8f, 0.1f};
    std::vector<float> l = pixel_losses(probs, label_map(1, 2, {0, 255}), 3);
    EXPECT_NEAR(l[0], std::log(2.f), 1e-6);
    EXPECT_EQ(l[1], 0.f);
}

TEST(ChooseDelta, FindsTheCutThatSeparatesRightFromWrong) {
    // Right labels have losses 0.1..0.4, wrong ones 0.9..1.2, one wrong outlier at 0.2.
    std::vector<DeltaSample> s;
    for (float l : {0.1f, 0.3f, 0.4f, 0.35f}) s.push_back({l, true});
    for (float l : {0.9f, 1.2f, 1.0f, 0.2f}) s.push_back({l, false});
    DeltaChoice d = choose_delta(s);
    EXPECT_NEAR(d.delta, 0.65f, 1e-6); // midpoint of 0.4 and 0.9
    EXPECT_NEAR(d.accuracy, 7.0 / 8.0, 1e-12);
    EXPECT_EQ(d.samples, 8);
    // Everything right: the cut after the last (everything clean).
    DeltaChoice all = choose_delta({{0.5f, true}, {0.7f, true}});
    EXPECT_GT(all.delta, 0.7f);
    EXPECT_EQ(all.accuracy, 1.0);
    // Everything wrong: delta at or below the smallest loss (nothing is clean).
    DeltaChoice none = choose_delta({{0.5f, false}, {0.7f, false}});
    EXPECT_LE(none.delta, 0.5f);
    EXPECT_EQ(none.accuracy, 1.0);
    expect_error([] { choose_delta({}); }, "no pixels");
}

TEST(LabelQuality, AccuracyMiouAndTheCleanSubset) {
    LabelMap truth = label_map(1, 6, {0, 0, 1, 1, 2, 255});
    LabelMap label = label_map(1, 6, {0, 1, 1, 1, 255, 2});
    LabelQuality q(3);
    q.add(label, truth);
    EXPECT_NEAR(q.pixel_accuracy(), 300.0 / 5, 1e-9); // 3 right of 5 scored (255 counts wrong)
    // IoU: class 0 1/2, class 1 2/3, class 2 0/1.
    EXPECT_NEAR(q.miou(), 100.0 * (0.5 + 2.0 / 3 + 0) / 3, 1e-9);
    EXPECT_NEAR(q.coverage(), 80.0, 1e-9);
    LabelQuality clean(3);
    clean.add_where(label, truth, {1, 0, 1, 0, 0, 1});
    EXPECT_NEAR(clean.pixel_accuracy(), 100.0, 1e-9); // pixels 0 and 2, both right
    EXPECT_NEAR(clean.coverage(), 40.0, 1e-9);
}

// 3 x 4 superpixels:  0 0 1 1 / 0 2 2 1 / 3 3 2 1
const std::vector<int32_t> kSp{0, 0, 1, 1, 0, 2, 2, 1, 3, 3, 2, 1};

TEST(SuperpixelGraph, AdjacencyAndMeans) {
    auto pairs = superpixel_adjacency(kSp, 3, 4, 4);
    std::vector<std::pair<int32_t, int32_t>> want{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {2, 3}};
    EXPECT_EQ(pairs, want);
    std::vector<float> feat(12);
    for (int p = 0; p < 12; p++) feat[size_t(p)] = float(p);
    std::vector<float> m = superpixel_means(feat, 1, kSp, 4);
    EXPECT_EQ(m, (std::vector<float>{(0 + 1 + 4) / 3.f, (2 + 3 + 7 + 11) / 4.f, (5 + 6 + 10) / 3.f,
                                     (8 + 9) / 2.f}));
    expect_error([] { superpixel_means(std::vector<float>(12), 1, kSp, 5); },
                 "superpixel 4 of 5 has no pixel");
}

TEST(SuperpixelGraph, PruningKeepsSimilarEdgesAndEachNodesBestNeighbour) {
    // 1-d features: a = 2, b = 2, c = 0.1, d = -1 on the path a-b, b-c, c-d plus a-c.
    // S = f_i f_j (D = 1): ab 4, bc 0.2, cd -0.1, ac 0.2; mean 1.075, sd ~1.69 -> t (k = 0) = 1.075.
    std::vector<std::pair<int32_t, int32_t>> adj{{0, 1}, {0, 2}, {1, 2}, {2, 3}};
    PrunedGraph g = prune_by_similarity(adj, {2.f, 2.f, 0.1f, -1.f}, 1, 0.f);
    EXPECT_NEAR(g.threshold, 1.075f, 1e-6);
    EXPECT_EQ(g.adjacent, 4);
    // ab: similar. ac and bc: c's best (0.2 ties) -> kept. cd: d's only neighbour -> kept.
    EXPECT_EQ(g.src, (std::vector<int32_t>{0, 0, 1, 2}));
    // With k = 5 nothing is "similar enough": only edges that are some end's best survive.
    // S: 01 9, 02 3, 12 3, 23 2: node 2's best is 3 (02 and 12 tie), node 3's is 23: all kept.
    PrunedGraph all =
        prune_by_similarity({{0, 1}, {0, 2}, {1, 2}, {2, 3}}, {3.f, 3.f, 1.f, 2.f}, 1, 5.f);
    EXPECT_EQ(all.src.size(), 4u);
    PrunedGraph dropped =
        prune_by_similarity({{0, 1}, {0, 2}, {1, 2}, {2, 3}}, {3.f, 3.f, 1.f, 4.f}, 1, 5.f);
    // With d = 4, S 23 = 4 becomes 2's best: 02 (0's best is 9, 2's is 4) and 12 are dropped.
    EXPECT_EQ(dropped.src, (std::vector<int32_t>{0, 2}));
    EXPECT_EQ(dropped.dst, (std::vector<int32_t>{1, 3}));
}

TEST(SuperpixelGraph, MajorityVoteOfCleanPixelsAndCorrectedLabels) {
    LabelMap cam = label_map(3, 4, {1, 1, 2, 2, 0, 0, 0, 2, 1, 1, 1, 0});
    std::vector<uint8_t> clean{1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1};
    // sp 0 = pixels {0, 1, 4}: clean 0, 1 (class 1, 1) -> 2/3 clean -> 1.
    // sp 1 = {2, 3, 7, 11}: clean 2 (2), 7 (2), 11 (0) -> 3/4 -> 2.
    // sp 2 = {5, 6, 10}: clean 5 (0), 10 (1) -> 2/3, tie 0 vs 1 -> 0 (lowest).
    // sp 3 = {8, 9}: none clean -> 255.
    std::vector<int32_t> nodes = majority_node_labels(kSp, 4, cam, clean, 3, 0.5f);
    EXPECT_EQ(nodes, (std::vector<int32_t>{1, 2, 0, 255}));
    EXPECT_EQ(majority_node_labels(kSp, 4, cam, clean, 3, 0.7f),
              (std::vector<int32_t>{255, 2, 255, 255}));
    // Noisy pixels take their node's prediction; clean ones keep the CAM label.
    LabelMap out = corrected_labels(kSp, cam, clean, {1, 2, 0, 2});
    EXPECT_EQ(out.values, (std::vector<int32_t>{1, 1, 2, 2, 1, 0, 0, 2, 2, 2, 1, 0}));
}

} // namespace
} // namespace pg::seg
