// save_weights / load_weights (nn/checkpoint.h): Module::state_dict through safetensors.
#include "nn/checkpoint.h"

#include <cstdio>

#include "nn/train_state.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace pg::nn {

static const char* kModelKey = "pixelgrad.model";

void save_weights(const Module& module, const std::string& path, const std::string& model_name) {
    std::map<std::string, std::string> metadata = {{"format", "pt"}};
    if (!model_name.empty()) metadata[kModelKey] = model_name;
    save_safetensors(path, module.state_dict(), metadata);
}

// How many NaN / Inf values a CPU tensor holds (0 for integer dtypes).
static int64_t count_nonfinite(const Tensor& t) {
    // An IEEE value is NaN or Inf exactly when its exponent bits are all ones.
    int64_t n = t.numel(), bad = 0;
    if (t.dtype() == DType::f32) {
        const uint32_t* bits = static_cast<const uint32_t*>(t.raw());
        for (int64_t i = 0; i < n; i++) bad += (bits[i] & 0x7f800000u) == 0x7f800000u;
    } else if (t.dtype() == DType::bf16) {
        const uint16_t* bits = static_cast<const uint16_t*>(t.raw());
        for (int64_t i = 0; i < n; i++) bad += (bits[i] & 0x7f80u) == 0x7f80u;
    }
    return bad;
}

void check_finite_weights(const std::map<std::string, Tensor>& tensors, const std::string& path,
                          bool allow) {
    for (const auto& [name, t] : tensors) {
        int64_t bad = count_nonfinite(t);
        if (bad == 0) continue;
        std::string what = path + ": tensor '" + name + "' holds " + std::to_string(bad) + " of " +
                           std::to_string(t.numel()) + " values that are NaN or Inf";
        PG_CHECK(allow, what, " (a diverged run?); --allow-nonfinite loads it anyway");
        std::fprintf(stderr, "warning: %s (loaded anyway: --allow-nonfinite)\n", what.c_str());
    }
}

void refuse_train_state(const std::map<std::string, std::string>& metadata,
                        const std::string& path) {
    PG_CHECK(!metadata.count(kTrainStateKey), path,
             ": a training state (what `pixelgrad train --resume` reads: weights, optimizer, "
             "counters), not model weights; give the run's checkpoints/last.safetensors or "
             "best.safetensors");
}

LoadReport load_weights(Module& module, const std::string& path, bool strict,
                        const std::string& model_name, bool allow_nonfinite) {
    SafetensorsFile file = read_safetensors(path);
    refuse_train_state(file.metadata, path);
    check_finite_weights(file.tensors, path, allow_nonfinite);
    auto it = file.metadata.find(kModelKey);
    if (!model_name.empty() && it != file.metadata.end())
        PG_CHECK(it->second == model_name, path, ": holds weights of model '", it->second,
                 "', expected '", model_name, "'");
    try {
        return module.load_state_dict(file.tensors, strict);
    } catch (const Error& e) { throw Error(path + ": " + e.what()); }
}

} // namespace pg::nn
