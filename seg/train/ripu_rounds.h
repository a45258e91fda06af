// RIPU's acquisition rounds (shared/specs/ripu.md): the target images' active-label maps, one
// round over every target training image (eval-mode forward at the training size, logits upsampled
// to the native size, scores and greedy selection of seg/train/ripu_parts.h, labels copied from
// the oracle), and the maps on disk. Used by the method (seg/train/ripu.cpp) and by `pixelgrad
// select` (one round from a checkpoint). Config keys (defaults in brackets):
//   trainer.ripu: {selection: region | pixel | random | full [region], ratio [0.022] (RA / random:
//     the share of target pixels labelled after the last round), pixels [40] (PA: per image at
//     the training size), radius_k [1 region / random, 32 pixel], rounds_at [10000, 12000,
//     14000, 16000, 18000] (steps before which a round runs), lambda_lc [0.1], lambda_nl [1.0],
//     tau [0.05]}
//   dataset.target: the target training split, labelled (the oracle's answers, read only for the
//     chosen pixels), with its training resize (resize: [h, w], interp: bicubic).
// On disk, DIR/round_<r>/ for round r: masks/<id>.png (palette PNG of the acquired train ids,
// 255 = not labelled), active/<id>.png and selected/<id>.png (0 / 255), summary.json.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nn/seg_net.h"
#include "seg/config.h"
#include "seg/data/augment.h"
#include "seg/data/dataset.h"
#include "seg/train/ripu_parts.h"

namespace pg::seg::ripu {

struct RipuOptions {
    Selection selection = Selection::region;
    double ratio = 0.022;
    int64_t pixels = 40, radius_k = 1;
    std::vector<int64_t> rounds_at{10000, 12000, 14000, 16000, 18000};
    double lambda_lc = 0.1, lambda_nl = 1.0;
    float tau = 0.05f;
};
RipuOptions read_options(const Config& config);

// What one round did.
struct RoundSummary {
    int64_t round = 0, step = 0, images = 0;
    int64_t picks = 0;               // chosen regions (or pixels) over all images
    int64_t selected = 0, total = 0; // labelled pixels after the round, all target pixels
    double percent() const { return total > 0 ? 100.0 * double(selected) / double(total) : 0; }
    double budget_percent = 0; // what the budget allows after this round
    // How well the acquisition targets the model's mistakes: of the pixels this round labelled
    // (with a true label), the share the model predicted wrong, beside the share over all pixels.
    // And the share of them whose truth is 255 (void: labelled, but no loss sees them).
    int64_t picked_known = 0, picked_wrong = 0, known = 0, known_wrong = 0, picked_void = 0;
    double picked_void_percent() const {
        int64_t picked = picked_known + picked_void;
        return picked > 0 ? 100.0 * double(picked_void) / double(picked) : 0;
    }
    double picked_error_percent() const {
        return picked_known > 0 ? 100.0 * double(picked_wrong) / double(picked_known) : 0;
    }
    double error_percent() const {
        return known > 0 ? 100.0 * double(known_wrong) / double(known) : 0;
    }
    std::string to_json() const;
};

class Acquisition {
  public:
    Acquisition(const Config& config, int num_classes);
    const RipuOptions& options() const { return o_; }
    const Dataset& target() const { return target_; }
    int64_t rounds() const { return int64_t(o_.rounds_at.size()); }
    // The target dataset index of sample id `id` (an unknown id is an error).
    int64_t index_of(const std::string& id) const;
    // Labelled pixels / pixels of the images that have maps, in percent (0 before any round).
    double labelled_percent() const;

    // Round r (1-based) with `net` (put in eval mode, no gradient) on `device`. `seed` drives the
    // random baseline only.
    RoundSummary run_round(nn::SegmentationNet& net, const Device& device, int64_t round,
                           int64_t step, uint64_t seed);
    // selection: full: every pixel labelled with its truth (before training).
    void label_everything();

    // The maps as of now, for the target loader's transform (safe to read from worker threads
    // while a round builds the next set). Index = target dataset index.
    std::shared_ptr<const std::vector<ActiveMaps>> maps() const;
    // The acquired label map of target image `index` at native size H x W (all 255 before any
    // round).
    LabelMap label_map(int64_t index, int height, int width) const;

    // Writes DIR/round_<r>: each process its share of the masks, then rank 0 summary.json once
    // every process has written its share (it is the round's last file).
    void save_round(const std::string& dir, const RoundSummary& summary) const;
    // Reads DIR/round_<r> back. Every image its summary.json counts must have its files; when
    // some are missing the error ends with `if_incomplete`, what to do in the caller's case.
    void load_round(const std::string& dir, int64_t round,
                    const std::string& if_incomplete = "restore them from a copy of the run");
    // DIR/round_<r>/overlays/<i>_<id>.png for the first `count` images: image | the labelled
    // pixels in their class colours over the dimmed image.
    void write_overlays(const std::string& dir, int64_t round, int count) const;

  private:
    void publish(std::vector<ActiveMaps> maps);

    RipuOptions o_;
    int num_classes_ = 0;
    Dataset target_;
    std::map<std::string, int64_t> index_of_id_;
    AugmentConfig predict_; // the training resize and normalisation, label kept native
    mutable std::mutex mutex_;
    std::shared_ptr<const std::vector<ActiveMaps>> maps_;
};

// "DIR/round_<r>".
std::string round_dir(const std::string& dir, int64_t round);

} // namespace pg::seg::ripu
