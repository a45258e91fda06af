// TrainState <-> safetensors (nn/train_state.h). Integers that must survive exactly (step,
// generator seeds and offsets: 64-bit) travel as JSON strings in the metadata, not as tensors.
#include "nn/train_state.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace pg::nn {

static const char* kKind = "pixelgrad.train_state";

void TrainState::save_generator(const std::string& name, const Generator& gen) {
    generators[name] = {gen.seed(), gen.offset()};
}

void TrainState::restore_generator(const std::string& name, Generator& gen) const {
    auto it = generators.find(name);
    PG_CHECK(it != generators.end(), "training state: no generator '", name, "' was saved");
    gen.set_state(it->second.first, it->second.second);
}

static const std::pair<const char*, std::map<std::string, Tensor> TrainState::*> kGroups[] = {
    {"optimizer.", &TrainState::optimizer},
    {"teacher.", &TrainState::teacher},
    {"extra.", &TrainState::extra_tensors},
};

void save_train_state(const std::string& path, const TrainState& state) {
    std::map<std::string, Tensor> tensors;
    for (const auto& [prefix, member] : kGroups)
        for (const auto& [k, v] : state.*member) tensors[prefix + k] = v;
    nlohmann::json scalars;
    scalars["step"] = std::to_string(state.step);
    scalars["epoch"] = std::to_string(state.epoch);
    for (const auto& [name, g] : state.generators)
        scalars["generators"][name] = {std::to_string(g.first), std::to_string(g.second)};
    for (const auto& [name, v] : state.numbers) scalars["numbers"][name] = v;
    save_safetensors(path, tensors, {{kKind, scalars.dump()}});
}

// A decimal count written by save_train_state: digits only ("1x", "-1" and "" are refused, where
// std::stoll would read "1x" as 1).
static uint64_t parse_count(const std::string& text, const char* what) {
    bool digits =
        !text.empty() && text.size() <= 20 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) throw std::invalid_argument(std::string(what) + " '" + text + "' is not a count");
    return std::stoull(text);
}

static int64_t signed_count(uint64_t n) {
    if (n > uint64_t(INT64_MAX)) throw std::out_of_range("a count above 2^63 - 1");
    return int64_t(n);
}

TrainState load_train_state(const std::string& path) {
    SafetensorsFile file = read_safetensors(path);
    auto it = file.metadata.find(kKind);
    PG_CHECK(it != file.metadata.end(), path, ": not a pixelgrad training state (no '", kKind,
             "' metadata); weights files are "
             "loaded with --weights, training states with --resume");
    TrainState state;
    try {
        nlohmann::json scalars = nlohmann::json::parse(it->second);
        state.step = signed_count(parse_count(scalars.at("step").get<std::string>(), "step"));
        state.epoch = signed_count(parse_count(scalars.at("epoch").get<std::string>(), "epoch"));
        if (scalars.contains("generators"))
            for (const auto& [name, g] : scalars["generators"].items())
                state.generators[name] = {parse_count(g.at(0).get<std::string>(), "seed"),
                                          parse_count(g.at(1).get<std::string>(), "offset")};
        if (scalars.contains("numbers"))
            for (const auto& [name, v] : scalars["numbers"].items())
                state.numbers[name] = v.get<double>();
    } catch (const std::exception& e) {
        throw Error(path + ": corrupt training-state metadata (" + e.what() + ")");
    }
    for (auto& [key, tensor] : file.tensors) {
        bool placed = false;
        for (const auto& [prefix, member] : kGroups) {
            std::string p(prefix);
            if (key.rfind(p, 0) == 0) {
                (state.*member)[key.substr(p.size())] = tensor;
                placed = true;
            }
        }
        PG_CHECK(placed, path, ": unexpected tensor '", key, "' in a training state");
    }
    return state;
}

} // namespace pg::nn
