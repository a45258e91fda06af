// Superpixel adjacency, mean features, semantic pruning, node votes and corrected labels
// (superpixel_graph.h). All host loops over one image.
#include "seg/correct/superpixel_graph.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/error.h"

namespace pg::seg {

std::vector<std::pair<int32_t, int32_t>> superpixel_adjacency(const std::vector<int32_t>& sp,
                                                              int height, int width, int count) {
    PG_CHECK(int64_t(sp.size()) == int64_t(height) * width, "superpixel_adjacency: ", sp.size(),
             " ids for a ", height, "x", width, " image");
    std::vector<std::pair<int32_t, int32_t>> pairs;
    auto add = [&](int32_t a, int32_t b) {
        if (a != b) pairs.emplace_back(std::min(a, b), std::max(a, b));
    };
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            int32_t id = sp[size_t(y) * size_t(width) + size_t(x)];
            PG_CHECK(id >= 0 && id < count, "superpixel_adjacency: id ", id, " at (", y, ", ", x,
                     ") is outside [0, ", count, ")");
            if (x + 1 < width) add(id, sp[size_t(y) * size_t(width) + size_t(x + 1)]);
            if (y + 1 < height) add(id, sp[size_t(y + 1) * size_t(width) + size_t(x)]);
        }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    return pairs;
}

std::vector<float> superpixel_means(const std::vector<float>& features, int dims,
                                    const std::vector<int32_t>& sp, int count) {
    PG_CHECK(features.size() == sp.size() * size_t(dims), "superpixel_means: ", features.size(),
             " feature values for ", sp.size(), " pixels of ", dims, " dims");
    std::vector<double> sums(size_t(count) * size_t(dims), 0.0);
    std::vector<int64_t> pixels(size_t(count), 0);
    for (size_t p = 0; p < sp.size(); p++) {
        PG_CHECK(sp[p] >= 0 && sp[p] < count, "superpixel_means: id ", sp[p], " at pixel ", p,
                 " is outside [0, ", count, ")");
        pixels[size_t(sp[p])]++;
        for (int d = 0; d < dims; d++)
            sums[size_t(sp[p]) * size_t(dims) + size_t(d)] +=
                features[p * size_t(dims) + size_t(d)];
    }
    std::vector<float> means(sums.size());
    for (int s = 0; s < count; s++) {
        PG_CHECK(pixels[size_t(s)] > 0, "superpixel_means: superpixel ", s, " of ", count,
                 " has no pixel");
        for (int d = 0; d < dims; d++)
            means[size_t(s) * size_t(dims) + size_t(d)] =
                float(sums[size_t(s) * size_t(dims) + size_t(d)] / double(pixels[size_t(s)]));
    }
    return means;
}

PrunedGraph prune_by_similarity(const std::vector<std::pair<int32_t, int32_t>>& adjacent,
                                const std::vector<float>& f, int dims, float k) {
    PrunedGraph out;
    out.adjacent = int64_t(adjacent.size());
    if (adjacent.empty()) return out;
    const int64_t nodes = int64_t(f.size()) / dims;
    std::vector<double> sim(adjacent.size());
    double mean = 0, sq = 0;
    for (size_t e = 0; e < adjacent.size(); e++) {
        auto [i, j] = adjacent[e];
        PG_CHECK(i >= 0 && j >= 0 && i < nodes && j < nodes, "prune_by_similarity: edge ", i, "-",
                 j, " outside the ", nodes, " nodes");
        double dot = 0;
        for (int d = 0; d < dims; d++)
            dot += double(f[size_t(i) * size_t(dims) + size_t(d)]) *
                   double(f[size_t(j) * size_t(dims) + size_t(d)]);
        sim[e] = dot / std::sqrt(double(dims));
        mean += sim[e];
        sq += sim[e] * sim[e];
    }
    mean /= double(sim.size());
    const double sd = std::sqrt(std::max(0.0, sq / double(sim.size()) - mean * mean));
    out.threshold = float(mean + double(k) * sd);
    // Each node's most similar neighbour's similarity.
    std::vector<double> best(size_t(nodes), -std::numeric_limits<double>::infinity());
    for (size_t e = 0; e < adjacent.size(); e++) {
        best[size_t(adjacent[e].first)] = std::max(best[size_t(adjacent[e].first)], sim[e]);
        best[size_t(adjacent[e].second)] = std::max(best[size_t(adjacent[e].second)], sim[e]);
    }
    for (size_t e = 0; e < adjacent.size(); e++) {
        auto [i, j] = adjacent[e];
        bool similar = sim[e] >= double(out.threshold);
        bool keep = similar || sim[e] >= best[size_t(i)] || sim[e] >= best[size_t(j)];
        if (!keep) continue;
        out.src.push_back(i);
        out.dst.push_back(j);
    }
    return out;
}

std::vector<int32_t> majority_node_labels(const std::vector<int32_t>& sp, int count,
                                          const LabelMap& cam, const std::vector<uint8_t>& clean,
                                          int num_classes, float min_clean_fraction) {
    PG_CHECK(cam.values.size() == sp.size() && clean.size() == sp.size(),
             "majority_node_labels: ", sp.size(), " superpixel ids, ", cam.values.size(),
             " CAM labels, ", clean.size(), " clean flags");
    std::vector<int64_t> votes(size_t(count) * size_t(num_classes), 0), pixels(size_t(count), 0);
    for (size_t p = 0; p < sp.size(); p++) {
        pixels[size_t(sp[p])]++;
        int32_t c = cam.values[p];
        if (clean[p] && c >= 0 && c < num_classes)
            votes[size_t(sp[p]) * size_t(num_classes) + size_t(c)]++;
    }
    std::vector<int32_t> labels(size_t(count), 255);
    for (int s = 0; s < count; s++) {
        const int64_t* v = votes.data() + size_t(s) * size_t(num_classes);
        int64_t clean_pixels = 0;
        int best = 0;
        for (int c = 0; c < num_classes; c++) {
            clean_pixels += v[c];
            if (v[c] > v[best]) best = c;
        }
        if (clean_pixels > 0 &&
            double(clean_pixels) >= double(min_clean_fraction) * double(pixels[size_t(s)]))
            labels[size_t(s)] = best;
    }
    return labels;
}

LabelMap corrected_labels(const std::vector<int32_t>& sp, const LabelMap& cam,
                          const std::vector<uint8_t>& clean,
                          const std::vector<int32_t>& node_predictions) {
    PG_CHECK(cam.values.size() == sp.size() && clean.size() == sp.size(),
             "corrected_labels: ", sp.size(), " superpixel ids, ", cam.values.size(),
             " CAM labels, ", clean.size(), " clean flags");
    LabelMap out = cam;
    for (size_t p = 0; p < sp.size(); p++) {
        if (clean[p]) continue;
        PG_CHECK(size_t(sp[p]) < node_predictions.size(), "corrected_labels: superpixel ", sp[p],
                 " has no prediction (", node_predictions.size(), " nodes)");
        out.values[p] = node_predictions[size_t(sp[p])];
    }
    return out;
}

} // namespace pg::seg
