// pixelgrad predict --config run.yaml --weights best.safetensors [--allow-nonfinite]
//                   [--split val | --images DIR]
//                   --out DIR [--overlay] [--force] [--device cpu|cuda:0] [--limit N]
//                   [--set key=value ...]
// Images come from the dataset (with labels, so overlays show the truth) or from a folder (no
// labels); the network and the eval settings are those of `pixelgrad eval` (eval_command.h).
#include "seg/cli/predict_command.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "autograd/node.h"
#include "seg/cli/eval_command.h"
#include "seg/visualize.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg::seg {

namespace fs = std::filesystem;

// Where the images come from: a dataset split, or files of a folder.
struct ImageSource {
    Dataset data;                   // used when `files` is empty
    std::vector<std::string> files; // --images
    std::vector<std::string> ids;   // the output name of each file
    int64_t size() const { return files.empty() ? data.size() : int64_t(files.size()); }
};

static bool is_image_file(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// Every .jpg / .jpeg / .png directly in `dir`, sorted by path.
static std::vector<std::string> list_images(const std::string& dir) {
    PG_CHECK(fs::is_directory(dir), "predict: --images '", dir, "' is not a folder");
    std::vector<std::string> files;
    for (const fs::directory_entry& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    PG_CHECK(!files.empty(), "predict: --images '", dir, "' holds no .jpg or .png images");
    return files;
}

// The output name of each file: its stem, or stem_ext where another file shares the stem
// (x.jpg and x.png -> x_jpg and x_png), so no prediction is written over another.
static std::vector<std::string> output_ids(const std::vector<std::string>& files) {
    std::map<std::string, int> uses;
    for (const std::string& f : files) uses[fs::path(f).stem().string()]++;
    std::vector<std::string> ids;
    for (const std::string& f : files) {
        std::string stem = fs::path(f).stem().string();
        ids.push_back(uses[stem] == 1 ? stem
                                      : stem + "_" + fs::path(f).extension().string().substr(1));
    }
    return ids;
}

// Sample i of the source: from the dataset (label when labelled), or the file (id from output_ids).
static Sample load_sample(const ImageSource& source, int64_t i) {
    if (source.files.empty()) return source.data.load(i);
    Sample s;
    s.image = read_image(source.files[size_t(i)]);
    s.id = source.ids[size_t(i)];
    return s;
}

int64_t run_predict(const PredictArgs& a) {
    PG_CHECK(a.split.empty() || a.images.empty(), "predict: give --split '", a.split,
             "' or --images '", a.images, "', not both");
    PG_CHECK(!a.out.empty(), "predict: --out is missing (the folder for the predictions)");
    PG_CHECK(!fs::exists(a.out) || fs::is_directory(a.out), "predict: --out ", a.out,
             " is a file; expected the folder for the predictions");
    PG_CHECK(a.limit >= 0, "predict: --limit ", a.limit, " must not be negative");
    // Predictions are PNGs: in the images' folder they would replace an image or be read as
    // images by the next run.
    std::error_code same_error;
    PG_CHECK(a.images.empty() || !fs::exists(a.out) || !fs::equivalent(a.out, a.images, same_error),
             "predict: --out ", a.out, " is the --images folder; write the predictions to another");
    ImageSource source;
    if (!a.images.empty()) source.files = list_images(a.images);
    source.ids = output_ids(source.files);
    const std::string split = a.split.empty() ? "val" : a.split;
    Device device = parse_device(a.device);
    LoadedNet run = load_net("predict", a.config, a.overrides, a.weights, device,
                             a.images.empty() ? split : "", a.allow_nonfinite);
    Config dataset = run.config.section("dataset");
    const int num_classes = int(run.net->num_classes());
    if (a.images.empty()) source.data = open_split(dataset, split, num_classes);
    // The split's eval settings (--images: dataset.val's); a center crop predicts the whole image.
    EvalOptions options = eval_options(dataset, split);
    Normalize n = normalization(dataset);
    const Palette palette = palette_for(num_classes);

    const int64_t count = a.limit > 0 ? std::min(a.limit, source.size()) : source.size();
    std::vector<std::string> outputs, inputs = source.files;
    for (int64_t i = 0; i < count; i++) {
        const std::string id =
            source.files.empty() ? source.data.files(i).id : source.ids[size_t(i)];
        const std::string base = (fs::path(a.out) / safe_id(id)).string();
        outputs.push_back(base + ".png");
        if (a.overlay) outputs.push_back(base + "_overlay.png");
        if (source.files.empty())
            inputs.insert(inputs.end(), {source.data.files(i).image, source.data.files(i).label});
    }
    check_outputs("predict", outputs, inputs, a.force);
    fs::create_directories(a.out);
    auto progress = progress_printer("predict");
    auto start = std::chrono::steady_clock::now();
    NoGradGuard no_grad;
    for (int64_t i = 0; i < count; i++) {
        Sample s = load_sample(source, i);
        LabelMap prediction = predict_label_map(*run.net, s.image, n, options, device);
        const std::string base = (fs::path(a.out) / safe_id(s.id)).string();
        write_palette_png(base + ".png", prediction, palette);
        if (a.overlay) {
            const LabelMap* truth = s.label.values.empty() ? nullptr : &s.label;
            write_png(base + "_overlay.png", overlay_row(s.image, truth, prediction, palette));
        }
        progress(EvalProgress{i + 1, count});
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "predict: " << count << " images ("
              << (a.images.empty() ? "split " + split : a.images) << ", "
              << eval_mode_name(options.mode) << (options.flip ? ", flip" : "") << ") -> " << a.out
              << " in " << seconds << " s\n";
    return count;
}

std::function<void()> add_predict_command(CLI::App& app) {
    auto args = std::make_shared<PredictArgs>();
    CLI::App* cmd = app.add_subcommand(
        "predict",
        "write predicted label maps (palette PNGs) and overlays for a split or a folder");
    cmd->add_option("--config", args->config, "run config (YAML with dataset and net sections)")
        ->required();
    cmd->add_option("--weights", args->weights, "checkpoint (.safetensors)")->required();
    cmd->add_flag("--allow-nonfinite", args->allow_nonfinite,
                  "load weights that hold NaN / Inf (an error otherwise)");
    CLI::Option* split =
        cmd->add_option("--split", args->split, "dataset subsection (default val)");
    cmd->add_option("--images", args->images, "a folder of .jpg / .png images instead of a split")
        ->excludes(split);
    cmd->add_option("--out", args->out, "output folder")->required();
    cmd->add_flag("--overlay", args->overlay, "also write <id>_overlay.png (image | truth | pred)");
    cmd->add_flag("--force", args->force, "replace predictions that exist (never an input)");
    cmd->add_option("--device", args->device, "cpu or cuda:0")->capture_default_str();
    cmd->add_option("--limit", args->limit, "predict only the first N images");
    cmd->add_option("--set", args->overrides, "config override key=value (repeatable)");
    return [cmd, args] {
        if (cmd->parsed()) run_predict(*args);
    };
}

} // namespace pg::seg
