// The pieces of RIPU (shared/specs/ripu.md, CVPR 2022) that have an answer on a small map: the
// acquisition scores (pixel entropy, window uncertainty and impurity), the budget arithmetic, the
// greedy selection with blocking, and the two regularisers L_nl and L_lc. seg/train/ripu.cpp
// runs the rounds and the step; seg/cli/select_command.cpp runs one round from a checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg::seg::ripu {

// ---- acquisition scores of one image: probs (H, W, C) f32 softmax on the CPU ----
// Every map is normalised by ln C (the original divides by ln 19 even for 16 classes).

// Pixel entropy h = -sum_c p_c ln(p_c + 1e-6) / ln C -> (H, W).
Tensor pixel_entropy(const Tensor& probs);

// Sum of x (H, W, K) over each pixel's (2k+1) x (2k+1) window, clipped to the image -> (H, W, K).
// Integral image: O(H W K) whatever k (PA's k = 32 windows at 1024x2048 stay cheap).
Tensor window_sum(const Tensor& x, int64_t k);

// Region uncertainty U = (sum of h over the window) / n, n = in-image pixels of the window.
// entropy (H, W) -> (H, W).
Tensor region_uncertainty(const Tensor& entropy, int64_t k);

// Region impurity P = -sum_c (n_c / n) ln(n_c / n + 1e-6) / ln C, n_c = pixels of the window
// whose argmax is c (ties: the first class). probs (H, W, C) -> (H, W).
Tensor region_impurity(const Tensor& probs, int64_t k);

// How the pixels to label are chosen. region (RA): score U * P with window k, the chosen pixel's
// window labelled, radius 2k blocked. pixel (PA): score h * P with window k (32), the pixel alone
// labelled, radius k blocked. random: region's windows and blocking at uniform random scores (the
// baseline at the same budget). full: every target pixel labelled before training (the upper bound).
enum class Selection { region, pixel, random, full };
Selection parse_selection(const std::string& name, const std::string& where);
const char* selection_name(Selection s);

// The score map of `s` (region or pixel) -> (H, W).
Tensor acquisition_score(const Tensor& probs, Selection s, int64_t k);

// The same score with engine ops on probs' device (the acquisition's path when training on CUDA):
// probs (H, W, C) f32 on any device -> (H, W) on that device. Window means are avg_pool2d without
// the padding in the count; the impurity's counts pool the one-hot argmax. Equal to
// acquisition_score up to rounding (a test); on the CPU the host path above is the fast one (a
// 65x65 pooling window costs 4225 reads per pixel there).
Tensor acquisition_score_ops(const Tensor& probs, Selection s, int64_t k);

// ---- the budget ----

// RA: regions per image per round, ceil(H W (ratio / rounds) / (2k + 1)^2): 1026 for
// 1024x2048, 2.2%, 5 rounds, k = 1.
int64_t regions_per_round(int64_t height, int64_t width, double ratio, int64_t rounds, int64_t k);
// PA: `pixels` per image at the training resolution, spread over `rounds` at the native one:
// ceil(pixels (H W) / (train_h train_w) / rounds): 21 for 40 px, 1024x2048 vs 640x1280, 5 rounds.
int64_t pixels_per_round(int64_t height, int64_t width, int64_t train_height, int64_t train_width,
                         int64_t pixels, int64_t rounds);

// ---- the label mask and the greedy selection ----

// What the method knows about one target image, at its native size.
struct ActiveMaps {
    int64_t height = 0, width = 0;
    std::vector<uint8_t> labels;   // the acquired label per pixel, 255 = not labelled
    std::vector<uint8_t> active;   // 1: blocked (inside some chosen pixel's blocking window)
    std::vector<uint8_t> selected; // 1: labelled by the oracle
    static ActiveMaps empty(int64_t height, int64_t width);
    int64_t selected_count() const;
};

// One round on one image: up to `count` picks, highest `score` (H, W) first (ties: the lowest
// pixel index, as torch's argmax), never a pixel already `active`. Each pick copies `truth`
// (H W train ids, 255 = ignore) of its label window (radius label_radius, clipped) into the mask,
// marks it selected, and blocks the window of radius block_radius around it. Returns the picked
// pixel indices (y * W + x) in order; fewer than `count` when every pixel is blocked.
std::vector<int64_t> greedy_select(const Tensor& score, int64_t count, int64_t label_radius,
                                   int64_t block_radius, const std::vector<int32_t>& truth,
                                   ActiveMaps& maps);

// The random baseline's score: one uniform draw per pixel -> (H, W).
Tensor random_score(int64_t height, int64_t width, Generator& gen);

// ---- the regularisers (autograd, any device) ----

// Negative learning on the target: p = softmax(logits) (N, H, W, C); M = 1[p < tau] (no gradient
// through M); L_nl = sum M (-log(1 - p + 1e-6)) / sum M -> (). 0 when M is empty. Under data
// parallel both sums run over the global batch (nn::global_batch_mean): what one process computes.
Tensor negative_learning_loss(const Tensor& logits, float tau);

// Class-boundary pixels of labels (N, H, W) i32: the 8-neighbour Laplacian
// 8 l(y, x) - sum of the 8 neighbours (zero outside the image) is non-zero, and l != 255 ->
// (N, H, W) u8 on labels' device.
Tensor label_boundaries(const Tensor& labels);

// Local consistency on the source: p = softmax(logits) (N, H, W, C); m = 3x3 box mean of p per
// channel with replicate padding; d = sum_c |p_c - m_c|; the mean of d over label_boundaries(labels)
// -> (). 0 when there is no boundary pixel. Over the global batch, as L_nl.
Tensor local_consistency_loss(const Tensor& logits, const Tensor& labels);

} // namespace pg::seg::ripu
