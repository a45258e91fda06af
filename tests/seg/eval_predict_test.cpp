// `pixelgrad eval` and `pixelgrad predict` (seg/cli/eval_command.h, predict_command.h) on a tiny
// synthetic world (VOC layout read as a generic 5-class dataset) with a randomly initialised tiny
// DeepLabV3+: the JSON's confusion matrix equals one accumulated here image by image, sliding with
// a window covering the image equals whole, predictions are palette PNGs of the image's size equal
// to the network's argmax, and bad arguments are errors naming the offending value.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nn/checkpoint.h"
#include "seg/cli/eval_command.h"
#include "seg/cli/predict_command.h"
#include "seg/inference.h"
#include "seg/model_config.h"
#include "seg/synth/world.h"
#include "seg/visualize.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

namespace fs = std::filesystem;
using test::error_of;

const std::string kV3Tiny =
    std::string(PG_TEST_DATA_DIR) + "/../../configs/nets/deeplabv3plus_tiny.yaml";
const std::string kV2Tiny =
    std::string(PG_TEST_DATA_DIR) + "/../../configs/nets/deeplabv2_tiny.yaml";
constexpr int kClasses = 5; // the tiny configs' num_classes
constexpr int kHeight = 20, kWidth = 28;

// Under a folder of the running test: ctest runs every test in its own process, concurrently, so
// files shared between tests would be rewritten while another process reads them.
std::string temp(const std::string& name) {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    return ::testing::TempDir() + "pg_evalpred_" + test + "_" + name;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// A run config (the tiny net + a generic dataset over the world's VOC folders) and weights.
struct Run {
    std::string world, config, weights;
};

Run make_run() {
    Run r{temp("world"), temp("run.yaml"), temp("w.safetensors")};
    synth::WorldOptions o;
    o.out_dir = r.world;
    o.scene.num_classes = kClasses;
    o.scene.height = kHeight, o.scene.width = kWidth;
    o.num_train = 8, o.num_val = 4;
    o.splits = {2};
    o.force = true;
    o.seed = 3;
    synth::write_world(o);
    std::ofstream(r.config) << "dataset:\n"
                            << "  type: generic\n  root: " << r.world << "\n"
                            << "  images_dir: JPEGImages\n  labels_dir: SegmentationClass\n"
                            << "  image_ext: .jpg\n  label_ext: .png\n"
                            << "  train: {list: ImageSets/Segmentation/train.txt}\n"
                            << "  val: {list: ImageSets/Segmentation/val.txt}\n"
                            << read_text(kV3Tiny);
    nn::SegmenterOptions options = segmenter_options(Config::load(r.config).section("net"));
    Generator gen(1);
    nn::save_weights(*nn::build_segmenter(options, gen), r.weights, nn::segmenter_name(options));
    return r;
}

// Written once for all the tests of this file.
const Run& run() {
    static const Run r = make_run();
    return r;
}

// The network of the run with its weights, in eval mode.
std::shared_ptr<nn::SegmentationNet> load_run_net() {
    return load_net("test", run().config, {}, run().weights, Device::cpu()).net;
}

Dataset val_data() {
    Config d = Config::load(run().config).section("dataset");
    return open_split(d, "val", kClasses);
}

// The normalised image of a sample as a batch of one (1, H, W, 3).
Tensor input_of(const Sample& s) {
    TensorSample t = to_tensors(s);
    normalize(t, u2pl_normalize());
    return t.image.alias_with_shape({1, s.image.height, s.image.width, 3});
}

EvalArgs eval_args() {
    EvalArgs a;
    a.config = run().config;
    a.weights = run().weights;
    return a;
}

TEST(EvalCommand, JsonMatchesAConfusionMatrixAccumulatedHere) {
    EvalArgs a = eval_args();
    a.out = temp("out/result.json");
    fs::remove(a.out); // from an earlier run of this test
    std::string returned = run_eval(a);
    nlohmann::json j = nlohmann::json::parse(read_text(a.out));
    EXPECT_EQ(j, nlohmann::json::parse(returned));

    auto net = load_run_net();
    Dataset data = val_data();
    ConfusionMatrix cm(kClasses);
    int64_t labelled = 0;
    for (int64_t i = 0; i < data.size(); i++) {
        Sample s = data.load(i);
        for (int32_t v : s.label.values) labelled += v != 255;
        Tensor labels = Tensor::from_vector(s.label.values, {1, kHeight, kWidth});
        cm.add(predict_labels(predict_whole(*net, input_of(s))), labels);
    }
    ASSERT_EQ(data.size(), 4);
    EXPECT_GT(labelled, 0);
    EXPECT_EQ(j["images"], 4);
    EXPECT_EQ(j["mode"], "whole");
    EXPECT_EQ(j["checkpoint"], run().weights);
    EXPECT_EQ(j["split"], "val");
    EXPECT_EQ(j["skipped"], 0); // listed pairs with a missing file
    EXPECT_EQ(j["pixels"], labelled);
    EXPECT_GE(j["miou"].get<double>(), 0.0);
    EXPECT_LE(j["miou"].get<double>(), 1.0);
    EXPECT_NEAR(j["miou"].get<double>(), cm.mean_iou(), 1e-12);
    EXPECT_EQ(j["class_names"].size(), size_t(kClasses)); // from the world's world.json
    EXPECT_EQ(j["class_names"][0], "background");
    int64_t total = 0;
    for (int t = 0; t < kClasses; t++)
        for (int p = 0; p < kClasses; p++) {
            EXPECT_EQ(j["confusion"][t][p], cm.count(t, p)) << t << " " << p;
            total += j["confusion"][t][p].get<int64_t>();
        }
    EXPECT_EQ(total, labelled);
}

TEST(EvalCommand, SlidingWithAWindowCoveringTheImageEqualsWhole) {
    nlohmann::json whole = nlohmann::json::parse(run_eval(eval_args()));
    EvalArgs a = eval_args();
    a.mode = "sliding";
    a.crop = 32; // >= 20 x 28: one window, the image itself
    a.stride = 32;
    nlohmann::json sliding = nlohmann::json::parse(run_eval(a));
    EXPECT_EQ(sliding["mode"], "sliding");
    EXPECT_EQ(sliding["crop"], 32);
    EXPECT_EQ(sliding["confusion"], whole["confusion"]);
    // Real windows (12 px every 8) still count every labelled pixel once.
    a.crop = 12, a.stride = 8, a.flip = true;
    nlohmann::json windows = nlohmann::json::parse(run_eval(a));
    EXPECT_EQ(windows["stride"], 8);
    EXPECT_EQ(windows["flip"], true);
    EXPECT_EQ(windows["pixels"], whole["pixels"]);
}

TEST(EvalCommand, ATrainingSplitsFlipAndCropAreNotEvaluationSettings) {
    // The training split's flip (and crop) are augmentation: evaluated, it is whole and unflipped
    // unless the command line asks.
    EvalArgs a = eval_args();
    a.split = "train";
    a.overrides = {"dataset.train.flip=true", "dataset.train.crop.size=[16, 16]"};
    nlohmann::json j = nlohmann::json::parse(run_eval(a));
    EXPECT_EQ(j["mode"], "whole");
    EXPECT_EQ(j["flip"], false);
    a.flip = true;
    EXPECT_EQ(nlohmann::json::parse(run_eval(a))["flip"], true);
}

TEST(EvalCommand, LimitEvaluatesTheFirstImages) {
    EvalArgs a = eval_args();
    a.limit = 2;
    nlohmann::json j = nlohmann::json::parse(run_eval(a));
    Dataset data = val_data();
    int64_t labelled = 0;
    for (int64_t i = 0; i < 2; i++)
        for (int32_t v : data.load(i).label.values) labelled += v != 255;
    EXPECT_EQ(j["images"], 2);
    EXPECT_EQ(j["pixels"], labelled);
}

TEST(EvalCommand, ErrorsNameTheOffendingValue) {
    EvalArgs a = eval_args();
    a.config = temp("absent.yaml");
    EXPECT_NE(error_of([&] { run_eval(a); }).find(temp("absent.yaml")), std::string::npos);

    a = eval_args();
    a.mode = "tiled";
    EXPECT_NE(error_of([&] { run_eval(a); }).find("--mode 'tiled'"), std::string::npos);

    a = eval_args();
    a.split = "test";
    std::string msg = error_of([&] { run_eval(a); });
    EXPECT_NE(msg.find("--split 'test'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dataset.test"), std::string::npos) << msg;

    // DeepLab-v2 weights for the DeepLabV3+ config: load_weights names both models.
    nn::SegmenterOptions v2 = segmenter_options(Config::load(kV2Tiny).section("net"));
    Generator gen(2);
    nn::save_weights(*nn::build_segmenter(v2, gen), temp("v2.safetensors"), nn::segmenter_name(v2));
    a = eval_args();
    a.weights = temp("v2.safetensors");
    msg = error_of([&] { run_eval(a); });
    EXPECT_NE(msg.find(nn::segmenter_name(v2)), std::string::npos) << msg;
    EXPECT_NE(msg.find(temp("v2.safetensors")), std::string::npos) << msg;
}

PredictArgs predict_args(const std::string& out) {
    PredictArgs a;
    a.config = run().config;
    a.weights = run().weights;
    a.out = temp(out);
    fs::remove_all(a.out);
    return a;
}

size_t files_in(const std::string& dir) {
    return size_t(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(PredictCommand, WritesThePaletteLabelsAndOverlaysOfEachImage) {
    PredictArgs a = predict_args("pred_val");
    a.overlay = true;
    EXPECT_EQ(run_predict(a), 4);
    EXPECT_EQ(files_in(a.out), 8u); // 4 label maps + 4 overlays
    auto net = load_run_net();
    Dataset data = val_data();
    const Palette palette = palette_for(kClasses);
    for (int64_t i = 0; i < data.size(); i++) {
        Sample s = data.load(i);
        SCOPED_TRACE(s.id);
        LabelMap got = read_label_png(a.out + "/" + s.id + ".png");
        ASSERT_EQ(got.height, kHeight);
        ASSERT_EQ(got.width, kWidth);
        for (int32_t v : got.values) ASSERT_TRUE(v >= 0 && v < kClasses) << v;
        EXPECT_EQ(got.values, predict_labels(predict_whole(*net, input_of(s))).to_i32_vector());
        // The file's palette is palette_for's: pixel 0 shows its class's colour.
        Image colours = read_image(a.out + "/" + s.id + ".png");
        for (int c = 0; c < 3; c++) EXPECT_EQ(colours.pixels[size_t(c)], palette[got.values[0]][c]);
        Image overlay = read_image(a.out + "/" + s.id + "_overlay.png");
        EXPECT_EQ(overlay.height, kHeight);
        EXPECT_EQ(overlay.width, 3 * kWidth + 2 * kSeparatorWidth);
        EXPECT_EQ(overlay.pixels, overlay_row(s.image, &s.label, got, palette).pixels);
    }
}

TEST(PredictCommand, SlidingModeOfTheConfigIsUsed) {
    PredictArgs a = predict_args("pred_sliding");
    a.overrides = {"dataset.val.mode=sliding", "dataset.val.crop.size=[12]",
                   "dataset.val.stride=8"};
    a.limit = 1;
    EXPECT_EQ(run_predict(a), 1);
    EXPECT_EQ(files_in(a.out), 1u);
    auto net = load_run_net();
    Sample s = val_data().load(0);
    LabelMap got = read_label_png(a.out + "/" + s.id + ".png");
    EXPECT_EQ(got.values,
              predict_labels(predict_sliding(*net, input_of(s), 12, 8)).to_i32_vector());
}

TEST(PredictCommand, AFolderOfImagesHasNoTruthPanel) {
    std::string dir = temp("images");
    fs::remove_all(dir);
    fs::create_directories(dir);
    Dataset data = val_data();
    fs::copy_file(data.files(1).image, dir + "/b.jpg");
    fs::copy_file(data.files(0).image, dir + "/a.JPG");
    std::ofstream(dir + "/notes.txt") << "not an image\n";
    PredictArgs a = predict_args("pred_dir");
    a.images = dir;
    a.overlay = true;
    EXPECT_EQ(run_predict(a), 2);
    EXPECT_EQ(files_in(a.out), 4u);
    for (const char* id : {"a", "b"}) {
        LabelMap got = read_label_png(a.out + "/" + id + ".png");
        EXPECT_EQ(got.height, kHeight);
        EXPECT_EQ(got.width, kWidth);
        Image overlay = read_image(a.out + "/" + id + "_overlay.png");
        EXPECT_EQ(overlay.width, 2 * kWidth + kSeparatorWidth);
    }
}

TEST(PredictCommand, ErrorsNameTheOffendingValue) {
    std::string empty = temp("no_images");
    fs::remove_all(empty);
    fs::create_directories(empty);
    std::ofstream(empty + "/readme.txt") << "no images here\n";
    PredictArgs a = predict_args("pred_err");
    a.images = empty;
    std::string msg = error_of([&] { run_predict(a); });
    EXPECT_NE(msg.find("'" + empty + "' holds no .jpg or .png images"), std::string::npos) << msg;

    a = predict_args("pred_err");
    a.split = "unlabeled";
    msg = error_of([&] { run_predict(a); });
    EXPECT_NE(msg.find("--split 'unlabeled'"), std::string::npos) << msg;

    a = predict_args("pred_err");
    a.out = empty + "/readme.txt";
    msg = error_of([&] { run_predict(a); });
    EXPECT_NE(msg.find("--out " + a.out + " is a file; expected the folder"), std::string::npos)
        << msg;
}

} // namespace
} // namespace pg::seg
