// pg::Error construction: prefixes the message with the (shortened) source location.
#include "tensor/error.h"

#include <cstring>

namespace pg {

void throw_error(const char* file, int line, const std::string& message) {
    // Keep the path relative to the repository (".../pixelgrad/tensor/x.cpp" -> "tensor/x.cpp").
    const char* short_file = file;
    for (const char* dir :
         {"/tensor/", "/autograd/", "/nn/", "/cuda/", "/dist/", "/seg/", "/tests/", "/bench/"}) {
        const char* hit = std::strstr(file, dir);
        if (hit) {
            short_file = hit + 1;
            break;
        }
    }
    throw Error(str(short_file, ":", line, ": ", message));
}

} // namespace pg
