// Evaluation of a segmentation network over a labelled split: each image goes through the
// split's eval transform (normalisation, optional fixed resize or center crop), the network
// predicts at the (transformed) image's resolution (whole image, padded to a fixed size or sliding window, optional flip;
// seg/inference.h), and the argmax is accumulated into a confusion matrix (ignore pixels,
// including the padding of a center crop, are skipped).
#pragma once

#include <functional>

#include "nn/seg_net.h"
#include "seg/data_config.h"
#include "seg/metrics.h"

namespace pg::seg {

struct EvalProgress {
    int64_t done = 0, total = 0; // images
};

// Runs `net` in eval mode under no-grad on `device` and restores its train/eval mode afterwards.
// `limit` > 0 evaluates only the first `limit` images (quick checks during training).
ConfusionMatrix evaluate(nn::SegmentationNet& net, const Dataset& data,
                         const AugmentConfig& transform, const EvalOptions& options,
                         const Device& device, int64_t limit = 0,
                         const std::function<void(const EvalProgress&)>& progress = {});

// The result file: the confusion matrix's JSON (miou, pixel_accuracy, iou, class_names) plus the
// evaluation mode, the image count and any `extra` fields (checkpoint, step, ...).
std::string eval_json(const ConfusionMatrix& cm, const std::vector<std::string>& class_names,
                      const EvalOptions& options, int64_t images,
                      const std::string& extra_json_object = "{}");

// A text table: one line per class (name, IoU %) and the mIoU, for the terminal.
std::string iou_table(const ConfusionMatrix& cm, const std::vector<std::string>& class_names);

} // namespace pg::seg
