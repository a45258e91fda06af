// What every method shares (seg/train/method.h): the default step (loss -> zero_grad -> backward
// -> step of the model), the optimizers of the run's parts, the supervised criterion from the
// config, and make_method(), the one place where method names are mapped to implementations.
#include "seg/train/method.h"

#include <cmath>

#include "autograd/engine.h"
#include "nn/data_parallel.h"
#include "tensor/error.h"

namespace pg::seg {

void PartOptimizers::add(const std::string& part, nn::Optimizer* optimizer) {
    optimizers_[part] = optimizer;
}

nn::Optimizer& PartOptimizers::operator[](const std::string& part) const {
    auto it = optimizers_.find(part);
    PG_CHECK(it != optimizers_.end(), "train: no trained part '", part,
             "' (parts with an "
             "optimizer: ",
             optimizers_.size(), ")");
    return *it->second;
}

double finite_loss_value(const Tensor& loss, int64_t step) {
    double value = loss.item();
    PG_CHECK(std::isfinite(value), "train: the loss is ", value, " at step ", step + 1,
             " (diverged: lower trainer.optimizer.kwargs.lr)");
    return value;
}

void backward_share(const Tensor& loss) {
    const float weight = nn::share_weight();
    if (weight == 1.f)
        backward(loss);
    else
        backward(loss, Tensor::full(loss.shape(), weight, loss.dtype(), loss.device()));
}

double Method::step(const Batch& labeled, int64_t step, int64_t epoch,
                    const PartOptimizers& optimizers, StepLog& log) {
    Tensor loss = this->loss(labeled, step, epoch, log);
    double value = finite_loss_value(loss, step);
    nn::Optimizer& model = optimizers["model"];
    model.zero_grad();
    model.average_during_next_backward(); // several processes: while backward runs
    backward_share(loss);
    model.step();
    return value;
}

bool uses_aux_head(const Config& config) {
    return config.has("net.aux_loss") &&
           config.get_string("net.arch", "deeplabv3plus") == "deeplabv3plus";
}

nn::SegLossConfig criterion_config(const Config& config, bool has_aux) {
    nn::SegLossConfig c;
    std::string type = config.get_string("criterion.type", "ce");
    if (type == "ohem")
        c.type = nn::SegLossType::ohem;
    else
        PG_CHECK(type == "ce", config.origin("criterion.type"), ": criterion.type is '", type,
                 "', expected ce or ohem");
    c.ohem_thresh = float(config.get_float("criterion.kwargs.thresh", c.ohem_thresh));
    c.ohem_min_kept = config.get_int("criterion.kwargs.min_kept", c.ohem_min_kept);
    if (has_aux) c.aux_weight = float(config.get_float("net.aux_loss.loss_weight", 0.4));
    return c;
}

std::unique_ptr<Method> make_method(const std::string& name, const MethodContext& context) {
    if (name == "supervised") return make_supervised(context);
    if (name == "u2pl") return make_u2pl(context);
    if (name == "adversarial") return make_adversarial(context);
    if (name == "ripu") return make_ripu(context);
    throw Error(context.config->origin("trainer.method") + ": trainer.method is '" + name +
                "', expected supervised, u2pl, adversarial or ripu");
}

} // namespace pg::seg
