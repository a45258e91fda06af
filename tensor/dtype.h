// Element types and devices: DType (f32, bf16, i32, u8), Device (cpu, cuda:N), bf16 conversion.
// f32 carries all math and master weights, bf16 is the GPU's mixed-precision storage type,
// i32 holds labels and indices, u8 holds images, masks and comparison results.
#pragma once

#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>

namespace pg {

enum class DType : uint8_t { f32, bf16, i32, u8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
    DeviceType type = DeviceType::cpu;
    int index = 0;

    bool is_cpu() const { return type == DeviceType::cpu; }
    bool is_cuda() const { return type == DeviceType::cuda; }
    bool operator==(const Device& o) const { return type == o.type && index == o.index; }
    bool operator!=(const Device& o) const { return !(*this == o); }
    std::string name() const; // "cpu", "cuda:0"

    static Device cpu() { return Device{DeviceType::cpu, 0}; }
    static Device cuda(int index = 0) { return Device{DeviceType::cuda, index}; }
};

// Parses "cpu", "cuda", "cuda:1"; throws on anything else.
Device parse_device(const std::string& text);

std::ostream& operator<<(std::ostream& out, DType dtype);
std::ostream& operator<<(std::ostream& out, const Device& device);

// bf16 is the top half of an IEEE f32. Rounding is to nearest, ties to even; NaN stays NaN.
inline uint16_t f32_to_bf16(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu))
        return uint16_t((bits >> 16) | 0x40);
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return uint16_t((bits + rounding) >> 16);
}

inline float bf16_to_f32(uint16_t value) {
    uint32_t bits = uint32_t(value) << 16;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
}

} // namespace pg
