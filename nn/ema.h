// The EMA teacher of U2PL (shared/specs/u2pl.md, step 8): after each student SGD step,
// teacher <- d * teacher + (1 - d) * student over the parameters, d = min(1 - 1/(k + 1), 0.99),
// k = iterations since the semi-supervised phase began. Works on two parallel lists of tensors,
// so it needs no Module: pass the teacher's and the student's parameters in the same order.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace pg::nn {

// U2PL's decay: min(1 - 1 / (k + 1), max_decay), k >= 0. k = 0 gives 0 (the teacher becomes the
// student); it reaches 0.99 at k = 99. In U2PL k = i_iter - len(loader_l) * sup_only_epoch.
// A double, as in the original Python: the rounding of 1 - d then matches PyTorch's.
double ema_decay(int64_t k, double max_decay = 0.99);

// teacher[i] = decay * teacher[i] + (1 - decay) * student[i], in place (under NoGradGuard), on
// any device. Parameters only: BatchNorm running statistics are NOT averaged (U2PL averages
// model.parameters() and lets the teacher's own train-mode forwards update its BN buffers), so
// callers pass named_parameters(), never the buffers. Shapes must match pairwise.
void ema_update(const std::vector<Tensor>& teacher, const std::vector<Tensor>& student,
                double decay);

// teacher[i] = student[i] (a copy): U2PL's first semi-supervised epoch overwrites the teacher
// with the student before each iteration. Also usable to initialise the teacher.
void copy_params(const std::vector<Tensor>& teacher, const std::vector<Tensor>& student);

} // namespace pg::nn
