// A training method: what one optimisation step computes. The trainer (trainer.h) owns the
// loop, the student network, the optimizer, the labeled loader, logging, evaluation and
// checkpoints; a method turns the step's labeled batch (plus whatever it draws itself: unlabeled
// batches, a teacher's pseudo-labels) into the loss to minimise. Methods are chosen by name
// (`trainer.method`) in make_method(); `supervised` is the baseline every other method extends.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/losses.h"
#include "nn/seg_net.h"
#include "nn/train_state.h"
#include "seg/config.h"
#include "seg/data/loader.h"

namespace pg::seg {

// The numbers one step reports: loss terms (summed into the total the trainer logs as "loss")
// and any other per-step figures (drop percentage, entropy threshold, bank sizes, ...).
struct StepLog {
    std::vector<std::pair<std::string, double>> losses;
    std::vector<std::pair<std::string, double>> extra;
};

// What a method may use. `model` is the student the trainer optimises.
struct MethodContext {
    const Config* config = nullptr; // the whole run config
    std::shared_ptr<nn::SegmentationNet> model;
    Device device;
    uint64_t seed = 0;
    int64_t total_steps = 0;
    int64_t steps_per_epoch = 0;
};

class Method {
  public:
    virtual ~Method() = default;
    virtual const char* name() const = 0;
    // Forward pass(es) and the loss of step `step` (0-based) for the labeled batch, already on the
    // training device. The trainer then runs backward and the optimizer step.
    virtual Tensor loss(const Batch& labeled, int64_t step, int64_t epoch, StepLog& log) = 0;
    // After the optimizer step (an EMA teacher update goes here).
    virtual void after_step(int64_t step, int64_t epoch) { (void)step, (void)epoch; }
    // The network evaluation and the `best` checkpoint use (the student, or a teacher).
    virtual nn::SegmentationNet& eval_net() = 0;
    // Method state for exact resume (teacher weights, memory banks, generators).
    virtual void save_state(nn::TrainState& state) const { (void)state; }
    virtual void load_state(const nn::TrainState& state) { (void)state; }
};

// `name`: "supervised" or "u2pl". Unknown names are an error listing the known.
std::unique_ptr<Method> make_method(const std::string& name, const MethodContext& context);
std::unique_ptr<Method> make_u2pl(const MethodContext& context); // seg/train/u2pl.cpp

// Whether the supervised loss includes the aux head (net.aux_loss on a DeepLabV3+).
bool uses_aux_head(const Config& config);

// The `criterion` section -> the supervised loss (type: ce | ohem, kwargs: {thresh, min_kept}),
// with the aux weight from net.aux_loss.loss_weight when the network has an aux head.
nn::SegLossConfig criterion_config(const Config& config, bool has_aux);

} // namespace pg::seg
