// The training-state file that makes a resumed run continue exactly where it stopped: step and
// epoch, the optimizer's buffers, every generator's (seed, offset), the EMA teacher's weights and
// a few named numbers (best mIoU, ...). One safetensors file: tensors under "optimizer." and
// "teacher.", the scalars as JSON in the metadata; written to a temporary file and renamed.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg::nn {

struct TrainState {
    int64_t step = 0;                        // optimizer steps done
    int64_t epoch = 0;                       // epochs completed
    std::map<std::string, Tensor> optimizer; // Optimizer::state_dict()
    std::map<std::string, Tensor> teacher;   // Module::state_dict() of the EMA teacher, or empty
    std::map<std::string, Tensor> extra_tensors;                     // e.g. a method's memory banks
    std::map<std::string, std::pair<uint64_t, uint64_t>> generators; // name -> (seed, offset)
    std::map<std::string, double> numbers;                           // e.g. "best_miou"

    void save_generator(const std::string& name, const Generator& gen);
    // Restores `gen` to the saved (seed, offset); a name that was not saved is an error.
    void restore_generator(const std::string& name, Generator& gen) const;
};

void save_train_state(const std::string& path, const TrainState& state);
// A missing or corrupt file, or one that is not a pixelgrad training state, is an error naming it.
TrainState load_train_state(const std::string& path);

} // namespace pg::nn
