// A training method: what one optimisation step computes. The trainer (trainer.h) owns the loop,
// the labeled loader, logging, evaluation, checkpoints and the run's parts (seg/train/parts.h):
// the student `model` and whatever networks the method declares (an EMA teacher, a
// discriminator), each with its optimizer and lr schedule, all saved in the one state file. A
// method turns the step's labeled batch (plus whatever it draws itself: unlabeled batches, a
// teacher's pseudo-labels) into losses; by default the trainer-side step runs loss() -> zero_grad
// -> backward -> step on the model, and a method with several backward passes or optimizers
// (AdvSemiSeg) owns the whole step. Methods are chosen by name (`trainer.method`) in
// make_method(); `supervised` is the baseline every other method extends.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/losses.h"
#include "nn/optim.h"
#include "nn/seg_net.h"
#include "nn/train_state.h"
#include "seg/config.h"
#include "seg/data/loader.h"

namespace pg::seg {

// The numbers one step reports. `losses`: the model's loss terms, summed into the total the
// trainer logs as "loss". `part_losses`: the objective of another trained part (the
// discriminator's L_D), logged as "loss_<part>" and never added to "loss". `extra`: any other
// per-step figure (drop percentage, entropy threshold, bank sizes, D's confidence, ...).
struct StepLog {
    std::vector<std::pair<std::string, double>> losses;
    std::vector<std::pair<std::string, double>> part_losses;
    std::vector<std::pair<std::string, double>> extra;
};

// A network a method adds to the run. With a config section it is trained: the trainer builds
// its optimizer from <section>.optimizer over `groups` and its schedule from
// <section>.lr_scheduler (the model's section is "trainer"). Without one it is only carried: its
// weights are saved and restored with the run (an EMA teacher). `name` prefixes its tensors in the
// state file ("<name>.*", "<name>.optimizer.*") and its lr column ("lr_<name>").
struct PartSpec {
    std::string name;
    nn::Module* module = nullptr;
    std::string config_section;         // empty: no optimizer
    std::vector<nn::ParamGroup> groups; // what the optimizer steps (lr_mult per group)
};

// What a method may use. `model` is the student the trainer optimises (part "model").
struct MethodContext {
    const Config* config = nullptr; // the whole run config
    std::shared_ptr<nn::SegmentationNet> model;
    Device device;
    uint64_t seed = 0;
    int64_t total_steps = 0; // steps the run trains (the schedule's horizon may be longer)
    int64_t steps_per_epoch = 0;
    std::string method_dir; // RUN_DIR/<method>: the method's own files (made by the method)
    bool quiet = false;     // no progress lines (train --quiet)
};

// The optimizers of the run's trained parts, their lr already set for this step.
class PartOptimizers {
  public:
    void add(const std::string& part, nn::Optimizer* optimizer);
    nn::Optimizer& operator[](const std::string& part) const; // an unknown part is an error

  private:
    std::map<std::string, nn::Optimizer*> optimizers_;
};

class Method {
  public:
    virtual ~Method() = default;
    virtual const char* name() const = 0;
    // The parts this method adds beside the model (called once, after construction).
    virtual std::vector<PartSpec> parts() { return {}; }
    // Forward pass(es) and the model's loss of step `step` (0-based) for the labeled batch,
    // already on the training device. Used by the default step().
    virtual Tensor loss(const Batch& labeled, int64_t step, int64_t epoch, StepLog& log) = 0;
    // One optimisation step; returns the model's total loss (what "loss" logs). The default:
    // loss(), checked finite, then zero_grad -> backward -> step of the model's optimizer.
    virtual double step(const Batch& labeled, int64_t step, int64_t epoch,
                        const PartOptimizers& optimizers, StepLog& log);
    // After the step (an EMA teacher update goes here).
    virtual void after_step(int64_t step, int64_t epoch) { (void)step, (void)epoch; }
    // The network evaluation and the `best` checkpoint use (the student, or a teacher).
    virtual nn::SegmentationNet& eval_net() = 0;
    // Method state for exact resume beyond the parts' weights and optimizers (memory banks,
    // counters); `state.step` is already set when load_state is called.
    virtual void save_state(nn::TrainState& state) const { (void)state; }
    virtual void load_state(const nn::TrainState& state) { (void)state; }
};

// The value of a step's loss; a NaN or infinite loss is an error naming the step (the run has
// diverged) before anything is stepped with it.
double finite_loss_value(const Tensor& loss, int64_t step);
// backward(loss) for a loss that is a mean over this process's share of the batch: seeded with
// nn::share_weight(), so that unequal shares of a global batch weigh as their sizes (a plain
// backward for equal shares). Every training pass goes through it.
void backward_share(const Tensor& loss);

// `name`: "supervised", "u2pl", "adversarial" or "ripu". Unknown names are an error listing the known.
std::unique_ptr<Method> make_method(const std::string& name, const MethodContext& context);
std::unique_ptr<Method> make_supervised(const MethodContext& context);  // seg/train/supervised.cpp
std::unique_ptr<Method> make_u2pl(const MethodContext& context);        // seg/train/u2pl.cpp
std::unique_ptr<Method> make_adversarial(const MethodContext& context); // adversarial.cpp
std::unique_ptr<Method> make_ripu(const MethodContext& context);        // seg/train/ripu.cpp

// Whether the supervised loss includes the aux head (net.aux_loss on a DeepLabV3+).
bool uses_aux_head(const Config& config);

// The `criterion` section -> the supervised loss (type: ce | ohem, kwargs: {thresh, min_kept}),
// with the aux weight from net.aux_loss.loss_weight when the network has an aux head.
nn::SegLossConfig criterion_config(const Config& config, bool has_aux);

} // namespace pg::seg
