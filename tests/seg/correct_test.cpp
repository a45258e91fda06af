// `pixelgrad correct` end to end on a tiny world (seg/correct/pipeline.h): the clean model trained
// inside the run, the CAM classifier trained on the weak images' tags, one label per weak image
// and stage, the lists for stage 8 (every strong and weak image once), quality.json with the four
// stages and the clean model's prediction, an existing output refused without force, and a bad `correct` key named.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "seg/correct/cam_stage.h"
#include "seg/correct/pipeline.h"
#include "seg/data/image_io.h"
#include "tensor/safetensors.h"
#include "tests/seg/train_helpers.h"

namespace pg::seg {
namespace {

std::string correct_config(const std::string& name) {
    return write_config(name, "  iterations: 6\n  eval_interval: 6\n  seed: 0\n");
}

// The tiny training config plus the `correct` section (written next to it).
std::string with_correct(const std::string& name, const std::string& out) {
    std::string base = correct_config(name);
    std::string path = ::testing::TempDir() + "pg_correct_" + name + ".yaml";
    std::ofstream(path) << "base: " << base
                        << "\n"
                           "dataset:\n"
                           "  weak: {list: splits/16/unlabeled.txt}\n"
                           "correct:\n"
                           "  out: "
                        << out
                        << "\n"
                           "  tags: tags.txt\n"
                           "  cam: {iterations: 4, batch_size: 4, size: [32, 32]}\n"
                           "  slic: {pixels_per_superpixel: 40}\n"
                           "  gat: {epochs: 5, batch_graphs: 6}\n"
                           "  crf: {iterations: 2}\n"
                           "  rows: 2\n";
    return path;
}

std::set<std::string> list_lines(const std::string& path) {
    std::set<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines.insert(line);
    return lines;
}

TEST(Correct, OnATinyWorldWritesOneLabelPerWeakImageAndStage) {
    std::string out = fresh_dir("correct_tiny");
    CorrectArgs a;
    a.config = with_correct("correct_tiny", out);
    a.quiet = true;
    CorrectResult r = run_correct(a);
    EXPECT_EQ(r.weak_images, 16); // 32 train images, 16 strong
    EXPECT_GT(r.nodes, 16 * 10);
    EXPECT_GT(r.delta.samples, 0);
    for (const char* stage : {"cam", "gat", "crf", "prediction"}) {
        int64_t files = 0;
        for (const auto& f : fs::directory_iterator(out + "/labels/" + stage)) {
            LabelMap l = read_label_png(f.path().string());
            EXPECT_EQ(l.height, 32);
            for (int32_t v : l.values) ASSERT_TRUE(v < 5 || v == 255) << f.path() << " " << v;
            files++;
        }
        EXPECT_EQ(files, 16) << stage;
        EXPECT_EQ(list_lines(out + "/lists/strong_plus_" + std::string(stage) + ".txt").size(),
                  32u);
    }
    nlohmann::json q = nlohmann::json::parse(std::ifstream(out + "/quality.json"));
    // cam, detection (clean pixels), gat, crf, and the clean model's own prediction beside them.
    ASSERT_EQ(q["stages"].size(), 5u);
    EXPECT_EQ(q["stages"][0]["stage"], "cam");
    EXPECT_EQ(q["stages"][4]["stage"], "clean model's prediction");
    for (const auto& s : q["stages"]) {
        EXPECT_GE(s["accuracy"].get<double>(), 0.0);
        EXPECT_LE(s["accuracy"].get<double>(), 100.0);
    }
    EXPECT_TRUE(fs::exists(out + "/cam.safetensors"));
    EXPECT_TRUE(fs::exists(out + "/clean/checkpoints/best.safetensors"));
    EXPECT_EQ(std::distance(fs::directory_iterator(out + "/rows"), fs::directory_iterator()), 2);
    EXPECT_TRUE(fs::exists(out + "/quality.md"));
    EXPECT_TRUE(fs::exists(out + "/report.html"));
    for (const auto& f : fs::recursive_directory_iterator(out)) // every file written whole
        EXPECT_NE(f.path().extension(), ".tmp") << f.path();
    // Again into the same folder: refused unless forced.
    expect_errors([&] { run_correct(a); }, {out, "already exists", "--force"});
}

TEST(Correct, BadCorrectKeysAreNamed) {
    CorrectArgs a;
    a.config = with_correct("correct_bad", fresh_dir("correct_bad_out"));
    a.overrides = {"correct.graph.features=pixels"};
    expect_errors([&] { run_correct(a); }, {"correct.graph.features", "pixels", "decoder"});
    a.overrides = {"correct.gat.epoch=3"};
    expect_errors([&] { run_correct(a); }, {"unknown key", "correct.gat.epochs"});
    a.overrides = {"correct.nodes.min_clean_fraction=2"};
    expect_errors([&] { run_correct(a); },
                  {"--set correct.nodes.min_clean_fraction: ", "must be in [0, 1]"});
    a.overrides = {"correct.cam.size=[0, 64]"}; // one side kept, the other resized
    expect_errors([&] { run_correct(a); }, {"--set correct.cam.size: ", "both > 0, or [0, 0]"});
    // The weak split must be given, and hold none of the strong (pixel-labelled) images.
    a.overrides = {"dataset.weak.list=splits/16/labeled.txt"};
    expect_errors([&] { run_correct(a); }, {"is in both the strong split", "dataset.weak"});
    std::string no_weak = ::testing::TempDir() + "pg_correct_no_weak.yaml";
    std::ofstream(no_weak) << "base: " << correct_config("correct_no_weak")
                           << "\ncorrect: {out: " << fresh_dir("correct_no_weak_out")
                           << ", tags: tags.txt}\n";
    a.config = no_weak;
    a.overrides = {};
    expect_errors([&] { run_correct(a); }, {"correct needs dataset.weak"});
}

// correct.cam.pretrain: an ImageNet ResNet's keys land in the CAM backbone (its fc has no place and
// is skipped); a file with nothing that fits is an error naming it.
TEST(Correct, CamPretrainLoadsAnImageNetResNetIntoTheBackbone) {
    nn::ResNetOptions ro;
    ro.blocks = {1, 1, 1, 1};
    ro.width = 0.0625f;
    Generator g1(1), g2(2);
    nn::ResNet imagenet(ro, g1);
    std::map<std::string, Tensor> state = imagenet.state_dict();
    state["fc.weight"] = Tensor::zeros({10, 4});
    std::string path = ::testing::TempDir() + "pg_cam_pretrain.safetensors";
    save_safetensors(path, state);
    CamNet cam(ro, 3, g2);
    load_cam_backbone(cam, path);
    std::map<std::string, Tensor> loaded = cam.state_dict();
    for (const auto& [key, t] : imagenet.state_dict())
        EXPECT_EQ(loaded.at("backbone." + key).to_f32_vector(), t.to_f32_vector()) << key;
    std::string other = ::testing::TempDir() + "pg_cam_pretrain_other.safetensors";
    save_safetensors(other, {{"head.weight", Tensor::zeros({2, 2})}});
    expect_errors([&] { load_cam_backbone(cam, other); },
                  {other, "correct.cam.pretrain", "conv1.weight"});
}

} // namespace
} // namespace pg::seg
