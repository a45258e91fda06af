// DType sizes and names, Device names and parsing.
#include "tensor/dtype.h"

#include "tensor/error.h"

namespace pg {

size_t dtype_size(DType dtype) {
    switch (dtype) {
    case DType::f32:
        return 4;
    case DType::bf16:
        return 2;
    case DType::i32:
        return 4;
    case DType::u8:
        return 1;
    }
    PG_FAIL("dtype_size: unknown dtype ", int(dtype));
}

const char* dtype_name(DType dtype) {
    switch (dtype) {
    case DType::f32:
        return "f32";
    case DType::bf16:
        return "bf16";
    case DType::i32:
        return "i32";
    case DType::u8:
        return "u8";
    }
    return "unknown";
}

std::string Device::name() const {
    return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device parse_device(const std::string& text) {
    if (text == "cpu") return Device::cpu();
    if (text == "cuda") return Device::cuda(0);
    if (text.rfind("cuda:", 0) == 0) {
        std::string digits = text.substr(5);
        bool ok = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
        PG_CHECK(ok, "device: cannot parse '", text, "', expected cpu, cuda or cuda:N");
        return Device::cuda(std::stoi(digits));
    }
    PG_FAIL("device: cannot parse '", text, "', expected cpu, cuda or cuda:N");
}

std::ostream& operator<<(std::ostream& out, DType dtype) { return out << dtype_name(dtype); }
std::ostream& operator<<(std::ostream& out, const Device& device) { return out << device.name(); }

} // namespace pg
