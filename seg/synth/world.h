// The synthetic world on disk: many scenes (scene.h) written in a real dataset's layout so that the
// real readers are exercised: Pascal VOC (JPEGImages, palette SegmentationClass, grey
// SegmentationClassAug, ImageSets, U2PL splits), Cityscapes (leftImg8bit / gtFine labelIds in city
// folders, U2PL split lists) or GTAV (images / palette labels holding Cityscapes labelIds), plus
// tags.txt (image-level tags) and world.json (what was generated). `pixelgrad synth` drives it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "seg/synth/scene.h"

namespace pg::seg::synth {

enum class Layout { voc, cityscapes, gtav };
Layout parse_layout(const std::string& name); // "voc" | "cityscapes" | "gtav"
const char* layout_name(Layout layout);

struct WorldOptions {
    std::string out_dir;
    Layout layout = Layout::voc;
    SceneOptions scene;  // size, class count, style, clutter, void band
    int num_train = 512; // train images (GTAV: the only split)
    int num_val = 128;   // val images (must be 0 for GTAV, which has no val split)
    uint64_t seed = 0;
    std::vector<int> splits; // labeled-subset sizes for splits/<n>/; empty: default_splits()
    bool force = false;      // replace the world in out_dir (its files are removed first)
    bool train_ids = false;  // Cityscapes: also write <name>_gtFine_labelTrainIds.png
    int jpeg_quality = 95;   // VOC's JPEGImages
};

// Per class c (0..K-1) of one split: labelled pixels and images containing the class; void pixels.
struct SplitStats {
    std::vector<int64_t> pixels, images;
    int64_t void_pixels = 0;
};

struct WorldSummary {
    int num_train = 0, num_val = 0;
    std::vector<int> splits;
    SplitStats train, val;
};

// Generates and writes the world. Refuses a non-empty out_dir unless it holds a synthetic world
// (its world.json, or only a world's files: one whose writing was interrupted) and options.force;
// that world's files are then removed first, other files beside them kept.
WorldSummary write_world(const WorldOptions& options);

// Labeled-subset sizes used when none are given: num_train / 32, / 16, / 8, / 4 (those >= 1).
std::vector<int> default_splits(int num_train);

// "background" for 0, the shape's name otherwise.
std::string class_name(int cls);

// Cityscapes labelId written for synthetic class c: the labelId whose trainId is c in the 19-class
// map of datasets.md (0 -> 7 road, 1 -> 8 sidewalk, 2 -> 11 building, ...); 255 (void) -> 0.
int cityscapes_label_id(int cls);

// How the split lists and tags.txt name image `index` of a split ("train" or "val"): the VOC id,
// the Cityscapes image path relative to the root, or the GTAV file name.
std::string image_list_entry(Layout layout, const std::string& split, int index);

} // namespace pg::seg::synth
