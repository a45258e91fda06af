// One AdvSemiSeg iteration on given batches (shared/specs/adversarial.md, "One iteration"): the
// unlabeled pass, the labeled pass, the D pass, then one G step and one D step. The method
// (seg/train/adversarial.cpp) draws the batches from its loaders; the benchmark
// (bench/adversarial_bench.cpp) runs it on fixed tensors.
#pragma once

#include <cstdint>

#include "nn/discriminator.h"
#include "nn/losses.h"
#include "nn/optim.h"
#include "nn/seg_net.h"
#include "seg/train/method.h"

namespace pg::seg::adversarial {

struct StepConstants {
    double lambda_adv = 0.01, lambda_semi_adv = 0.001, lambda_semi = 0.1;
    float mask_threshold = 0.2f; // T_semi
};

// Everything on the training device. Images (N, H, W, 3), labels (N, H, W) with 255 = ignore.
struct StepBatches {
    Tensor labeled_images, labels;
    Tensor unlabeled_images; // undefined: no unlabeled pass (before semi_start_adv, or no terms)
    bool semi = false;       // L_semi on (step >= semi_start)
    Tensor unlabeled_labels; // hidden labels: only scored (semi_target_accuracy), may be empty
    Tensor ground_truth;     // D's own labeled batch: its labels become the "real" one-hot maps
};

// Runs the three backward passes (each pass's graph freed before the next) and steps both
// optimizers. D's parameters take no gradient from G's terms; G's gradient flows through D.
// Logs seg, adv, semi_adv, semi, loss_discriminator (its fake and real halves) and D's
// confidences; returns G's total loss (checked finite before anything is stepped).
double step(nn::SegmentationNet& g, nn::FCDiscriminator& d, const nn::SegLossConfig& criterion,
            const StepConstants& k, const StepBatches& b, nn::Optimizer& g_optimizer,
            nn::Optimizer& d_optimizer, int64_t step_index, StepLog& log);

} // namespace pg::seg::adversarial
