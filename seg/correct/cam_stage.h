// Stage 1 of the label-noise pipeline (shared/specs/label_noise_gat.md): the CAM classifier (a
// ResNet from the run's `net.backbone` keys + nn::CamHead), its own short training loop on the
// image tags (multi-label BCE, SGD with poly decay, head x10), its score (mAP and F1 of the tags),
// and the class activation maps and CAM labels of an image.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/cam.h"
#include "nn/resnet.h"
#include "seg/data/augment.h"
#include "seg/data/dataset.h"

namespace pg::seg {

using TagTable = std::map<std::string, std::vector<int>>; // id -> foreground classes present

// ResNet -> layer4 -> CamHead. State-dict keys: backbone.*, classifier.weight.
class CamNet : public nn::Module {
  public:
    CamNet(const nn::ResNetOptions& backbone, int num_classes, Generator& gen);
    Tensor logits(const Tensor& images); // (N, H, W, 3) -> (N, C - 1)
    // Normalised CAMs of the tagged classes at (out_h, out_w): (N, out_h, out_w, C - 1).
    Tensor cams(const Tensor& images, const Tensor& tags, int64_t out_h, int64_t out_w);
    int num_classes() const { return num_classes_; }

    std::shared_ptr<nn::ResNet> backbone;
    std::shared_ptr<nn::CamHead> head;

  private:
    int num_classes_;
};

// (N, C - 1) f32 multi-hot tags of `ids` (an id missing from the table is an error naming it).
Tensor tag_tensor(const TagTable& tags, const std::vector<std::string>& ids, int num_classes,
                  const std::string& source);

struct CamTrainOptions {
    int64_t iterations = 600, batch_size = 16;
    double lr = 0.01, momentum = 0.9, weight_decay = 1e-4, head_lr_mult = 10;
    int64_t height = 0, width = 0; // every image resized to this (0: keep; sizes must agree)
    bool flip = true;
    uint64_t seed = 0;
    int workers = 2;
    int64_t log_every = 50;
};
// Loads an ImageNet ResNet's weights (conv1.*, layer1.* ...) into net.backbone, non-strictly (the
// fc layer has no place here); an error naming the file when no tensor matches.
void load_cam_backbone(CamNet& net, const std::string& path);

// Trains `net` on `images` (labels not needed) with their tags; `log` gets one line per window.
void train_cam(CamNet& net, const Dataset& images, const TagTable& tags, const Normalize& normalize,
               const CamTrainOptions& options, const Device& device,
               const std::function<void(const std::string&)>& log);

struct TagScore {
    double map = 0, f1 = 0; // in %: mean AP over classes with a positive, F1 at p > 0.5 (micro)
    int64_t images = 0;
};
// The classifier's tag predictions on `images` scored against `tags`.
TagScore score_tags(CamNet& net, const Dataset& images, const TagTable& tags,
                    const Normalize& normalize, const CamTrainOptions& options,
                    const Device& device);

} // namespace pg::seg
