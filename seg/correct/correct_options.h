// The `correct` section of a run config: every choice of the label-noise pipeline that the paper
// leaves open is a key here (defaults in brackets; README "GAT label-noise correction" says why).
//   correct.out                         output folder (required unless --out)
//   correct.tags: ""                    tags file under dataset.root (one line: id classes...);
//                                       empty: the classes of each image's label map
//   correct.weak_truth: true            the weak split has hidden labels to score against
//   correct.clean_weights: ""           stage 2 checkpoint; empty: train it (this config) in OUT/clean
//   correct.cam: {weights: "", pretrain: "" (ImageNet ResNet for its backbone), iterations: 600, batch_size: 16, lr: 0.01, size: [h, w] ([0, 0] = keep),
//                 flip: true, background_threshold: 0.15}
//   correct.detection.delta: auto | a number
//   correct.slic: {pixels_per_superpixel: 187.5 (VOC's 1000 per 500x375), compactness: 10,
//                  iterations: 10, min_size_factor: 0.25}
//   correct.graph: {prune_k: 0 (t = mu + k sigma), features: probs (decoder | probs | both)}
//   correct.nodes.min_clean_fraction: 0.5
//   correct.gat: {hidden: 8, heads: 8, dropout: 0.6, lr: 0.005, weight_decay: 0.0005, epochs: 200,
//                 batch_graphs: 64 (images per block-diagonal batch; for the GPU: on the CPU
//                 batching buys no speed, README "GAT")}
//   correct.crf: {enabled: true, iterations: 10, label_confidence: 0.7, gaussian_sxy: 3,
//                 gaussian_weight: 3, bilateral_sxy: 80, bilateral_srgb: 13, bilateral_weight: 10}
//   correct.rows: 8                      pictures in rows/
#pragma once

#include <string>

#include "seg/config.h"
#include "seg/correct/cam_stage.h"
#include "seg/correct/dense_crf.h"
#include "seg/correct/slic.h"

namespace pg::seg {

enum class NodeFeatures { decoder, probs, both };

struct CorrectOptions {
    std::string out, tags, clean_weights, cam_weights, cam_pretrain;
    bool weak_truth = true;
    CamTrainOptions cam;
    float background_threshold = 0.15f;
    bool auto_delta = true;
    float delta = 0.f;
    double pixels_per_superpixel = 187.5;
    SlicOptions slic;
    float prune_k = 0.f;
    NodeFeatures features = NodeFeatures::probs;
    float min_clean_fraction = 0.5f;
    int64_t gat_hidden = 8, gat_heads = 8, gat_epochs = 200, batch_graphs = 64;
    double gat_dropout = 0.6, gat_lr = 0.005, gat_weight_decay = 0.0005;
    bool crf = true;
    float label_confidence = 0.7f;
    DenseCrfOptions crf_options;
    int64_t rows = 8;
};

CorrectOptions correct_options(const Config& config);

} // namespace pg::seg
