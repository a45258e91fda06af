// gradcheck: analytic gradients by backward(), numeric ones by central differences in double.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/elementwise.h"
#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/reduce.h"
#include "tensor/error.h"

namespace pg {

// L = sum(out * w) evaluated on the host in double, so the difference quotient only sees the op's
// own f32 rounding.
static double probe(const Tensor& out, const std::vector<float>& w) {
    std::vector<float> values = out.to_f32_vector();
    double total = 0.0;
    for (size_t i = 0; i < values.size(); i++) total += double(values[i]) * double(w[i]);
    return total;
}

// Fresh leaves with the same values, so one check's backward cannot see another's graph.
static std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs) {
    std::vector<Tensor> leaves;
    for (const Tensor& t : inputs) {
        if (!t.defined()) {
            leaves.push_back(t);
            continue;
        }
        Tensor leaf = t.clone();
        if (t.requires_grad()) leaf.set_requires_grad(true);
        leaves.push_back(leaf);
    }
    return leaves;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
    GradcheckResult result;
    std::vector<Tensor> leaves = fresh_leaves(inputs);
    Tensor out = f(leaves);
    PG_CHECK(out.dtype() == DType::f32, "gradcheck: the function must return f32");
    Generator gen(options.seed);
    Tensor w = Tensor::uniform(out.shape(), gen, -1.f, 1.f, out.device());
    std::vector<float> w_host = w.to_f32_vector();
    PG_CHECK(out.requires_grad(),
             "gradcheck: the output does not depend on any input requiring grad");
    backward(sum(mul(out, w)));

    std::ostringstream report;
    int mismatches = 0;
    for (size_t k = 0; k < leaves.size(); k++) {
        if (!leaves[k].defined() || !leaves[k].requires_grad()) continue;
        Tensor grad = leaves[k].grad();
        std::vector<float> analytic = grad.defined()
                                          ? grad.to_f32_vector()
                                          : std::vector<float>(size_t(leaves[k].numel()), 0.f);
        std::vector<float> base = leaves[k].to_f32_vector();
        for (size_t i = 0; i < base.size(); i++) {
            NoGradGuard no_grad;
            std::vector<Tensor> probe_inputs = leaves;
            std::vector<float> values = base;
            values[i] = base[i] + options.eps;
            probe_inputs[k] = Tensor::from_vector(values, leaves[k].shape(), leaves[k].device());
            double plus = probe(f(probe_inputs), w_host);
            values[i] = base[i] - options.eps;
            probe_inputs[k] = Tensor::from_vector(values, leaves[k].shape(), leaves[k].device());
            double minus = probe(f(probe_inputs), w_host);
            // The perturbation actually applied is the f32 difference of the two points.
            double step = double(base[i] + options.eps) - double(base[i] - options.eps);
            double numeric = (plus - minus) / step;
            double error = std::fabs(double(analytic[i]) - numeric);
            result.max_abs_error = std::max(result.max_abs_error, error);
            if (error > options.atol + options.rtol * std::fabs(numeric)) {
                result.ok = false;
                if (mismatches++ < 8)
                    report << "input " << k << " element " << i << ": analytic " << analytic[i]
                           << ", numeric " << numeric << "\n";
            }
        }
    }
    if (mismatches > 8) report << "... " << mismatches << " mismatches in all\n";
    result.message = report.str();
    return result;
}

} // namespace pg
