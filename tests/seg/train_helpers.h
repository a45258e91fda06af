// Shared by the training tests (train_test, u2pl_train_test): a tiny synthetic world per test, a
// config for a tiny DeepLabV3+ on it, fresh run directories and metrics.jsonl rows.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "seg/synth/world.h"
#include "seg/train/trainer.h"
#include "tensor/safetensors.h"
#include "tests/common/test_util.h"

namespace pg::seg {

namespace fs = std::filesystem;

// 5 classes at 32x32: big enough to learn something in a few dozen steps. ctest runs each test in
// its own process, concurrently: every test writes its own world (`name`), else one process would
// replace the files another is reading.
// tiny_world's options, for tests that change a few before writing (`dir`: under the temp dir).
inline synth::WorldOptions tiny_world_options(const std::string& dir) {
    synth::WorldOptions o;
    o.out_dir = ::testing::TempDir() + dir;
    o.scene.height = o.scene.width = 32;
    o.scene.num_classes = 5;
    o.scene.min_size = 0.2f;
    o.scene.max_size = 0.4f;
    o.scene.max_objects = 3;
    o.num_train = 32;
    o.num_val = 16;
    o.splits = {16};
    o.force = true;
    return o;
}

inline std::string tiny_world(const std::string& name) {
    synth::WorldOptions o = tiny_world_options("pg_train_world_" + name);
    synth::write_world(o);
    return o.out_dir;
}

inline std::string write_config(const std::string& name, const std::string& trainer_extra = "") {
    std::string path = ::testing::TempDir() + "pg_train_" + name + ".yaml";
    std::ofstream(path) << "dataset:\n"
                           "  type: voc\n"
                           "  root: "
                        << tiny_world(name)
                        << "\n"
                           "  batch_size: 4\n"
                           "  workers: 2\n"
                           "  train: {list: splits/16/labeled.txt, rand_resize: [0.75, 1.25],\n"
                           "          resize_mode: uniform, crop: {type: rand, size: [32, 32]}}\n"
                           "  val: {split: val}\n"
                           "net:\n"
                           "  num_classes: 5\n"
                           "  backbone: {variant: C, blocks: [1, 1, 1, 1], width: 0.0625}\n"
                           "  decoder: {inner_planes: 16, dilations: [1, 2, 3], use_rep: false,"
                           " dropout: 0.1}\n"
                           "  aux_loss: {loss_weight: 0.4}\n"
                           "trainer:\n"
                           "  log_every: 2\n"
                           "  optimizer: {type: SGD, kwargs: {lr: 0.02, momentum: 0.9,"
                           " weight_decay: 0.0001}}\n"
                        << trainer_extra;
    return path;
}

// f() throws a pg::Error whose message contains every one of `texts`.
inline void expect_errors(const std::function<void()>& f, const std::vector<std::string>& texts) {
    std::string message = test::error_of(f);
    ASSERT_FALSE(message.empty()) << "no error; expected one mentioning " << texts[0];
    for (const std::string& t : texts) EXPECT_NE(message.find(t), std::string::npos) << message;
}

inline std::string fresh_dir(const std::string& name) {
    std::string dir = ::testing::TempDir() + "pg_train_run_" + name;
    fs::remove_all(dir);
    return dir;
}

inline std::vector<nlohmann::json> rows(const std::string& run_dir, const std::string& type) {
    std::ifstream in(run_dir + "/metrics.jsonl");
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) {
        nlohmann::json j = nlohmann::json::parse(line);
        if (j["type"] == type) out.push_back(j);
    }
    return out;
}

// Trains `config` (with `overrides`, `steps` in total) straight through in RUN_DIR <name>_straight,
// and again in <name>_interrupted stopped after `stop_after` steps and resumed to the end.
// Returns the two run directories.
inline std::pair<std::string, std::string>
straight_and_resumed(const std::string& name, const std::string& config,
                     const std::vector<std::string>& overrides, int64_t steps, int64_t stop_after) {
    TrainOptions straight;
    straight.config = config;
    straight.overrides = overrides;
    straight.run_dir = fresh_dir(name + "_straight");
    straight.quiet = true;
    straight.finish = false;
    train(straight);

    TrainOptions first = straight;
    first.run_dir = fresh_dir(name + "_interrupted");
    first.stop_after = stop_after;
    TrainResult part = train(first);
    EXPECT_FALSE(part.completed);
    EXPECT_EQ(part.steps, stop_after);
    TrainOptions again;
    again.run_dir = first.run_dir; // config (with the overrides) from RUN_DIR/config.yaml
    again.resume = true;
    again.quiet = true;
    again.finish = false;
    TrainResult rest = train(again);
    EXPECT_TRUE(rest.completed);
    EXPECT_EQ(rest.steps, steps);
    return {straight.run_dir, first.run_dir};
}

// Every tensor of checkpoints/<file> is bit-identical in the two run directories.
inline void expect_same_checkpoints(const std::string& a_dir, const std::string& b_dir,
                                    const std::vector<std::string>& files) {
    for (const std::string& f : files) {
        auto a = load_safetensors(a_dir + "/checkpoints/" + f);
        auto b = load_safetensors(b_dir + "/checkpoints/" + f);
        ASSERT_EQ(a.size(), b.size()) << f;
        for (auto& [key, t] : a) EXPECT_TRUE(test::all_equal(t, b.at(key))) << f << " " << key;
    }
}

} // namespace pg::seg
