// Learning-rate schedules. The poly schedule of U2PL, AdvSemiSeg and RIPU (shared/specs):
// lr = base_lr * (1 - iter / max_iter)^power, evaluated once per iteration before the optimizer
// step and handed to Optimizer::set_lr (which applies each group's lr_mult, e.g. a head at x10).
// None of the three methods warms the lr up, so there is no warm-up here.
#pragma once

#include <cstdint>

namespace pg::nn {

// iter counts from 0 (the first iteration trains at base_lr); iter in [0, max_iter], where
// iter == max_iter gives 0. Computed in double, as the original Python does. With RIPU the
// horizon (max_iter 62500) is longer than the run (40000 iterations): pass the horizon.
double poly_lr(double base_lr, int64_t iter, int64_t max_iter, double power = 0.9);

// The same as a value to keep in a config: PolyLR{0.01, 20000}.at(iter).
struct PolyLR {
    double base_lr = 0.01;
    int64_t max_iter = 1;
    double power = 0.9;
    double at(int64_t iter) const { return poly_lr(base_lr, iter, max_iter, power); }
};

} // namespace pg::nn
