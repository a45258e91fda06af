// Dataset (seg/data/dataset.h): the label mappings of each dataset and loading one example.
// The readers that index the files of each layout are in dataset_readers.cpp.
#include "seg/data/dataset.h"

#include "tensor/error.h"

namespace pg::seg {

// ---- label mappings ----

LabelMapping identity_mapping(int num_classes, const std::string& what) {
    PG_CHECK(num_classes >= 1 && num_classes <= 255, "identity_mapping: ", num_classes,
             " classes; expected 1..255 (255 is the ignore label)");
    LabelMapping m{what, num_classes, std::vector<int32_t>(256, kUnknownLabel)};
    for (int c = 0; c < num_classes; c++) m.table[size_t(c)] = c;
    m.table[kIgnoreLabel] = kIgnoreLabel;
    return m;
}

LabelMapping cityscapes_label_id_mapping() {
    // labelId -> trainId for the 19 evaluated classes (cityscapesScripts labels.py).
    static const int kPairs[19][2] = {{7, 0},   {8, 1},   {11, 2},  {12, 3},  {13, 4},
                                      {17, 5},  {19, 6},  {20, 7},  {21, 8},  {22, 9},
                                      {23, 10}, {24, 11}, {25, 12}, {26, 13}, {27, 14},
                                      {28, 15}, {31, 16}, {32, 17}, {33, 18}};
    LabelMapping m{"a Cityscapes labelId (0..33, or 255)", 19,
                   std::vector<int32_t>(256, kUnknownLabel)};
    for (int id = 0; id <= 33; id++) m.table[size_t(id)] = kIgnoreLabel; // void classes
    for (const auto& p : kPairs) m.table[size_t(p[0])] = p[1];
    m.table[kIgnoreLabel] = kIgnoreLabel;
    return m;
}

LabelMapping to_synthia_classes(const LabelMapping& nineteen) {
    // trainId -> SYNTHIA's 16: terrain (9), truck (14) and train (16) are not among them.
    static const int32_t kTo16[19] = {
        0,  1, 2, 3, 4, 5, 6, 7, 8, kIgnoreLabel, 9, 10, 11, 12, kIgnoreLabel, 13, kIgnoreLabel,
        14, 15};
    LabelMapping m = nineteen;
    m.what += ", evaluated on SYNTHIA's 16 classes";
    m.num_classes = 16;
    for (int32_t& t : m.table)
        if (t >= 0 && t < 19) t = kTo16[t];
    return m;
}

LabelMapping synthia_mapping() {
    // SYNTHIA id -> class in Cityscapes order: road, sidewalk, building, wall, fence, pole,
    // traffic light, traffic sign, vegetation, sky, person, rider, car, bus, motorcycle, bicycle.
    static const int kPairs[16][2] = {{3, 0},  {4, 1},   {2, 2},   {21, 3}, {5, 4},   {7, 5},
                                      {15, 6}, {9, 7},   {6, 8},   {1, 9},  {10, 10}, {17, 11},
                                      {8, 12}, {19, 13}, {12, 14}, {11, 15}};
    LabelMapping m{"a SYNTHIA class id (0..22)", 16, std::vector<int32_t>(23, kIgnoreLabel)};
    for (const auto& p : kPairs) m.table[size_t(p[0])] = p[1];
    return m;
}

void map_labels(LabelMap& labels, const LabelMapping& mapping, bool strict,
                const std::string& path) {
    const int64_t table_size = int64_t(mapping.table.size());
    for (size_t i = 0; i < labels.values.size(); i++) {
        int32_t v = labels.values[i];
        int32_t mapped = (v >= 0 && v < table_size) ? mapping.table[size_t(v)] : kUnknownLabel;
        if (mapped == kUnknownLabel) {
            PG_CHECK(!strict, path, ": label value ", v, " at pixel (y=", i / size_t(labels.width),
                     ", x=", i % size_t(labels.width), ") is not ", mapping.what,
                     "; fix the file, or set strict_labels off to map unknown values to 255");
            mapped = kIgnoreLabel;
        }
        labels.values[i] = mapped;
    }
}

// ---- Dataset ----

Dataset::Dataset(std::string name, std::vector<SampleFiles> files, LabelMapping mapping,
                 DatasetOptions options, int64_t skipped)
    : name_(std::move(name)), files_(std::move(files)), mapping_(std::move(mapping)),
      options_(std::move(options)), skipped_(skipped) {}

const SampleFiles& Dataset::files(int64_t i) const {
    PG_CHECK(i >= 0 && i < size(), name_, ": example ", i, " out of range; the dataset has ",
             size());
    return files_[size_t(i)];
}

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
    std::vector<SampleFiles> picked;
    for (int64_t i : indices) picked.push_back(files(i));
    return Dataset(name_, std::move(picked), mapping_, options_, 0);
}

Dataset Dataset::without_labels() const {
    DatasetOptions options = options_;
    options.labeled = false;
    return Dataset(name_, files_, mapping_, options, skipped_);
}

// Nearest resize of a label map (PyTorch's 'nearest': src = floor(dst * in / out)).
static LabelMap resize_labels_nearest(const LabelMap& in, int height, int width) {
    LabelMap out{height, width, std::vector<int32_t>(size_t(height) * size_t(width))};
    for (int y = 0; y < height; y++) {
        int sy = int(int64_t(y) * in.height / height);
        for (int x = 0; x < width; x++) {
            int sx = int(int64_t(x) * in.width / width);
            out.values[size_t(y) * size_t(width) + size_t(x)] =
                in.values[size_t(sy) * size_t(in.width) + size_t(sx)];
        }
    }
    return out;
}

Sample Dataset::load(int64_t i) const {
    const SampleFiles& f = files(i);
    Sample sample;
    sample.id = f.id;
    sample.image = read_image(f.image);
    if (!options_.labeled) return sample;
    sample.label = read_label_png(f.label);
    const Image& im = sample.image;
    LabelMap& lb = sample.label;
    if (lb.height != im.height || lb.width != im.width) {
        PG_CHECK(options_.resize_mismatched_labels, name_, ": label ", f.label, " is ", lb.height,
                 "x", lb.width, " (HxW) but its image ", f.image, " is ", im.height, "x", im.width);
        lb = resize_labels_nearest(lb, im.height, im.width);
    }
    map_labels(lb, mapping_, options_.strict_labels, f.label);
    return sample;
}

} // namespace pg::seg
