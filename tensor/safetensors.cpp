// safetensors reading (with validation and dtype widening/narrowing) and atomic writing.
#include "tensor/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg {

namespace {

struct DiskType {
    const char* name;
    size_t size;
    DType loads_as;
};

const DiskType kDiskTypes[] = {
    {"F32", 4, DType::f32}, {"BF16", 2, DType::bf16}, {"I32", 4, DType::i32},
    {"U8", 1, DType::u8},   {"F64", 8, DType::f32},   {"F16", 2, DType::f32},
    {"I64", 8, DType::i32}, {"I16", 2, DType::i32},   {"BOOL", 1, DType::u8},
    {"I8", 1, DType::u8},
};

const DiskType* find_disk_type(const std::string& name) {
    for (const DiskType& t : kDiskTypes)
        if (name == t.name) return &t;
    return nullptr;
}

float half_to_float(uint16_t h) {
    int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float magnitude = exponent == 0    ? std::ldexp(float(mantissa), -24)
                      : exponent == 31 ? (mantissa ? NAN : INFINITY)
                                       : std::ldexp(float(mantissa | 0x400), exponent - 25);
    return sign ? -magnitude : magnitude;
}

// Converts `count` elements of disk type `type` at `src` into the tensor `out`.
void decode(const DiskType& type, const uint8_t* src, int64_t count, Tensor& out,
            const std::string& path, const std::string& name) {
    std::string t = type.name;
    if (t == "F32" || t == "BF16" || t == "I32" || t == "U8") {
        std::memcpy(out.raw(), src, size_t(count) * type.size);
    } else if (t == "F64" || t == "F16") {
        float* o = out.f32();
        for (int64_t i = 0; i < count; i++) {
            if (t == "F64") {
                double v;
                std::memcpy(&v, src + 8 * i, 8);
                o[i] = float(v);
            } else {
                uint16_t v;
                std::memcpy(&v, src + 2 * i, 2);
                o[i] = half_to_float(v);
            }
        }
    } else if (t == "I64" || t == "I16") {
        int32_t* o = out.i32();
        for (int64_t i = 0; i < count; i++) {
            int64_t v = 0;
            if (t == "I64") {
                std::memcpy(&v, src + 8 * i, 8);
            } else {
                int16_t s;
                std::memcpy(&s, src + 2 * i, 2);
                v = s;
            }
            PG_CHECK(v >= INT32_MIN && v <= INT32_MAX, path, ": tensor '", name, "' holds ", v,
                     ", which does not fit in i32");
            o[i] = int32_t(v);
        }
    } else { // BOOL, I8: one byte each
        std::memcpy(out.raw(), src, size_t(count));
    }
}

const char* disk_name(DType dtype) {
    switch (dtype) {
    case DType::f32:
        return "F32";
    case DType::bf16:
        return "BF16";
    case DType::i32:
        return "I32";
    case DType::u8:
        return "U8";
    }
    return "?";
}

} // namespace

SafetensorsFile read_safetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    PG_CHECK(in.good(), path, ": cannot open (missing file or no permission)");
    in.seekg(0, std::ios::end);
    int64_t file_size = in.tellg();
    in.seekg(0);
    PG_CHECK(file_size >= 8, path, ": ", file_size, " bytes is too short for a safetensors file");
    uint8_t size_bytes[8];
    in.read(reinterpret_cast<char*>(size_bytes), 8);
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; i--) header_size = (header_size << 8) | size_bytes[i];
    // PyTorch's torch.save writes a zip archive ("PK\3\4"): say what to do with one.
    PG_CHECK(std::memcmp(size_bytes, "PK\x03\x04", 4) != 0, path,
             ": a zip archive, as PyTorch's torch.save writes (.pth), not safetensors; convert it "
             "with /usr/bin/python3 tools/convert_pth.py IN.pth OUT.safetensors");
    PG_CHECK(header_size <= uint64_t(file_size - 8), path, ": header of ", header_size,
             " bytes does not fit in a file of ", file_size,
             " bytes (truncated or not safetensors)");
    std::string header_text(header_size, '\0');
    in.read(header_text.data(), std::streamsize(header_size));
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(header_text);
    } catch (const nlohmann::json::exception& e) {
        PG_FAIL(path, ": header is not valid JSON (", e.what(), ")");
    }
    PG_CHECK(header.is_object(), path, ": header is not a JSON object");
    int64_t data_size = file_size - 8 - int64_t(header_size);
    std::vector<uint8_t> data(static_cast<size_t>(data_size));
    in.read(reinterpret_cast<char*>(data.data()), data_size);
    PG_CHECK(in.good() || in.eof(), path, ": read error");

    SafetensorsFile file;
    for (auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            for (auto& [k, v] : entry.items())
                file.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
            continue;
        }
        PG_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
                     entry.contains("data_offsets"),
                 path, ": tensor '", name, "' lacks dtype, shape or data_offsets");
        std::string dtype;
        Shape shape;
        std::vector<int64_t> offsets;
        // Integers only: nlohmann would convert 1e30 to an int64 (undefined behaviour).
        auto integers = [](const nlohmann::json& j) {
            return j.is_array() && std::all_of(j.begin(), j.end(), [](const nlohmann::json& v) {
                       return v.is_number_integer();
                   });
        };
        PG_CHECK(integers(entry["shape"]) && integers(entry["data_offsets"]), path, ": tensor '",
                 name, "' has a shape or data_offsets that is not a list of integers");
        try {
            dtype = entry["dtype"].get<std::string>();
            shape = entry["shape"].get<Shape>();
            offsets = entry["data_offsets"].get<std::vector<int64_t>>();
        } catch (const nlohmann::json::exception& e) {
            PG_FAIL(path, ": tensor '", name, "' has a malformed dtype, shape or data_offsets (",
                    e.what(), ")");
        }
        const DiskType* type = find_disk_type(dtype);
        PG_CHECK(type != nullptr, path, ": tensor '", name, "' has unsupported dtype ", dtype);
        PG_CHECK(offsets.size() == 2 && offsets[0] >= 0 && offsets[0] <= offsets[1] &&
                     offsets[1] <= data_size,
                 path, ": tensor '", name, "' has byte range outside the ", data_size,
                 "-byte data section (truncated file?)");
        // The element count, checked against the bytes there are before it can overflow.
        int64_t count = 1;
        for (int64_t d : shape) {
            PG_CHECK(d >= 0, path, ": tensor '", name, "' has a negative size in shape ",
                     shape_str(shape));
            PG_CHECK(d == 0 || count <= data_size / d, path, ": tensor '", name, "' of shape ",
                     shape_str(shape), " is larger than the whole file");
            count *= d;
        }
        PG_CHECK(offsets[1] - offsets[0] == count * int64_t(type->size), path, ": tensor '", name,
                 "' of shape ", shape_str(shape), " and dtype ", dtype, " needs ",
                 count * int64_t(type->size), " bytes, the file gives ", offsets[1] - offsets[0]);
        Tensor t = Tensor::empty(shape, type->loads_as);
        if (count > 0) decode(*type, data.data() + offsets[0], count, t, path, name);
        file.tensors[name] = t;
    }
    return file;
}

std::map<std::string, Tensor> load_safetensors(const std::string& path) {
    return read_safetensors(path).tensors;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    int64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        PG_CHECK(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
        header[name] = {{"dtype", disk_name(t.dtype())},
                        {"shape", t.shape()},
                        {"data_offsets", {offset, offset + int64_t(t.nbytes())}}};
        offset += int64_t(t.nbytes());
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' '); // keep the data section 8-byte aligned
    write_file_atomic(path, "save_safetensors", [&](std::ostream& out) {
        uint64_t n = text.size();
        for (int i = 0; i < 8; i++) out.put(char((n >> (8 * i)) & 0xff));
        out.write(text.data(), std::streamsize(text.size()));
        for (const auto& [name, t] : tensors) {
            Tensor host = t.to(Device::cpu());
            out.write(static_cast<const char*>(host.raw()), std::streamsize(host.nbytes()));
        }
    });
}

} // namespace pg
