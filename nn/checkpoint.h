// Weight files: a module's state_dict as safetensors, in PyTorch's names and layouts, so the same
// file loads in PyTorch (safetensors.torch.load_file + load_state_dict) and here. Written to a
// temporary file and renamed: an interrupted save never leaves a half-written checkpoint.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nn/module.h"

namespace pg::nn {

// Metadata "pixelgrad.model" records `model_name` (e.g. "deeplabv3plus-resnet101"); loading a file
// whose metadata names another model is an error before any key is compared.
void save_weights(const Module& module, const std::string& path,
                  const std::string& model_name = "");

// Reads `path` and loads it (see Module::load_state_dict); errors name the file. A file written
// by PyTorch (no metadata) is accepted whatever model_name is. A float tensor holding NaN or Inf
// is an error naming it (a diverged checkpoint would otherwise evaluate to a plausible-looking
// score); allow_nonfinite loads it anyway, with a warning on stderr.
LoadReport load_weights(Module& module, const std::string& path, bool strict = true,
                        const std::string& model_name = "", bool allow_nonfinite = false);

// Errors (or, with allow, warns) on the first tensor of `tensors` holding NaN / Inf; `path`
// names the file in the message.
void check_finite_weights(const std::map<std::string, Tensor>& tensors, const std::string& path,
                          bool allow);
// A training-state file (nn/train_state.h) where model weights are expected is an error saying
// which file to give instead.
void refuse_train_state(const std::map<std::string, std::string>& metadata,
                        const std::string& path);

} // namespace pg::nn
