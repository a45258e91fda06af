// The label-noise pipeline's pixel-level steps (shared/specs/label_noise_gat.md, steps 1 and 3):
// image tags (a tags file, or the classes of a label map), CAM pseudo-labels from normalised class
// activation maps, the clean model's per-pixel loss against them, and the automatic choice of the
// loss threshold delta that best separates right CAM labels from wrong ones; plus label quality.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "seg/data/image_io.h"

namespace pg::seg {

// id -> the foreground classes present (1..num_classes-1, sorted, no repeats). The file holds one
// line per image: its id (or list entry), then the class indices (the synthetic world's tags.txt).
// Errors name the file, the line and the bad value.
std::map<std::string, std::vector<int>> read_tags_file(const std::string& path, int num_classes);
// The foreground classes of a train-id label map (0 = background and 255 = void are not tags;
// VOC's tags are exactly this).
std::vector<int> tags_from_label(const LabelMap& label, int num_classes);

// CAM label of one image from cams (H, W, K) row-major, K = C - 1 foreground maps already
// max-normalised and zero for absent classes (nn::CamHead::cams): background (0) where the best
// map is below `background_threshold`, else 1 + the argmax (first on ties).
LabelMap cam_label(const std::vector<float>& cams, int height, int width, int num_foreground,
                   float background_threshold);

// Per-pixel cross-entropy of a prediction against a label map: l = -log max(p_label, 1e-12) from
// probabilities (H, W, C); 0 where the label is 255 (no label to be clean or noisy about).
std::vector<float> pixel_losses(const std::vector<float>& probs, const LabelMap& label,
                                int num_classes);

// One pixel of the delta search: its loss and whether its CAM label agrees with the truth.
struct DeltaSample {
    float loss = 0.f;
    bool right = false;
};
struct DeltaChoice {
    float delta = 0.f; // clean iff loss < delta
    double accuracy =
        0.0; // of the clean/noisy split on the samples: (right & clean + wrong & noisy) / n
    int64_t samples = 0;
};
// The threshold that maximises the split's accuracy (step 3): the samples sorted by loss, every
// cut between two distinct losses (and before the first / after the last) tried; delta is the
// midpoint of the best cut's two losses (the smallest such cut on ties). No samples is an error.
DeltaChoice choose_delta(std::vector<DeltaSample> samples);

// Pixel accuracy and mIoU of labels against the truth (255 in the truth ignored; a 255 label on a
// labelled truth pixel counts as wrong). Accumulate image by image, then read.
class LabelQuality {
  public:
    explicit LabelQuality(int num_classes);
    void add(const LabelMap& label, const LabelMap& truth);
    // Only the pixels where keep != 0 (the detection step's clean pixels): precision of a subset.
    void add_where(const LabelMap& label, const LabelMap& truth, const std::vector<uint8_t>& keep);
    double pixel_accuracy() const; // right / scored, in %
    double miou() const;           // mean over classes with a union > 0, in %
    double coverage() const; // scored pixels with a label (!= 255) / all truth pixels seen, in %
    int64_t scored_pixels() const { return scored_; }

  private:
    int num_classes_;
    std::vector<int64_t> intersection_, union_;
    int64_t scored_ = 0, right_ = 0, labelled_ = 0, truth_pixels_ = 0;
};

} // namespace pg::seg
