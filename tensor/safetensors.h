// safetensors files: an 8-byte little-endian header size, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data. The format PyTorch's ecosystem
// uses for weights; here also for reference dumps and checkpoints. Layouts are stored as given
// (conversion between PyTorch's NCHW / OIHW and our NHWC / KRSC happens in nn/).
#pragma once

#include <map>
#include <string>

#include "tensor/tensor.h"

namespace pg {

struct SafetensorsFile {
    std::map<std::string, Tensor> tensors; // on the CPU
    std::map<std::string, std::string> metadata;
};

// Reads every tensor. F32, BF16, I32 and U8 load as they are; F64 and F16 become f32; I64 and I16
// become i32 (an error if a value does not fit); BOOL and I8 become u8. A missing, truncated or
// malformed file is an error naming the file and what is wrong.
SafetensorsFile read_safetensors(const std::string& path);
std::map<std::string, Tensor> load_safetensors(const std::string& path);

// Writes CPU or GPU tensors (copied to the host) atomically: to `path`.tmp, then renamed.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

} // namespace pg
