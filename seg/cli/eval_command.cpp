// pixelgrad eval --config run.yaml --weights best.safetensors [--allow-nonfinite] [--split val]
//                [--mode whole|center_crop|pad|sliding] [--crop N] [--stride N] [--flip]
//                [--device cpu|cuda:0] [--limit N] [--out result.json [--force]]
//                [--set key=value ...]
// Command-line evaluation settings become overrides of dataset.<split>.* before eval_options()
// reads them, so they are checked exactly as config values are.
#include "seg/cli/eval_command.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "nn/checkpoint.h"
#include "seg/config_keys.h"
#include "seg/model_config.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg::seg {

namespace fs = std::filesystem;

static void check_split(const std::string& command, const Config& config,
                        const std::string& split) {
    // From the sections present: has() of a name that is no split would read an undeclared key.
    const std::vector<std::string> sections = config.section("dataset").keys();
    const bool present = std::find(sections.begin(), sections.end(), split) != sections.end() &&
                         config.section("dataset").is_section(split);
    PG_CHECK(present, command, ": --split '", split, "': ", config.source(), " has no dataset.",
             split, " section (expected e.g. dataset.val with the split's list and eval settings)");
}

void check_input_file(const std::string& what, const std::string& path) {
    PG_CHECK(fs::exists(path), what, " '", path, "' does not exist");
    PG_CHECK(!fs::is_directory(path), what, " '", path, "' is a folder, expected a file");
    PG_CHECK(fs::is_regular_file(path), what, " '", path, "' is not a regular file");
}

LoadedNet load_net(const std::string& command, const std::string& config_path,
                   const std::vector<std::string>& overrides, const std::string& weights,
                   const Device& device, const std::string& split, bool allow_nonfinite) {
    check_input_file(command + ": config file", config_path);
    check_input_file(command + ": weights file", weights);
    Config config = Config::load(config_path, overrides);
    check_config_keys(config);
    PG_CHECK(config.has("net"), command, ": ", config_path, " has no `net` section");
    PG_CHECK(config.has("dataset"), command, ": ", config_path, " has no `dataset` section");
    if (!split.empty()) check_split(command, config, split);
    // A training split's flip and crop are augmentation, not evaluation settings: read it as
    // held-out images (whole, no flip) unless the command line says otherwise.
    for (const char* training : {"train", "source", "unlabeled", "target", "weak"})
        if (split == training) {
            config.set("dataset." + split + ".flip", "false");
            config.set("dataset." + split + ".mode", "whole");
        }
    nn::SegmenterOptions options = segmenter_options(config.section("net"));
    Generator gen(0); // the initial values are all overwritten by the strict load
    std::shared_ptr<nn::SegmentationNet> net = nn::build_segmenter(options, gen);
    nn::load_weights(*net, weights, /*strict=*/true, nn::segmenter_name(options), allow_nonfinite);
    net->to(device);
    net->eval();
    return LoadedNet{config, net};
}

std::function<void(const EvalProgress&)> progress_printer(const std::string& command) {
    auto last_tenth = std::make_shared<int64_t>(0);
    return [command, last_tenth](const EvalProgress& p) {
        if (p.total < 10) return;
        int64_t tenth = 10 * p.done / p.total;
        if (tenth == *last_tenth) return;
        *last_tenth = tenth;
        std::cerr << command << ": " << 10 * tenth << "% (" << p.done << "/" << p.total
                  << " images)\n";
    };
}

// The command line's evaluation settings, checked before the (slow) network load.
static void check_eval_args(const EvalArgs& a) {
    PG_CHECK(a.mode.empty() || a.mode == "whole" || a.mode == "center_crop" || a.mode == "pad" ||
                 a.mode == "sliding",
             "eval: --mode '", a.mode, "' is not one of whole, center_crop, pad, sliding");
    PG_CHECK(a.crop >= 0 && a.stride >= 0 && a.limit >= 0, "eval: --crop ", a.crop, ", --stride ",
             a.stride, " and --limit ", a.limit, " must not be negative");
}

// ... and applied as overrides of dataset.<split>.*.
static void apply_eval_overrides(const EvalArgs& a, Config& config) {
    const std::string key = "dataset." + a.split + ".";
    if (!a.mode.empty()) config.set_by(key + "mode", a.mode, "--mode");
    if (a.crop > 0) config.set_by(key + "crop.size", "[" + std::to_string(a.crop) + "]", "--crop");
    if (a.stride > 0) config.set_by(key + "stride", std::to_string(a.stride), "--stride");
    if (a.flip) config.set_by(key + "flip", "true", "--flip");
}

// checkpoint, split, the listed pairs skipped for a missing file, labelled pixel count and the
// confusion matrix (rows: truth, columns: prediction) as the extra fields of eval_json.
static std::string extra_fields(const EvalArgs& a, const Dataset& data, const ConfusionMatrix& cm) {
    nlohmann::json extra;
    extra["checkpoint"] = a.weights;
    extra["split"] = a.split;
    extra["skipped"] = data.skipped();
    nlohmann::json rows = nlohmann::json::array();
    for (int t = 0; t < cm.num_classes(); t++) {
        nlohmann::json row = nlohmann::json::array();
        for (int p = 0; p < cm.num_classes(); p++) row.push_back(cm.count(t, p));
        rows.push_back(row);
    }
    extra["pixels"] = cm.total();
    extra["confusion"] = rows;
    return extra.dump();
}

static void write_text(const std::string& path, const std::string& text) {
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    write_file_atomic(path, "eval --out", text + "\n");
}

std::string run_eval(const EvalArgs& a) {
    check_eval_args(a);
    Device device = parse_device(a.device);
    LoadedNet run =
        load_net("eval", a.config, a.overrides, a.weights, device, a.split, a.allow_nonfinite);
    apply_eval_overrides(a, run.config);
    Config dataset = run.config.section("dataset");
    const int num_classes = int(run.net->num_classes());
    Dataset data = open_split(dataset, a.split, num_classes);
    if (!a.out.empty()) { // before the evaluation, which may be long
        std::vector<std::string> inputs{a.weights, a.config};
        for (int64_t i = 0; i < data.size(); i++)
            inputs.insert(inputs.end(), {data.files(i).image, data.files(i).label});
        check_outputs("eval --out", {a.out}, inputs, a.force);
    }
    EvalOptions options = eval_options(dataset, a.split);
    AugmentConfig transform = eval_augment(dataset, a.split);

    auto start = std::chrono::steady_clock::now();
    ConfusionMatrix cm =
        evaluate(*run.net, data, transform, options, device, a.limit, progress_printer("eval"));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int64_t images = a.limit > 0 ? std::min(a.limit, data.size()) : data.size();
    std::string json = eval_json(cm, class_names(dataset, num_classes), options, images,
                                 extra_fields(a, data, cm));
    std::cout << "eval: " << a.weights << " on " << a.split << " (" << images << " images, "
              << eval_mode_name(options.mode) << (options.flip ? ", flip" : "") << ") in "
              << seconds << " s\n"
              << iou_table(cm, class_names(dataset, num_classes));
    if (cm.total() == 0) // (every label void: the scores above are no measurement)
        std::cerr << "eval: warning: no labelled pixel in the " << images << " images of "
                  << a.split << " (all void, 255): nothing was scored\n";
    if (!a.out.empty()) {
        write_text(a.out, json);
        std::cout << "eval: wrote " << a.out << "\n";
    }
    return json;
}

std::function<void()> add_eval_command(CLI::App& app) {
    auto args = std::make_shared<EvalArgs>();
    CLI::App* cmd = app.add_subcommand("eval", "evaluate a checkpoint on a split (mIoU)");
    cmd->add_option("--config", args->config, "run config (YAML with dataset and net sections)")
        ->required();
    cmd->add_option("--weights", args->weights, "checkpoint (.safetensors)")->required();
    cmd->add_flag("--allow-nonfinite", args->allow_nonfinite,
                  "load weights that hold NaN / Inf (an error otherwise)");
    cmd->add_option("--split", args->split, "dataset subsection to evaluate")
        ->capture_default_str();
    cmd->add_option("--mode", args->mode,
                    "whole, center_crop, pad (AdvSemiSeg: pad to --crop, crop back) or sliding "
                    "(default: the config's)");
    cmd->add_option("--crop", args->crop, "crop / sliding window size");
    cmd->add_option("--stride", args->stride, "sliding window step");
    cmd->add_flag("--flip", args->flip, "also average the mirrored image's logits");
    cmd->add_option("--device", args->device, "cpu or cuda:0")->capture_default_str();
    cmd->add_option("--limit", args->limit, "evaluate only the first N images");
    cmd->add_option("--out", args->out, "write the result JSON here");
    cmd->add_flag("--force", args->force, "replace an existing --out file");
    cmd->add_option("--set", args->overrides, "config override key=value (repeatable)");
    return [cmd, args] {
        if (cmd->parsed()) run_eval(*args);
    };
}

} // namespace pg::seg
