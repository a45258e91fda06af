// Segmentation datasets on disk: Pascal VOC (+SBD aug, U2PL splits), Cityscapes, GTAV,
// SYNTHIA-RAND-CITYSCAPES and a generic "images + labels + list" layout (exact layouts in
// shared/specs/datasets.md). A reader, configured by a plain struct, indexes (image, label) file
// pairs once; Dataset::load(i) then reads pair i and maps its stored label values to train ids.
// Next: augment.h (random resize/crop/flip, normalisation) and loader.h (threaded batches).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "seg/data/image_io.h"

namespace pg::seg {

// One loaded example. `label` is empty (0 x 0) for unlabeled data; otherwise it holds train ids
// (0..num_classes-1, or 255 = ignore) and has the image's size.
struct Sample {
    Image image; // (H, W, 3) RGB
    LabelMap label;
    std::string id; // the dataset's name for the example ("2007_000032", "aachen_000000_000019")
};

// The files of one example; `label` is empty for unlabeled data.
struct SampleFiles {
    std::string id, image, label;
};

// Stored label value -> train id. table[v] is the train id of stored value v (0..C-1 or 255), or
// kUnknownLabel; values past the end of the table are unknown too.
constexpr int32_t kUnknownLabel = -1;
constexpr int32_t kIgnoreLabel = 255;
struct LabelMapping {
    std::string what; // what the stored values are, for errors: "a VOC class (0..20 or 255)"
    int num_classes = 0;
    std::vector<int32_t> table;
};

// 0..num_classes-1 -> themselves, 255 -> 255 (VOC indices, Cityscapes labelTrainIds, generic).
LabelMapping identity_mapping(int num_classes, const std::string& what);
// Cityscapes labelIds (also GTAV's palette indices) -> the 19 trainIds; ids 0..33 that are not
// one of the 19 classes -> 255; 255 stays 255; anything else (34..254) is unknown.
LabelMapping cityscapes_label_id_mapping();
// A 19-trainId mapping narrowed to SYNTHIA's 16 classes (Cityscapes order without terrain,
// truck and train, which become 255): the Cityscapes target of SYNTHIA -> Cityscapes.
LabelMapping to_synthia_classes(const LabelMapping& nineteen);
// SYNTHIA class ids (0..22, channel 0 of its 16-bit labels) -> the 16 Cityscapes-ordered classes.
LabelMapping synthia_mapping();

// What every reader shares.
struct DatasetOptions {
    bool labeled = true; // false: images only (an unlabeled split, a test set); no label files
    // true: a stored label value the mapping does not know is an error naming the file and value;
    // false: such values become 255.
    bool strict_labels = true;
    // A label whose size differs from its image: an error naming both files (false), or the label
    // is nearest-resized to the image (true; a few real GTAV pairs need it).
    bool resize_mismatched_labels = false;
    // Where warnings go (one line each, no newline); empty: std::cerr.
    std::function<void(const std::string&)> warn;
};

// An indexed dataset. load() only reads files, so it may be called from several threads.
class Dataset {
  public:
    Dataset() = default;
    // name: for messages ("voc", "cityscapes", ...).
    // skipped: how many listed pairs the reader dropped (missing or empty files).
    Dataset(std::string name, std::vector<SampleFiles> files, LabelMapping mapping,
            DatasetOptions options, int64_t skipped = 0);

    const std::string& name() const { return name_; }
    int64_t size() const { return int64_t(files_.size()); }
    bool labeled() const { return options_.labeled; }
    int num_classes() const { return mapping_.num_classes; }
    const std::string& id(int64_t i) const { return files(i).id; }
    const SampleFiles& files(int64_t i) const;
    int64_t skipped() const { return skipped_; }

    // Reads example i: RGB image and, when labeled, its train-id label map.
    Sample load(int64_t i) const;

    // The examples at `indices`, in that order (AdvSemiSeg's labeled part of a seeded shuffle).
    Dataset subset(const std::vector<int64_t>& indices) const;
    // The same examples without their labels (the unlabeled stream of semi-supervision).
    Dataset without_labels() const;

  private:
    std::string name_;
    std::vector<SampleFiles> files_;
    LabelMapping mapping_;
    DatasetOptions options_;
    int64_t skipped_ = 0;
};

// Maps stored values in place through `mapping` (errors name `path` and the first bad value).
void map_labels(LabelMap& labels, const LabelMapping& mapping, bool strict,
                const std::string& path);

// ---- readers ----
// A list file holds one entry per line (blank lines and surrounding spaces ignored). Relative
// paths (list files, and paths inside lists) are relative to the dataset root.

// Pascal VOC 2012 (+ SBD): JPEGImages/<id>.jpg, labels <label_dir>/<id>.png.
struct VocConfig {
    std::string root;
    // ImageSets/Segmentation/<split>.txt (train, val, trainval, train_aug), else <root>/<split>.txt.
    std::string split = "train";
    // An explicit list (U2PL: "splits/1464/labeled.txt"); overrides `split`. A line is an id, or
    // "image_path label_path" relative to the root (DeepLab-style lists).
    std::string list;
    // "SegmentationClassAug" or "SegmentationClass"; empty: the Aug folder when it exists.
    std::string label_dir;
    // 21 for VOC itself; the synthetic world in VOC layout has its own class count.
    int num_classes = 21;
    DatasetOptions options;
};
Dataset open_voc(const VocConfig& config);

// Cityscapes: leftImg8bit/<split>/<city>/<name>_leftImg8bit.png and
// gtFine/<split>/<city>/<name>_gtFine_labelIds.png (or _labelTrainIds.png).
struct CityscapesConfig {
    std::string root;
    std::string split = "train"; // scanned when `list` is empty: every city folder, sorted
    // U2PL-style list of image paths relative to the root ("leftImg8bit/train/aachen/..._
    // leftImg8bit.png"), optionally followed by the label path; overrides the scan.
    std::string list;
    bool train_ids = false; // read _gtFine_labelTrainIds.png instead of mapping _labelIds.png
    DatasetOptions options;
    bool synthia_classes = false; // SYNTHIA's 16 classes (to_synthia_classes), not the 19
};
Dataset open_cityscapes(const CityscapesConfig& config);

// GTAV: images/NNNNN.png, labels/NNNNN.png (palette PNG of Cityscapes labelIds).
struct GtavConfig {
    std::string root;
    std::string list; // file names or ids ("00001.png" or "00001"); empty: scan images/
    DatasetOptions options;
};
Dataset open_gtav(const GtavConfig& config);

// SYNTHIA-RAND-CITYSCAPES: RGB/<name>.png, GT/LABELS/<name>.png (16-bit, class in channel 0).
struct SynthiaConfig {
    std::string root;
    std::string list; // file names or ids; empty: scan RGB/
    DatasetOptions options;
};
Dataset open_synthia(const SynthiaConfig& config);

// Generic: <root>/<images_dir>/<id><image_ext> and <root>/<labels_dir>/<id><label_ext>.
struct GenericConfig {
    std::string root;
    std::string images_dir = "images", labels_dir = "labels";
    std::string image_ext = ".jpg", label_ext = ".png";
    std::string list; // ids (or "image label" path pairs); empty: scan images_dir for image_ext
    int num_classes = 0;
    // Optional stored value -> train id table (entries -1 = unknown, 255 = ignore); empty: the
    // values are the train ids 0..num_classes-1 (and 255).
    std::vector<int32_t> label_table;
    DatasetOptions options;
};
Dataset open_generic(const GenericConfig& config);

} // namespace pg::seg
