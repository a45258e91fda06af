// save_weights / load_weights (nn/checkpoint.h): Module::state_dict through safetensors.
#include "nn/checkpoint.h"

#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace pg::nn {

static const char* kModelKey = "pixelgrad.model";

void save_weights(const Module& module, const std::string& path, const std::string& model_name) {
    std::map<std::string, std::string> metadata = {{"format", "pt"}};
    if (!model_name.empty()) metadata[kModelKey] = model_name;
    save_safetensors(path, module.state_dict(), metadata);
}

LoadReport load_weights(Module& module, const std::string& path, bool strict,
                        const std::string& model_name) {
    SafetensorsFile file = read_safetensors(path);
    auto it = file.metadata.find(kModelKey);
    if (!model_name.empty() && it != file.metadata.end())
        PG_CHECK(it->second == model_name, path, ": holds weights of model '", it->second,
                 "', expected '", model_name, "'");
    try {
        return module.load_state_dict(file.tensors, strict);
    } catch (const Error& e) { throw Error(path + ": " + e.what()); }
}

} // namespace pg::nn
