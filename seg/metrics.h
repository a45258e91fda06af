// Segmentation metrics: a confusion matrix accumulated over batches (ignore label skipped),
// per-class IoU = TP / (TP + FP + FN), mIoU over the classes that occur (in the truth or the
// prediction; a class absent from both is NaN and left out, as U2PL's and AdvSemiSeg's
// evaluators do), and pixel accuracy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace pg::seg {

class ConfusionMatrix {
  public:
    explicit ConfusionMatrix(int num_classes, int ignore_index = 255);
    // prediction and truth: same shape, i32 or u8 (any device; copied to the host). A truth value
    // outside [0, C) that is not ignore_index, or a prediction outside [0, C), is an error.
    void add(const Tensor& prediction, const Tensor& truth);
    void add(const std::vector<int32_t>& prediction, const std::vector<int32_t>& truth);
    int num_classes() const { return classes_; }
    // counts[t * C + p]: pixels of true class t predicted as p.
    const std::vector<int64_t>& counts() const { return counts_; }
    int64_t count(int truth, int prediction) const {
        return counts_[size_t(truth) * classes_ + prediction];
    }
    std::vector<double> iou() const; // NaN for a class absent from truth and prediction
    double mean_iou() const;         // over the non-NaN classes
    double pixel_accuracy() const;   // trace / total
    int64_t total() const;           // the labelled pixels counted (truth not ignore_index)
    void merge(const ConfusionMatrix& other);
    // {"miou": .., "pixel_accuracy": .., "iou": [..], "class_names": [..]} (NaN -> null).
    std::string to_json(const std::vector<std::string>& class_names = {}) const;

  private:
    int classes_, ignore_;
    std::vector<int64_t> counts_;
};

} // namespace pg::seg
