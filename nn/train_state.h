// The training-state file that makes a resumed run continue exactly where it stopped: step and
// epoch, every part's weights and optimizer buffers (the student "model", an EMA "teacher", a
// "discriminator"), every generator's (seed, offset), a method's extra tensors and a few named
// numbers (best mIoU, ...). One safetensors file: tensors "<part>.<key>", "<part>.optimizer.<key>"
// and "extra.<key>", the scalars and the part names as JSON in the metadata; written to a
// temporary file and renamed. States written before parts existed ("optimizer.", "teacher.",
// "extra.model.") load into parts "model" and "teacher".
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg::nn {

// One network of the run: Module::state_dict() and Optimizer::state_dict() (empty for a part
// without an optimizer, such as an EMA teacher).
struct PartState {
    std::map<std::string, Tensor> weights, optimizer;
};

struct TrainState {
    int64_t step = 0;                            // optimizer steps done
    int64_t epoch = 0;                           // epochs completed
    std::map<std::string, PartState> parts;      // name ([A-Za-z0-9_]+, not "extra") -> state
    std::map<std::string, Tensor> extra_tensors; // e.g. a method's memory banks
    std::map<std::string, std::pair<uint64_t, uint64_t>> generators; // name -> (seed, offset)
    std::map<std::string, double> numbers;                           // e.g. "best_miou"

    void save_generator(const std::string& name, const Generator& gen);
    // Restores `gen` to the saved (seed, offset); a name that was not saved is an error.
    void restore_generator(const std::string& name, Generator& gen) const;
};

// The metadata key that marks a training-state file (its value: the scalars as JSON).
constexpr const char* kTrainStateKey = "pixelgrad.train_state";

void save_train_state(const std::string& path, const TrainState& state);
// A missing or corrupt file, or one that is not a pixelgrad training state, is an error naming it.
TrainState load_train_state(const std::string& path);

} // namespace pg::nn
