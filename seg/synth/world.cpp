// Writing the synthetic world to disk (seg/synth/world.h). Image i of a split is rendered from
// scene_seed(seed, stream, i) with stream = split + 2 x style, so it does not depend on how many
// images are generated, on the layout, or on the thread that renders it (images are rendered in
// parallel; lists, tags and statistics are assembled in index order afterwards).
#include "seg/synth/world.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "seg/synth/shapes.h"
#include "tensor/error.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"

namespace pg::seg::synth {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kSplitStream = 1000; // stream of the labeled-subset permutation

// Cityscapes labelId of each trainId 0..18 (datasets.md); every other labelId maps to 255.
constexpr int kCityscapesLabelIds[19] = {7,  8,  11, 12, 13, 17, 19, 20, 21, 22,
                                         23, 24, 25, 26, 27, 28, 31, 32, 33};
// Cityscapes-like city folders (3 for train, 2 for val, as Cityscapes keeps cities apart).
const char* const kTrainCities[] = {"alpha", "bravo", "charlie"};
const char* const kValCities[] = {"delta", "echo"};

// Everything any layout writes: what --force removes from a previous world.
const char* const kOwnedPaths[] = {"JPEGImages",
                                   "SegmentationClass",
                                   "SegmentationClassAug",
                                   "ImageSets",
                                   "splits",
                                   "leftImg8bit",
                                   "gtFine",
                                   "images",
                                   "labels",
                                   "train.txt",
                                   "tags.txt",
                                   "world.json"};

std::string padded(int value, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%0*d", digits, value);
    return buf;
}

std::string cityscapes_stem(const std::string& split, int index) {
    const char* city = split == "train" ? kTrainCities[index % 3] : kValCities[index % 2];
    return std::string(city) + "_000000_" + padded(index, 6);
}

std::string city_of(const std::string& stem) { return stem.substr(0, stem.find('_')); }

void write_text(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    write_file_atomic(path.string(), "synth", text);
}

void write_list(const fs::path& path, const std::vector<std::string>& lines) {
    std::string text;
    for (const std::string& line : lines) text += line + "\n";
    write_text(path, text);
}

// A synthetic world: its world.json (written last), or nothing but a world's files (and their
// .tmp files): one whose writing was interrupted.
bool holds_a_world(const fs::path& root) {
    if (fs::exists(root / "world.json")) return true;
    for (const fs::directory_entry& entry : fs::directory_iterator(root)) {
        std::string name = entry.path().filename().string();
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)
            name.resize(name.size() - 4);
        if (std::none_of(std::begin(kOwnedPaths), std::end(kOwnedPaths),
                         [&](const char* owned) { return name == owned; }))
            return false;
    }
    return true;
}

// Refuses a non-empty directory unless it holds a world and is forced; a forced previous world is
// cleared first. A folder that is not a world (a user's dataset) is never written into.
void prepare_out_dir(const WorldOptions& o) {
    PG_CHECK(!o.out_dir.empty(), "synth: no output directory given");
    fs::path root(o.out_dir);
    if (fs::exists(root)) {
        PG_CHECK(fs::is_directory(root), "synth: ", o.out_dir, " exists and is not a directory");
        bool empty = fs::directory_iterator(root) == fs::directory_iterator();
        PG_CHECK(empty || holds_a_world(root), "synth: ", o.out_dir,
                 " holds files and is not a synthetic world (no world.json): synth writes into an "
                 "empty folder or over an earlier world only; give another --out");
        PG_CHECK(empty || o.force, "synth: ", o.out_dir,
                 " holds a synthetic world; pass --force to replace it");
        if (!empty)
            for (const char* owned : kOwnedPaths) fs::remove_all(root / owned);
    }
    fs::create_directories(root);
}

// The label map as stored by the layout: class indices (VOC) or Cityscapes labelIds.
LabelMap to_label_ids(const LabelMap& labels) {
    LabelMap ids = labels;
    for (int32_t& v : ids.values) v = cityscapes_label_id(v);
    return ids;
}

Image grey(const LabelMap& labels) {
    Image image{labels.height, labels.width, 1, std::vector<uint8_t>(labels.values.size())};
    for (size_t i = 0; i < labels.values.size(); i++) image.pixels[i] = uint8_t(labels.values[i]);
    return image;
}

// Writes image `index` of `split` in the layout's files.
void write_scene(const WorldOptions& o, const std::string& split, int index, const Scene& scene) {
    fs::path root(o.out_dir);
    if (o.layout == Layout::voc) {
        std::string id = image_list_entry(o.layout, split, index);
        write_jpeg((root / "JPEGImages" / (id + ".jpg")).string(), scene.image, o.jpeg_quality);
        write_palette_png((root / "SegmentationClass" / (id + ".png")).string(), scene.labels,
                          voc_palette());
        write_png((root / "SegmentationClassAug" / (id + ".png")).string(), grey(scene.labels));
    } else if (o.layout == Layout::cityscapes) {
        std::string stem = cityscapes_stem(split, index), city = city_of(stem);
        fs::path gt = root / "gtFine" / split / city;
        write_png((root / "leftImg8bit" / split / city / (stem + "_leftImg8bit.png")).string(),
                  scene.image);
        write_png((gt / (stem + "_gtFine_labelIds.png")).string(),
                  grey(to_label_ids(scene.labels)));
        if (o.train_ids)
            write_png((gt / (stem + "_gtFine_labelTrainIds.png")).string(), grey(scene.labels));
    } else {
        std::string name = image_list_entry(o.layout, split, index);
        write_png((root / "images" / name).string(), scene.image);
        write_palette_png((root / "labels" / name).string(), to_label_ids(scene.labels),
                          voc_palette());
    }
}

void make_directories(const WorldOptions& o) {
    fs::path root(o.out_dir);
    if (o.layout == Layout::voc) {
        for (const char* d : {"JPEGImages", "SegmentationClass", "SegmentationClassAug"})
            fs::create_directories(root / d);
    } else if (o.layout == Layout::cityscapes) {
        // The city folders that receive images (image i goes to city i mod the city count).
        for (const char* top : {"leftImg8bit", "gtFine"}) {
            for (int i = 0; i < std::min(o.num_train, 3); i++)
                fs::create_directories(root / top / "train" / kTrainCities[i]);
            for (int i = 0; i < std::min(o.num_val, 2); i++)
                fs::create_directories(root / top / "val" / kValCities[i]);
        }
    } else {
        fs::create_directories(root / "images");
        fs::create_directories(root / "labels");
    }
}

// Renders and writes one split; returns its tags.txt lines and fills its statistics.
std::vector<std::string> write_split(const WorldOptions& o, const std::string& split, int count,
                                     SplitStats& stats) {
    int K = o.scene.num_classes;
    uint64_t stream = (split == "train" ? 0 : 1) + 2 * uint64_t(o.scene.style == Style::target);
    std::vector<std::string> tag_lines(static_cast<size_t>(count));
    std::vector<std::vector<int64_t>> pixels(size_t(count), std::vector<int64_t>(size_t(K + 1), 0));
    std::string error;
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < count; i++) {
        try {
            Scene scene = render_scene(o.scene, scene_seed(o.seed, stream, uint64_t(i)));
            write_scene(o, split, i, scene);
            std::vector<int64_t>& counts = pixels[size_t(i)]; // K classes, then void
            for (int32_t v : scene.labels.values) counts[v == 255 ? size_t(K) : size_t(v)]++;
            std::string line = image_list_entry(o.layout, split, i);
            for (int c : scene.tags) line += " " + std::to_string(c);
            tag_lines[size_t(i)] = line;
        } catch (const std::exception& e) {
#pragma omp critical(synth_error)
            if (error.empty()) error = e.what();
        }
    }
    if (!error.empty()) throw Error(error); // already names the file and the problem
    stats.pixels.assign(size_t(K), 0);
    stats.images.assign(size_t(K), 0);
    for (const auto& counts : pixels) {
        for (int c = 0; c < K; c++) {
            stats.pixels[size_t(c)] += counts[size_t(c)];
            stats.images[size_t(c)] += counts[size_t(c)] > 0;
        }
        stats.void_pixels += counts[size_t(K)];
    }
    return tag_lines;
}

std::vector<std::string> entries(Layout layout, const std::string& split,
                                 std::vector<int> indices) {
    std::sort(indices.begin(), indices.end());
    std::vector<std::string> lines;
    for (int i : indices) lines.push_back(image_list_entry(layout, split, i));
    return lines;
}

// Split lists. Labeled subsets are prefixes of one seeded permutation of the train images, so they
// are nested (every image labeled at n is labeled at any larger n); lists are in index order.
void write_lists(const WorldOptions& o, const std::vector<int>& splits) {
    fs::path root(o.out_dir);
    std::vector<int> all_train(size_t(o.num_train)), all_val(size_t(o.num_val));
    for (int i = 0; i < o.num_train; i++) all_train[size_t(i)] = i;
    for (int i = 0; i < o.num_val; i++) all_val[size_t(i)] = i;
    if (o.layout == Layout::gtav) {
        write_list(root / "train.txt", entries(o.layout, "train", all_train));
        return;
    }
    std::vector<std::string> train = entries(o.layout, "train", all_train);
    std::vector<std::string> val = entries(o.layout, "val", all_val);
    if (o.layout == Layout::voc) {
        fs::path sets = root / "ImageSets" / "Segmentation";
        std::vector<std::string> trainval = train;
        trainval.insert(trainval.end(), val.begin(), val.end());
        write_list(sets / "train.txt", train);
        write_list(sets / "train_aug.txt", train); // SegmentationClassAug covers every image
        write_list(sets / "val.txt", val);
        write_list(sets / "trainval.txt", trainval);
    }
    write_list(root / "splits" / "train.txt", train);
    write_list(root / "splits" / "val.txt", val);
    std::vector<int> order = all_train;
    Generator gen(scene_seed(o.seed, kSplitStream, 0));
    for (int i = o.num_train - 1; i > 0; i--) // Fisher-Yates
        std::swap(order[size_t(i)], order[size_t(gen.randint(0, i + 1))]);
    for (int n : splits) {
        std::vector<int> labeled(order.begin(), order.begin() + n);
        std::vector<int> unlabeled(order.begin() + n, order.end());
        fs::path dir = root / "splits" / std::to_string(n);
        write_list(dir / "labeled.txt", entries(o.layout, "train", labeled));
        write_list(dir / "unlabeled.txt", entries(o.layout, "train", unlabeled));
    }
}

// Floats as the user typed them (0.07, not 0.070000000298...).
double decimal(float value) { return std::round(double(value) * 1e6) / 1e6; }

nlohmann::json stats_json(const SplitStats& s) {
    return {{"pixels", s.pixels}, {"images", s.images}, {"void_pixels", s.void_pixels}};
}

void write_world_json(const WorldOptions& o, const WorldSummary& summary) {
    const SceneOptions& s = o.scene;
    nlohmann::json classes = nlohmann::json::array();
    for (int c = 0; c < s.num_classes; c++) {
        nlohmann::json entry = {{"index", c}, {"name", class_name(c)}};
        if (o.layout != Layout::voc) entry["label_id"] = cityscapes_label_id(c);
        classes.push_back(entry);
    }
    nlohmann::json j;
    j["generator"] = "pixelgrad synth";
    j["format_version"] = 1;
    j["layout"] = layout_name(o.layout);
    j["style"] = style_name(s.style);
    j["seed"] = o.seed;
    j["height"] = s.height;
    j["width"] = s.width;
    j["num_classes"] = s.num_classes;
    j["ignore_label"] = 255;
    j["classes"] = classes;
    j["counts"] = {{"train", o.num_train}, {"val", o.num_val}};
    j["splits"] = summary.splits;
    j["scene"] = {{"min_objects", s.min_objects},    {"max_objects", s.max_objects},
                  {"min_size", decimal(s.min_size)}, {"max_size", decimal(s.max_size)},
                  {"max_clutter", s.max_clutter},    {"over_stroke", decimal(s.over_stroke)},
                  {"void_width", s.void_width},      {"min_visible", s.min_visible}};
    if (o.layout == Layout::voc) {
        j["labels"] = "class index per pixel (0 background, 1..K-1 shapes, 255 void)";
    } else {
        j["labels"] = "Cityscapes labelIds: class c is written as the labelId whose trainId is c "
                      "(see classes[].label_id); void is labelId 0 (trainId 255)";
    }
    j["tags_file"] = "tags.txt";
    j["tags_format"] = "one line per image: its list entry, then the class indices (1..K-1, "
                       "ascending) present in its label map; 0 and 255 are never listed";
    j["statistics"] = {{"train", stats_json(summary.train)}, {"val", stats_json(summary.val)}};
    write_text(fs::path(o.out_dir) / "world.json", j.dump(2) + "\n");
}

} // namespace

Layout parse_layout(const std::string& name) {
    if (name == "voc") return Layout::voc;
    if (name == "cityscapes") return Layout::cityscapes;
    if (name == "gtav") return Layout::gtav;
    PG_FAIL("synth: unknown layout '", name, "'; expected voc, cityscapes or gtav");
}

const char* layout_name(Layout layout) {
    return layout == Layout::voc ? "voc" : layout == Layout::cityscapes ? "cityscapes" : "gtav";
}

std::vector<int> default_splits(int num_train) {
    std::vector<int> splits;
    for (int divisor : {32, 16, 8, 4}) {
        int n = num_train / divisor;
        if (n >= 1 && n < num_train && (splits.empty() || splits.back() != n)) splits.push_back(n);
    }
    return splits;
}

std::string class_name(int cls) { return cls == 0 ? "background" : shape_name(cls - 1); }

int cityscapes_label_id(int cls) {
    if (cls == 255) return 0;
    PG_CHECK(cls >= 0 && cls < 19, "synth: class ", cls,
             " has no Cityscapes labelId (the 19 trainIds allow classes 0..18)");
    return kCityscapesLabelIds[cls];
}

std::string image_list_entry(Layout layout, const std::string& split, int index) {
    PG_CHECK(split == "train" || split == "val", "synth: unknown split '", split, "'");
    if (layout == Layout::voc) return split + "_" + padded(index, 6);
    if (layout == Layout::gtav) return padded(index + 1, 5) + ".png";
    std::string stem = cityscapes_stem(split, index);
    return "leftImg8bit/" + split + "/" + city_of(stem) + "/" + stem + "_leftImg8bit.png";
}

WorldSummary write_world(const WorldOptions& o) {
    check_scene_options(o.scene);
    PG_CHECK(o.num_train >= 1 && o.num_val >= 0, "synth: ", o.num_train, " train and ", o.num_val,
             " val images requested; need at least 1 train image");
    PG_CHECK(o.layout != Layout::gtav || o.num_val == 0,
             "synth: the gtav layout has no val split (", o.num_val,
             " val images requested); use --val 0");
    PG_CHECK(o.layout == Layout::voc || o.scene.num_classes <= 19, "synth: the ",
             layout_name(o.layout),
             " layout stores Cityscapes labelIds, which map to 19 trainIds; ", o.scene.num_classes,
             " classes requested");
    PG_CHECK(o.jpeg_quality >= 1 && o.jpeg_quality <= 100, "synth: JPEG quality ", o.jpeg_quality,
             " is outside 1..100");
    WorldSummary summary;
    summary.splits = o.splits.empty() ? default_splits(o.num_train) : o.splits;
    if (o.layout == Layout::gtav) summary.splits.clear();
    for (int n : summary.splits)
        PG_CHECK(n >= 1 && n < o.num_train, "synth: split of ", n, " labeled images is outside 1..",
                 o.num_train - 1, " (the unlabeled list would be empty or the split impossible)");
    summary.num_train = o.num_train;
    summary.num_val = o.num_val;
    try {
        prepare_out_dir(o);
        make_directories(o);
        std::vector<std::string> tags = write_split(o, "train", o.num_train, summary.train);
        std::vector<std::string> val_tags = write_split(o, "val", o.num_val, summary.val);
        tags.insert(tags.end(), val_tags.begin(), val_tags.end());
        write_list(fs::path(o.out_dir) / "tags.txt", tags);
        write_lists(o, summary.splits);
        write_world_json(o, summary);
    } catch (const fs::filesystem_error& e) { // permissions, read-only disks: one clear pg::Error
        PG_FAIL("synth: cannot write the world to ", o.out_dir, ": ", e.what());
    }
    return summary;
}

} // namespace pg::seg::synth
