// Finite-difference gradient check: compares the gradients backward() computes with central
// differences of a scalar probe L = sum(f(inputs) * w), w a fixed random tensor (so every output
// element matters and errors cannot cancel). f32 throughout; keep inputs small and away from kinks.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace pg {

struct GradcheckOptions {
    float eps = 1e-3f;  // central-difference step
    float atol = 2e-3f; // |analytic - numeric| <= atol + rtol * |numeric|
    float rtol = 2e-2f;
    uint64_t seed = 1234; // for the probe weights w
};

struct GradcheckResult {
    bool ok = true;
    std::string message; // first mismatches, with input index, element, both values
    double max_abs_error = 0.0;
};

// f maps the inputs to one f32 tensor. Inputs live on the CPU; those with requires_grad are checked.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = GradcheckOptions());

} // namespace pg
