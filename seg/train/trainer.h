// `pixelgrad train`: the training loop shared by every method. It reads a U2PL-shaped config
// (dataset / net / trainer / saver / criterion), builds the network, the labeled loader, the
// method (seg/train/method.h) and the run's parts (the model and the method's: seg/train/parts.h,
// each with its optimizer and poly schedule), and runs total_steps method steps, logging
// metrics.jsonl and a progress line, evaluating on the val split, keeping `last` (exact resume)
// and `best` checkpoints, and ending with sample overlays and report.html. Run directory:
//   RUN_DIR/config.yaml            the effective config (after --set overrides)
//   RUN_DIR/metrics.jsonl          train and eval rows (seg/train/run_log.h)
//   RUN_DIR/eval.json              the best evaluation so far
//   RUN_DIR/checkpoints/best.safetensors        weights of the best evaluated network
//   RUN_DIR/checkpoints/last.safetensors        weights at the last checkpoint
//   RUN_DIR/checkpoints/last.state.safetensors  everything resume needs, in one atomic file,
//                                               written last: the commit point of a checkpoint
//                                               (every part's weights and optimizer state)
//   RUN_DIR/<method>/              the method's own files, when it writes any
//   RUN_DIR/overlays/*.png, RUN_DIR/report.html
// The first SIGINT / SIGTERM stops after the step in progress with a checkpoint (exit 128 + signal
// from the binary); config keys are checked against seg/config_keys.cpp before anything runs.
// trainer keys (defaults in brackets): method [supervised], seed [0], device [cpu],
//   epochs | iterations, epoch_samples [dataset size], log_every [10], eval_on [true],
//   eval_every [1 epoch] | eval_interval (steps), eval_limit [0: all], eval_at_start [false], overlays [6],
//   head_lr_mult [10], optimizer: {type: SGD | Adam | AdamW, kwargs: {lr, momentum,
//   weight_decay, nesterov, betas, eps}}, lr_scheduler: {mode: poly | constant, kwargs: {power,
//   max_iter [iterations]: the poly horizon, >= the steps run}} (the model's part; parts.h).
// saver keys: snapshot_dir (the run dir unless --run-dir), save_every [eval interval] (steps),
//   pretrain [none] (backbone weights, safetensors in PyTorch names), pretrain_prefix [encoder. for
//   DeepLabV3+, "" for DeepLab-v2].
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pg::seg {

struct TrainOptions {
    std::string config; // YAML file; empty with resume: RUN_DIR/config.yaml
    std::vector<std::string> overrides;
    std::string run_dir;    // empty: saver.snapshot_dir
    bool resume = false;    // continue RUN_DIR from checkpoints/last.state.safetensors
    std::string device;     // empty: trainer.device
    int64_t stop_after = 0; // > 0: stop (with a last checkpoint) after this many steps of this run
    int64_t profile_steps = 0; // > 0: time every kernel for this many steps, print, stop
    bool quiet = false;        // no progress lines
    bool finish = true;        // overlays and report at the end (tests may skip them)
};

struct TrainResult {
    std::string run_dir;
    int64_t steps = 0; // optimizer steps done in total (resumed ones included)
    double first_loss = 0,
           last_loss = 0;  // mean loss of the first / last logging window of this run
    double best_miou = -1; // -1: never evaluated
    int64_t best_step = 0;
    double last_miou = -1;
    bool completed = false; // reached the configured number of steps
    int stop_signal = 0;    // SIGINT / SIGTERM when a signal stopped the run (after a checkpoint)
};

TrainResult train(const TrainOptions& options);

} // namespace pg::seg
