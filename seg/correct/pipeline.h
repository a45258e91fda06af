// `pixelgrad correct`: the label-noise pipeline of shared/specs/label_noise_gat.md from a run
// config, stages 1 and 3-7 (CAM labels -> noise detection -> superpixel graph -> per-image GATs
// -> dense CRF) over the weak split, with the clean model (stage 2) loaded or trained first. Reads
// the config's `correct` section (keys and defaults in seg/correct/correct_options.h) and writes
// OUT/ (correct.out):
//   labels/{cam,gat,crf}/<id>.png   the weak images' labels after each stage (palette PNG), and
//   labels/prediction/<id>.png      the clean model's own argmax (plain self-training's labels)
//   lists/strong_plus_{cam,gat,crf,prediction}.txt  "image label" lines (absolute paths): the
//                                   strong images with their labels + the weak images with those
//                                   labels, for stage 8 (`pixelgrad train --set dataset.train.list=`)
//   quality.json, quality.md        label quality per stage against the weak images' hidden truth
//   report.html                     the quality table and the rows below, for a browser
//   rows/<id>.png                   image | CAM | after detection | after GAT | after CRF | truth
//   cam.safetensors, clean/         the stage 1 classifier and the stage 2 run (when trained here)
#pragma once

#include <string>
#include <vector>

#include "seg/config.h"
#include "seg/correct/cam_stage.h"
#include "seg/correct/noisy_labels.h"

namespace pg::seg {

struct CorrectArgs {
    std::string config;
    std::vector<std::string> overrides;
    std::string out;    // empty: correct.out
    std::string device; // empty: trainer.device
    bool force = false; // replace an existing OUT
    bool quiet = false;
};

struct StageQuality {
    std::string stage;
    double accuracy = 0, miou = 0, coverage = 0; // %, against the hidden truth
};

struct CorrectResult {
    std::string out;
    TagScore cam_score;
    DeltaChoice delta;
    std::vector<StageQuality> quality; // cam, detection (clean pixels), gat, crf
    int64_t weak_images = 0, nodes = 0, labelled_nodes = 0, edges = 0, adjacent_pairs = 0;
    double gat_seconds = 0;
};

CorrectResult run_correct(const CorrectArgs& args);

} // namespace pg::seg
