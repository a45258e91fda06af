// The `dataset` section of a run config (seg/data_config.h): readers, augmentation, loader and
// evaluation settings. Unknown enumeration values are errors naming the file and the key.
#include "seg/data_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tensor/collectives.h"
#include "tensor/error.h"
#include "tensor/generator.h"

namespace pg::seg {

namespace fs = std::filesystem;

static std::string where(const Config& dataset, const std::string& key) {
    return dataset.origin(key) + ": dataset." + key;
}

// A key of split `split`, falling back to the shared dataset-level key.
static std::string split_string(const Config& d, const std::string& split, const std::string& key,
                                const std::string& fallback) {
    return d.get_string(split + "." + key, d.get_string(key, fallback));
}

static std::pair<int64_t, int64_t> size_pair(const Config& d, const std::string& key) {
    std::vector<int64_t> v = d.get_int_list(key);
    PG_CHECK(v.size() == 1 || v.size() == 2, where(d, key), " has ", v.size(),
             " values, expected [size] or [height, width]");
    int64_t h = v[0], w = v.size() == 2 ? v[1] : v[0];
    PG_CHECK(h > 0 && w > 0, where(d, key), " is ", h, "x", w, ", expected positive sizes");
    return {h, w};
}

static DatasetOptions reader_options(const Config& d, const std::string& split, bool labeled) {
    DatasetOptions o;
    o.labeled = labeled;
    o.strict_labels = d.get_bool(split + ".strict_labels", d.get_bool("strict_labels", true));
    o.resize_mismatched_labels = d.get_bool(split + ".resize_mismatched_labels",
                                            d.get_bool("resize_mismatched_labels", false));
    return o;
}

static Dataset open_reader(const Config& d, const std::string& split, int num_classes,
                           bool labeled) {
    std::string type = split_string(d, split, "type", "");
    PG_CHECK(!type.empty(), where(d, "type"), " is missing: set dataset.type (or dataset.", split,
             ".type) to voc, cityscapes, gtav, synthia or generic");
    std::string root = split_string(d, split, "root", "");
    PG_CHECK(!root.empty(), where(d, "root"), " is missing: set dataset.root (or dataset.", split,
             ".root) to the dataset folder");
    PG_CHECK(d.get_int("ignore_label", 255) == 255, where(d, "ignore_label"), " is ",
             d.get_int("ignore_label"), ", expected 255 (the only ignore value pixelgrad uses)");
    std::string list = split_string(d, split, "list", "");
    std::string split_name = d.get_string(split + ".split", split == "val" ? "val" : "train");
    DatasetOptions options = reader_options(d, split, labeled);
    Dataset data;
    if (type == "voc") {
        data = open_voc({root, split_name, list, split_string(d, split, "label_dir", ""),
                         num_classes, options});
    } else if (type == "cityscapes") {
        bool train_ids = d.get_bool(split + ".train_ids", d.get_bool("train_ids", false));
        bool synthia_classes =
            d.get_bool(split + ".synthia_classes", d.get_bool("synthia_classes", false));
        data = open_cityscapes({root, split_name, list, train_ids, options, synthia_classes});
    } else if (type == "gtav") {
        data = open_gtav({root, list, options});
    } else if (type == "synthia") {
        data = open_synthia({root, list, options});
    } else if (type == "generic") {
        GenericConfig g;
        g.root = root;
        g.images_dir = split_string(d, split, "images_dir", g.images_dir);
        g.labels_dir = split_string(d, split, "labels_dir", g.labels_dir);
        g.image_ext = split_string(d, split, "image_ext", g.image_ext);
        g.label_ext = split_string(d, split, "label_ext", g.label_ext);
        g.list = list;
        g.num_classes = num_classes;
        g.options = options;
        data = open_generic(g);
    } else {
        throw Error(where(d, "type") + " is '" + type +
                    "', expected voc, cityscapes, gtav, synthia or generic");
    }
    PG_CHECK(!labeled || data.num_classes() == num_classes, where(d, "type"), " '", type, "' has ",
             data.num_classes(), " classes but net.num_classes is ", num_classes);
    return data;
}

PartialSplit partial_split(const Config& d, int64_t list_size) {
    PartialSplit p;
    int64_t seed = d.get_int("partial.seed", 0);
    PG_CHECK(d.has("partial.fraction") != d.has("partial.count"), where(d, "partial"),
             " needs exactly one of fraction (0..1] or count (labeled images)");
    int64_t count = 0;
    if (d.has("partial.count")) {
        count = d.get_int("partial.count");
    } else {
        double f = d.get_float("partial.fraction");
        PG_CHECK(f > 0 && f <= 1, where(d, "partial.fraction"), " is ", f, ", expected 0..1");
        count = int64_t(f * double(list_size)); // the original's int(fraction * size)
    }
    PG_CHECK(count >= 1 && count <= list_size, where(d, "partial"), " picks ", count,
             " labeled images of a train list of ", list_size, ", expected 1..", list_size);
    // Fisher-Yates with the run-independent Philox stream of partial.seed: the same subset on
    // every machine and for every trainer.seed (the ablation's rows share their labels).
    std::vector<int64_t> order(static_cast<size_t>(list_size));
    for (int64_t i = 0; i < list_size; ++i) order[size_t(i)] = i;
    Generator gen(uint64_t(seed) ^ 0x9a27'1a1eULL);
    for (int64_t i = list_size - 1; i > 0; --i)
        std::swap(order[size_t(i)], order[size_t(gen.randint(0, i + 1))]);
    p.labeled.assign(order.begin(), order.begin() + count);
    p.unlabeled.assign(order.begin() + count, order.end());
    return p;
}

// With dataset.partial, "train" is the labeled part of the train list and "unlabeled" (unless it
// has a list of its own) the rest of it.
Dataset open_split(const Config& d, const std::string& split, int num_classes, bool labeled) {
    bool rest = split == "unlabeled" && !d.has("unlabeled.list");
    if (!d.has("partial") || (split != "train" && !rest))
        return open_reader(d, split, num_classes, labeled);
    Dataset full = open_reader(d, "train", num_classes, labeled);
    PartialSplit p = partial_split(d, full.size());
    return full.subset(split == "train" ? p.labeled : p.unlabeled);
}

Normalize normalization(const Config& d) {
    Normalize n = u2pl_normalize();
    if (d.has("mean")) {
        std::vector<double> m = d.get_float_list("mean");
        PG_CHECK(m.size() == 3, where(d, "mean"), " has ", m.size(), " values, expected 3");
        for (int c = 0; c < 3; ++c) n.mean[c] = float(m[c]);
    }
    if (d.has("std")) {
        std::vector<double> s = d.get_float_list("std");
        PG_CHECK(s.size() == 3, where(d, "std"), " has ", s.size(), " values, expected 3");
        for (int c = 0; c < 3; ++c) {
            PG_CHECK(s[c] > 0, where(d, "std"), "[", c, "] is ", s[c], ", expected > 0");
            n.std[c] = float(s[c]);
        }
    }
    n.bgr = d.get_bool("bgr", false);
    n.value_scale = float(d.get_float("value_scale", 1.0));
    return n;
}

static ScaleMode parse_scale_mode(const Config& d, const std::string& key) {
    std::string m = d.get_string(key, "u2pl");
    if (m == "u2pl") return ScaleMode::u2pl;
    if (m == "uniform") return ScaleMode::uniform;
    if (m == "steps") return ScaleMode::steps;
    throw Error(where(d, key) + " is '" + m + "', expected u2pl, uniform or steps");
}

static CropMode parse_crop_mode(const Config& d, const std::string& key, const char* fallback) {
    std::string m = d.get_string(key, fallback);
    if (m == "rand" || m == "random") return CropMode::random;
    if (m == "center") return CropMode::center;
    if (m == "none") return CropMode::none;
    throw Error(where(d, key) + " is '" + m + "', expected rand, center or none");
}

// split.resize: [h, w] with split.interp (bilinear | bicubic | nearest) for the image.
static void read_fixed_resize(const Config& d, const std::string& split, AugmentConfig& a) {
    std::string interp = d.get_string(split + ".interp", "bilinear");
    if (interp == "bilinear")
        a.interp = Interp::bilinear;
    else if (interp == "bicubic")
        a.interp = Interp::bicubic;
    else if (interp == "nearest")
        a.interp = Interp::nearest;
    else
        throw Error(where(d, split + ".interp") + " is '" + interp +
                    "', expected bilinear, bicubic or nearest");
    if (!d.has(split + ".resize")) return;
    std::tie(a.resize_height, a.resize_width) = size_pair(d, split + ".resize");
}

AugmentConfig train_augment(const Config& d, const std::string& split) {
    AugmentConfig a;
    a.normalize = normalization(d);
    read_fixed_resize(d, split, a);
    if (d.has(split + ".rand_resize")) {
        std::vector<double> r = d.get_float_list(split + ".rand_resize");
        PG_CHECK(r.size() == 2 && r[0] > 0 && r[0] <= r[1], where(d, split + ".rand_resize"),
                 " must be [min, max] with 0 < min <= max");
        a.scale_mode = parse_scale_mode(d, split + ".resize_mode");
        a.scale_min = float(r[0]);
        a.scale_max = float(r[1]);
        a.scale_step = float(d.get_float(split + ".scale_step", 0.1));
    }
    if (d.has(split + ".crop.size")) {
        a.crop_mode = parse_crop_mode(d, split + ".crop.type", "rand");
        std::tie(a.crop_height, a.crop_width) = size_pair(d, split + ".crop.size");
    }
    std::string pad = d.get_string(split + ".pad", "symmetric");
    PG_CHECK(pad == "symmetric" || pad == "bottom_right", where(d, split + ".pad"), " is '", pad,
             "', expected symmetric or bottom_right");
    a.pad_at = pad == "symmetric" ? PadAt::symmetric : PadAt::bottom_right;
    a.label_pad = int32_t(d.get_int(split + ".label_pad", 255));
    a.flip_prob = d.get_bool(split + ".flip", true) ? 0.5f : 0.f;
    return a;
}

EvalOptions eval_options(const Config& d, const std::string& split) {
    EvalOptions e;
    bool has_crop = d.has(split + ".crop.size");
    std::string mode = d.get_string(split + ".mode", has_crop ? "center_crop" : "whole");
    if (mode == "whole")
        e.mode = EvalMode::whole;
    else if (mode == "center_crop")
        e.mode = EvalMode::center_crop;
    else if (mode == "pad")
        e.mode = EvalMode::pad;
    else if (mode == "sliding")
        e.mode = EvalMode::sliding;
    else
        throw Error(where(d, split + ".mode") + " is '" + mode +
                    "', expected whole, center_crop, pad or sliding");
    if (e.mode != EvalMode::whole) {
        PG_CHECK(has_crop, where(d, split + ".crop.size"), " is missing: mode ", mode,
                 " needs a crop size");
        auto [h, w] = size_pair(d, split + ".crop.size");
        PG_CHECK((e.mode != EvalMode::sliding && e.mode != EvalMode::pad) || h == w,
                 where(d, split + ".crop.size"), " is ", h, "x", w,
                 ", the sliding window and the padded size are square");
        e.crop = h;
    }
    if (e.mode == EvalMode::sliding) {
        e.stride = d.get_int(split + ".stride", e.crop * 2 / 3);
        PG_CHECK(e.stride >= 1 && e.stride <= e.crop, where(d, split + ".stride"), " is ", e.stride,
                 ", expected 1..", e.crop);
    }
    e.flip = d.get_bool(split + ".flip", false);
    // Center crops (and fixed resizes) give equal sizes, so they may be batched.
    e.batch_size = d.get_int(split + ".batch_size", 1);
    PG_CHECK(e.batch_size == 1 || e.mode == EvalMode::center_crop || d.has(split + ".resize"),
             where(d, split + ".batch_size"), " is ", e.batch_size,
             ": images of different sizes can only be evaluated one at a time");
    return e;
}

AugmentConfig eval_augment(const Config& d, const std::string& split) {
    AugmentConfig a;
    a.normalize = normalization(d);
    read_fixed_resize(d, split, a);
    // RIPU: the network sees the resized image, its logits are upsampled to the native label.
    a.keep_label_size = d.get_bool(split + ".native_labels", false);
    PG_CHECK(!a.keep_label_size || eval_options(d, split).mode == EvalMode::whole,
             where(d, split + ".native_labels"), " needs mode: whole");
    if (eval_options(d, split).mode == EvalMode::center_crop) {
        a.crop_mode = CropMode::center;
        std::tie(a.crop_height, a.crop_width) = size_pair(d, split + ".crop.size");
    }
    return a;
}

LoaderConfig train_loader_config(const Config& d, uint64_t seed) {
    LoaderConfig l;
    l.batch_size = d.get_int("batch_size", 4);
    PG_CHECK(l.batch_size >= 1, where(d, "batch_size"), " is ", l.batch_size, ", expected >= 1");
    l.workers = int(d.get_int("workers", 2));
    PG_CHECK(l.workers >= 0, where(d, "workers"), " is ", l.workers,
             ", expected >= 0 (0: load on the training thread)");
    l.prefetch = std::max(2, l.workers);
    l.shuffle = true;
    l.drop_last = true; // BN statistics of a batch of one are meaningless
    l.seed = seed;
    l.rank = collectives().rank(); // data parallel: this process's share of every epoch
    l.world = collectives().world_size();
    if (d.has("global_batch_size")) { // replaces batch_size: each process takes its share
        // (over the config file's batch_size; one given by --set as well is a contradiction)
        PG_CHECK(!d.given_by_set("batch_size"), "--set dataset.batch_size: ", "dataset.batch_size ",
                 l.batch_size, " (per process) and dataset.global_batch_size ",
                 d.get_int("global_batch_size"),
                 " (all processes together) are both given; the global batch replaces the "
                 "per-process one: give one of them");
        l.global_batch = d.get_int("global_batch_size");
        PG_CHECK(l.global_batch >= l.world, where(d, "global_batch_size"), " is ", l.global_batch,
                 "; expected at least one sample for each of the ", l.world, " process(es)");
        l.batch_size = batch_share(l.global_batch, l.world, l.rank);
    }
    return l;
}

static const char* kCityscapesNames[19] = {
    "road",         "sidewalk",   "building", "wall",       "fence",  "pole",  "traffic light",
    "traffic sign", "vegetation", "terrain",  "sky",        "person", "rider", "car",
    "truck",        "bus",        "train",    "motorcycle", "bicycle"};

// The class names of a synthetic world (root/world.json). A world in the Cityscapes or GTAV layout
// stores Cityscapes labelIds, read as the 19 trainIds: Cityscapes' names with the world's shape
// names at the trainIds of its classes.
static std::vector<std::string> world_class_names(const std::string& root) {
    std::ifstream in(fs::path(root) / "world.json");
    if (!in) return {};
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    std::vector<std::string> names;
    if (!j.is_object() || !j.contains("classes")) return {};
    bool label_ids = false;
    for (const auto& c : j["classes"]) {
        if (c.contains("name") && c["name"].is_string()) names.push_back(c["name"]);
        label_ids |= c.contains("label_id");
    }
    if (!label_ids) return names;
    std::vector<std::string> nineteen(kCityscapesNames, kCityscapesNames + 19);
    LabelMapping to_train_id = cityscapes_label_id_mapping();
    for (const auto& c : j["classes"]) {
        int id = c.value("label_id", -1);
        int train_id = id >= 0 && id < 256 ? to_train_id.table[size_t(id)] : -1;
        if (train_id >= 0 && train_id < 19 && c.contains("name") && c["name"].is_string())
            nineteen[size_t(train_id)] = c["name"];
    }
    return nineteen;
}

static const char* kVocNames[21] = {
    "background", "aeroplane", "bicycle",     "bird",  "boat",        "bottle", "bus",
    "car",        "cat",       "chair",       "cow",   "diningtable", "dog",    "horse",
    "motorbike",  "person",    "pottedplant", "sheep", "sofa",        "train",  "tvmonitor"};

std::vector<std::string> class_names(const Config& d, int num_classes) {
    std::vector<std::string> names;
    if (d.has("class_names"))
        names = d.get_string_list("class_names");
    else
        names = world_class_names(d.get_string("root", ""));
    std::string type = d.get_string("type", "");
    if (names.empty() && type == "voc" && num_classes == 21)
        names.assign(kVocNames, kVocNames + 21);
    if (names.empty() && num_classes == 19) names.assign(kCityscapesNames, kCityscapesNames + 19);
    if (names.empty())
        for (int c = 0; c < num_classes; ++c) names.push_back("class_" + std::to_string(c));
    // The names come from dataset.class_names, else from the world's world.json.
    const std::string named_by =
        d.has("class_names")
            ? where(d, "class_names") + " has"
            : (fs::path(d.get_string("root", "")) / "world.json").string() + " names";
    PG_CHECK(int(names.size()) == num_classes, named_by, " ", names.size(),
             " classes but net.num_classes is ", num_classes,
             " (set net.num_classes to match, or list dataset.class_names)");
    return names;
}

const char* eval_mode_name(EvalMode mode) {
    switch (mode) {
    case EvalMode::whole:
        return "whole";
    case EvalMode::center_crop:
        return "center_crop";
    case EvalMode::pad:
        return "pad";
    case EvalMode::sliding:
        return "sliding";
    }
    return "?";
}

} // namespace pg::seg
