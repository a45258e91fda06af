// The label-noise pipeline's graph of one image (shared/specs/label_noise_gat.md steps 4-5):
// superpixels as nodes, their mean deep features, spatial adjacency pruned by semantic similarity,
// node labels by majority vote of the clean pixels, and the corrected pixel labels from the nodes'
// predictions.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "seg/data/image_io.h"

namespace pg::seg {

// The unordered pairs (i < j) of superpixels that share a border (4-neighbour pixels with
// different ids), sorted. superpixels (H, W) ids in [0, count).
std::vector<std::pair<int32_t, int32_t>>
superpixel_adjacency(const std::vector<int32_t>& superpixels, int height, int width, int count);

// Mean over each superpixel of a per-pixel feature map (H, W, D) -> (count, D). An empty
// superpixel (no pixel) is an error: ids must be 0..count-1 and all used.
std::vector<float> superpixel_means(const std::vector<float>& features, int dims,
                                    const std::vector<int32_t>& superpixels, int count);

struct PrunedGraph {
    std::vector<int32_t> src, dst; // kept undirected edges, each once (src < dst)
    float threshold = 0.f;         // t = mu + k sigma of S over the adjacent pairs
    int64_t adjacent = 0;          // pairs before pruning
};
// The semantic pruning rule: S_ij = f_i . f_j / sqrt(D) for adjacent i, j; t = mu + k sigma over
// the image's adjacent pairs. Seen from i, the edge to j goes when S_ij < t and j is not i's most
// similar neighbour (S_ij < max_{m in N(i)} S_im); it stays when either end keeps it (the graph
// stays symmetric and no node loses its most similar neighbour).
PrunedGraph prune_by_similarity(const std::vector<std::pair<int32_t, int32_t>>& adjacent,
                                const std::vector<float>& node_features, int dims, float k);

// Node labels (step 5): the majority class among a superpixel's clean pixels (lowest class on
// ties); 255 when fewer than `min_clean_fraction` of its pixels are clean or none is.
std::vector<int32_t> majority_node_labels(const std::vector<int32_t>& superpixels, int count,
                                          const LabelMap& cam_label,
                                          const std::vector<uint8_t>& clean, int num_classes,
                                          float min_clean_fraction);

// The corrected label map (step 6): clean pixels keep their CAM label, every other pixel takes
// its superpixel's predicted class.
LabelMap corrected_labels(const std::vector<int32_t>& superpixels, const LabelMap& cam_label,
                          const std::vector<uint8_t>& clean,
                          const std::vector<int32_t>& node_predictions);

} // namespace pg::seg
