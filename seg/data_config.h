// The YAML `dataset` section -> the datasets, augmentation and loader settings of a run.
// Shaped like U2PL's configs; every key but `type` and `root` has a default (in brackets):
//   type: voc | cityscapes | gtav | synthia | generic       root: path (relative to the cwd)
//   (both may be set per split instead: RIPU's dataset.source is gtav, its target cityscapes)
//   mean: [123.675, 116.28, 103.53]  std: [58.395, 57.12, 57.375]  bgr: false  value_scale: 1
//   class_names: [...]   [root/world.json's names, else VOC's / Cityscapes' names, else class_<i>]
//   batch_size: 4 (per process)   workers: 2   ignore_label: 255 (the only value pixelgrad supports)
//   global_batch_size: (unset) the training batch of all processes together, which replaces
//     batch_size: rank r of W takes ceil((G - r) / W) of each (any W up to G; under mpirun).
//   train: {split: train, list: "", label_dir: "", root: (the shared root), train_ids: false,
//           strict_labels: true, flip: true, rand_resize: [0.5, 2.0], resize_mode: u2pl
//           (u2pl | uniform | steps, scale_step: 0.1), resize: [h, w], pad: symmetric
//           (symmetric | bottom_right), label_pad: 255, crop: {type: rand | center | none,
//           size: [h, w]}, interp: bilinear (bilinear | bicubic | nearest: the image's resize)}
//   val:   {split: val, list, label_dir, root, train_ids, resize: [h, w], batch_size: 1,
//           mode: center_crop | whole | pad | sliding [center_crop when crop is given, else whole],
//           crop: {size: [h, w]}, stride: (sliding), flip: false, interp: bilinear,
//           native_labels: false (true: the label keeps its size and the logits of the resized
//           image are upsampled to it, RIPU's protocol)}
//   source / target: RIPU's two domains, keyed like train (source replaces train as the
//           trainer's labeled split; seg/train/ripu.cpp)
//   partial: {fraction: f | count: n, seed: 0}   AdvSemiSeg's partial labels: a seeded shuffle
//           of the train list; its first n (= int(f * size)) images are the train split, the
//           rest the unlabeled split (unless dataset.unlabeled has a list of its own)
// generic also reads images_dir, labels_dir, image_ext, label_ext (per split or shared).
#pragma once

#include <string>
#include <vector>

#include "seg/config.h"
#include "seg/data/augment.h"
#include "seg/data/dataset.h"
#include "seg/data/loader.h"

namespace pg::seg {

// How a split is evaluated (see seg/evaluate.h).
enum class EvalMode { whole, center_crop, pad, sliding };
struct EvalOptions {
    EvalMode mode = EvalMode::whole;
    int64_t crop = 0, stride = 0; // center crop / padded / sliding window size; window step
    bool flip = false;            // also average the logits of the mirrored image
    int64_t batch_size = 1;       // > 1 only where every image has the same size
};

// dataset.partial's shuffle of a train list of `list_size` images: positions in that list.
struct PartialSplit {
    std::vector<int64_t> labeled, unlabeled;
};
PartialSplit partial_split(const Config& dataset, int64_t list_size);

// `split` names the subsection ("train", "val", or a method's own such as "unlabeled").
// labeled = false opens the images only. num_classes is the network's (generic needs it; the
// others check it matches the dataset's).
Dataset open_split(const Config& dataset, const std::string& split, int num_classes,
                   bool labeled = true);
Normalize normalization(const Config& dataset);
AugmentConfig train_augment(const Config& dataset, const std::string& split = "train");
AugmentConfig eval_augment(const Config& dataset, const std::string& split = "val");
EvalOptions eval_options(const Config& dataset, const std::string& split = "val");
LoaderConfig train_loader_config(const Config& dataset, uint64_t seed);
std::vector<std::string> class_names(const Config& dataset, int num_classes);
const char* eval_mode_name(EvalMode mode);

} // namespace pg::seg
