// The bad-input catalogue: each case runs the real binary on a broken input, as a user would,
// and asserts the exit code and the words of the one-line error (or, for the inputs that must be
// handled, the result). Together with config_test and the readers' own tests this is the list of
// what pixelgrad promises to say rather than crash, hang or silently give a wrong answer.
#include <cmath>

#include "seg/data/image_io.h"
#include "tensor/safetensors.h"
#include "tests/seg/cli_helpers.h"
#include "tests/seg/train_helpers.h"

namespace pg::seg {
namespace {

// A tiny world, config and trained run for the current test (ctest runs each test in its own
// process, concurrently, so each test makes its own, named after it).
struct Fixture {
    std::string tmp, config, run, world, weights, state;
};

const Fixture& fixture() {
    static const Fixture f = [] {
        std::string name = std::string("bad_input_") +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name();
        Fixture f;
        f.tmp = ::testing::TempDir() + "pg_" + name + "/";
        fs::remove_all(f.tmp);
        fs::create_directories(f.tmp);
        f.config = write_config(name, "  iterations: 2\n  eval_interval: 2\n");
        f.world = ::testing::TempDir() + "pg_train_world_" + name;
        f.run = f.tmp + "run";
        CliResult r = run_pixelgrad({"train", "-q", "--config", f.config, "--run-dir", f.run});
        EXPECT_EQ(r.exit_code, 0) << r.output;
        f.weights = f.run + "/checkpoints/last.safetensors";
        f.state = f.run + "/checkpoints/last.state.safetensors";
        return f;
    }();
    return f;
}

std::string file_with(const std::string& name, const std::string& bytes) {
    std::string path = fixture().tmp + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `args`; expects exit code `code` (1: a pg::Error line) and every text in the output.
void expect_cli(const std::vector<std::string>& args, int code,
                const std::vector<std::string>& texts) {
    CliResult r = run_pixelgrad(args);
    std::string shown;
    for (const std::string& a : args) shown += a + " ";
    EXPECT_EQ(r.signal, 0) << shown << "was killed: " << r.output;
    EXPECT_EQ(r.exit_code, code) << shown << r.output;
    for (const std::string& t : texts)
        EXPECT_NE(r.output.find(t), std::string::npos) << shown << "\n  lacks '" << t << "':\n"
                                                       << r.output;
}

std::vector<std::string> eval_args(const std::string& weights, std::vector<std::string> more = {}) {
    std::vector<std::string> a{"eval", "--config", fixture().run + "/config.yaml", "--weights",
                               weights};
    a.insert(a.end(), more.begin(), more.end());
    return a;
}

TEST(BadInput, ConfigFiles) {
    const Fixture& f = fixture();
    std::string dir = f.tmp + "cfg_run";
    expect_cli({"train", "--config", f.tmp + "missing.yaml", "--run-dir", dir}, 1,
               {"missing.yaml", "cannot open"});
    expect_cli(
        {"train", "--config", file_with("broken.yaml", "trainer: [1, 2\n"), "--run-dir", dir}, 1,
        {"broken.yaml", "not valid YAML"});
    expect_cli({"train", "--config", f.config, "--run-dir", dir, "--set", "trainer.iteratons=3"}, 1,
               {"unknown key 'trainer.iteratons'", "did you mean 'trainer.iterations'"});
    std::string typo =
        file_with("typo.yaml", "base: " + f.config + "\ndataset:\n  batch_sise: 2\n");
    expect_cli({"train", "--config", typo, "--run-dir", dir}, 1,
               {"typo.yaml", "dataset.batch_sise", "dataset.batch_size"});
    std::string twice = file_with("twice.yaml", "base: " + f.config +
                                                    "\ntrainer:\n  seed: 1\ntrainer:\n  seed: 2\n");
    expect_cli({"train", "--config", twice, "--run-dir", dir}, 1, {"'trainer' is given twice"});
    expect_cli({"train", "--config", f.config, "--run-dir", dir, "--set", "trainer.method=magic"},
               1, {"magic", "supervised"});
    expect_cli({"train", "--config", f.config, "--run-dir", dir, "--set", "net.num_classes=7"}, 1,
               {"7", "classes"});
    EXPECT_FALSE(fs::exists(dir + "/checkpoints")); // failed set-ups leave nothing behind
}

TEST(BadInput, RunDirectoriesAndArguments) {
    const Fixture& f = fixture();
    std::string file = file_with("a_file", "x");
    // A folder that cannot be created: one line and exit 1, not an uncaught exception (134).
    expect_cli({"train", "--config", f.config, "--run-dir", file + "/run"}, 1,
               {"pixelgrad: error:", "a_file"});
    expect_cli({"train", "--config", f.config, "--run-dir", f.run}, 1,
               {"already holds a run", "--resume"});
    expect_cli({"train", "--resume", "--run-dir", f.tmp + "nothing"}, 1, {"nothing to resume"});
    expect_cli({"train", "--config", f.config, "--run-dir", f.tmp + "x", "--stop-after", "-1"}, 105,
               {"--stop-after", "-1"});
    // A session ended by --stop-after says how to go on, as one ended by Ctrl-C does.
    expect_cli({"train", "--config", f.config, "--run-dir", f.tmp + "stopped", "--stop-after", "1"},
               0, {"stopped after step 1", "pixelgrad train --resume --run-dir"});
    expect_cli({"synth", "--out", f.tmp + "w1", "--train", "-1"}, 105, {"--train"});
    expect_cli({"synth", "--out", f.tmp + "w2", "--max-objects", "0"}, 105, {"--max-objects"});
    expect_cli({"synth", "--out", file}, 1, {"a_file", "not a directory"});
}

TEST(BadInput, WeightsFiles) {
    const Fixture& f = fixture();
    expect_cli(eval_args(f.tmp + "none.safetensors"), 1, {"none.safetensors", "does not exist"});
    expect_cli(eval_args(f.tmp), 1, {"is a folder"});
    expect_cli(eval_args(f.weights, {"--split", "nosuch"}), 1, {"has no dataset.nosuch section"});
    // An option that stands for a key is blamed, not the config file.
    expect_cli(eval_args(f.weights, {"--mode", "sliding", "--crop", "16", "--stride", "64"}), 1,
               {"--stride: dataset.val.stride is 64, expected 1..16"});
    std::string bytes = read_bytes(f.weights);
    expect_cli(eval_args(file_with("cut.safetensors", bytes.substr(0, bytes.size() / 2))), 1,
               {"cut.safetensors"});
    expect_cli(eval_args(file_with("junk.safetensors", "not a safetensors file at all")), 1,
               {"junk.safetensors"});
    expect_cli(eval_args(f.state), 1, {"last.state.safetensors"}); // a state is not a weights file
    // Another architecture's weights (DeepLab-v2 config, DeepLabV3+ file) are refused by name.
    expect_cli({"eval", "--config", f.run + "/config.yaml", "--weights", f.weights, "--set",
                "net.arch=deeplabv2"},
               1, {"holds weights of model"});
    // NaN weights: an error naming the tensor; with --allow-nonfinite, no score from NaN logits.
    SafetensorsFile w = read_safetensors(f.weights);
    for (auto& [name, t] : w.tensors)
        if (t.dtype() == DType::f32) t = Tensor::full(t.shape(), NAN);
    std::string nan = f.tmp + "nan.safetensors";
    save_safetensors(nan, w.tensors, w.metadata);
    expect_cli(eval_args(nan), 1, {"nan.safetensors", "NaN or Inf", "--allow-nonfinite"});
    expect_cli(eval_args(nan, {"--allow-nonfinite"}), 1, {"warning", "logits", "NaN or Inf"});
}

// Not an error, but a change the user may not mean: --resume with a --config unlike the run's own.
TEST(BadInput, ResumeWithAnotherConfigSaysSo) {
    const Fixture& f = fixture();
    const std::string dir = f.tmp + "resume_config";
    fs::remove_all(dir);
    CliResult start = run_pixelgrad({"train", "-q", "--config", f.config, "--run-dir", dir, "--set",
                                     "trainer.iterations=3", "--stop-after", "1"});
    ASSERT_EQ(start.exit_code, 0) << start.output;
    // The same file and --set: nothing to say; another file: said.
    CliResult same =
        run_pixelgrad({"train", "-q", "--resume", "--run-dir", dir, "--config", f.config, "--set",
                       "trainer.iterations=3", "--stop-after", "1"});
    ASSERT_EQ(same.exit_code, 0) << same.output;
    EXPECT_EQ(same.output.find("train --resume: going on"), std::string::npos) << same.output;
    std::ifstream in(f.config);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const std::string other_config = file_with("other.yaml", text + "saver:\n  save_every: 1\n");
    CliResult other =
        run_pixelgrad({"train", "-q", "--resume", "--run-dir", dir, "--config", other_config,
                       "--set", "trainer.iterations=3", "--stop-after", "1"});
    ASSERT_EQ(other.exit_code, 0) << other.output;
    EXPECT_NE(other.output.find("train --resume: going on with --config " + other_config +
                                ", which differs from the run's own " + dir + "/config.yaml"),
              std::string::npos)
        << other.output;
}

TEST(BadInput, OutputsAndStates) {
    const Fixture& f = fixture();
    // A full disk: every write is checked after it is flushed and closed.
    expect_cli(eval_args(f.weights, {"--out", "/dev/full"}), 1, {"/dev/full", "failed"});
    // The result never replaces an input, nor an earlier file unless asked (--force).
    expect_cli(eval_args(f.weights, {"--out", f.weights}), 1,
               {"eval --out: the output " + f.weights + " would replace the input"});
    expect_cli(eval_args(f.weights, {"--out", f.run + "/config.yaml", "--force"}), 1,
               {"would replace the input"});
    const std::string earlier = file_with("earlier.json", "{}\n");
    expect_cli(eval_args(f.weights, {"--out", earlier}), 1,
               {earlier + " exists already; pass --force"});
    expect_cli(eval_args(f.weights, {"--out", earlier, "--force"}), 0, {"eval: wrote " + earlier});
    expect_cli(eval_args(f.weights, {"--out", f.tmp}), 1, {"is a folder; expected the path"});
    // A forged state ("1x" steps) is refused, not read as step 1.
    std::string forged = f.tmp + "forged";
    fs::create_directories(forged + "/checkpoints");
    fs::copy(f.run + "/config.yaml", forged + "/config.yaml");
    SafetensorsFile s = read_safetensors(f.state);
    std::string& meta = s.metadata.at("pixelgrad.train_state");
    meta.replace(meta.find("\"step\":\"2\""), 10, "\"step\":\"1x\"");
    save_safetensors(forged + "/checkpoints/last.state.safetensors", s.tensors, s.metadata);
    expect_cli({"train", "--resume", "--run-dir", forged}, 1, {"corrupt", "'1x' is not a count"});
}

TEST(BadInput, SuperpixelsReplaceNoInputAndNoOtherOutput) {
    const Fixture& f = fixture();
    std::string a = f.tmp + "sp_a", b = f.tmp + "sp_b", out = f.tmp + "sp_out";
    fs::create_directories(a);
    fs::create_directories(b);
    fs::copy(f.world + "/JPEGImages/val_000000.jpg", a + "/x.jpg");
    fs::copy(f.world + "/JPEGImages/val_000001.jpg", b + "/x.jpg");
    expect_cli({"superpixels", "--image", a + "/x.jpg", "--out", out}, 0, {"superpixels"});
    EXPECT_TRUE(fs::exists(out + "/x.png") && fs::exists(out + "/x_outline.png"));
    expect_cli({"superpixels", "--image", a + "/x.jpg", "--out", out}, 1,
               {"x.png exists already; pass --force"});
    expect_cli(
        {"superpixels", "--image", a + "/x.jpg", "--image", b + "/x.jpg", "--out", out, "--force"},
        1, {"two outputs would be one file"});
    write_png(a + "/y.png", read_image(a + "/x.jpg"));
    const std::string before = read_bytes(a + "/y.png");
    expect_cli({"superpixels", "--image", a + "/y.png", "--out", a, "--force"}, 1,
               {"would replace the input", "y.png"});
    EXPECT_EQ(read_bytes(a + "/y.png"), before);
}

TEST(BadInput, ImagesAndLabels) {
    const Fixture& f = fixture();
    // predict on a folder with x.jpg and x.png: two predictions, neither written over the other.
    std::string images = f.tmp + "images", preds = f.tmp + "preds";
    fs::create_directories(images);
    fs::copy(f.world + "/JPEGImages/val_000000.jpg", images + "/x.jpg");
    write_png(images + "/x.png", read_image(images + "/x.jpg"));
    CliResult r = run_pixelgrad({"predict", "--config", f.run + "/config.yaml", "--weights",
                                 f.weights, "--images", images, "--out", preds});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(fs::exists(preds + "/x_jpg.png"));
    EXPECT_TRUE(fs::exists(preds + "/x_png.png"));
    // Again: the predictions there are replaced only with --force, and the images never.
    const std::vector<std::string> again{
        "predict", "--config", f.run + "/config.yaml", "--weights", f.weights, "--images", images};
    auto with = [&](std::vector<std::string> more) {
        std::vector<std::string> args = again;
        args.insert(args.end(), more.begin(), more.end());
        return args;
    };
    expect_cli(with({"--out", preds}), 1, {"x_jpg.png exists already; pass --force"});
    const std::string before = read_bytes(images + "/x.png");
    expect_cli(with({"--out", images + "/.", "--force"}), 1, {"is the --images folder"});
    EXPECT_EQ(read_bytes(images + "/x.png"), before);
    // A truncated image and a label id outside the classes stop evaluation with the file's name.
    std::string jpg = read_bytes(f.world + "/JPEGImages/val_000000.jpg");
    file_with("cut.jpg", jpg.substr(0, 40));
    fs::copy(f.tmp + "cut.jpg", images + "/y.jpg");
    expect_cli(with({"--out", preds, "--force"}), 1, {"y.jpg"});
    std::string world = f.tmp + "bad_world";
    fs::copy(f.world, world, fs::copy_options::recursive);
    for (const char* dir : {"/SegmentationClass/", "/SegmentationClassAug/"}) {
        std::string png = world + dir + "val_000001.png";
        if (!fs::exists(png)) continue;
        LabelMap label = read_label_png(png);
        label.values[0] = 7;
        write_palette_png(png, label, voc_palette());
    }
    expect_cli(eval_args(f.weights, {"--set", "dataset.root=" + world}), 1, {"val_000001", "7"});
}

} // namespace
} // namespace pg::seg
