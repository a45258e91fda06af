// Parts: optimizers and schedules from the config, lr per step, state save / restore
// (seg/train/parts.h).
#include "seg/train/parts.h"

#include <algorithm>

#include "nn/schedule.h"
#include "tensor/error.h"

namespace pg::seg {

double LrSchedule::at(int64_t step) const {
    return poly ? nn::poly_lr(base_lr, step, horizon, power) : base_lr;
}

// An optimizer kwarg the chosen type does not read is an error, not silently dropped (e.g. SGD's
// momentum left in a base config whose type was switched to Adam with --set).
static void check_optimizer_kwargs(const Config& c, const std::string& s, const std::string& type) {
    if (!c.has(s + ".optimizer.kwargs")) return;
    std::vector<std::string> known =
        type == "SGD" ? std::vector<std::string>{"lr", "momentum", "weight_decay", "nesterov"}
                      : std::vector<std::string>{"lr", "weight_decay", "eps", "betas"};
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    for (const std::string& key : c.section(s + ".optimizer.kwargs").keys())
        PG_CHECK(std::find(known.begin(), known.end(), key) != known.end(),
                 c.origin(s + ".optimizer.kwargs." + key), ": ", s, ".optimizer.kwargs.", key,
                 " is not an argument of ", type, " (it takes ", list,
                 "); to replace the whole map: --set '", s, ".optimizer.kwargs={lr: ...}'");
}

static std::unique_ptr<nn::Optimizer> make_optimizer(const Config& c, const std::string& s,
                                                     const std::vector<nn::ParamGroup>& groups) {
    std::string type = c.get_string(s + ".optimizer.type", "SGD");
    PG_CHECK(type == "SGD" || type == "Adam" || type == "AdamW", c.origin(s + ".optimizer.type"),
             ": ", s, ".optimizer.type is '", type, "', expected SGD, Adam or AdamW");
    check_optimizer_kwargs(c, s, type);
    std::string kw = s + ".optimizer.kwargs.";
    double lr = c.get_float(kw + "lr");
    double wd = c.get_float(kw + "weight_decay", 0.0);
    nn::SGDOptions sgd{lr, 0.0, 0.0, wd, false};
    nn::AdamOptions adam;
    if (type == "SGD") {
        sgd.momentum = c.get_float(kw + "momentum", 0.0);
        sgd.nesterov = c.get_bool(kw + "nesterov", false);
    } else {
        adam.lr = lr;
        adam.weight_decay = wd;
        adam.eps = c.get_float(kw + "eps", adam.eps);
        if (c.has(kw + "betas")) {
            std::vector<double> b = c.get_float_list(kw + "betas");
            PG_CHECK(b.size() == 2, c.origin(kw + "betas"), ": ", kw, "betas has ", b.size(),
                     " values, expected 2");
            adam.beta1 = b[0];
            adam.beta2 = b[1];
        }
    }
    // The optimizers check their own numbers (lr >= 0, betas in [0, 1), ...): their errors are
    // given the section and the --set they came from.
    try {
        if (type == "SGD") return std::make_unique<nn::SGD>(groups, sgd);
        if (type == "Adam") return std::make_unique<nn::Adam>(groups, adam);
        return std::make_unique<nn::AdamW>(groups, adam);
    } catch (const Error& e) {
        const std::string section = s + ".optimizer";
        throw Error(c.origin(section) + ": " + section + ": " + e.what());
    }
}

static LrSchedule make_schedule(const Config& c, const std::string& s, int64_t total_steps) {
    LrSchedule sch;
    sch.base_lr = c.get_float(s + ".optimizer.kwargs.lr");
    std::string mode = c.get_string(s + ".lr_scheduler.mode", "poly");
    PG_CHECK(mode == "poly" || mode == "constant", c.origin(s + ".lr_scheduler.mode"), ": ", s,
             ".lr_scheduler.mode is '", mode, "', expected poly or constant");
    sch.poly = mode == "poly";
    sch.power = c.get_float(s + ".lr_scheduler.kwargs.power", 0.9);
    sch.horizon = c.get_int(s + ".lr_scheduler.kwargs.max_iter", total_steps);
    PG_CHECK(sch.horizon >= total_steps,
             c.origin_of_any(
                 {s + ".lr_scheduler.kwargs.max_iter", "trainer.iterations", "trainer.epochs"}),
             ": ", s, ".lr_scheduler.kwargs.max_iter is ", sch.horizon, ", shorter than the run's ",
             total_steps, " steps (the poly schedule would end before the run)");
    return sch;
}

Part make_part(const Config& config, const PartSpec& spec, int64_t total_steps) {
    Part part;
    part.name = spec.name;
    part.module = spec.module;
    if (spec.config_section.empty()) return part;
    part.optimizer = make_optimizer(config, spec.config_section, spec.groups);
    part.schedule = make_schedule(config, spec.config_section, total_steps);
    return part;
}

PartOptimizers optimizers_for_step(std::vector<Part>& parts, int64_t step) {
    PartOptimizers optimizers;
    for (Part& p : parts) {
        if (!p.optimizer) continue;
        p.optimizer->set_lr(p.schedule.at(step));
        optimizers.add(p.name, p.optimizer.get());
    }
    return optimizers;
}

std::vector<std::pair<std::string, double>> part_lrs(const std::vector<Part>& parts) {
    std::vector<std::pair<std::string, double>> lrs;
    for (const Part& p : parts)
        if (p.optimizer) lrs.emplace_back("lr_" + p.name, p.optimizer->lr(0));
    return lrs;
}

void save_parts(const std::vector<Part>& parts, nn::TrainState& state) {
    for (const Part& p : parts) {
        nn::PartState& s = state.parts[p.name];
        s.weights = p.module->state_dict();
        if (p.optimizer) s.optimizer = p.optimizer->state_dict();
    }
}

void load_parts(std::vector<Part>& parts, const nn::TrainState& state, const std::string& path) {
    for (Part& p : parts) {
        auto it = state.parts.find(p.name);
        PG_CHECK(it != state.parts.end(), path, ": the training state holds no part '", p.name,
                 "' (was the run trained with another method?)");
        p.module->load_state_dict(it->second.weights, /*strict=*/true);
        if (p.optimizer) p.optimizer->load_state_dict(it->second.optimizer);
    }
}

} // namespace pg::seg
