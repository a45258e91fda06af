// The poly learning-rate schedule (nn/schedule.h).
#include "nn/schedule.h"

#include <cmath>

#include "tensor/error.h"

namespace pg::nn {

double poly_lr(double base_lr, int64_t iter, int64_t max_iter, double power) {
    PG_CHECK(max_iter > 0, "poly_lr: max_iter must be > 0, got ", max_iter);
    PG_CHECK(iter >= 0 && iter <= max_iter, "poly_lr: iteration ", iter, " outside [0, ", max_iter,
             "]");
    PG_CHECK(power >= 0, "poly_lr: power must be >= 0, got ", power);
    return base_lr * std::pow(1.0 - double(iter) / double(max_iter), power);
}

} // namespace pg::nn
