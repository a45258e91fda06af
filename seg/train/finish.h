// The end of a run and the profiling mode of `pixelgrad train`: sample overlays predicted by the
// best checkpoint and report.html (finish_run), and a per-kernel time table over N training steps
// (profile_steps, behind --profile N).
#pragma once

#include <functional>
#include <string>

#include "nn/segmenter.h"
#include "seg/config.h"
#include "seg/data/dataset.h"
#include "seg/train/method.h"

namespace pg::seg {

struct FinishInputs {
    const Config* config = nullptr;
    nn::SegmenterOptions net_options;
    Dataset val; // empty when evaluation is off
    Device device;
    std::string run_dir;
    int64_t overlays = 6; // sample rows for the report
};

// Loads RUN_DIR/checkpoints/best.safetensors (if any) into a fresh network, writes
// RUN_DIR/overlays/*.png for the first `overlays` val images, then RUN_DIR/report.html.
void finish_run(const FinishInputs& in, bool quiet);

// Runs one untimed warm-up step, then `steps` steps with the kernel profiler on; prints the table
// and writes it to RUN_DIR/profile.txt.
void profile_steps(int64_t parameters, int64_t steps, const std::string& run_dir,
                   const std::function<void(StepLog&)>& step);

} // namespace pg::seg
