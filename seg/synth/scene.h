// One procedural scene of the synthetic world: K-1 object classes defined by shape (shapes.h) on a
// background (class 0) with clutter, drawn back to front with occlusion; a label map with a void
// (255) band inside each object's visible outline, as in VOC; image-level tags. Two styles: source
// (flat colours, sharp edges, no noise) and target (textured, colour-shifted, blurred, noisy).
// Deterministic from one seed; world.h writes many scenes to disk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "seg/data/image_io.h"

namespace pg::seg::synth {

enum class Style { source, target };
Style parse_style(const std::string& name); // "source" | "target"
const char* style_name(Style style);

struct SceneOptions {
    int height = 64, width = 64;
    int num_classes = 9; // K: background + K-1 shapes, 2 .. shape_count() + 1
    Style style = Style::source;
    int min_objects = 2, max_objects = 6;
    // Object radius as a fraction of min(height, width), drawn log-uniformly in [min, max].
    float min_size = 0.09f, max_size = 0.3f;
    int max_clutter = 4;      // background clutter (blobs and curves, label 0) under the objects
    float over_stroke = 0.3f; // probability of a background curve drawn OVER the objects
    int void_width = 1;       // void band (px) inside the visible outline of each object of
                              // radius >= 8 x void_width px (smaller ones keep all); 0: none
    int min_visible = 12;     // objects with fewer non-void visible pixels become void entirely
};

// What was drawn, for tests and statistics: one record per object, in drawing order.
struct SceneObject {
    int cls = 0; // 1..K-1
    float cx = 0, cy = 0, radius = 0, angle = 0;
    float colour[3] = {0, 0, 0}; // base colour, before the target style's shift
    int64_t visible = 0;         // labelled (non-void) pixels it kept
};

struct Scene {
    Image image;                      // (H, W, 3) RGB
    LabelMap labels;                  // (H, W): 0..K-1, 255 void
    std::vector<int> tags;            // sorted classes 1..K-1 present in labels (background never)
    std::vector<SceneObject> objects; // drawing order: later ones cover earlier ones
};

// Checks the options (sizes, class count, ranges) and throws a clear error if one is wrong.
void check_scene_options(const SceneOptions& options);

// The seed of scene `index` of a stream (e.g. the train split of a style): a Philox hash of
// (world_seed, stream, index), so scene i never depends on how many scenes came before it.
uint64_t scene_seed(uint64_t world_seed, uint64_t stream, uint64_t index);

Scene render_scene(const SceneOptions& options, uint64_t seed);

} // namespace pg::seg::synth
