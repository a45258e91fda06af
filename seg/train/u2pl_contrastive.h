// U2PL's contrastive term L_contra (shared/specs/u2pl.md, step 6): per-class FIFO memory banks of
// negative keys on the training device, the host-side choice of anchors / prototypes / negatives
// from the teacher's ranks, and InfoNCE over cosine similarities. Unreliable pixels are not
// wasted: a pixel whose teacher ranks class c 4th..20th is almost certainly not c, so its teacher
// embedding becomes one of c's negatives.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg::seg::u2pl {

// One FIFO queue of keys (rows of F floats) per class, on one device. Pushing appends at the end;
// beyond the capacity the oldest rows leave (U2PL's dequeue_and_enqueue: cat, keep the last).
class MemoryBank {
  public:
    MemoryBank() = default;
    MemoryBank(std::vector<int64_t> capacities, int64_t feature_dim, Device device);
    int64_t num_classes() const { return int64_t(capacities_.size()); }
    int64_t feature_dim() const { return feature_dim_; }
    int64_t capacity(int64_t c) const { return capacities_.at(size_t(c)); }
    int64_t size(int64_t c) const; // rows held by class c
    // keys (n, F) f32 on the bank's device; n may be 0.
    void push(int64_t c, const Tensor& keys);
    // push(c, ...) of every process's keys[c] for every class c, in rank order (U2PL's
    // concat_all_gather before dequeue_and_enqueue), so the banks of a data-parallel run stay
    // identical. A collective (three, whatever the classes): every process calls it at every step
    // with one (n_c, F) tensor per class, n_c = 0 where it has none.
    void push_from_every_process(const std::vector<Tensor>& keys);
    // (size(c), F), oldest first; undefined while empty.
    const Tensor& keys(int64_t c) const { return keys_.at(size_t(c)); }
    // Into / from a training state's tensors as "<prefix><c>" (CPU copies); absent = empty.
    void save(std::map<std::string, Tensor>& out, const std::string& prefix) const;
    void load(const std::map<std::string, Tensor>& in, const std::string& prefix);

  private:
    std::vector<int64_t> capacities_;
    int64_t feature_dim_ = 0;
    Device device_;
    std::vector<Tensor> keys_;
};

struct ContrastiveOptions {
    int64_t low_rank = 3, high_rank = 20; // r_l, r_h
    float anchor_threshold = 0.3f;        // delta_p (current_class_threshold)
    float negative_threshold = 1.0f;      // current_class_negative_threshold: p_c below it
    int64_t num_queries = 256, num_negatives = 50;
    float temperature = 0.5f;
    // contrastive.compat: code reproduces the original's two bugs: labeled negatives are never
    // enqueued (its negative mask also requires the pixel's label to be c), and the anchors and
    // prototype of the i-th valid class are taken from class i.
    bool compat_code = false;
};

// Everything at the representation's resolution; rows 0..num_labeled-1 are the labeled images.
struct ContrastiveInputs {
    Tensor rep;          // (N, h, w, F) student embeddings (the gradient flows here)
    Tensor rep_teacher;  // (N, h, w, F) teacher embeddings (prototypes and negatives)
    Tensor prob_teacher; // (N, h, w, C) teacher train-mode probabilities
    Tensor labels;       // (N, h, w) i32: ground truth, then pseudo-labels; 255 = ignore
    Tensor reliable;     // (N - num_labeled, h, w) u8: low-entropy unlabeled pixels
    Tensor unreliable;   // (N - num_labeled, h, w) u8: high-entropy unlabeled pixels
    int64_t num_labeled = 0;
};

// Flat pixel indices (into N * h * w, ascending) chosen for class c. Labeled pixels count when
// their label is valid. prototype: reliable pixels labelled c (labeled, or unlabeled reliable);
// anchors: those whose teacher p_c > anchor_threshold; negatives (p_c < negative_threshold):
// labeled pixels with label != c whose top low_rank classes include c, and unreliable unlabeled
// pixels that rank c in [low_rank, high_rank) (ranks by descending p, ties to the lower class).
struct ClassPixels {
    std::vector<int32_t> prototype, anchors, negatives;
};
std::vector<ClassPixels> select_pixels(const ContrastiveInputs& in,
                                       const ContrastiveOptions& options);

// InfoNCE with one positive: anchors (Q, F), positive (F,), negatives (Q, K, F) ->
// CE([cos(a, p), cos(a, n_1..K)] / temperature, target 0), mean over the Q anchors.
// cos(x, y) = x.y / (max(|x|, 1e-8) max(|y|, 1e-8)). Only the anchors get a gradient.
Tensor info_nce(const Tensor& anchors, const Tensor& positive, const Tensor& negatives,
                float temperature);

struct ContrastiveResult {
    Tensor loss;               // () mean over valid classes; 0 with at most one valid class
    int64_t valid_classes = 0; // classes with reliable pixels
    int64_t negatives = 0;     // keys pushed into the banks this step
};
// The whole term: choose pixels, push every class's negatives (teacher keys) into its bank, then
// for each valid class draw num_queries anchors and num_queries x num_negatives keys from its
// bank (uniformly, with replacement, from `gen`) and average info_nce over the valid classes. A
// class without anchors or with an empty bank adds 0 (it still counts in the mean).
ContrastiveResult contrastive_loss(const ContrastiveInputs& in, MemoryBank& bank,
                                   const ContrastiveOptions& options, Generator& gen);

} // namespace pg::seg::u2pl
