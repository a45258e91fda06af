// TrainState <-> safetensors (nn/train_state.h). Integers that must survive exactly (step,
// generator seeds and offsets: 64-bit) travel as JSON strings in the metadata, not as tensors.
#include "nn/train_state.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace pg::nn {

void TrainState::save_generator(const std::string& name, const Generator& gen) {
    generators[name] = {gen.seed(), gen.offset()};
}

void TrainState::restore_generator(const std::string& name, Generator& gen) const {
    auto it = generators.find(name);
    PG_CHECK(it != generators.end(), "training state: no generator '", name, "' was saved");
    gen.set_state(it->second.first, it->second.second);
}

static bool valid_part_name(const std::string& name) {
    return !name.empty() && name != "extra" &&
           std::all_of(name.begin(), name.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

static const std::string kOptimizer = "optimizer.";

void save_train_state(const std::string& path, const TrainState& state) {
    std::map<std::string, Tensor> tensors;
    nlohmann::json scalars;
    scalars["parts"] = nlohmann::json::array();
    for (const auto& [part, p] : state.parts) {
        PG_CHECK(valid_part_name(part), path, ": part name '", part,
                 "' is not [A-Za-z0-9_]+ (or is the reserved 'extra')");
        scalars["parts"].push_back(part);
        for (const auto& [k, v] : p.weights) {
            PG_CHECK(k.rfind(kOptimizer, 0) != 0, path, ": weight '", k, "' of part ", part,
                     " would read back as optimizer state");
            tensors[part + "." + k] = v;
        }
        for (const auto& [k, v] : p.optimizer) tensors[part + "." + kOptimizer + k] = v;
    }
    for (const auto& [k, v] : state.extra_tensors) tensors["extra." + k] = v;
    scalars["step"] = std::to_string(state.step);
    scalars["epoch"] = std::to_string(state.epoch);
    for (const auto& [name, g] : state.generators)
        scalars["generators"][name] = {std::to_string(g.first), std::to_string(g.second)};
    for (const auto& [name, v] : state.numbers) scalars["numbers"][name] = v;
    save_safetensors(path, tensors, {{kTrainStateKey, scalars.dump()}});
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

// Tensor-name prefix -> (part, is optimizer state). The longest matching prefix wins, so
// "model.optimizer.0.momentum" is optimizer state and "model.conv1.weight" a weight.
using PartPrefixes = std::map<std::string, std::pair<std::string, bool>>;

static void place_tensor(const std::string& path, const std::string& key, const Tensor& tensor,
                         const PartPrefixes& parts, TrainState& state) {
    const std::pair<std::string, bool>* where = nullptr;
    size_t matched = 0;
    for (const auto& [prefix, target] : parts)
        if (prefix.size() > matched && key.rfind(prefix, 0) == 0)
            where = &target, matched = prefix.size();
    if (where != nullptr) {
        std::string name = key.substr(matched);
        PG_CHECK(where->second || name.rfind(kOptimizer, 0) != 0, path, ": tensor '", key,
                 "' is neither a weight nor optimizer state of part ", where->first);
        PartState& p = state.parts[where->first];
        (where->second ? p.optimizer : p.weights)[name] = tensor;
        return;
    }
    PG_CHECK(key.rfind("extra.", 0) == 0, path, ": unexpected tensor '", key,
             "' in a training state (it belongs to no part)");
    state.extra_tensors[key.substr(6)] = tensor;
}

TrainState load_train_state(const std::string& path) {
    SafetensorsFile file = read_safetensors(path);
    auto it = file.metadata.find(kTrainStateKey);
    PG_CHECK(it != file.metadata.end(), path, ": not a pixelgrad training state (no '",
             kTrainStateKey,
             "' metadata); weights files are "
             "loaded with --weights, training states with --resume");
    TrainState state;
    PartPrefixes parts;
    try {
        nlohmann::json scalars = nlohmann::json::parse(it->second);
        if (scalars.contains("parts"))
            for (const nlohmann::json& name : scalars.at("parts")) {
                std::string part = name.get<std::string>();
                if (!valid_part_name(part))
                    throw std::invalid_argument("part name '" + part + "' is not [A-Za-z0-9_]+");
                parts[part + "." + kOptimizer] = {part, true};
                parts[part + "."] = {part, false};
                state.parts[part]; // a part may hold no tensors at all
            }
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
    if (parts.empty()) // written before parts existed: the student's optimizer and the teacher
        parts = {{"optimizer.", {"model", true}},
                 {"teacher.", {"teacher", false}},
                 {"extra.model.", {"model", false}}};
    for (auto& [key, tensor] : file.tensors) place_tensor(path, key, tensor, parts, state);
    return state;
}

} // namespace pg::nn
