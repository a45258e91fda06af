// SGD, Adam and AdamW (nn/optim.h): the shared group / state machinery, then each update rule
// written as torch.optim's single-tensor code path, op for op, with in-place ops from
// autograd/inplace.h. Adam's addcmul / addcdiv / sqrt have no in-place form here: they are
// composed from pg::mul, pg::sqrt, pg::div, pg::add into temporaries (one update = a few
// parameter-sized allocations, fine next to a forward/backward; a fused kernel is for later).
#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "autograd/elementwise.h"
#include "autograd/engine.h"
#include "autograd/inplace.h"
#include "autograd/node.h"
#include "nn/data_parallel.h"
#include "tensor/backend.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::nn {

// ---- small helpers ----

// y + alpha * x as a new tensor (y is not touched): PyTorch's out-of-place y.add(x, alpha=...).
static Tensor add_scaled(const Tensor& y, const Tensor& x, double alpha) {
    Tensor out = y.clone();
    add_(out, x, float(alpha));
    return out;
}

static Tensor i32_scalar(int64_t value) {
    return Tensor::from_vector(std::vector<int32_t>{int32_t(value)}, Shape{});
}

static std::string param_key(size_t g, size_t p, const std::string& what) {
    return "group." + std::to_string(g) + ".param." + std::to_string(p) + "." + what;
}

// "group.<g>.param.<p>.<what>" -> (g, p, what); false for anything else.
static bool parse_param_key(const std::string& key, size_t& g, size_t& p, std::string& what) {
    unsigned long gi = 0, pi = 0;
    int consumed = 0;
    if (std::sscanf(key.c_str(), "group.%lu.param.%lu.%n", &gi, &pi, &consumed) != 2) return false;
    if (consumed == 0 || size_t(consumed) >= key.size()) return false;
    g = gi, p = pi, what = key.substr(size_t(consumed));
    return key == param_key(g, p, what); // rejects "group.01..." and other non-canonical spellings
}

// ---- Optimizer ----

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay,
                     const char* name)
    : name_(name), groups_(std::move(groups)), default_weight_decay_(weight_decay) {
    PG_CHECK(!groups_.empty(), name_, ": no parameter groups");
    PG_CHECK(lr >= 0, name_, ": lr must be >= 0, got ", lr);
    PG_CHECK(weight_decay >= 0, name_, ": weight_decay must be >= 0, got ", weight_decay);
    for (size_t g = 0; g < groups_.size(); g++) {
        PG_CHECK(groups_[g].lr_mult >= 0, name_, ": group ", g, " has lr_mult ", groups_[g].lr_mult,
                 ", expected >= 0");
        for (size_t p = 0; p < groups_[g].params.size(); p++) {
            const Tensor& t = groups_[g].params[p];
            PG_CHECK(t.defined() && t.dtype() == DType::f32, name_, ": group ", g, " parameter ", p,
                     " must be a defined f32 tensor");
        }
        state_.emplace_back(groups_[g].params.size());
    }
    set_lr(lr);
}

void Optimizer::set_lr(double base_lr) {
    PG_CHECK(base_lr >= 0, name_, ": lr must be >= 0, got ", base_lr);
    lrs_.resize(groups_.size());
    for (size_t g = 0; g < groups_.size(); g++) lrs_[g] = base_lr * groups_[g].lr_mult;
}

double Optimizer::lr(size_t group) const {
    PG_CHECK(group < groups_.size(), name_, ": group ", group, " out of range (", groups_.size(),
             " groups)");
    return lrs_[group];
}

double Optimizer::weight_decay(size_t group) const {
    PG_CHECK(group < groups_.size(), name_, ": group ", group, " out of range (", groups_.size(),
             " groups)");
    double wd = groups_[group].weight_decay;
    return wd < 0 ? default_weight_decay_ : wd;
}

const ParamGroup& Optimizer::group(size_t g) const {
    PG_CHECK(g < groups_.size(), name_, ": group ", g, " out of range (", groups_.size(),
             " groups)");
    return groups_[g];
}

void Optimizer::step() {
    NoGradGuard no_grad; // the in-place writes below must not be recorded
    steps_++;
    // Data parallel (several processes under mpirun): every process steps with the gradients'
    // mean over processes, as DistributedDataParallel's all-reduce gives. One process: no-op
    // (but see data_parallel_run()).
    if (overlap_ && overlap_->started())
        overlap_->finish();
    else if (data_parallel_run())
        average_gradients(all_params());
    for (size_t g = 0; g < groups_.size(); g++) {
        for (size_t p = 0; p < groups_[g].params.size(); p++) {
            const Tensor& param = groups_[g].params[p];
            Tensor grad = param.grad();
            if (!grad.defined()) continue; // no gradient this step: no update, no state
            PG_CHECK(grad.shape() == param.shape() && grad.device() == param.device(), name_,
                     ": group ", g, " parameter ", p, " has a gradient of another shape/device");
            ParamState& s = state_[g][p];
            s.step++;
            update(param, grad, s, lrs_[g], weight_decay(g));
        }
    }
}

std::vector<Tensor> Optimizer::all_params() const {
    std::vector<Tensor> params;
    for (const ParamGroup& group : groups_)
        params.insert(params.end(), group.params.begin(), group.params.end());
    return params;
}

void Optimizer::average_during_next_backward() {
    if (!data_parallel_run()) return;
    if (!overlap_) overlap_ = std::make_shared<BackwardGradientAverage>(all_params());
    observe_next_backward(overlap_.get());
}

void Optimizer::zero_grad(bool set_to_none) {
    NoGradGuard no_grad;
    for (ParamGroup& group : groups_) {
        for (const Tensor& param : group.params) {
            if (set_to_none) {
                param.set_grad(Tensor());
            } else if (param.grad().defined()) {
                zero_(param.grad());
            }
        }
    }
}

// ---- state dict ----

std::map<std::string, Tensor> Optimizer::state_dict() const {
    std::map<std::string, Tensor> out;
    out["step"] = i32_scalar(steps_);
    for (size_t g = 0; g < groups_.size(); g++) {
        out["group." + std::to_string(g) + ".num_params"] = i32_scalar(int64_t(state_[g].size()));
        for (size_t p = 0; p < state_[g].size(); p++) {
            const ParamState& s = state_[g][p];
            if (s.step == 0) continue; // never updated: no state, as in PyTorch
            out[param_key(g, p, "step")] = i32_scalar(s.step);
            for (const auto& [name, buffer] : s.buffers)
                out[param_key(g, p, name)] = buffer.clone();
        }
    }
    return out;
}

static bool is_i32_scalar(const Tensor& t) {
    return t.defined() && t.dtype() == DType::i32 && t.shape().empty();
}

static std::string num_params_key(size_t g) { return "group." + std::to_string(g) + ".num_params"; }

// Throws on the first problem; changes nothing.
void Optimizer::check_state(const std::map<std::string, Tensor>& state) const {
    auto it = state.find("step");
    PG_CHECK(it != state.end() && is_i32_scalar(it->second), name_,
             ".load_state_dict: missing or malformed key 'step' (an i32 scalar)");
    for (size_t g = 0; g < groups_.size(); g++) {
        auto n = state.find(num_params_key(g));
        PG_CHECK(n != state.end() && is_i32_scalar(n->second), name_,
                 ".load_state_dict: missing or malformed key '", num_params_key(g), "'");
        int64_t count = n->second.to_i32_vector()[0];
        PG_CHECK(count == int64_t(groups_[g].params.size()), name_, ".load_state_dict: group ", g,
                 " has ", groups_[g].params.size(), " parameters, the state has ", count);
    }
    for (const auto& [key, t] : state) {
        if (key == "step") continue;
        size_t g = 0, p = 0;
        std::string what;
        if (parse_param_key(key, g, p, what)) {
            check_param_state(state, key, t, g, p, what);
            continue;
        }
        size_t g_only = 0;
        bool group_key = std::sscanf(key.c_str(), "group.%zu.num_params", &g_only) == 1 &&
                         key == num_params_key(g_only);
        PG_CHECK(group_key && g_only < groups_.size(), name_, ".load_state_dict: unexpected key '",
                 key, "' (this optimizer has ", groups_.size(), " groups)");
    }
}

// One "group.<g>.param.<p>.<what>" entry: a known name, for an existing parameter, consistent with
// the parameter's other entries, with the parameter's shape.
void Optimizer::check_param_state(const std::map<std::string, Tensor>& state,
                                  const std::string& key, const Tensor& t, size_t g, size_t p,
                                  const std::string& what) const {
    PG_CHECK(g < groups_.size() && p < groups_[g].params.size(), name_, ".load_state_dict: '", key,
             "' names a parameter this optimizer lacks (", groups_.size(), " groups)");
    const std::vector<std::string> names = buffer_names();
    if (what == "step") {
        PG_CHECK(is_i32_scalar(t) && t.to_i32_vector()[0] > 0, name_, ".load_state_dict: '", key,
                 "' must be a positive i32 scalar");
        for (const std::string& name : names)
            PG_CHECK(state.count(param_key(g, p, name)), name_, ".load_state_dict: missing key '",
                     param_key(g, p, name), "'");
        return;
    }
    PG_CHECK(std::find(names.begin(), names.end(), what) != names.end(), name_,
             ".load_state_dict: unexpected key '", key, "' (state of another optimizer?)");
    PG_CHECK(state.count(param_key(g, p, "step")), name_, ".load_state_dict: '", key, "' without '",
             param_key(g, p, "step"), "'");
    const Tensor& param = groups_[g].params[p];
    PG_CHECK(t.defined() && t.dtype() == DType::f32 && t.shape() == param.shape(), name_,
             ".load_state_dict: '", key, "' has shape ", shape_str(t.shape()), " ",
             t.defined() ? dtype_name(t.dtype()) : "undefined", ", the parameter has ",
             shape_str(param.shape()), " f32");
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
    check_state(state);
    NoGradGuard no_grad;
    const std::vector<std::string> names = buffer_names();
    for (size_t g = 0; g < groups_.size(); g++) {
        for (size_t p = 0; p < groups_[g].params.size(); p++) {
            ParamState fresh;
            auto it = state.find(param_key(g, p, "step"));
            if (it != state.end()) {
                fresh.step = it->second.to_i32_vector()[0];
                const Tensor& param = groups_[g].params[p];
                for (const std::string& name : names) {
                    // A copy on the parameter's device, so the caller's map is not aliased.
                    Tensor buffer = Tensor::empty(param.shape(), DType::f32, param.device());
                    copy_(buffer, state.at(param_key(g, p, name)));
                    fresh.buffers[name] = buffer;
                }
            }
            state_[g][p] = std::move(fresh);
        }
    }
    steps_ = state.at("step").to_i32_vector()[0];
}

// ---- SGD ----

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(std::move(groups), options.lr, options.weight_decay, "SGD"), options_(options) {
    PG_CHECK(options.momentum >= 0, "SGD: momentum must be >= 0, got ", options.momentum);
    PG_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
             "SGD: nesterov needs momentum > 0 and dampening 0, got momentum ", options.momentum,
             " dampening ", options.dampening);
}

std::vector<std::string> SGD::buffer_names() const {
    if (options_.momentum == 0) return {};
    return {"momentum_buffer"};
}

// PyTorch's step, fused into one pass (Backend::sgd_update has the formulas): d_p = grad + wd *
// param; buf = momentum * buf + (1 - dampening) * d_p, or d_p itself at the first update; d_p =
// nesterov ? d_p + momentum * buf : buf; param -= lr * d_p. The gradient is left alone.
void SGD::update(const Tensor& param, const Tensor& grad, ParamState& state, double lr,
                 double weight_decay) {
    Tensor buffer;
    bool first = false;
    if (options_.momentum != 0) {
        Tensor& buf = state.buffers["momentum_buffer"];
        first = !buf.defined();
        if (first) buf = Tensor::empty(param.shape(), DType::f32, param.device());
        buffer = buf;
    }
    SgdStep step;
    step.lr = float(lr);
    step.weight_decay = float(weight_decay);
    step.momentum = float(options_.momentum);
    step.undamped = float(1.0 - options_.dampening);
    step.nesterov = options_.nesterov;
    step.first = first;
    sgd_update_(param, buffer, grad, step);
}

// ---- Adam / AdamW ----

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options)
    : Adam(std::move(groups), options, /*decoupled*/ false, "Adam") {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled,
           const char* name)
    : Optimizer(std::move(groups), options.lr, options.weight_decay, name), options_(options),
      decoupled_(decoupled) {
    PG_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
             name, ": betas must be in [0, 1), got (", options.beta1, ", ", options.beta2, ")");
    PG_CHECK(options.eps >= 0, name, ": eps must be >= 0, got ", options.eps);
}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamOptions& options)
    : Adam(std::move(groups), options, /*decoupled*/ true, "AdamW") {}

std::vector<std::string> Adam::buffer_names() const { return {"exp_avg", "exp_avg_sq"}; }

void Adam::update(const Tensor& param, const Tensor& grad, ParamState& state, double lr,
                  double weight_decay) {
    Tensor g = grad;
    if (weight_decay != 0) {
        if (decoupled_) {
            mul_(param, float(1.0 - lr * weight_decay)); // AdamW: shrink the parameter itself
        } else {
            g = add_scaled(grad, param, weight_decay); // Adam: L2 penalty through the gradient
        }
    }
    Tensor& m = state.buffers["exp_avg"];
    Tensor& v = state.buffers["exp_avg_sq"];
    if (!m.defined()) {
        m = Tensor::zeros(param.shape(), DType::f32, param.device());
        v = Tensor::zeros(param.shape(), DType::f32, param.device());
    }
    const double beta1 = options_.beta1, beta2 = options_.beta2;
    mul_(m, float(beta1)); // m = beta1 m + (1 - beta1) g
    add_(m, g, float(1.0 - beta1));
    mul_(v, float(beta2)); // v = beta2 v + (1 - beta2) g^2  (PyTorch's addcmul_)
    add_(v, mul(g, g), float(1.0 - beta2));

    // Bias corrections in double, like PyTorch's Python floats.
    const double t = double(state.step);
    const double bias_correction1 = 1.0 - std::pow(beta1, t);
    const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, t));
    const double step_size = lr / bias_correction1;
    // denom = sqrt(v) / sqrt(bc2) + eps;  param -= step_size * m / denom  (PyTorch's addcdiv_)
    Tensor denom = add(div(sqrt(v), float(bias_correction2_sqrt)), float(options_.eps));
    add_(param, div(m, denom), float(-step_size));
}

} // namespace pg::nn
