// Optimizers over parameter groups: SGD (momentum, weight decay, nesterov) and Adam / AdamW, with
// exactly torch.optim's update rules, lr multipliers per group (a head at lr x10), and a state
// export / import for the exact-resume training-state file. Schedules: nn/schedule.h; the EMA
// teacher: nn/ema.h. Gradient accumulation = several backward() calls between zero_grad()s.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace pg::nn {

class BackwardGradientAverage; // nn/data_parallel.h

// A set of parameters sharing hyper-parameters. The group's lr is base_lr * lr_mult (set_lr);
// weight_decay < 0 means "the optimizer's default".
// Hyper-parameters are doubles, like Python's floats: the bias corrections, step sizes and
// lr * lr_mult are computed in double as torch.optim does, and rounded to f32 only where a kernel
// takes them as a scalar (PyTorch rounds at the same place).
struct ParamGroup {
    std::vector<Tensor> params;
    double lr_mult = 1.0;
    double weight_decay = -1.0;
};

// The common machinery: groups, learning rates, per-parameter state, zero_grad and the state dict.
// A subclass only says how one parameter is updated (update()) and which state buffers it keeps.
class Optimizer {
  public:
    virtual ~Optimizer() = default;

    // One update of every parameter that has a gradient (parameters whose .grad is undefined are
    // skipped and get no state, like PyTorch). Runs under NoGradGuard with in-place ops, so
    // parameters may live on any device (their state lives on the same device). Under mpirun the
    // gradients are first averaged over the processes (nn/data_parallel.h).
    void step();
    // PyTorch's default (set_to_none = true): every .grad becomes undefined, so the next backward
    // writes a fresh gradient and skipped parameters stay recognisable. set_to_none = false
    // zeroes the existing gradient tensors in place instead.
    void zero_grad(bool set_to_none = true);
    // Data parallel: the gradients are averaged while the next backward() on this thread runs,
    // bucket by bucket as they become final (DDP's overlap, nn/data_parallel.h); step() then only
    // waits for the last ones. Call right before the step's last backward. One process: no-op.
    void average_during_next_backward();

    // Group g's lr becomes base_lr * lr_mult (call once per iteration with the schedule's value).
    void set_lr(double base_lr);
    double lr(size_t group) const;
    double weight_decay(size_t group) const; // the group's own value, or the optimizer's default
    size_t num_groups() const { return groups_.size(); }
    const ParamGroup& group(size_t g) const;
    int64_t steps() const { return steps_; } // number of step() calls so far

    // State for the training-state file, as copies of the live tensors (on their devices):
    //   "step"                               i32 ()  number of step() calls
    //   "group.<g>.num_params"               i32 ()  how many parameters the group holds
    //   "group.<g>.param.<p>.step"           i32 ()  updates of that parameter (absent: no state)
    //   "group.<g>.param.<p>.<buffer>"       f32, the parameter's shape: momentum_buffer (SGD),
    //                                        exp_avg and exp_avg_sq (Adam / AdamW)
    std::map<std::string, Tensor> state_dict() const;
    // Restores state_dict()'s output (tensors may be on any device; they are copied to each
    // parameter's device). Validates everything before changing anything: a different number of
    // groups or parameters, an unknown key, a missing buffer or a wrong shape / dtype is an error
    // naming the key. Afterwards step() continues the saved trajectory bit for bit. The lr is not
    // state: it comes from the configuration and the schedule (call set_lr before step()).
    void load_state_dict(const std::map<std::string, Tensor>& state);

  protected:
    // Per-parameter state: the number of updates and named buffers (shape of the parameter).
    struct ParamState {
        int64_t step = 0;
        std::map<std::string, Tensor> buffers;
    };

    Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, const char* name);
    // Updates one parameter in place; `state.step` has already been incremented for this update.
    virtual void update(const Tensor& param, const Tensor& grad, ParamState& state, double lr,
                        double weight_decay) = 0;
    // The buffers every stepped parameter holds (load_state_dict checks for exactly these).
    virtual std::vector<std::string> buffer_names() const = 0;

  private:
    std::vector<Tensor> all_params() const; // every group's, in order
    void check_state(const std::map<std::string, Tensor>& state) const;
    void check_param_state(const std::map<std::string, Tensor>& state, const std::string& key,
                           const Tensor& t, size_t g, size_t p, const std::string& what) const;

    const char* name_; // "SGD", "Adam", "AdamW": for error messages
    std::vector<ParamGroup> groups_;
    std::vector<double> lrs_;                    // current lr of each group
    double default_weight_decay_;                // used by groups with weight_decay < 0
    std::vector<std::vector<ParamState>> state_; // [group][param]
    int64_t steps_ = 0;
    std::shared_ptr<BackwardGradientAverage> overlap_; // made at the first overlapped backward
};

// torch.optim.SGD (dampening and maximize aside). With g = grad + weight_decay * param:
//   momentum == 0:  param -= lr * g
//   otherwise:      buf = g on the first update, then buf = momentum * buf + (1 - dampening) * g;
//                   param -= lr * (nesterov ? g + momentum * buf : buf)
struct SGDOptions {
    double lr = 0.01;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false; // needs momentum > 0 and dampening == 0, as in PyTorch
};

class SGD : public Optimizer {
  public:
    SGD(std::vector<ParamGroup> groups, const SGDOptions& options);

  protected:
    void update(const Tensor& param, const Tensor& grad, ParamState& state, double lr,
                double weight_decay) override;
    std::vector<std::string> buffer_names() const override;

  private:
    SGDOptions options_;
};

// torch.optim.Adam / AdamW (amsgrad = false). With t the parameter's update count:
//   Adam:  g = grad + weight_decay * param          (L2 penalty through the gradient)
//   AdamW: param *= 1 - lr * weight_decay; g = grad  (decoupled decay)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0; // PyTorch's AdamW defaults to 1e-2: set it explicitly for AdamW
};

class Adam : public Optimizer {
  public:
    Adam(std::vector<ParamGroup> groups, const AdamOptions& options);

  protected:
    Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled,
         const char* name);
    void update(const Tensor& param, const Tensor& grad, ParamState& state, double lr,
                double weight_decay) override;
    std::vector<std::string> buffer_names() const override;

  private:
    AdamOptions options_;
    bool decoupled_; // AdamW: weight decay applied to the parameter, not through the gradient
};

class AdamW : public Adam {
  public:
    AdamW(std::vector<ParamGroup> groups, const AdamOptions& options);
};

} // namespace pg::nn
