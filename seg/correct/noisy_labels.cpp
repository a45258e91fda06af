// Tags, CAM labels, per-pixel losses, the delta search and label quality (noisy_labels.h).
#include "seg/correct/noisy_labels.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace pg::seg {

std::map<std::string, std::vector<int>> read_tags_file(const std::string& path, int num_classes) {
    std::ifstream in(path);
    PG_CHECK(in.good(), "tags: cannot open the tags file ", path);
    std::map<std::string, std::vector<int>> tags;
    std::string line;
    for (int64_t line_no = 1; std::getline(in, line); line_no++) {
        std::istringstream words(line);
        std::string id, word;
        if (!(words >> id)) continue; // blank line
        std::vector<int> present;
        while (words >> word) {
            char* end = nullptr;
            long c = std::strtol(word.c_str(), &end, 10);
            PG_CHECK(end && *end == '\0' && c >= 1 && c < num_classes, "tags: ", path, " line ",
                     line_no, ": '", word, "' is not a foreground class index (1..",
                     num_classes - 1, ")");
            present.push_back(int(c));
        }
        std::sort(present.begin(), present.end());
        present.erase(std::unique(present.begin(), present.end()), present.end());
        PG_CHECK(tags.emplace(id, present).second, "tags: ", path, " line ", line_no, ": the id ",
                 id, " is listed twice");
    }
    PG_CHECK(!tags.empty(), "tags: the tags file ", path, " has no lines");
    return tags;
}

std::vector<int> tags_from_label(const LabelMap& label, int num_classes) {
    std::vector<uint8_t> seen(size_t(num_classes), 0);
    for (int32_t v : label.values)
        if (v > 0 && v < num_classes) seen[size_t(v)] = 1;
    std::vector<int> present;
    for (int c = 1; c < num_classes; c++)
        if (seen[size_t(c)]) present.push_back(c);
    return present;
}

LabelMap cam_label(const std::vector<float>& cams, int height, int width, int num_foreground,
                   float background_threshold) {
    PG_CHECK(int64_t(cams.size()) == int64_t(height) * width * num_foreground,
             "cam_label: ", cams.size(), " values for (", height, ", ", width, ", ", num_foreground,
             ") maps");
    LabelMap label{height, width, std::vector<int32_t>(size_t(height) * size_t(width), 0)};
    for (size_t p = 0; p < label.values.size(); p++) {
        const float* m = cams.data() + p * size_t(num_foreground);
        int best = 0;
        for (int k = 1; k < num_foreground; k++)
            if (m[k] > m[best]) best = k;
        if (num_foreground > 0 && m[best] >= background_threshold) label.values[p] = best + 1;
    }
    return label;
}

std::vector<float> pixel_losses(const std::vector<float>& probs, const LabelMap& label,
                                int num_classes) {
    PG_CHECK(probs.size() == label.values.size() * size_t(num_classes),
             "pixel_losses: ", probs.size(), " probabilities for ", label.values.size(),
             " pixels of ", num_classes, " classes");
    std::vector<float> loss(label.values.size(), 0.f);
    for (size_t p = 0; p < loss.size(); p++) {
        int32_t c = label.values[p];
        if (c == 255) continue;
        PG_CHECK(c >= 0 && c < num_classes, "pixel_losses: label ", c, " at pixel ", p,
                 " is not a class (0..", num_classes - 1, " or 255)");
        loss[p] = -std::log(std::max(probs[p * size_t(num_classes) + size_t(c)], 1e-12f));
    }
    return loss;
}

// Sorted by loss, a cut after position i (0 <= i <= n) calls samples [0, i) clean: accuracy =
// (right among the first i + wrong among the rest) / n, updated in O(1) per cut.
DeltaChoice choose_delta(std::vector<DeltaSample> samples) {
    PG_CHECK(!samples.empty(), "choose_delta: no pixels to choose the noise threshold on (the "
                               "strong images have no labelled pixels)");
    std::sort(samples.begin(), samples.end(),
              [](const DeltaSample& a, const DeltaSample& b) { return a.loss < b.loss; });
    const int64_t n = int64_t(samples.size());
    int64_t wrong_total = 0;
    for (const DeltaSample& s : samples) wrong_total += s.right ? 0 : 1;
    int64_t right_before = 0, wrong_before = 0;
    int64_t best_score = wrong_total; // the cut before the first sample: everything noisy
    float best_delta = samples[0].loss;
    for (int64_t i = 0; i < n; i++) {
        (samples[size_t(i)].right ? right_before : wrong_before)++;
        if (i + 1 < n && samples[size_t(i + 1)].loss == samples[size_t(i)].loss) continue;
        int64_t score = right_before + (wrong_total - wrong_before);
        if (score > best_score) {
            best_score = score;
            float next = i + 1 < n ? samples[size_t(i + 1)].loss
                                   : samples[size_t(i)].loss + 1.f; // everything clean
            best_delta = 0.5f * (samples[size_t(i)].loss + next);
        }
    }
    return {best_delta, double(best_score) / double(n), n};
}

LabelQuality::LabelQuality(int num_classes)
    : num_classes_(num_classes), intersection_(size_t(num_classes), 0),
      union_(size_t(num_classes), 0) {}

void LabelQuality::add(const LabelMap& label, const LabelMap& truth) {
    add_where(label, truth, std::vector<uint8_t>(truth.values.size(), 1));
}

void LabelQuality::add_where(const LabelMap& label, const LabelMap& truth,
                             const std::vector<uint8_t>& keep) {
    PG_CHECK(label.height == truth.height && label.width == truth.width &&
                 keep.size() == truth.values.size(),
             "LabelQuality: label ", label.height, "x", label.width, " vs truth ", truth.height,
             "x", truth.width, " (", keep.size(), " mask values)");
    for (size_t p = 0; p < truth.values.size(); p++) {
        int32_t t = truth.values[p], l = label.values[p];
        if (t == 255 || t < 0 || t >= num_classes_) continue;
        truth_pixels_++;
        if (!keep[p]) continue;
        scored_++;
        if (l == 255) {
            union_[size_t(t)]++;
            continue;
        }
        labelled_++;
        if (l == t) {
            right_++;
            intersection_[size_t(t)]++;
            union_[size_t(t)]++;
        } else {
            union_[size_t(t)]++;
            if (l >= 0 && l < num_classes_) union_[size_t(l)]++;
        }
    }
}

double LabelQuality::pixel_accuracy() const {
    return scored_ ? 100.0 * double(right_) / double(scored_) : 0.0;
}

double LabelQuality::miou() const {
    double sum = 0;
    int counted = 0;
    for (int c = 0; c < num_classes_; c++) {
        if (union_[size_t(c)] == 0) continue;
        sum += double(intersection_[size_t(c)]) / double(union_[size_t(c)]);
        counted++;
    }
    return counted ? 100.0 * sum / counted : 0.0;
}

double LabelQuality::coverage() const {
    return truth_pixels_ ? 100.0 * double(labelled_) / double(truth_pixels_) : 0.0;
}

} // namespace pg::seg
