// The readers of dataset.h: each turns a layout (VOC, Cityscapes, GTAV, SYNTHIA, generic) into a
// list of (id, image file, label file), from a split list or by scanning a folder. Pairs with a
// missing or empty file are dropped with a warning and counted; no usable pair left is an error.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "seg/data/dataset.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::seg {

namespace fs = std::filesystem;

constexpr int64_t kMaxWarnings = 20; // individual "missing file" lines before summarising

// Printed by process 0 alone in a data-parallel run: every process reads the same files (checked
// at the start of training, seg/train/same_run.h), so the others would print the same lines.
static void warn(const DatasetOptions& options, const std::string& line) {
    if (options.warn) {
        options.warn(line);
    } else if (collectives().rank() == 0) {
        std::cerr << line << "\n";
    }
}

static std::string join(const std::string& a, const std::string& b) {
    return (fs::path(a) / fs::path(b)).string();
}

// A path from a list: absolute paths that exist are kept, anything else is relative to the root
// (a leading '/' as in DeepLab's "/JPEGImages/x.jpg" lists is dropped).
static std::string under_root(const std::string& root, const std::string& path) {
    std::error_code ec;
    if (fs::path(path).is_absolute() && fs::exists(path, ec)) return path;
    size_t start = path.find_first_not_of('/');
    return join(root, start == std::string::npos ? "" : path.substr(start));
}

static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

static void check_root(const std::string& name, const std::string& root) {
    std::error_code ec;
    PG_CHECK(!root.empty(), name, ": no dataset root given");
    PG_CHECK(fs::is_directory(root, ec), name, ": dataset root ", root, " is not a folder");
}

// The non-empty lines of a list file, each split on whitespace into 1 or 2 fields.
// The entries of a list file: an id or "image_path label_path" per line; blank lines, CRLF
// endings and a UTF-8 byte-order mark (Windows editors write one) are ignored. A line listed again
// is kept (it is then sampled twice as often) with a warning.
static std::vector<std::vector<std::string>>
read_list(const std::string& name, const std::string& path, const DatasetOptions& options) {
    std::ifstream in(path);
    PG_CHECK(in.good(), name, ": cannot open the list file ", path);
    std::vector<std::vector<std::string>> entries;
    std::map<std::vector<std::string>, int> line_of;
    int repeated = 0;
    std::string line, first_repeat;
    for (int number = 1; std::getline(in, line); number++) {
        if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        std::istringstream fields(line);
        std::vector<std::string> entry;
        for (std::string f; fields >> f;) entry.push_back(f);
        if (entry.empty()) continue;
        PG_CHECK(entry.size() <= 2, name, ": ", path, " line ", number, " has ", entry.size(),
                 " fields; expected an id or 'image_path label_path'");
        auto [at, first] = line_of.emplace(entry, number);
        if (!first && repeated++ == 0)
            first_repeat =
                str("line ", number, " repeats line ", at->second, " ('", entry[0], "')");
        entries.push_back(entry);
    }
    PG_CHECK(!entries.empty(), name, ": the list ", path, " is empty (no examples)");
    if (repeated > 0)
        warn(options, str(name, ": warning: ", path, " lists ", repeated,
                          " line(s) again, each used as often as listed (", first_repeat, ")"));
    return entries;
}

// Regular files directly in `dir` whose names end with `suffix`, sorted by name.
static std::vector<std::string> scan_folder(const std::string& name, const std::string& dir,
                                            const std::string& suffix) {
    std::error_code ec;
    PG_CHECK(fs::is_directory(dir, ec), name, ": folder ", dir, " does not exist");
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::string file = entry.path().filename().string();
        if (entry.is_regular_file() && ends_with(file, suffix)) names.push_back(file);
    }
    std::sort(names.begin(), names.end());
    return names;
}

static bool usable(const std::string& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec) && fs::file_size(path, ec) > 0;
}

// Keeps the candidates whose files exist and are non-empty, warns about the others and builds the
// Dataset. `source` says where the candidates came from ("the list <path>", "the folder <dir>").
static Dataset finish(const std::string& name, const std::vector<SampleFiles>& candidates,
                      LabelMapping mapping, const DatasetOptions& options,
                      const std::string& source) {
    PG_CHECK(!candidates.empty(), name, ": ", source, " holds no examples");
    std::vector<SampleFiles> kept;
    std::string first_bad;
    int64_t skipped = 0;
    for (const SampleFiles& f : candidates) {
        std::string bad = !usable(f.image)                        ? f.image
                          : (options.labeled && !usable(f.label)) ? f.label
                                                                  : std::string();
        if (bad.empty()) {
            kept.push_back(f);
            continue;
        }
        if (first_bad.empty()) first_bad = bad;
        if (skipped < kMaxWarnings)
            warn(options, name + ": warning: " + bad + " is missing or empty; example '" + f.id +
                              "' skipped");
        skipped++;
    }
    const int64_t n = int64_t(candidates.size());
    PG_CHECK(!kept.empty(), name, ": no usable examples in ", source, ": all ", n,
             " have a missing or empty file (first: ", first_bad, ")");
    if (skipped > 0)
        warn(options, str(name, ": warning: skipped ", skipped, " of ", n, " pairs from ", source,
                          skipped > kMaxWarnings ? " (only the first 20 were named)" : ""));
    return Dataset(name, kept, std::move(mapping), options, skipped);
}

static std::string file_stem(const std::string& path) { return fs::path(path).stem().string(); }

// ---- Pascal VOC ----

static std::string voc_list_path(const VocConfig& c) {
    if (!c.list.empty()) return under_root(c.root, c.list);
    std::string in_imagesets = join(c.root, "ImageSets/Segmentation/" + c.split + ".txt");
    std::string at_root = join(c.root, c.split + ".txt");
    std::error_code ec;
    if (fs::exists(in_imagesets, ec)) return in_imagesets;
    PG_CHECK(fs::exists(at_root, ec), "voc: no list for split '", c.split, "': neither ",
             in_imagesets, " nor ", at_root, " exists");
    return at_root;
}

Dataset open_voc(const VocConfig& c) {
    check_root("voc", c.root);
    std::error_code ec;
    std::string label_dir = c.label_dir;
    if (label_dir.empty())
        label_dir = fs::is_directory(join(c.root, "SegmentationClassAug"), ec)
                        ? "SegmentationClassAug"
                        : "SegmentationClass";
    std::string list = voc_list_path(c);
    std::vector<SampleFiles> candidates;
    for (const auto& entry : read_list("voc", list, c.options)) {
        if (entry.size() == 2) {
            candidates.push_back(
                {file_stem(entry[0]), under_root(c.root, entry[0]), under_root(c.root, entry[1])});
        } else {
            const std::string& id = entry[0];
            candidates.push_back({id, join(c.root, "JPEGImages/" + id + ".jpg"),
                                  join(c.root, label_dir + "/" + id + ".png")});
        }
    }
    PG_CHECK(c.num_classes >= 1 && c.num_classes < 255, "voc: num_classes is ", c.num_classes,
             ", expected 1..254");
    std::string what = "a VOC class (0.." + std::to_string(c.num_classes - 1) + ", or 255)";
    return finish("voc", candidates, identity_mapping(c.num_classes, what), c.options,
                  "the list " + list);
}

// ---- Cityscapes ----

// leftImg8bit/<split>/<city>/<name>_leftImg8bit.png -> its gtFine label path and id.
static SampleFiles cityscapes_pair(const CityscapesConfig& c, const std::string& image,
                                   const std::string& where) {
    const std::string prefix = "leftImg8bit/", suffix = "_leftImg8bit.png";
    size_t start = image.find_first_not_of('/');
    std::string rel = start == std::string::npos ? image : image.substr(start);
    PG_CHECK(rel.compare(0, prefix.size(), prefix) == 0 && ends_with(rel, suffix),
             "cityscapes: ", where, ": image path '", image, "' is not of the form leftImg8bit/",
             "<split>/<city>/<name>_leftImg8bit.png");
    std::string middle = rel.substr(prefix.size(), rel.size() - prefix.size() - suffix.size());
    std::string label =
        "gtFine/" + middle + (c.train_ids ? "_gtFine_labelTrainIds.png" : "_gtFine_labelIds.png");
    return {file_stem(middle), join(c.root, rel), join(c.root, label)};
}

Dataset open_cityscapes(const CityscapesConfig& c) {
    check_root("cityscapes", c.root);
    std::vector<SampleFiles> candidates;
    std::string source;
    if (!c.list.empty()) {
        std::string list = under_root(c.root, c.list);
        source = "the list " + list;
        for (const auto& entry : read_list("cityscapes", list, c.options)) {
            SampleFiles f = cityscapes_pair(c, entry[0], list);
            if (entry.size() == 2) f.label = under_root(c.root, entry[1]);
            // Every trainId is a valid labelId too: the wrong kind would be read silently wrong.
            const bool train_id_file = ends_with(f.label, "_labelTrainIds.png");
            PG_CHECK(!(c.train_ids ? ends_with(f.label, "_labelIds.png") : train_id_file),
                     "cityscapes: ", list, ": the label ", f.label, " is a ",
                     train_id_file ? "trainIds" : "labelIds", " file, but dataset.train_ids is ",
                     c.train_ids ? "true" : "false", " (", c.train_ids ? "trainIds" : "labelIds",
                     " expected): set train_ids: ", c.train_ids ? "false" : "true", " or list the ",
                     c.train_ids ? "_labelTrainIds.png" : "_labelIds.png", " files");
            candidates.push_back(f);
        }
    } else {
        std::string split_dir = join(c.root, "leftImg8bit/" + c.split);
        std::error_code ec;
        PG_CHECK(fs::is_directory(split_dir, ec), "cityscapes: folder ", split_dir,
                 " does not exist (expected leftImg8bit/<split>/<city>/ under the root)");
        source = "the folder " + split_dir;
        std::vector<std::string> cities;
        for (const auto& entry : fs::directory_iterator(split_dir))
            if (entry.is_directory()) cities.push_back(entry.path().filename().string());
        std::sort(cities.begin(), cities.end());
        for (const std::string& city : cities) {
            for (const std::string& file :
                 scan_folder("cityscapes", join(split_dir, city), "_leftImg8bit.png")) {
                std::string rel = "leftImg8bit/" + c.split + "/" + city + "/" + file;
                candidates.push_back(cityscapes_pair(c, rel, split_dir));
            }
        }
    }
    LabelMapping mapping = c.train_ids
                               ? identity_mapping(19, "a Cityscapes trainId (0..18, or 255)")
                               : cityscapes_label_id_mapping();
    if (c.synthia_classes) mapping = to_synthia_classes(mapping);
    return finish("cityscapes", candidates, std::move(mapping), c.options, source);
}

// ---- GTAV and SYNTHIA: <images>/<name>.png with <labels>/<name>.png ----

static Dataset open_flat_png(const std::string& name, const std::string& root,
                             const std::string& list, const std::string& images,
                             const std::string& labels, LabelMapping mapping,
                             const DatasetOptions& options) {
    check_root(name, root);
    std::vector<std::string> files;
    std::string source;
    if (!list.empty()) {
        std::string path = under_root(root, list);
        source = "the list " + path;
        for (const auto& entry : read_list(name, path, options)) {
            // A file name ("00001.png") or a bare id ("00001").
            std::string file = fs::path(entry[0]).filename().string();
            files.push_back(ends_with(file, ".png") ? file : file + ".png");
        }
    } else {
        source = "the folder " + join(root, images);
        files = scan_folder(name, join(root, images), ".png");
    }
    std::vector<SampleFiles> candidates;
    for (const std::string& file : files)
        candidates.push_back(
            {file_stem(file), join(root, images + "/" + file), join(root, labels + "/" + file)});
    return finish(name, candidates, std::move(mapping), options, source);
}

Dataset open_gtav(const GtavConfig& c) {
    return open_flat_png("gtav", c.root, c.list, "images", "labels", cityscapes_label_id_mapping(),
                         c.options);
}

Dataset open_synthia(const SynthiaConfig& c) {
    return open_flat_png("synthia", c.root, c.list, "RGB", "GT/LABELS", synthia_mapping(),
                         c.options);
}

// ---- generic ----

static LabelMapping generic_mapping(const GenericConfig& c) {
    PG_CHECK(c.num_classes >= 1 && c.num_classes <= 255, "generic dataset: num_classes is ",
             c.num_classes, "; expected 1..255");
    if (c.label_table.empty())
        return identity_mapping(c.num_classes,
                                str("a class id (0..", c.num_classes - 1, ", or 255)"));
    for (size_t v = 0; v < c.label_table.size(); v++) {
        int32_t t = c.label_table[v];
        PG_CHECK(t == kUnknownLabel || t == kIgnoreLabel || (t >= 0 && t < c.num_classes),
                 "generic dataset: label_table[", v, "] = ", t, "; expected -1 (unknown), 255 ",
                 "(ignore) or a class 0..", c.num_classes - 1);
    }
    return {str("a value of the label table (0..", c.label_table.size() - 1, ")"), c.num_classes,
            c.label_table};
}

Dataset open_generic(const GenericConfig& c) {
    check_root("generic dataset", c.root);
    LabelMapping mapping = generic_mapping(c);
    std::vector<SampleFiles> candidates;
    std::string source;
    auto by_id = [&](const std::string& id) {
        return SampleFiles{id, join(c.root, c.images_dir + "/" + id + c.image_ext),
                           join(c.root, c.labels_dir + "/" + id + c.label_ext)};
    };
    if (!c.list.empty()) {
        std::string list = under_root(c.root, c.list);
        source = "the list " + list;
        for (const auto& entry : read_list("generic dataset", list, c.options)) {
            if (entry.size() == 2) {
                candidates.push_back({file_stem(entry[0]), under_root(c.root, entry[0]),
                                      under_root(c.root, entry[1])});
            } else {
                candidates.push_back(by_id(entry[0]));
            }
        }
    } else {
        std::string dir = join(c.root, c.images_dir);
        source = "the folder " + dir;
        for (const std::string& file : scan_folder("generic dataset", dir, c.image_ext))
            candidates.push_back(by_id(file.substr(0, file.size() - c.image_ext.size())));
    }
    return finish("generic dataset", candidates, std::move(mapping), c.options, source);
}

} // namespace pg::seg
