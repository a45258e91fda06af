// The networks a run trains or carries: the student `model` and the parts a method declares
// (seg/train/method.h, PartSpec), each with its optimizer and learning-rate schedule built from
// its config section, and how they travel in the training state (nn/train_state.h).
// Keys of a section S ("trainer" for the model; a method names its own, e.g.
// "trainer.discriminator"): S.optimizer: {type: SGD | Adam | AdamW, kwargs: {lr, momentum,
// weight_decay, nesterov | betas, eps, weight_decay}}, S.lr_scheduler: {mode: poly | constant,
// kwargs: {power [0.9], max_iter [the run's steps]: the poly horizon, which may be longer than
// the run (RIPU decays over 62500 iterations and stops at 40000)}}.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/optim.h"
#include "nn/train_state.h"
#include "seg/config.h"
#include "seg/train/method.h"

namespace pg::seg {

// lr(step) = base_lr * (1 - step / horizon)^power (poly), or base_lr (constant).
struct LrSchedule {
    double base_lr = 0.01, power = 0.9;
    bool poly = true;
    int64_t horizon = 1;
    double at(int64_t step) const;
};

struct Part {
    std::string name;
    nn::Module* module = nullptr;
    std::unique_ptr<nn::Optimizer> optimizer; // null: carried, not trained (an EMA teacher)
    LrSchedule schedule;
};

// `spec` with its optimizer and schedule read from spec.config_section (none when it is empty).
// An optimizer kwarg the chosen type does not read, an unknown type or mode, and a horizon shorter
// than the run are errors naming the key.
Part make_part(const Config& config, const PartSpec& spec, int64_t total_steps);

// Sets each trained part's lr for `step` and returns their optimizers for Method::step.
PartOptimizers optimizers_for_step(std::vector<Part>& parts, int64_t step);

// ("lr_<part>", the part's base group lr) for each trained part, in part order.
std::vector<std::pair<std::string, double>> part_lrs(const std::vector<Part>& parts);

// Every part's weights and optimizer buffers into / out of the state. A part the state does not
// hold (a run trained by another method) is an error naming it and the state file.
void save_parts(const std::vector<Part>& parts, nn::TrainState& state);
void load_parts(std::vector<Part>& parts, const nn::TrainState& state, const std::string& path);

} // namespace pg::seg
