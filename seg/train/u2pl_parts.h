// U2PL's per-pixel machinery outside the contrastive term (shared/specs/u2pl.md, steps 1 and 5):
// the unreliable-percentage schedule, the entropy split of pseudo-labels, the unsupervised loss
// with its N / N_kept reweighting, and CutMix of images, pseudo-labels and confidences with the
// same boxes. All work on any device; the few numbers they return come back to the host.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg::seg::u2pl {

// alpha_t = base * (1 - epoch / epochs), in percent: the share of pixels called unreliable at
// epoch t (U2PL: base = 100 - drop_percent = 20 for the unsupervised drop, and
// low_entropy_threshold = 20 for the contrastive masks). epoch counts from 0; epochs > 0.
double unreliable_percent(double base, int64_t epoch, double epochs);

// The entropy split of the unsupervised loss (step 5). entropy (N, H, W) f32, target (N, H, W) i32
// pseudo-labels (255 = not valid). threshold = numpy.percentile(entropy over valid pixels,
// 100 - alpha) (linear interpolation); valid pixels with entropy >= threshold become 255.
struct EntropySplit {
    Tensor target;       // (N, H, W) i32, the dropped pixels set to 255
    float threshold = 0; // gamma_t
    int64_t valid = 0;   // valid pixels before the drop
    int64_t kept = 0;    // valid pixels after it
};
EntropySplit drop_high_entropy(const Tensor& entropy, const Tensor& target, double alpha);

// numpy.percentile of `values` over the pixels where `target` != 255 (every pixel when all are
// valid, computed on the device then). No valid pixel is an error.
float valid_percentile(const Tensor& values, const Tensor& target, double q);

// L_unsup = CE(upsample(logits), target, ignore 255) * (N * H * W / kept): logits (N, h, w, C)
// student logits of the unlabeled part, target the split's (N, H, W). kept == 0 gives 0.
Tensor unsup_loss(const Tensor& logits, const EntropySplit& split);

// ---- Scoring pseudo-labels against hidden truth (a diagnostic, not part of U2PL) ----

// When the "unlabeled" images do have labels (the synthetic world, VOC's unlabeled ids), how good
// are the teacher's pseudo-labels? pseudo (N, H, W) i32 all pseudo-labels, kept (N, H, W) i32 the
// entropy split's target (255 = dropped), truth (N, H, W) i32 (255 = no truth). Pixels without
// truth count nowhere. A class with no kept pixel has precision -1.
struct PseudoLabelScore {
    double accuracy = 0;            // all pseudo-labels
    double reliable_accuracy = 0;   // the kept ones
    std::vector<double> precision;  // per class, among kept pixels labelled c: truth == c
    std::vector<double> kept_share; // per class, the share of kept pixels labelled c
};
PseudoLabelScore score_pseudo_labels(const Tensor& pseudo, const Tensor& kept, const Tensor& truth,
                                     int64_t num_classes);

// ---- CutMix (U2PL's generate_unsup_data, mode cutmix) ----

// Rows [top, top + height) and columns [left, left + width) of image i come from image (i + 1) % N.
struct CutMixBox {
    int64_t top = 0, left = 0, height = 0, width = 0;
};
// U2PL's generate_cutout_mask for an H x W crop: area H * W / 2, width uniform in
// [W / 2 + 1, W - 1] (numpy's randint excludes the high end), height = round-half-even(area /
// width), the top-left corner uniform over the positions where the box fits. H, W >= 3.
CutMixBox sample_cutmix_box(int64_t height, int64_t width, Generator& gen);

// x (N, H, W, C) or (N, H, W), f32 or i32, with every image's box filled from the next image:
// out[i] = x[i] outside boxes[i], x[(i + 1) % N] inside. Images, pseudo-labels and confidences
// given the same boxes are mixed alike. Not differentiable (the mixed batch is an input).
Tensor cutmix(const Tensor& x, const std::vector<CutMixBox>& boxes);

} // namespace pg::seg::u2pl
